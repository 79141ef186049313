"""Tools: tools, tool_choice, parallel calls, legacy functions, strict schemas, the tool-result turn."""

from __future__ import annotations

import json
import re
from typing import Any

from conformance.features.common import (
    AIRPORT_WEATHER_SCHEMA,
    CREATIVE,
    HELLO,
    TOOLS,
    TWO_CITIES,
    WEATHER,
    WEATHER_TOOL,
    invalid,
    user,
)
from conformance.features.generic import (
    ACCEPTED_ONLY,
    NO_ANSWER,
    schema_problem,
    strict_verdict,
    usage_check,
    usage_is_synthetic,
)
from conformance.judge import answers as A
from conformance.judge.detection import Context, Detection, detector, followup, sent_request
from conformance.model.findings import Finding
from conformance.model.observation import Observation
from conformance.model.probes import DROP, Probe
from conformance.model.verdicts import Support

# A tool result no model would say unprompted: a follow-up that quotes it has read it.
IMPROBABLE_RESULT = "Cloudy, 137 degrees"


def _weather_tool(strict: bool) -> dict[str, Any]:
    """get_weather with an IATA code (pattern) and a unit (enum) that a free model tends to get wrong."""
    fn: dict[str, Any] = {"name": "get_weather", "description": "Get the current weather at an airport.",
                          "parameters": AIRPORT_WEATHER_SCHEMA}
    if strict:
        fn["strict"] = True
    return {"type": "function", "function": fn}


STRICT_WEATHER_TOOL, LOOSE_WEATHER_TOOL = _weather_tool(True), _weather_tool(False)


