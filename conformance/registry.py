"""The probe registry: every probe and shared control, as data. A new parameter probe touches this file only.

Feature ids are dotted and stable: request.<parameter>, stream.*, tools.*, json.*, conversation.*, errors.*.
"""

from __future__ import annotations

from typing import Any

from conformance.probes import DROP, Control, Probe

HELLO = "Say hello and introduce yourself in one sentence."
CREATIVE = "Write one short sentence about a random animal."
REPEAT = "Repeat the word 'echo' as many times as you can, separated by spaces."
WEATHER = "What is the weather in Paris? Use the get_weather tool."
TWO_CITIES = "What is the weather in Paris and in London? Call get_weather once for each city, in parallel."
JSON_PROMPT = "Describe the city of Paris as a JSON object with the keys name and country. Answer in JSON only."
# JSON mode needs the word "json" in the messages (OpenAI answers 400 otherwise); the system message asks for
# prose, so that only an enforced JSON mode explains a JSON answer.
PROSE_JSON_MODE = [{"role": "system", "content": "Answer in plain prose sentences."},
                   {"role": "user", "content": "Describe Paris in one sentence (this request may run in json mode)."}]

BASE_REQUEST: dict[str, Any] = {"messages": [{"role": "user", "content": HELLO}]}
HIGH_T = "$high_temperature"  # replaced by the target's `high_temperature`


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _function(name: str, description: str, strict: bool = False) -> dict[str, Any]:
    fn: dict[str, Any] = {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "a city name"}},
                       "required": ["city"], "additionalProperties": False},
    }
    if strict:
        fn["strict"] = True
    return {"type": "function", "function": fn}


WEATHER_TOOL = _function("get_weather", "Get the current weather in a city.")
TIME_TOOL = _function("get_time", "Get the local time in a city.")
TOOLS = [WEATHER_TOOL, TIME_TOOL]
CITY_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "country": {"type": "string"}},
    "required": ["name", "country"], "additionalProperties": False,
}
TOOL_CALL_ID = "abc123XYZ"  # 9 alphanumerics: an id both OpenAI and Mistral accept, to isolate other rules


def _tool_history(result_count: int = 1, calls: int = 1) -> list[dict[str, Any]]:
    ids = [TOOL_CALL_ID[:-1] + str(i) for i in range(calls)]
    return [
        {"role": "user", "content": WEATHER},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
            for i in ids]},
        *[{"role": "tool", "tool_call_id": ids[k], "content": "Sunny, 21 degrees"} for k in range(result_count)],
    ]


CONTROLS: dict[str, Control] = {c.name: c for c in [
    Control("plain_t0", {"temperature": 0}, why="the deterministic answer other probes are compared with"),
    Control("high_temp", {"messages": _user(CREATIVE), "temperature": HIGH_T, "top_p": 1}, stochastic=True,
            why="k samples at a high temperature: shows whether this model's output can vary at all"),
    Control("creative_t0", {"messages": _user(CREATIVE), "temperature": 0, "top_p": 1}, stochastic=True,
            why="k samples at temperature 0 of the creative prompt"),
    Control("repeat_t0", {"messages": _user(REPEAT), "temperature": 0}, why="a repetition-prone answer"),
    Control("logprobs_t0", {"temperature": 0, "logprobs": True, "top_logprobs": 1},
            why="token-level view of the deterministic answer"),
    Control("tools_t0", {"messages": _user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL]},
            why="a tool call, not streamed"),
    Control("weather_no_tools", {"messages": _user(WEATHER), "temperature": 0},
            why="the same prompt without tools (token accounting)"),
    Control("two_cities", {"messages": _user(TWO_CITIES), "temperature": 0, "tools": [WEATHER_TOOL]},
            why="parallel tool calls allowed"),
    Control("stream_plain", {"stream": True}, why="the same stream without stream_options"),
    Control("json_no_format", {"messages": _user(JSON_PROMPT), "temperature": 0},
            why="the JSON prompt without response_format"),
    Control("prose_no_format", {"messages": PROSE_JSON_MODE, "temperature": 0},
            why="the prose prompt that mentions json, without response_format"),
]}


def unobservable(param: str, value: Any, reason: str, hint: str | None = None, **extra: Any) -> Probe:
    """An acceptance probe for a parameter whose effect no chat answer can show."""
    return Probe(f"request.{param}.accepted", f"request.{param}", f"Clients send `{param}`; it must at least be "
                 "accepted.", {param: value, **extra}, "unobservable", {"reason": reason}, params=(param,), hint=hint)


