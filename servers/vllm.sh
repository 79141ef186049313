#!/usr/bin/env bash
# Start vLLM (CPU build) serving the committed tiny model as "tiny" with the Hermes tool parser.
# usage: servers/vllm.sh [PORT]          (default 8011; binds 127.0.0.1 only)
# env:   VLLM_VERSION (0.32.0), TINY_MODEL_DIR (default tests/fixtures/tiny-model),
#        VLLM_READY_TIMEOUT (300 s), CONFORMANCE_SERVER_CACHE, CONFORMANCE_RUN_DIR
# Installs into the cache if missing.  Run dir: $CONFORMANCE_RUN_DIR/vllm/{server.pid,server.log,model/}
# Needs x86_64 with AVX2/AVX-512, ~3.5 GB disk, ~2-3 GB RAM.  Stop: servers/stop.sh vllm
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
PORT=${1:-8011}
RUN="$RUN_ROOT/vllm"
SRC=${TINY_MODEL_DIR:-$TINY_MODEL_FIXTURE}
check_not_running vllm
install_vllm
[ -f "$SRC/config.json" ] || { log "no model at $SRC (build one: $VLLM_HOME/venv/bin/python tools/tiny_model/build_tiny_model.py $SRC)"; exit 1; }
mkdir -p "$RUN"
rm -rf "$RUN/model" && cp -r "$SRC" "$RUN/model"

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1} \
       VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
nohup "$VLLM_HOME/venv/bin/python" -m vllm.entrypoints.openai.api_server --model "$RUN/model" \
  --served-model-name tiny --host 127.0.0.1 --port "$PORT" --max-model-len 4096 --dtype float32 \
  --enable-auto-tool-choice --tool-call-parser hermes > "$RUN/server.log" 2>&1 < /dev/null &
echo $! > "$RUN/server.pid"
echo "$PORT" > "$RUN/server.port"
wait_ready vLLM "$PORT" "$(cat "$RUN/server.pid")" "$RUN/server.log" "${VLLM_READY_TIMEOUT:-300}"