PROBES: list[Probe] = [
    # tools (acceptance; behaviour in TOOLS below)
    # Tool calls are judged against the same prompt without tools (a call that comes back anyway proves nothing).
    Probe("request.tools.call", "request.tools", "Function calling, the base of every agent.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL]}, "tool_called",
          {"name": "get_weather", "absent": Support.UNVERIFIABLE}, control="weather_no_tools", params=("tools",)),
    Probe("request.tools.prompt_tokens", "request.tools", "Tool definitions must reach the model (token accounting).",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "none"},
          "more_prompt_tokens", control="weather_no_tools", params=("tools", "tool_choice"),
          alternates=(usage_check("tools", "tool_choice"),)),
    invalid("tools", [{"type": "function"}], "a tool without its function"),
    Probe("request.tool_choice.required", "request.tool_choice",
          "Forcing a tool call, on a prompt that does not ask for one (so only tool_choice can explain a call).",
          {"messages": user(HELLO), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "required"},
          "tool_choice_effect", alternates=({"tool_choice": "none"}, {"tool_choice": DROP}), params=("tool_choice",),
          hint="map `tool_choice: \"required\"` to `\"any\"`"),
    invalid("tool_choice", "sometimes", "an unknown tool_choice", tools=[WEATHER_TOOL]),
    Probe("request.parallel_tool_calls.false", "request.parallel_tool_calls", "One call at a time, when asked.",
          {"messages": user(TWO_CITIES), "temperature": 0, "tools": [WEATHER_TOOL], "parallel_tool_calls": False},
          "at_most_one_call", control="two_cities", params=("parallel_tool_calls",)),
    invalid("parallel_tool_calls", "yes", "parallel_tool_calls that is not a boolean", tools=[WEATHER_TOOL]),
    Probe("request.functions.legacy", "request.functions", "The legacy function-calling API older clients use.",
          {"messages": user(WEATHER), "temperature": 0, "functions": [WEATHER_TOOL["function"]]},
          "legacy_function_called", {"name": "get_weather", "absent": Support.UNVERIFIABLE, "usage_check": True},
          control="weather_no_tools", alternates=(usage_check("functions"),), params=("functions",),
          hint="send `tools` instead of the legacy `functions`"),
    invalid("functions", "get_weather", "functions that is not a list"),
    Probe("request.function_call.legacy", "request.function_call", "Forcing a legacy function call.",
          {"messages": user(WEATHER), "temperature": 0, "functions": [WEATHER_TOOL["function"]],
           "function_call": {"name": "get_weather"}}, "legacy_function_called", {"name": "get_weather"},
          alternates=({"function_call": "none"},), params=("function_call", "functions"),
          hint="send `tool_choice` instead of the legacy `function_call`"),
    invalid("function_call", {"nom": "get_weather"}, "a function_call without a name",
            functions=[WEATHER_TOOL["function"]]),
    Probe("tools.tool_choice.none", "tools.tool_choice.none", "tool_choice none must answer in text.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "none"},
          "no_tool_call", control="tools_t0", params=("tool_choice",)),
    Probe("tools.tool_choice.auto", "tools.tool_choice.auto", "The default: the model decides to call.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "auto"},
          "tool_called", {"name": "get_weather", "absent": Support.UNVERIFIABLE}, control="weather_no_tools",
          params=("tool_choice",)),
    # A prompt that asks for no tool, and `none` as the alternate: only tool_choice can explain a call.
    Probe("tools.tool_choice.required", "tools.tool_choice.required", "Agents force a call with `required`.",
          {"messages": user(HELLO), "temperature": 0, "tools": TOOLS, "tool_choice": "required"},
          "tool_choice_effect", alternates=({"tool_choice": "none"}, {"tool_choice": DROP}), params=("tool_choice",),
          hint="map `tool_choice: \"required\"` to `\"any\"`"),
    Probe("tools.tool_choice.hint_any", "tools.tool_choice.required", "Mistral's `any`: does the alternative work?",
          {"messages": user(HELLO), "temperature": 0, "tools": TOOLS, "tool_choice": "any"}, "tool_choice_effect",
          alternates=({"tool_choice": "none"}, {"tool_choice": DROP}), role="hint", params=("tool_choice",),
          hint="map `tool_choice: \"required\"` to `\"any\"`"),
    Probe("tools.tool_choice.named", "tools.tool_choice.named", "Forcing one named function.",
          {"messages": user(WEATHER), "temperature": 0, "tools": TOOLS,
           "tool_choice": {"type": "function", "function": {"name": "get_time"}}}, "named_tool_called",
          {"name": "get_time"}, alternates=({"tool_choice": "auto"},), params=("tool_choice",)),
    Probe("tools.tool_choice.unknown_name", "tools.tool_choice.unknown_name",
          "Naming a function that is not declared is a client bug OpenAI answers with 400.",
          {"messages": user(WEATHER), "tools": [WEATHER_TOOL],
           "tool_choice": {"type": "function", "function": {"name": "no_such_function"}}},
          kind="error", expect_status=400, params=("tool_choice",)),
    Probe("tools.parallel_calls", "tools.parallel_calls", "Several calls in one turn, with distinct ids.",
          {"messages": user(TWO_CITIES), "temperature": 0, "tools": [WEATHER_TOOL]}, "parallel_calls",
          control="tools_t0"),
    # strict against the same tool without strict, on a schema a free model tends to break (enum, pattern).
    Probe("tools.strict", "tools.strict", "strict: true function schemas (arguments always valid).",
          {"messages": user(WEATHER), "temperature": 0, "tools": [STRICT_WEATHER_TOOL], "tool_choice": "required"},
          "strict_arguments", alternates=({"tools": [LOOSE_WEATHER_TOOL]},), params=("tools",)),
    Probe("tools.followup_turn", "tools.followup_turn",
          "The tool result goes back with an OpenAI-style id (call_…); the final answer must use it.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "required"},
          "followup_uses_result", {"id_style": "openai", "result": IMPROBABLE_RESULT, "expect_any": ["137"]},
          followup="tool_result",
          params=("tool_call_id", "messages", "tool_calls", "id"),
          hint="tool-call ids must be 9 letters or digits: map call_… ids before sending them back"),
    Probe("tools.followup_turn.native_ids", "tools.followup_turn",
          "The same follow-up with the target's own tool-call ids.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "required"},
          "followup_uses_result", {"id_style": "native", "result": IMPROBABLE_RESULT, "expect_any": ["137"]},
          followup="tool_result",
          role="hint", params=("tool_call_id", "messages"),
          hint="tool-call ids must be 9 letters or digits: map call_… ids before sending them back"),
    # the migration (issue 13): shapes OpenAI accepts that stricter targets refuse
    Probe("tools.no_parameters", "tools.no_parameters",
          "A function tool without `parameters` is valid for OpenAI (a tool that takes no arguments).",
          {"messages": user(WEATHER), "temperature": 0, "tools": [{"type": "function", "function": {
              "name": "get_weather", "description": "Get the current weather where the user is."}}]},
          "tool_called", {"name": "get_weather", "absent": Support.UNVERIFIABLE}, control="weather_no_tools",
          params=("tools",), hint="always send `function.parameters` (an empty object schema is fine)"),
    Probe("tools.no_parameters.hint_empty_schema", "tools.no_parameters",
          "The same tool with an empty parameters schema: does the fix work?",
          {"messages": user(WEATHER), "temperature": 0, "tools": [{"type": "function", "function": {
              "name": "get_weather", "description": "Get the current weather where the user is.",
              "parameters": {"type": "object", "properties": {}}}}]},
          "tool_called", {"name": "get_weather", "absent": Support.UNVERIFIABLE}, control="weather_no_tools",
          role="hint", params=("tools",), hint="always send `function.parameters` (an empty object schema is fine)"),
    Probe("tools.empty_list", "tools.empty_list",
          "`tools: []` (agents with no tool enabled) must answer as if no tools were sent.",
          {"temperature": 0, "tools": []}, "like_control", control="plain_t0",
          alternates=({"messages": user(CREATIVE)},), params=("tools",),
          hint="omit `tools` when the list is empty"),
    Probe("tools.tool_choice.null", "tools.tool_choice.null",
          "`tool_choice: null` (an unset option serialised) must mean the default, not `none` and not an error.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": None},
          "like_control", control="tools_t0", alternates=({"tool_choice": "none"},), params=("tool_choice",),
          hint="omit tool_choice instead of sending null"),
    Probe("tools.call_shape", "tools.call_shape",
          "Each tool call is {id, type: \"function\", function: {name, arguments}}; code switches on `type`.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL]}, "call_shape",
          control="weather_no_tools"),
]