def invalid(param: str, value: Any, what: str, feature: str | None = None, **extra: Any) -> Probe:
    """A value OpenAI rejects with a 400: does the target reject it too, or accept it silently?"""
    return Probe(f"request.{param}.invalid", feature or f"request.{param}",
                 f"OpenAI rejects {what}; a target that accepts it hides client bugs.", {param: value, **extra},
                 kind="invalid", role="check", params=(param.split(".")[0],))


PARAMETERS: list[Probe] = [
    # model and messages
    Probe("request.model.echo", "request.model", "The model must be honoured and reported.", {}, "model_echo"),
    invalid("model", 12345, "a model that is not a string"),
    Probe("request.messages.basic", "request.messages", "The conversation every client sends.", {}, "answered"),
    invalid("messages", [], "an empty messages list"),
    # length
    Probe("request.max_tokens.effect", "request.max_tokens", "Caps cost and latency; ignored, answers run long.",
          {"temperature": 0, "max_tokens": 3}, "max_tokens", {"limit": 3}, control="plain_t0"),
    invalid("max_tokens", -1, "a negative max_tokens"),
    Probe("request.max_completion_tokens.effect", "request.max_completion_tokens",
          "The current name of the length cap (required by reasoning models).",
          {"temperature": 0, "max_completion_tokens": 3}, "max_tokens", {"limit": 3}, control="plain_t0",
          hint="send `max_tokens` instead of `max_completion_tokens`"),
    Probe("request.max_completion_tokens.hint_max_tokens", "request.max_completion_tokens",
          "The older name of the length cap: does the alternative work?", {"temperature": 0, "max_tokens": 3},
          "max_tokens", {"limit": 3}, control="plain_t0", role="hint", params=("max_tokens",),
          hint="send `max_tokens` instead of `max_completion_tokens`"),
    invalid("max_completion_tokens", "many", "a max_completion_tokens that is not an integer"),
    # stop
    Probe("request.stop.string", "request.stop", "Stop sequences end structured answers; ignored, they leak text.",
          {"temperature": 0}, "stop", {"position": 2}, control="plain_t0", derive="stop_from_control",
          params=("stop",)),
    Probe("request.stop.list", "request.stop", "stop as a list of strings.", {"temperature": 0}, "stop",
          {"position": 2, "as_list": True}, control="plain_t0", derive="stop_from_control", params=("stop",)),
    invalid("stop", ["a", "b", "c", "d", "e"], "more than 4 stop sequences"),
    # sampling
    Probe("request.temperature.zero", "request.temperature",
          "temperature 0 makes answers repeatable (tests, caching, evals).",
          {"messages": _user(CREATIVE), "temperature": 0, "top_p": 1}, "deterministic", control="high_temp",
          stochastic=True),
    Probe("request.temperature.high", "request.temperature", "A high temperature must add variety.",
          {"messages": _user(CREATIVE), "temperature": HIGH_T, "top_p": 1}, "varies", control="creative_t0",
          stochastic=True, params=("temperature",)),
    invalid("temperature", 5, "temperature above 2"),
    Probe("request.top_p.tiny", "request.top_p", "A tiny top_p removes variation (nucleus sampling).",
          {"messages": _user(CREATIVE), "temperature": HIGH_T, "top_p": 0.01}, "deterministic", control="high_temp",
          stochastic=True, params=("top_p",)),
    invalid("top_p", 2, "top_p above 1"),
    Probe("request.seed.repeat", "request.seed", "A seed makes sampled answers reproducible.",
          {"messages": _user(CREATIVE), "temperature": HIGH_T, "top_p": 1, "seed": 42}, "seed", control="high_temp",
          stochastic=True, alternates=({"seed": 4242},), params=("seed",),
          hint="send `random_seed` instead of `seed`"),
    Probe("request.seed.hint_random_seed", "request.seed", "Mistral's name for seed: does the alternative work?",
          {"messages": _user(CREATIVE), "temperature": HIGH_T, "top_p": 1, "random_seed": 42}, "seed",
          control="high_temp", stochastic=True, alternates=({"random_seed": 4242},), role="hint",
          params=("random_seed",), hint="send `random_seed` instead of `seed`"),
    invalid("seed", "forty-two", "a seed that is not an integer"),
    Probe("request.n.choices", "request.n", "Several candidates in one call (ranking, self-consistency).",
          {"messages": _user(CREATIVE), "temperature": HIGH_T, "n": 2}, "n_choices"),
    invalid("n", 0, "n = 0"),
    Probe("request.presence_penalty.effect", "request.presence_penalty", "Penalties curb repetition.",
          {"messages": _user(REPEAT), "temperature": 0, "presence_penalty": 2}, "less_repetition",
          control="repeat_t0"),
    invalid("presence_penalty", 3, "presence_penalty above 2"),
    Probe("request.frequency_penalty.effect", "request.frequency_penalty", "Penalties curb repetition.",
          {"messages": _user(REPEAT), "temperature": 0, "frequency_penalty": 2}, "less_repetition",
          control="repeat_t0"),
    invalid("frequency_penalty", 3, "frequency_penalty above 2"),
    Probe("request.logit_bias.ban", "request.logit_bias", "Token bans (classifiers, forbidden words).",
          {"temperature": 0, "logprobs": True, "top_logprobs": 1}, "logit_bias", control="logprobs_t0",
          derive="logit_bias_from_control", params=("logit_bias",)),
    Probe("request.logit_bias.accepted", "request.logit_bias", "logit_bias must at least be accepted.",
          {"logit_bias": {"1": 0}}, "unobservable",
          {"reason": "a zero bias changes nothing; the effect probe needs token ids in logprobs"}, role="check"),
    invalid("logit_bias", {"1": 500}, "a bias outside [-100, 100]"),
    Probe("request.logprobs.content", "request.logprobs", "Token log-probabilities (confidence, classifiers).",
          {"temperature": 0, "logprobs": True}, "logprobs"),
    invalid("logprobs", "yes", "logprobs that is not a boolean"),
    Probe("request.top_logprobs.alternatives", "request.top_logprobs", "k most likely alternatives per token.",
          {"temperature": 0, "logprobs": True, "top_logprobs": 3}, "logprobs", params=("top_logprobs",)),
    invalid("top_logprobs", 50, "top_logprobs above 20", logprobs=True),
    # output shape
    Probe("request.response_format.json_object", "request.response_format.json_object",
          "JSON mode: the answer parses as a JSON object.",
          {"messages": PROSE_JSON_MODE, "temperature": 0, "response_format": {"type": "json_object"}},
          "json_object", control="prose_no_format", params=("response_format",)),
    Probe("request.response_format.json_schema", "request.response_format.json_schema",
          "Structured outputs: the answer follows the given schema.",
          {"messages": _user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {
              "name": "city", "strict": True, "schema": CITY_SCHEMA}}},
          "json_schema", control="json_no_format", params=("response_format",)),
    Probe("request.response_format.prompt_tokens", "request.response_format.json_schema",
          "Token accounting: does the schema reach the prompt? (Equal counts: enforced by decoding alone, or "
          "dropped; the json_schema probe tells which.)",
          {"messages": _user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {
              "name": "city", "strict": True, "schema": CITY_SCHEMA}}},
          "more_prompt_tokens", control="json_no_format", role="check", params=("response_format",)),
    Probe("request.response_format.text", "request.response_format", "The default format, sent explicitly.",
          {"response_format": {"type": "text"}}, "answered"),
    invalid("response_format", {"type": "yaml"}, "an unknown response_format type"),
    unobservable("modalities", ["text"], "['text'] is the default output"),
    invalid("modalities", ["smell"], "an unknown modality"),
    Probe("request.audio.output", "request.audio", "Spoken answers (voice apps).",
          {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}, "field_present",
          {"path": "choices.0.message.audio", "absent": "IGNORED", "why": "no audio in the answer"},
          params=("audio", "modalities")),
    invalid("audio", {"voice": 5, "format": "wav"}, "an audio voice that is not a string",
            modalities=["text", "audio"]),
    Probe("request.prediction.accepted", "request.prediction", "Predicted outputs speed up edits.",
          {"temperature": 0, "prediction": {"type": "content", "content": "Hello! I am a helpful assistant."}},
          "field_present", {"path": "usage.completion_tokens_details.accepted_prediction_tokens",
                            "why": "usage shows no accepted_prediction_tokens"}, params=("prediction",)),
    invalid("prediction", {"type": "bogus", "content": "x"}, "an unknown prediction type"),
    Probe("request.service_tier.accepted", "request.service_tier", "Priority / flex processing tiers.",
          {"service_tier": "auto"}, "unobservable",
          {"reason": "a processing tier shows only in latency and billing (the answer's service_tier is in the "
                     "evidence)"}, params=("service_tier",)),
    invalid("service_tier", "platinum", "an unknown service_tier"),
    Probe("request.reasoning_effort.accepted", "request.reasoning_effort", "Reasoning models' effort knob.",
          {"reasoning_effort": "low"}, "field_present",
          {"path": "usage.completion_tokens_details.reasoning_tokens", "why": "usage shows no reasoning_tokens"},
          params=("reasoning_effort",)),
    invalid("reasoning_effort", "extreme", "an unknown reasoning_effort"),
    unobservable("verbosity", "low", "verbosity only shortens gpt-5 answers; no detector can tell here"),
    invalid("verbosity", "loud", "an unknown verbosity"),
    Probe("request.web_search_options.accepted", "request.web_search_options", "Web search on search models.",
          {"web_search_options": {}}, "field_present",
          {"path": "choices.0.message.annotations", "why": "no url_citation annotations in the answer"},
          params=("web_search_options",)),
    invalid("web_search_options", {"search_context_size": "huge"}, "an unknown search_context_size"),
    Probe("request.moderation.accepted", "request.moderation", "Moderated completions.",
          {"moderation": {"model": "omni-moderation-latest"}}, "field_present",
          {"path": "moderation", "why": "the answer carries no moderation results"}, params=("moderation",)),
    invalid("moderation", {"policy": "x"}, "a moderation object without its model"),
    # bookkeeping parameters: no visible effect
    unobservable("user", "conformance-probe-user", "end-user ids only reach abuse monitoring"),
    invalid("user", 12345, "a user that is not a string"),
    unobservable("safety_identifier", "conformance-probe", "safety identifiers only reach abuse monitoring"),
    invalid("safety_identifier", 12345, "a safety_identifier that is not a string"),
    unobservable("store", True, "stored completions show only in the provider's dashboard"),
    invalid("store", "yes", "store that is not a boolean"),
    unobservable("metadata", {"probe": "conformance"}, "metadata shows only with stored completions"),
    invalid("metadata", "not-an-object", "metadata that is not an object"),
    unobservable("prompt_cache_key", "conformance-probe", "cache hits need prompts of 1024+ tokens"),
    invalid("prompt_cache_key", 12345, "a prompt_cache_key that is not a string"),
    unobservable("prompt_cache_retention", "24h", "cache retention shows only in billing"),
    invalid("prompt_cache_retention", "forever", "an unknown prompt_cache_retention"),
    unobservable("prompt_cache_options", {"ttl": "30m"}, "cache options show only in billing"),
    invalid("prompt_cache_options", {"ttl": "forever"}, "an unknown prompt cache ttl"),
    # streaming parameters
    Probe("request.stream.basic", "request.stream", "Streaming is how chat UIs show text as it comes.",
          {"stream": True}, "stream_basic"),
    invalid("stream", "yes", "stream that is not a boolean"),
    Probe("request.stream_options.include_usage", "request.stream_options", "Token usage of a streamed answer.",
          {"stream": True, "stream_options": {"include_usage": True}}, "stream_usage", control="stream_plain",
          params=("stream_options",),
          hint="drop `stream_options`: usage arrives on the finishing chunk anyway"),
    invalid("stream_options", {"include_usage": True}, "stream_options without stream: true"),
    # tools (acceptance; behaviour in TOOLS below)
    Probe("request.tools.call", "request.tools", "Function calling, the base of every agent.",
          {"messages": _user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL]}, "tool_called",
          {"name": "get_weather", "absent": "UNVERIFIABLE"}),
    Probe("request.tools.prompt_tokens", "request.tools", "Tool definitions must reach the model (token accounting).",
          {"messages": _user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "none"},
          "more_prompt_tokens", control="weather_no_tools", params=("tools", "tool_choice")),
    invalid("tools", [{"type": "function"}], "a tool without its function"),
    Probe("request.tool_choice.required", "request.tool_choice",
          "Forcing a tool call, on a prompt that does not ask for one (so only tool_choice can explain a call).",
          {"messages": _user(HELLO), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "required"},
          "tool_choice_effect", alternates=({"tool_choice": "none"},), params=("tool_choice",),
          hint="map `tool_choice: \"required\"` to `\"any\"`"),
    invalid("tool_choice", "sometimes", "an unknown tool_choice", tools=[WEATHER_TOOL]),
    Probe("request.parallel_tool_calls.false", "request.parallel_tool_calls", "One call at a time, when asked.",
          {"messages": _user(TWO_CITIES), "temperature": 0, "tools": [WEATHER_TOOL], "parallel_tool_calls": False},
          "at_most_one_call", control="two_cities", params=("parallel_tool_calls",)),
    invalid("parallel_tool_calls", "yes", "parallel_tool_calls that is not a boolean", tools=[WEATHER_TOOL]),
    Probe("request.functions.legacy", "request.functions", "The legacy function-calling API older clients use.",
          {"messages": _user(WEATHER), "temperature": 0, "functions": [WEATHER_TOOL["function"]]}, "tool_called",
          {"name": "get_weather", "absent": "UNVERIFIABLE"}, params=("functions",),
          hint="send `tools` instead of the legacy `functions`"),
    invalid("functions", "get_weather", "functions that is not a list"),
    Probe("request.function_call.legacy", "request.function_call", "Forcing a legacy function call.",
          {"messages": _user(WEATHER), "temperature": 0, "functions": [WEATHER_TOOL["function"]],
           "function_call": {"name": "get_weather"}}, "tool_called", {"name": "get_weather"},
          params=("function_call", "functions"), hint="send `tool_choice` instead of the legacy `function_call`"),
    invalid("function_call", {"nom": "get_weather"}, "a function_call without a name",
            functions=[WEATHER_TOOL["function"]]),
    Probe("request.unknown_parameter", "request.unknown_parameter",
          "OpenAI rejects fields it does not know; a target that drops them hides typos and unsupported options.",
          {"frobnicate_conformance_probe": True}, "no_effect_expected"),
]

