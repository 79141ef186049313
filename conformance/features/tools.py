"""Tools: tools, tool_choice, parallel calls, legacy functions, strict schemas, the tool-result turn."""

from __future__ import annotations

from typing import Any

from conformance.features.common import (
    CREATIVE,
    HELLO,
    TOOLS,
    TWO_CITIES,
    WEATHER,
    WEATHER_TOOL,
    function_tool,
    invalid,
    user,
)
from conformance.judge import answers as A
from conformance.judge.detection import Context, Detection, detector, followup
from conformance.model.findings import Finding
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.verdicts import Support

PROBES: list[Probe] = [
    # tools (acceptance; behaviour in TOOLS below)
    Probe("request.tools.call", "request.tools", "Function calling, the base of every agent.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL]}, "tool_called",
          {"name": "get_weather", "absent": "UNVERIFIABLE"}),
    Probe("request.tools.prompt_tokens", "request.tools", "Tool definitions must reach the model (token accounting).",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "none"},
          "more_prompt_tokens", control="weather_no_tools", params=("tools", "tool_choice")),
    invalid("tools", [{"type": "function"}], "a tool without its function"),
    Probe("request.tool_choice.required", "request.tool_choice",
          "Forcing a tool call, on a prompt that does not ask for one (so only tool_choice can explain a call).",
          {"messages": user(HELLO), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "required"},
          "tool_choice_effect", alternates=({"tool_choice": "none"},), params=("tool_choice",),
          hint="map `tool_choice: \"required\"` to `\"any\"`"),
    invalid("tool_choice", "sometimes", "an unknown tool_choice", tools=[WEATHER_TOOL]),
    Probe("request.parallel_tool_calls.false", "request.parallel_tool_calls", "One call at a time, when asked.",
          {"messages": user(TWO_CITIES), "temperature": 0, "tools": [WEATHER_TOOL], "parallel_tool_calls": False},
          "at_most_one_call", control="two_cities", params=("parallel_tool_calls",)),
    invalid("parallel_tool_calls", "yes", "parallel_tool_calls that is not a boolean", tools=[WEATHER_TOOL]),
    Probe("request.functions.legacy", "request.functions", "The legacy function-calling API older clients use.",
          {"messages": user(WEATHER), "temperature": 0, "functions": [WEATHER_TOOL["function"]]}, "tool_called",
          {"name": "get_weather", "absent": "UNVERIFIABLE"}, params=("functions",),
          hint="send `tools` instead of the legacy `functions`"),
    invalid("functions", "get_weather", "functions that is not a list"),
    Probe("request.function_call.legacy", "request.function_call", "Forcing a legacy function call.",
          {"messages": user(WEATHER), "temperature": 0, "functions": [WEATHER_TOOL["function"]],
           "function_call": {"name": "get_weather"}}, "tool_called", {"name": "get_weather"},
          params=("function_call", "functions"), hint="send `tool_choice` instead of the legacy `function_call`"),
    invalid("function_call", {"nom": "get_weather"}, "a function_call without a name",
            functions=[WEATHER_TOOL["function"]]),
    Probe("tools.tool_choice.none", "tools.tool_choice.none", "tool_choice none must answer in text.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "none"},
          "no_tool_call", params=("tool_choice",)),
    Probe("tools.tool_choice.auto", "tools.tool_choice.auto", "The default: the model decides to call.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "auto"},
          "tool_called", {"name": "get_weather", "absent": "UNVERIFIABLE"}, params=("tool_choice",)),
    # A prompt that asks for no tool, and `none` as the alternate: only tool_choice can explain a call.
    Probe("tools.tool_choice.required", "tools.tool_choice.required", "Agents force a call with `required`.",
          {"messages": user(HELLO), "temperature": 0, "tools": TOOLS, "tool_choice": "required"},
          "tool_choice_effect", alternates=({"tool_choice": "none"},), params=("tool_choice",),
          hint="map `tool_choice: \"required\"` to `\"any\"`"),
    Probe("tools.tool_choice.hint_any", "tools.tool_choice.required", "Mistral's `any`: does the alternative work?",
          {"messages": user(HELLO), "temperature": 0, "tools": TOOLS, "tool_choice": "any"}, "tool_choice_effect",
          alternates=({"tool_choice": "none"},), role="hint", params=("tool_choice",),
          hint="map `tool_choice: \"required\"` to `\"any\"`"),
    Probe("tools.tool_choice.named", "tools.tool_choice.named", "Forcing one named function.",
          {"messages": user(WEATHER), "temperature": 0, "tools": TOOLS,
           "tool_choice": {"type": "function", "function": {"name": "get_time"}}}, "tool_called",
          {"name": "get_time"}, params=("tool_choice",)),
    Probe("tools.tool_choice.unknown_name", "tools.tool_choice.unknown_name",
          "Naming a function that is not declared is a client bug OpenAI answers with 400.",
          {"messages": user(WEATHER), "tools": [WEATHER_TOOL],
           "tool_choice": {"type": "function", "function": {"name": "no_such_function"}}},
          kind="error", expect_status=400, params=("tool_choice",)),
    Probe("tools.parallel_calls", "tools.parallel_calls", "Several calls in one turn, with distinct ids.",
          {"messages": user(TWO_CITIES), "temperature": 0, "tools": [WEATHER_TOOL]}, "parallel_calls"),
    Probe("tools.strict", "tools.strict", "strict: true function schemas (arguments always valid).",
          {"messages": user(WEATHER), "temperature": 0, "tools": [function_tool("get_weather", "Weather.", True)],
           "tool_choice": "required"}, "tool_called", {"name": "get_weather"}, params=("tools",)),
    Probe("tools.followup_turn", "tools.followup_turn",
          "The tool result goes back with an OpenAI-style id (call_…); the final answer must use it.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "required"},
          "followup_uses_result", {"id_style": "openai", "expect_any": ["sunny", "21"]}, followup="tool_result",
          params=("tool_call_id", "messages", "tool_calls", "id"),
          hint="tool-call ids must be 9 letters or digits: map call_… ids before sending them back"),
    Probe("tools.followup_turn.native_ids", "tools.followup_turn",
          "The same follow-up with the target's own tool-call ids.",
          {"messages": user(WEATHER), "temperature": 0, "tools": [WEATHER_TOOL], "tool_choice": "required"},
          "followup_uses_result", {"id_style": "native", "expect_any": ["sunny", "21"]}, followup="tool_result",
          role="hint", params=("tool_call_id", "messages"),
          hint="tool-call ids must be 9 letters or digits: map call_… ids before sending them back"),
    # the migration (issue 13): shapes OpenAI accepts that stricter targets refuse
    Probe("tools.no_parameters", "tools.no_parameters",
          "A function tool without `parameters` is valid for OpenAI (a tool that takes no arguments).",
          {"messages": user(WEATHER), "temperature": 0, "tools": [{"type": "function", "function": {
              "name": "get_weather", "description": "Get the current weather where the user is."}}]},
          "tool_called", {"name": "get_weather", "absent": "UNVERIFIABLE"}, params=("tools",),
          hint="always send `function.parameters` (an empty object schema is fine)"),
    Probe("tools.no_parameters.hint_empty_schema", "tools.no_parameters",
          "The same tool with an empty parameters schema: does the fix work?",
          {"messages": user(WEATHER), "temperature": 0, "tools": [{"type": "function", "function": {
              "name": "get_weather", "description": "Get the current weather where the user is.",
              "parameters": {"type": "object", "properties": {}}}}]},
          "tool_called", {"name": "get_weather", "absent": "UNVERIFIABLE"}, role="hint", params=("tools",),
          hint="always send `function.parameters` (an empty object schema is fine)"),
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
    import json
    import re

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