def _call_names(obs: Observation) -> list[str]:
    names = []
    for call in A.tool_calls(obs):
        fn = call.get("function") or {}
        names.append(str(fn.get("name")))
    legacy = A.message(obs).get("function_call")
    if isinstance(legacy, dict):
        names.append(str(legacy.get("name")))
    return names


def _tool_notes(obs: Observation) -> tuple[list[str], dict[str, Any], list[Finding]]:
    """What a client will see of the tool calls: id format, content null vs "", finish_reason, JSON args."""
    notes: list[str] = []
    findings: list[Finding] = []
    calls = A.tool_calls(obs)
    ids = [str(c.get("id")) for c in calls]
    fmt = sorted({"call_…" if i.startswith("call_") else ("9 alphanumerics" if re.fullmatch(r"[A-Za-z0-9]{9}", i)
                                                          else f"other ({i[:16]})") for i in ids})
    content = A.message(obs).get("content", "absent")
    m = {"tool_calls": len(calls), "names": _call_names(obs), "id_format": fmt,
         "content_with_calls": "null" if content is None else ("absent" if content == "absent" else repr(content)[:40]),
         "finish_reason": A.finish_reason(obs)}
    if calls:
        notes.append(f"tool-call ids: {', '.join(fmt)}; content {m['content_with_calls']}")
        if A.finish_reason(obs) != "tool_calls":
            findings.append(Finding("response", "/choices/0/finish_reason", "tools.finish_reason", "strict",
                                    "tool calls returned with finish_reason "
                                    f"{A.finish_reason(obs)!r}: clients that loop on 'tool_calls' stop here",
                                    "tool_calls", A.finish_reason(obs)))
        if len(set(ids)) != len(ids):
            findings.append(Finding("response", "/choices/0/message/tool_calls", "tools.distinct_ids", "compat",
                                    "two tool calls share an id: results cannot be matched", None, ids))
    for i, call in enumerate(calls):
        args = (call.get("function") or {}).get("arguments")
        try:
            json.loads(args) if isinstance(args, str) else None
        except ValueError:
            findings.append(Finding("response", f"/choices/0/message/tool_calls/{i}/function/arguments",
                                    "tools.arguments_json", "compat", "tool-call arguments are not JSON", "JSON text",
                                    str(args)[:80]))
    return notes, m, findings


