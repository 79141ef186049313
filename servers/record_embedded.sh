#!/usr/bin/env bash
# Re-record the bundled cassettes of every reference target (the embedded default), live, then stop the servers.
# usage: servers/record_embedded.sh            (from anywhere; uses the ports of conformance/data/references.toml: vLLM
#                                               8011, LiteLLM 8012 with UPSTREAM=vLLM for litellm-vllm, llama-server 8013)
#        servers/record_embedded.sh --probe PREFIX [--probe PREFIX...]
#                                              only those probes (a probe or feature id, or its start): records their
#                                              cassettes and any missing shared one, leaves every other cassette as it
#                                              is, and drafts their truth lines (python3 -m truth.add_probe; CONTRIBUTING.md)
# env: CONFORMANCE_RUN_DIR (run dir of the servers, default /tmp/conformance-servers), PYTHON (default python3)
# Servers this script starts are stopped on exit, even on failure; servers already running on those run dirs are
# reused and left running. After recording, check the verdicts against the truth tables:
#   python3 -m pytest tests/test_truth_tables.py
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PY=${PYTHON:-python3}
RUN_ROOT=${CONFORMANCE_RUN_DIR:-/tmp/conformance-servers}
STARTED=()
PROBES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --probe) [ $# -ge 2 ] || { echo "--probe needs a PREFIX" >&2; exit 4; }; PROBES+=("$2"); shift 2 ;;
    --probe=*) PROBES+=("${1#--probe=}"); shift ;;
    *) echo "unknown argument $1 (usage: servers/record_embedded.sh [--probe PREFIX]...)" >&2; exit 4 ;;
  esac
done

running() { [ -f "$RUN_ROOT/$1/server.pid" ] && kill -0 "$(cat "$RUN_ROOT/$1/server.pid")" 2>/dev/null; }
serves() { curl -sf "http://127.0.0.1:$1/v1/models" | grep -q "\"$2\""; }
cleanup() { for name in "${STARTED[@]}"; do "$HERE/stop.sh" "$name" || true; done; }
trap cleanup EXIT

if ! running vllm; then "$HERE/vllm.sh" 8011; STARTED+=(vllm); fi
if ! running litellm; then UPSTREAM=http://127.0.0.1:8011/v1 "$HERE/litellm.sh" 8012; STARTED+=(litellm); fi
if ! running llama; then "$HERE/llama.sh" 8013; STARTED+=(llama); fi
# a server of another run dir (or another user of the port) would be recorded as if it were ours: refuse
serves 8011 tiny || { echo "127.0.0.1:8011 does not serve vLLM's 'tiny'" >&2; exit 1; }
serves 8012 tiny-upstream || { echo "127.0.0.1:8012 does not serve 'tiny-upstream' (LiteLLM needs UPSTREAM)" >&2; exit 1; }
serves 8013 tiny || { echo "127.0.0.1:8013 does not serve llama-server's 'tiny'" >&2; exit 1; }

cd "$ROOT"
if [ ${#PROBES[@]} -gt 0 ]; then  # one probe: its cassettes only, and its draft truth lines
  "$PY" -m truth.add_probe "${PROBES[@]}"
  exit $?
fi
targets=$("$PY" - <<'PY'
import tomllib
with open("conformance/data/references.toml", "rb") as fh:  # the built-in reference targets
    doc = tomllib.load(fh)
print(" ".join(name for name, t in doc.get("targets", {}).items() if t.get("reference")))
PY
)
# A run never writes into the package: record into a fresh directory, then replace each target's bundled folder
# (no stale recordings of probes that are gone; git has the old ones)
STAGE=$(mktemp -d)
BUNDLED=conformance/data/cassettes
names=$targets
targets=$(printf -- '--target %s ' $targets)
start=$(date +%s)
# shellcheck disable=SC2086  # one word per option
"$PY" -m pytest conformance $targets --record-mode=all -q -p no:cacheprovider --report-dir "${REPORT_DIR:-reports}" \
  --cassette-dir "$STAGE" \
  || echo "recorded; some probes failed (conformance FAILED cells fail pytest by design): see the report"
for name in $names; do
  if [ -d "$STAGE/$name" ]; then rm -rf "${BUNDLED:?}/$name" && cp -r "$STAGE/$name" "$BUNDLED/$name"
  else echo "no recordings of $name: its bundled cassettes are left as they were" >&2; fi
done
rm -rf "$STAGE"
echo "recorded $(echo $names | wc -w) reference targets live in $(( $(date +%s) - start )) s into $BUNDLED"