STREAMING: list[Probe] = [
    Probe("stream.done_sentinel", "stream.done_sentinel", "Clients stop reading at `data: [DONE]`.",
          {"stream": True, "temperature": 0}, "done_sentinel"),
    Probe("stream.usage_chunk.requested", "stream.usage_chunk",
          "Usage of a stream arrives as a final chunk with choices: [] when include_usage is sent.",
          {"stream": True, "temperature": 0, "stream_options": {"include_usage": True}}, "stream_usage",
          params=("stream_options",),
          hint="stream usage arrives on the finishing chunk: read usage from any chunk, do not assume choices: []"),
    Probe("stream.usage_chunk.unrequested", "stream.usage_chunk", "Without include_usage OpenAI sends no usage.",
          {"stream": True, "temperature": 0}, "usage_unrequested", role="check"),
    Probe("stream.reassembly.text", "stream.reassembly",
          "A streamed answer must reassemble into the same answer as the non-streamed one.",
          {"stream": True, "temperature": 0}, "stream_equals_unstreamed", control="plain_t0"),
    Probe("stream.reassembly.tool_calls", "stream.tool_call_deltas",
          "Streamed tool-call deltas (index, first-fragment fields, argument pieces) must reassemble.",
          {"messages": _user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "stream": True},
          "stream_equals_unstreamed", control="tools_t0"),
    Probe("stream.n_choices", "stream.n_interleave", "n > 1 streams interleave choices by index.",
          {"stream": True, "messages": _user(CREATIVE), "temperature": HIGH_T, "n": 2}, "n_choices",
          params=("n",)),
]