# How a model's tool call looks when a server returns it as text instead of parsing it into tool_calls: the
# markup of common chat templates (Hermes/Qwen, Mistral, Llama 3.1) or a bare JSON function object.
_CALL_MARKUP = re.compile(r"<tool_call>.*?(?:</tool_call>|$)|\[TOOL_CALLS\].*|<\|python_tag\|>.*|<function=.*",
                          re.DOTALL)
_CALL_JSON = re.compile(r'\{\s*"(?:name|function)"\s*:\s*(?:"[^"]+"|\{)[^{}]*?"(?:arguments|parameters)"\s*:',
                        re.DOTALL)


def text_tool_call(text: str) -> str | None:
    """The tool call written as text in an answer's content (its first 120 characters), or None."""
    found = _CALL_MARKUP.search(text) or _CALL_JSON.search(text)
    if found is None:
        return None
    return text[found.start():found.start() + 120].strip()


CALL_AS_TEXT = "tools.call_as_text"


def call_as_text(obs: Observation, witnesses: list[Observation], what: str) -> Detection | None:
    """A call that came back as text in content, with no tool_calls: at most PARTIAL, with a finding naming the
    text (a client gets no call). None when the answer has no such text, or a witness without `what` (the same
    request without tools, or without tool_choice) writes it too (then it proves nothing)."""
    snippet = text_tool_call(A.text(obs))
    if snippet is None or A.tool_calls(obs):
        return None
    m = {"call_as_text": snippet, "finish_reason": A.finish_reason(obs)}
    if any(text_tool_call(A.text(w)) for w in witnesses):
        return Detection(Support.UNVERIFIABLE, [f"no tool call; the content holds call-like text ({snippet!r}), but "
                                                f"so does the request without {what}: no effect to tell"], m)
    message = (f"the tool call came back as text in content ({snippet!r}), finish_reason {A.finish_reason(obs)!r}, "
               "no tool_calls: a client gets no call to run")
    finding = Finding("response", "/choices/0/message/content", CALL_AS_TEXT, "compat", message, "tool_calls",
                      snippet)
    return Detection(Support.PARTIAL, [f"{what} reach the model (it writes a call), but {message}"], m, [finding])


@detector("tool_called")
def tool_called(ctx: Context) -> Detection:
    """The model called a tool (the expected one when args.name is given), where the control (the same prompt
    without tools) makes no call: a call that comes back without tools too proves nothing. A call written as
    text in content is at most PARTIAL (`call_as_text`)."""
    obs = ctx.samples[0]
    notes, m, findings = _tool_notes(obs)
    names = _call_names(obs)
    want = ctx.args.get("name")
    if not names:
        as_text = call_as_text(obs, ctx.control[:1], "tools")
        if as_text is not None:
            return Detection(as_text.support, [*as_text.notes, *notes], {**m, **as_text.measurements},
                             [*findings, *as_text.findings])
        return Detection(Support(ctx.args.get("absent", Support.IGNORED)), ["no tool call: a plain answer came back",
                                                                      *notes], m, findings)
    if want and want not in names:
        return Detection(Support.IGNORED, [f"called {names}, not the requested {want!r}", *notes], m, findings)
    if ctx.control and _call_names(ctx.control[0]):
        m["control_calls"] = _call_names(ctx.control[0])
        return Detection(Support.UNVERIFIABLE, [f"called {names}, but the same prompt without tools also comes back "
                                                f"with a call ({m['control_calls']}): no effect to tell", *notes],
                         m, findings)
    return Detection(Support.SUPPORTED, [f"called {names}; without tools, no call", *notes], m, findings)


