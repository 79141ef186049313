#!/usr/bin/env bash
# Start the LiteLLM proxy as an OpenAI-compatible target.
# usage: servers/litellm.sh [PORT]       (default 8012; binds 127.0.0.1 only)
# Models:
#   tiny          mock: always answers the fixed text below (no upstream, ignores sampling)
#   tiny-tools    mock: always answers a get_weather({"city": "Paris"}) tool call
#   tiny-upstream only with UPSTREAM=http://127.0.0.1:8011/v1 : proxies that server's
#                 UPSTREAM_MODEL (default "tiny"), e.g. servers/vllm.sh
# env: LITELLM_VERSION (1.106.2), LITELLM_MASTER_KEY (require that bearer key; default none),
#      LITELLM_READY_TIMEOUT (180 s), CONFORMANCE_SERVER_CACHE, CONFORMANCE_RUN_DIR
# Run dir: $CONFORMANCE_RUN_DIR/litellm/{config.yaml,server.pid,server.log}.  Stop: servers/stop.sh litellm
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
PORT=${1:-8012}
RUN="$RUN_ROOT/litellm"
check_not_running litellm
install_litellm
mkdir -p "$RUN"
{
  cat <<YAML
model_list:
  - model_name: tiny
    litellm_params:
      model: openai/tiny
      api_key: sk-mock
      mock_response: "Hello! I am a mock model."
  - model_name: tiny-tools
    litellm_params:
      model: openai/tiny-tools
      api_key: sk-mock
      mock_response: ""
      mock_tool_calls:
        - id: call_mock_1
          type: function
          function:
            name: get_weather
            arguments: '{"city": "Paris"}'
YAML
  if [ -n "${UPSTREAM:-}" ]; then
    cat <<YAML
  - model_name: tiny-upstream
    litellm_params:
      model: openai/${UPSTREAM_MODEL:-tiny}
      api_base: $UPSTREAM
      api_key: sk-none
YAML
  fi
  echo "litellm_settings:"
  echo "  telemetry: false"
  echo "general_settings:"
  if [ -n "${LITELLM_MASTER_KEY:-}" ]; then
    echo "  master_key: \"$LITELLM_MASTER_KEY\""
  else
    # 1.106.x refuses to start without a master key unless told it is local-only
    echo "  dangerously_permit_weak_or_unset_master_key: true"
  fi
} > "$RUN/config.yaml"

# LITELLM_LOCAL_MODEL_COST_MAP: no internet fetch of the price list (three slow retries otherwise)
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False DO_NOT_TRACK=1
nohup "$LITELLM_HOME/venv/bin/litellm" --config "$RUN/config.yaml" --host 127.0.0.1 --port "$PORT" \
  > "$RUN/server.log" 2>&1 < /dev/null &
echo $! > "$RUN/server.pid"
echo "$PORT" > "$RUN/server.port"
wait_ready LiteLLM "$PORT" "$(cat "$RUN/server.pid")" "$RUN/server.log" "${LITELLM_READY_TIMEOUT:-180}"
