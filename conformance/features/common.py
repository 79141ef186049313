"""What the feature groups share: the prompts, tool definitions, the baseline request, the shared controls
and the probe builders for unobservable parameters and invalid values.
"""

from __future__ import annotations

from typing import Any

from conformance.model.probes import Control, Probe

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


PROSE_PROMPT = "Describe Paris in one sentence."


NAME_QUESTION = "What is my name?"
RECALL_QUESTION = "What is the secret word?"


ASK_NAME = "What is my name?"


BASE_REQUEST: dict[str, Any] = {"messages": [{"role": "user", "content": HELLO}]}


HIGH_T = "$high_temperature"  # replaced by the target's `high_temperature`


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def function_tool(name: str, description: str, strict: bool = False) -> dict[str, Any]:
    fn: dict[str, Any] = {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "a city name"}},
                       "required": ["city"], "additionalProperties": False},
    }
    if strict:
        fn["strict"] = True
    return {"type": "function", "function": fn}


WEATHER_TOOL = function_tool("get_weather", "Get the current weather in a city.")


TIME_TOOL = function_tool("get_time", "Get the local time in a city.")


TOOLS = [WEATHER_TOOL, TIME_TOOL]


CITY_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "country": {"type": "string"}},
    "required": ["name", "country"], "additionalProperties": False,
}


# An IATA code (pattern) and a unit (enum) that a free model tends to get wrong: what strict must be seen to
# enforce, in a tool's parameters (tools.strict) and in a response_format schema (json.json_schema).
AIRPORT_WEATHER_SCHEMA = {
    "type": "object", "properties": {
        "iata": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "IATA airport code"},
        "unit": {"type": "string", "enum": ["kelvin", "rankine"]}},
    "required": ["iata", "unit"], "additionalProperties": False,
}


AIRPORT_JSON_PROMPT = ("What is the weather at the airport of Paris? Answer as a JSON object with the keys iata and "
                       "unit. Answer in JSON only.")


TOOL_CALL_ID = "abc123XYZ"  # 9 alphanumerics: an id both OpenAI and Mistral accept, to isolate other rules
# a tool result with an improbable value: only a history that reached the model explains "137" in the answer
TOOL_RESULT = "Cloudy, 137 degrees"
TOOL_RESULT_WORDS = ["137"]


def tool_history(result_count: int = 1, calls: int = 1) -> list[dict[str, Any]]:
    ids = [TOOL_CALL_ID[:-1] + str(i) for i in range(calls)]
    return [
        {"role": "user", "content": WEATHER},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
            for i in ids]},
        *[{"role": "tool", "tool_call_id": ids[k], "content": TOOL_RESULT} for k in range(result_count)],
    ]


CONTROLS: dict[str, Control] = {c.name: c for c in [
    Control("plain_t0", {"temperature": 0}, why="the deterministic answer other probes are compared with"),
    Control("recall_no_history", {"messages": user(RECALL_QUESTION), "temperature": 0},
            why="the recall question without the earlier turns"),
    Control("ask_name_anonymous", {"messages": user(ASK_NAME), "temperature": 0},
            why="the name question without a `name` on the message"),
    Control("high_temp", {"messages": user(CREATIVE), "temperature": HIGH_T, "top_p": 1}, stochastic=True,
            why="k samples at a high temperature: shows whether this model's output can vary at all"),
    Control("creative_t0", {"messages": user(CREATIVE), "temperature": 0, "top_p": 1}, stochastic=True,
            why="k samples at temperature 0 of the creative prompt"),
    Control("repeat_t0", {"messages": user(REPEAT), "temperature": 0}, why="a repetition-prone answer"),
    Control("logprobs_t0", {"temperature": 0, "logprobs": True, "top_logprobs": 1},
            why="token-level view of the deterministic answer"),
    Control("tools_t0", {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL]},
            why="a tool call, not streamed"),
    Control("weather_no_tools", {"messages": user(WEATHER), "temperature": 0},
            why="the same prompt without tools (token accounting)"),
    Control("two_cities", {"messages": user(TWO_CITIES), "temperature": 0, "tools": [WEATHER_TOOL]},
            why="parallel tool calls allowed"),
    Control("stream_plain", {"stream": True}, why="the same stream without stream_options"),
    Control("stream_plain_t0", {"stream": True, "temperature": 0},
            why="the deterministic stream without stream_options"),
    Control("json_no_format", {"messages": user(JSON_PROMPT), "temperature": 0},
            why="the JSON prompt without response_format"),
    Control("prose_no_format", {"messages": PROSE_JSON_MODE, "temperature": 0},
            why="the prose prompt that mentions json, without response_format"),
    Control("high_temp_top_p_tiny", {"messages": user(CREATIVE), "temperature": HIGH_T, "top_p": 0.01},
            stochastic=True, why="k samples at a high temperature with a tiny top_p (nucleus sampling on)"),
    Control("prose_plain", {"messages": user(PROSE_PROMPT), "temperature": 0},
            why="a prompt that never mentions JSON, without response_format"),
    Control("name_question", {"messages": user(NAME_QUESTION), "temperature": 0},
            why="the question of a history probe, without the history that answers it"),
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