@detector("legacy_function_called")
def legacy_function_called(ctx: Context) -> Detection:
    """Legacy `functions` / `function_call`: the answer carries message.function_call (a `tool_calls` answer is
    PARTIAL: a legacy client reads function_call); compared with no functions (control) and `function_call:
    "none"` (the alternate), which must not call."""
    obs = ctx.samples[0]
    notes, m, findings = _tool_notes(obs)
    legacy = A.message(obs).get("function_call")
    names = _call_names(obs)
    want = ctx.args.get("name")
    usage_check = bool(ctx.args.get("usage_check"))  # then the alternate is a long prompt that tests usage
    witnesses = [*ctx.control[:1], *([] if usage_check else ctx.alternates[:1])]
    called_anyway = [n for w in witnesses for n in _call_names(w)]
    if not names:
        got, ctrl = A.tokens(obs, "prompt"), A.tokens(ctx.control[0], "prompt") if ctx.control else None
        real_usage = usage_check and ctx.alternates and usage_is_synthetic(obs, ctx.alternates[0]) is False
        if real_usage and got is not None and got == ctrl:
            return Detection(Support.IGNORED, [(f"no function call, and prompt_tokens {got} with the functions as "
                                                "without them: they never reached the model"), *notes], m, findings)
        return Detection(Support(ctx.args.get("absent", Support.IGNORED)), ["no function call came back", *notes], m,
                         findings)
    if want and want not in names:
        return Detection(Support.IGNORED, [f"called {names}, not the requested {want!r}", *notes], m, findings)
    if called_anyway:
        m["called_anyway"] = called_anyway
        what = "without functions" if ctx.control else 'with function_call "none"'
        return Detection(Support.UNVERIFIABLE if ctx.control else Support.IGNORED,
                         [f"called {names}, but a call comes back {what} too ({called_anyway})", *notes], m, findings)
    if isinstance(legacy, dict):
        return Detection(Support.SUPPORTED, [f"message.function_call {legacy.get('name')!r}", *notes], m, findings)
    return Detection(Support.PARTIAL, [("answered with tool_calls, not message.function_call: a legacy client "
                                        "that reads function_call sees no call"), *notes], m, findings)


@detector("no_tool_call")
def no_tool_call(ctx: Context) -> Detection:
    """tool_choice none: a plain answer, no tool call (and no raw tool-call markup), where the control (the same
    request without tool_choice) calls; a model that never calls shows nothing."""
    obs = ctx.samples[0]
    names = _call_names(obs)
    if names:
        return Detection(Support.IGNORED, [f"tool_choice none still called {names}"])
    if ctx.control and not _call_names(ctx.control[0]):
        return Detection(Support.UNVERIFIABLE, [f"{ACCEPTED_ONLY}: the same request without tool_choice makes no call "
                                                "either, so there was no call to prevent"])
    if "<tool_call>" in A.text(obs) or "tool_call" in A.text(obs)[:40]:
        return Detection(Support.PARTIAL, ["no structured call, but the raw tool-call markup came back as content"],
                         {"content": A.text(obs)[:200]})
    return Detection(Support.SUPPORTED, ["a plain answer, no tool call, where the control calls"])