TOOLS_PROBES: list[Probe] = [
    Probe("tools.tool_choice.none", "tools.tool_choice.none", "tool_choice none must answer in text.",
          {"messages": _user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "none"},
          "no_tool_call", params=("tool_choice",)),
    Probe("tools.tool_choice.auto", "tools.tool_choice.auto", "The default: the model decides to call.",
          {"messages": _user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "auto"},
          "tool_called", {"name": "get_weather", "absent": "UNVERIFIABLE"}, params=("tool_choice",)),
    # A prompt that asks for no tool, and `none` as the alternate: only tool_choice can explain a call.
    Probe("tools.tool_choice.required", "tools.tool_choice.required", "Agents force a call with `required`.",
          {"messages": _user(HELLO), "temperature": 0, "tools": TOOLS, "tool_choice": "required"},
          "tool_choice_effect", alternates=({"tool_choice": "none"},), params=("tool_choice",),
          hint="map `tool_choice: \"required\"` to `\"any\"`"),
    Probe("tools.tool_choice.hint_any", "tools.tool_choice.required", "Mistral's `any`: does the alternative work?",
          {"messages": _user(HELLO), "temperature": 0, "tools": TOOLS, "tool_choice": "any"}, "tool_choice_effect",
          alternates=({"tool_choice": "none"},), role="hint", params=("tool_choice",),
          hint="map `tool_choice: \"required\"` to `\"any\"`"),
    Probe("tools.tool_choice.named", "tools.tool_choice.named", "Forcing one named function.",
          {"messages": _user(WEATHER), "temperature": 0, "tools": TOOLS,
           "tool_choice": {"type": "function", "function": {"name": "get_time"}}}, "tool_called",
          {"name": "get_time"}, params=("tool_choice",)),
    Probe("tools.tool_choice.unknown_name", "tools.tool_choice.unknown_name",
          "Naming a function that is not declared is a client bug OpenAI answers with 400.",
          {"messages": _user(WEATHER), "tools": [WEATHER_TOOL],
           "tool_choice": {"type": "function", "function": {"name": "no_such_function"}}},
          kind="error", expect_status=400, params=("tool_choice",)),
    Probe("tools.parallel_calls", "tools.parallel_calls", "Several calls in one turn, with distinct ids.",
          {"messages": _user(TWO_CITIES), "temperature": 0, "tools": [WEATHER_TOOL]}, "parallel_calls"),
    Probe("tools.strict", "tools.strict", "strict: true function schemas (arguments always valid).",
          {"messages": _user(WEATHER), "temperature": 0, "tools": [_function("get_weather", "Weather.", True)],
           "tool_choice": "required"}, "tool_called", {"name": "get_weather"}, params=("tools",)),
    Probe("tools.followup_turn", "tools.followup_turn",
          "The tool result goes back with an OpenAI-style id (call_…); the final answer must use it.",
          {"messages": _user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "required"},
          "followup_uses_result", {"id_style": "openai", "expect_any": ["sunny", "21"]}, followup="tool_result",
          params=("tool_call_id", "messages", "tool_calls", "id"),
          hint="tool-call ids must be 9 letters or digits: map call_… ids before sending them back"),
    Probe("tools.followup_turn.native_ids", "tools.followup_turn",
          "The same follow-up with the target's own tool-call ids.",
          {"messages": _user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "required"},
          "followup_uses_result", {"id_style": "native", "expect_any": ["sunny", "21"]}, followup="tool_result",
          role="hint", params=("tool_call_id", "messages"),
          hint="tool-call ids must be 9 letters or digits: map call_… ids before sending them back"),
]

