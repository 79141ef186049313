#!/usr/bin/env bash
# Stop a server started by servers/<NAME>.sh.  usage: servers/stop.sh vllm|litellm|llama
# Sends SIGTERM to the recorded pid (vLLM's API server then stops its engine-core child),
# waits up to 30 s, then SIGKILLs that pid and its direct children.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
NAME=${1:?usage: $0 vllm|litellm|llama}
PIDF="$RUN_ROOT/$NAME/server.pid"
[ -f "$PIDF" ] || { log "$NAME: no pid file ($PIDF)"; exit 0; }
PID=$(cat "$PIDF")
if kill -0 "$PID" 2>/dev/null; then
  CHILDREN=$(pgrep -P "$PID" || true)
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$PID" 2>/dev/null || break; sleep 1; done
  if kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  for c in $CHILDREN; do kill -0 "$c" 2>/dev/null && kill -KILL "$c" 2>/dev/null || true; done
  log "$NAME stopped (pid $PID)"
else
  log "$NAME was not running (stale pid $PID)"
fi
rm -f "$PIDF"