@detector("named_tool_called")
def named_tool_called(ctx: Context) -> Detection:
    """A named tool_choice forces that function where `auto` (the alternate) calls another or none; arguments
    must be a JSON string (an object is PARTIAL: OpenAI clients json.loads them)."""
    obs = ctx.samples[0]
    notes, m, findings = _tool_notes(obs)
    names, want = _call_names(obs), str(ctx.args["name"])
    auto_names = _call_names(ctx.alternates[0]) if ctx.alternates else []
    m["auto_calls"] = auto_names
    if want not in names:
        got = f"called {names}" if names else "no call"
        return Detection(Support.IGNORED, [f"{got}, not the named {want!r}", *notes], m, findings)
    if want in auto_names:
        return Detection(Support.UNVERIFIABLE, [f"called {want!r}, but tool_choice auto calls it too: no effect to "
                                                "tell", *notes], m, findings)
    shapes = [_arguments_shape((c.get("function") or {}).get("arguments")) for c in A.tool_calls(obs)]
    odd = next((s for s in shapes if s != "object"), None)
    if odd:
        return Detection(Support.PARTIAL, [(f"called {want!r} (auto called {auto_names or 'nothing'}), but the "
                                            f"arguments are {odd}, not a JSON object in a string"), *notes], m,
                         findings)
    return Detection(Support.SUPPORTED, [f"called {want!r}; auto called {auto_names or 'nothing'}", *notes], m,
                     findings)


def _arguments_shape(raw: Any) -> str:
    """What a client gets from json.loads(arguments): "object", or what it gets instead."""
    if not isinstance(raw, str):
        return f"a {type(raw).__name__} instead of a string"
    try:
        value = json.loads(raw)
    except ValueError:
        return "not JSON"
    return "object" if isinstance(value, dict) else f"a JSON {type(value).__name__} (double-encoded?)"


@detector("strict_arguments")
def strict_arguments(ctx: Context) -> Detection:
    """strict: true gives arguments that validate against the tool's schema where the same tool without strict
    (the alternate) does not; when both validate, a free model already complies (UNVERIFIABLE)."""
    obs = ctx.samples[0]
    notes, m, findings = _tool_notes(obs)
    tools = sent_request(obs).get("tools") or [{}]
    schema = (tools[0].get("function") or {}).get("parameters") or {}

    def problem(o: Observation) -> str | None:
        calls = A.tool_calls(o)
        if not calls:
            return "no tool call"
        raw = (calls[0].get("function") or {}).get("arguments")
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return "arguments are not JSON"
        return schema_problem(value, schema)

    got = problem(ctx.samples[0])
    loose = problem(ctx.alternates[0]) if ctx.alternates else NO_ANSWER
    m.update({"strict_problem": got, "loose_problem": loose})
    support, note = strict_verdict(got, loose, "arguments", "no tool call", "tool_choice required made no call")
    return Detection(support, [note, *notes], m, findings)


@detector("parallel_calls")
def parallel_calls(ctx: Context) -> Detection:
    """Two calls with distinct ids in one answer, where a one-city prompt (the control) makes one."""
    obs = ctx.samples[0]
    notes, m, findings = _tool_notes(obs)
    calls = A.tool_calls(obs)
    ids = {c.get("id") for c in calls}
    if ctx.control and len(A.tool_calls(ctx.control[0])) >= 2 and len(calls) >= 2:
        return Detection(Support.UNVERIFIABLE, [(f"{len(calls)} calls, but a one-city prompt gets "
                                                 f"{len(A.tool_calls(ctx.control[0]))} too: no effect to tell"),
                                                *notes], m, findings)
    if len(calls) >= 2 and len(ids) == len(calls):
        return Detection(Support.SUPPORTED, [f"{len(calls)} calls with distinct ids", *notes], m, findings)
    if len(calls) >= 2:
        return Detection(Support.PARTIAL, [f"{len(calls)} calls but ids repeat", *notes], m, findings)
    return Detection(Support.UNVERIFIABLE, [(f"the model made {len(calls)} call(s): it chose not to call in "
                                            "parallel, or cannot"), *notes], m, findings)