JSON_PROBES: list[Probe] = [
    Probe("json.json_object", "json.json_object", "JSON mode: content parses; code fences break json.loads.",
          {"messages": _user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_object"}},
          "json_object", control="json_no_format", params=("response_format",)),
    Probe("json.json_object.prose_prompt", "json.json_object",
          "JSON mode must win over a system prompt that asks for prose.",
          {"messages": PROSE_JSON_MODE, "temperature": 0, "response_format": {"type": "json_object"}},
          "json_object", control="prose_no_format", params=("response_format",)),
    Probe("json.json_schema", "json.json_schema", "strict structured outputs: content validates against the schema.",
          {"messages": _user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {
              "name": "city", "strict": True, "schema": CITY_SCHEMA}}}, "json_schema", control="json_no_format",
          params=("response_format",)),
    Probe("json.json_schema.unsupported_keywords", "json.unsupported_keywords",
          "OpenAI strict mode rejects schema keywords it cannot enforce (here oneOf); silently dropping them "
          "breaks the contract.",
          {"messages": _user(JSON_PROMPT), "temperature": 0, "response_format": {"type": "json_schema", "json_schema": {
              "name": "city", "strict": True, "schema": {"oneOf": [CITY_SCHEMA, {"type": "string"}]}}}},
          kind="invalid", params=("response_format",)),
]