@detector("tool_called")
def tool_called(ctx: Context) -> Detection:
    """The model called a tool (the expected one when args.name is given)."""
    obs = ctx.samples[0]
    notes, m, findings = _tool_notes(obs)
    names = _call_names(obs)
    want = ctx.args.get("name")
    if not names:
        leaked = "<tool_call>" in A.text(obs)
        why = "the raw <tool_call> text came back as content" if leaked else "a plain answer came back"
        return Detection(Support(ctx.args.get("absent", "IGNORED")), [f"no tool call: {why}", *notes], m, findings)
    if want and want not in names:
        return Detection(Support.IGNORED, [f"called {names}, not the requested {want!r}", *notes], m, findings)
    return Detection(Support.SUPPORTED, [f"called {names}", *notes], m, findings)


@detector("no_tool_call")
def no_tool_call(ctx: Context) -> Detection:
    """tool_choice none: a plain answer, no tool call (and no raw tool-call markup)."""
    obs = ctx.samples[0]
    names = _call_names(obs)
    if names:
        return Detection(Support.IGNORED, [f"tool_choice none still called {names}"])
    if "<tool_call>" in A.text(obs) or "tool_call" in A.text(obs)[:40]:
        return Detection(Support.PARTIAL, ["no structured call, but the raw tool-call markup came back as content"],
                         {"content": A.text(obs)[:200]})
    return Detection(Support.SUPPORTED, ["a plain answer, no tool call"])


@detector("parallel_calls")
def parallel_calls(ctx: Context) -> Detection:
    """Two calls with distinct ids in one answer."""
    obs = ctx.samples[0]
    notes, m, findings = _tool_notes(obs)
    calls = A.tool_calls(obs)
    ids = {c.get("id") for c in calls}
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
        return Detection(Support.PARTIAL, ["the model called a tool again instead of answering"], m)
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
    forced_calls, prevented_calls = _call_names(forced), _call_names(prevented) if prevented else []
    m.update({"required_calls": forced_calls, "none_calls": prevented_calls})
    if not forced_calls:
        return Detection(Support.IGNORED, ["tool_choice required did not force a call", *notes], m, findings)
    if prevented is not None and prevented_calls:
        return Detection(Support.IGNORED, [f"a call comes back whatever tool_choice says (none still called "
                                           f"{prevented_calls})", *notes], m, findings)
    return Detection(Support.SUPPORTED, [f"required forced {forced_calls}; none prevented the call", *notes], m,
                     findings)


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