@detector("at_most_one_call")
def at_most_one_call(ctx: Context) -> Detection:
    """parallel_tool_calls false: at most one call, where the control (parallel allowed) makes several."""
    got, ctrl = len(A.tool_calls(ctx.samples[0])), len(A.tool_calls(ctx.control[0]))
    m = {"calls": got, "control_calls": ctrl}
    if ctrl < 2:
        return Detection(Support.UNVERIFIABLE, [f"the control made {ctrl} call(s): no parallel calls to prevent"], m)
    if got <= 1:
        return Detection(Support.SUPPORTED, [f"{got} call(s) where the control made {ctrl}"], m)
    return Detection(Support.IGNORED, [f"still {got} calls (control {ctrl})"], m)


@detector("followup_uses_result")
def followup_uses_result(ctx: Context) -> Detection:
    """Second turn with the tool result: the final answer uses it (mentions the expected word)."""
    turn2 = ctx.turn2
    if turn2 is None:
        return Detection(Support.UNVERIFIABLE, ["the first turn made no tool call: no follow-up to send"])
    want = [w.lower() for w in ctx.args.get("expect_any", [])]
    got = A.text(turn2)
    m = {"final_answer": got[:200], "tool_call_id_sent": ctx.args.get("id_style")}
    if any(w in got.lower() for w in want):
        return Detection(Support.SUPPORTED, [f"the final answer uses the tool result: {got[:100]!r}"], m)
    if A.tool_calls(turn2):
        return Detection(Support.UNVERIFIABLE, [("the tool result was accepted, but the model called a tool again "
                                                 "instead of answering: whether it reads the result cannot be seen")],
                         m)
    return Detection(Support.UNVERIFIABLE, [f"the final answer does not mention the result: {got[:100]!r}"], m)


@followup("tool_result")
def tool_result(probe: Probe, body: dict[str, Any], first: Observation) -> dict[str, Any] | None:
    """Echo the assistant's tool call (with an id in the probe's style) and answer it with a tool result."""
    calls = A.tool_calls(first)
    if not calls:
        return None
    style = probe.args.get("id_style", "native")
    call = calls[0]
    fn = call.get("function") or {}
    call_id = {"openai": "call_Conf0rmanceProbe0000000A", "mistral": "Conf0rm01"}.get(style) or str(call.get("id"))
    messages = list(body["messages"]) + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": fn.get("name", "get_weather"), "arguments": fn.get("arguments") or "{}"}}]},
        {"role": "tool", "tool_call_id": call_id, "content": probe.args.get("result", "Sunny, 21 degrees")},
    ]
    nxt = {k: v for k, v in body.items() if k not in ("tool_choice",)}
    nxt["messages"] = messages
    return nxt