CONVERSATIONS: list[Probe] = [
    Probe("conversation.multi_turn", "conversation.multi_turn", "A plain multi-turn exchange.",
          {"messages": [{"role": "user", "content": "My name is Ada."},
                        {"role": "assistant", "content": "Nice to meet you, Ada."},
                        {"role": "user", "content": "What is my name?"}], "temperature": 0}, "answered"),
    Probe("conversation.system_message", "conversation.system_message",
          "The system prompt must reach the model (token accounting).",
          {"messages": [{"role": "system", "content": "You are a terse assistant who answers in French."},
                        {"role": "user", "content": HELLO}], "temperature": 0}, "more_prompt_tokens",
          control="plain_t0", params=("messages",)),
    Probe("conversation.assistant_last", "conversation.assistant_last",
          "A trailing assistant message (prefill) is accepted by OpenAI.",
          {"messages": [{"role": "user", "content": HELLO}, {"role": "assistant", "content": "Hello! I am"}],
           "temperature": 0}, "answered", params=("messages",),
          hint="set `prefix: true` on a trailing assistant message"),
    Probe("conversation.user_after_tool", "conversation.user_after_tool",
          "A user message right after a tool result.",
          {"messages": [*_tool_history(), {"role": "user", "content": "Thanks. And tomorrow?"}],
           "tools": [WEATHER_TOOL], "temperature": 0}, "answered", params=("messages",),
          hint="insert an assistant message between a tool result and the next user message"),
    Probe("conversation.tool_result_count", "conversation.tool_result_count",
          "Two tool calls answered by one result: OpenAI rejects the unpaired call.",
          {"messages": _tool_history(result_count=1, calls=2), "tools": [WEATHER_TOOL]},
          kind="error", expect_status=400, params=("messages",)),
    Probe("conversation.developer_role", "conversation.developer_role", "The `developer` role of newer OpenAI models.",
          {"messages": [{"role": "developer", "content": "Answer briefly."}, {"role": "user", "content": HELLO}],
           "temperature": 0}, "answered", params=("messages", "role"),
          hint="send the developer message with role `system`"),
    Probe("conversation.user_name", "conversation.user_name", "`name` on a user message (multi-user chats).",
          {"messages": [{"role": "user", "name": "ada", "content": HELLO}], "temperature": 0}, "answered",
          params=("messages", "name"), hint="drop `name` from user, system and assistant messages"),
    Probe("conversation.content_parts", "conversation.content_parts", "Content as an array of text parts.",
          {"messages": [{"role": "user", "content": [{"type": "text", "text": HELLO}]}], "temperature": 0},
          "answered", params=("messages",)),
    Probe("conversation.assistant_echo", "conversation.assistant_echo",
          "An assistant message echoed back as OpenAI returned it (refusal: null, annotations: []).",
          {"messages": [{"role": "user", "content": "My name is Ada."},
                        {"role": "assistant", "content": "Nice to meet you, Ada.", "refusal": None, "annotations": []},
                        {"role": "user", "content": "What is my name?"}], "temperature": 0}, "answered",
          params=("messages", "refusal", "annotations"),
          hint="strip null and unknown fields (refusal, annotations, audio) from echoed assistant messages"),
]

