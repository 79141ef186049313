#!/usr/bin/env bash
# Start llama.cpp's own `llama-server` serving the committed tiny model (converted to GGUF) as "tiny".
# usage: servers/llama.sh [PORT]         (default 8013; binds 127.0.0.1 only)
# env:   LLAMA_CPP_PYTHON_VERSION (0.3.36: its sdist vendors the llama.cpp sources that are built),
#        TINY_MODEL_DIR (default tests/fixtures/tiny-model; converted once per content hash),
#        LLAMA_SLOTS (4: parallel slots, also the most a request's n may ask for),
#        LLAMA_CTX_PER_SLOT (4096, like vLLM's --max-model-len), LLAMA_EXTRA_ARGS (more flags),
#        LLAMA_API_KEY (require that bearer key; default none: any or no key is accepted),
#        LLAMA_READY_TIMEOUT (120 s), CONFORMANCE_SERVER_CACHE, CONFORMANCE_RUN_DIR
# Builds into the cache if missing (~10-15 min on 2 cores, once).  llama-server also reads
# LLAMA_ARG_* variables (e.g. LLAMA_ARG_API_KEY): this script clears them so the flags below are all.
# Run dir: $CONFORMANCE_RUN_DIR/llama/{server.pid,server.port,server.log,model.gguf}.  Stop: servers/stop.sh llama
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
PORT=${1:-8013}
RUN="$RUN_ROOT/llama"
SRC=${TINY_MODEL_DIR:-$TINY_MODEL_FIXTURE}
SLOTS=${LLAMA_SLOTS:-4}
check_not_running llama
install_llama_server
GGUF=$(llama_gguf "$SRC")
mkdir -p "$RUN"
cp "$GGUF" "$RUN/model.gguf"
for v in $(compgen -e | grep '^LLAMA_ARG_' || true); do unset "$v"; done
KEY_ARGS=()
[ -n "${LLAMA_API_KEY:-}" ] && KEY_ARGS=(--api-key "$LLAMA_API_KEY")

# --jinja: render the GGUF's own chat template (tools -> Hermes <tool_call> parsing);
# -np: parallel slots (a request's n may not exceed them); -c is shared by the slots.
# shellcheck disable=SC2086  # LLAMA_EXTRA_ARGS is a list of flags
nohup "$LLAMA_SERVER_BIN" -m "$RUN/model.gguf" --alias tiny --host 127.0.0.1 --port "$PORT" \
  -c $((SLOTS * ${LLAMA_CTX_PER_SLOT:-4096})) -np "$SLOTS" --jinja --no-webui "${KEY_ARGS[@]}" ${LLAMA_EXTRA_ARGS:-} \
  > "$RUN/server.log" 2>&1 < /dev/null &
echo $! > "$RUN/server.pid"
echo "$PORT" > "$RUN/server.port"
# /health: needs no key, and answers 200 only once the model is loaded (503 before)
wait_ready llama-server "$PORT" "$(cat "$RUN/server.pid")" "$RUN/server.log" "${LLAMA_READY_TIMEOUT:-120}" /health