@detector("tool_choice_effect")
def tool_choice_effect(ctx: Context) -> Detection:
    """tool_choice steers the call: `required` forces one, `none` (the alternate) prevents it, same prompt."""
    forced = ctx.samples[0]
    notes, m, findings = _tool_notes(forced)
    prevented = ctx.alternates[0] if ctx.alternates else None
    default = ctx.alternates[1] if len(ctx.alternates) > 1 else None
    forced_calls, prevented_calls = _call_names(forced), _call_names(prevented) if prevented else []
    default_calls = _call_names(default) if default else []
    m.update({"required_calls": forced_calls, "none_calls": prevented_calls, "auto_calls": default_calls})
    if not forced_calls and default is not None and not default_calls and (
            (A.text(forced), A.finish_reason(forced)) != (A.text(default), A.finish_reason(default))):
        # the server acted on `required` (another answer than without it) but no call came back: a model that
        # cannot finish a call under the constraint (vLLM's guided decoding runs to the length limit) hides it
        return Detection(Support.UNVERIFIABLE, [
            f"required changed the answer (finish_reason {A.finish_reason(forced)!r} vs "
            f"{A.finish_reason(default)!r} without tool_choice) but returned no call: whether it forces one "
            f"cannot be seen with this model", *notes], m, findings)
    as_text = call_as_text(forced, [w for w in (default,) if w is not None], "tool_choice") \
        if not forced_calls else None
    if as_text is not None:
        return Detection(as_text.support, [*as_text.notes, *notes], {**m, **as_text.measurements},
                         [*findings, *as_text.findings])
    if not forced_calls:
        return Detection(Support.IGNORED, ["tool_choice required did not force a call", *notes], m, findings)
    if prevented is not None and prevented_calls:
        return Detection(Support.IGNORED, [f"a call comes back whatever tool_choice says (none still called "
                                           f"{prevented_calls})", *notes], m, findings)
    if default_calls:
        return Detection(Support.UNVERIFIABLE, [(f"required called {forced_calls}, but the same prompt without "
                                                 f"tool_choice calls too ({default_calls}): nothing to force"), *notes],
                         m, findings)
    return Detection(Support.SUPPORTED, [f"required forced {forced_calls}; without tool_choice no call; none "
                                         "prevented it", *notes], m, findings)


def _answer_key(obs: Observation) -> tuple[tuple[str, ...], str]:
    return tuple(_call_names(obs)), A.text(obs).strip()


@detector("like_control")
def like_control(ctx: Context) -> Detection:
    """A value that means "nothing" (`tools: []`, `tool_choice: null`) answers like the control without it.

    The alternate must answer differently from the control (another prompt, or `tool_choice: none`): only then
    does an equal answer show that the value was read as absent, not that the model answers the same anyway.
    """
    got, ctrl = _answer_key(ctx.samples[0]), _answer_key(ctx.control[0])
    alt = _answer_key(ctx.alternates[0]) if ctx.alternates else None
    m = {"variant": [list(got[0]), got[1][:120]], "control": [list(ctrl[0]), ctrl[1][:120]],
         "alternate": [list(alt[0]), alt[1][:120]] if alt else None}
    if got != ctrl:
        return Detection(Support.PARTIAL, [f"accepted, but the answer differs from the request without it: "
                                          f"calls {list(got[0])} vs {list(ctrl[0])}"], m)
    if alt is None or alt == ctrl:
        return Detection(Support.UNVERIFIABLE, ["accepted and answers like the control, but so does a request that "
                                               "must answer differently: this model cannot show the difference"], m)
    return Detection(Support.SUPPORTED, ["answers exactly as without it (and a request that must differ does)"], m)


@detector("call_shape")
def call_shape(ctx: Context) -> Detection:
    """Tool calls carry id, type "function", function.name and string arguments (the control, without tools,
    makes no call: the calls are the tools' effect)."""
    obs = ctx.samples[0]
    notes, m, findings = _tool_notes(obs)
    calls = A.tool_calls(obs)
    if not calls:
        return Detection(Support.UNVERIFIABLE, ["the model made no tool call: no shape to check"], m, findings)
    if A.tool_calls(ctx.control[0]):
        return Detection(Support.UNVERIFIABLE, ["the control without tools also returned tool calls"], m, findings)
    missing = sorted({f for c in calls for f, ok in (
        ("id", isinstance(c.get("id"), str) and bool(c.get("id"))), ("type", c.get("type") == "function"),
        ("function.name", isinstance((c.get("function") or {}).get("name"), str)),
        ("function.arguments (a string)", isinstance((c.get("function") or {}).get("arguments"), str))) if not ok})
    m["missing"] = missing
    if missing:
        return Detection(Support.PARTIAL, [f"tool calls lack {', '.join(missing)}: code that switches on "
                                          "tool_call.type or reads these fields breaks", *notes], m, findings)
    return Detection(Support.SUPPORTED, ["every tool call has id, type \"function\", name and string arguments",
                                        *notes], m, findings)