ERRORS: list[Probe] = [
    Probe("errors.unknown_model", "errors.unknown_model",
          "OpenAI answers 404 model_not_found; a 200 from another model is a silent substitution.",
          {"model": "conformance-no-such-model"}, kind="error", expect_status=404, args={"substitution": True},
          params=("model",)),
    Probe("errors.bad_key", "errors.bad_key", "A wrong key must get 401, not an answer or a 500.", {},
          kind="error", expect_status=401, auth="bad"),
    Probe("errors.malformed_body", "errors.malformed_body", "A body that is not JSON is a 400, never a 5xx.",
          raw_body='{"model": "x", "messages": [', kind="error", expect_status=400),
    Probe("errors.missing_messages", "errors.missing_messages", "A body without messages is a 400 naming it.",
          {"messages": DROP}, kind="error", expect_status=400, params=("messages",)),
    Probe("errors.invalid_value", "errors.invalid_value", "An out-of-range value is a 400 naming the field.",
          {"temperature": 5}, kind="error", expect_status=400, params=("temperature",)),
]

BASICS: list[Probe] = [
    Probe("chat.completion", "chat.completion", "The plainest request every client sends.", detector="accepted"),
]

PROBES: list[Probe] = [*BASICS, *PARAMETERS, *STREAMING, *TOOLS_PROBES, *JSON_PROBES, *CONVERSATIONS, *ERRORS]


def probe_by_id() -> dict[str, Probe]:
    out: dict[str, Probe] = {}
    for p in PROBES:
        if p.id in out:
            raise ValueError(f"probe id {p.id!r} registered twice")
        out[p.id] = p
    return out
