"""The official openai SDK as a client: does the code a migrating team already has still work?

Each probe names a scenario of run/sdk.py (the SDK call); the SDK's requests go through the suite's client and
cassettes. Verdicts: SUPPORTED when the SDK gives the code what it expects; conformance FAILED when the SDK
raises on a 2xx answer or hands the code a value of the wrong type (exception or value in the evidence);
REJECTED on a 4xx (classify reads the HTTP answer).
"""

from __future__ import annotations

from typing import Any

from conformance.judge.detection import Context, Detection, detector
from conformance.model.findings import Finding
from conformance.model.probes import Probe
from conformance.model.verdicts import Support


def _sdk(scenario: str, why: str, feature: str | None = None) -> Probe:
    return Probe(f"sdk.openai.{scenario}", feature or f"sdk.openai.{scenario}", why, detector="sdk_outcome",
                 args={"scenario": scenario}, client="openai-sdk")


PROBES: list[Probe] = [
    _sdk("chat", "client.chat.completions.create() parses and message.content is a str or None."),
    _sdk("stream", "The SDK's stream helper iterates and get_final_completion() has the unstreamed answer's "
                   "shape."),
    _sdk("stream_tools", "The SDK's stream helper survives the target's tool-call deltas."),
    _sdk("parse", "client.chat.completions.parse(response_format=<pydantic model>) returns .parsed."),
    _sdk("tools", "A tool round trip with SDK types, sending back the ids the SDK received."),
]


def _finding(rule: str, message: str, expected: Any = None, actual: Any = None) -> Finding:
    return Finding("response", "", rule, "compat", message, expected, actual)


def _problems(scenario: str, facts: dict[str, Any]) -> tuple[list[str], list[Finding], str | None]:
    """(notes, findings, why unverifiable) for an SDK call that returned."""
    findings: list[Finding] = []
    notes: list[str] = []
    content_type = facts.get("content_type")
    if content_type not in (None, "str", "NoneType"):
        findings.append(_finding("sdk.content_type", f"message.content reaches the code as a {content_type}, not "
                                 "a str: every client that reads a string breaks", "str or None",
                                 facts.get("content")))
    if scenario == "stream":
        if not facts.get("same_shape"):
            findings.append(_finding("sdk.stream_shape", "get_final_completion() differs in shape from the "
                                     "unstreamed answer (content type, finish_reason or number of choices)",
                                     facts.get("unstreamed"), {k: facts.get(k) for k in ("content_type",
                                                                                         "finish_reason", "choices")}))
        notes.append(f"{facts.get('events')} stream events; same text as unstreamed: {facts.get('same_text')}")
    if scenario in ("stream_tools", "tools"):
        calls = facts.get("tool_calls") or []
        if not calls:
            return notes, findings, "the model made no tool call: nothing for the SDK to assemble"
        bad = [c for c in calls if not c.get("arguments_json") or not c.get("id")]
        if bad:
            findings.append(_finding("sdk.tool_call", "a tool call reaches the code without an id or with "
                                     "arguments that are not a JSON object", "id and JSON arguments", bad[:2]))
        notes.append("tool calls: " + ", ".join(f"{c.get('name')}({c.get('arguments')}) id {c.get('id')}"
                                                 for c in calls[:3]))
        if scenario == "tools":
            turn2 = facts.get("turn2") or {}
            if turn2.get("content_type") not in ("str",) or not turn2.get("content"):
                return notes, findings, "the second turn came back without text"
            notes.append(f"second turn: {str(turn2.get('content'))[:100]!r}")
    if scenario == "parse":
        if facts.get("refusal"):
            return notes, findings, f"the model refused: {str(facts['refusal'])[:160]}"
        if facts.get("parsed_type") in (None, "NoneType"):
            findings.append(_finding("sdk.parsed", ".parsed is None on a 2xx answer", "the pydantic model", None))
        else:
            notes.append(f".parsed = {facts.get('parsed')}")
    return notes, findings, None


@detector("sdk_outcome")
def sdk_outcome(ctx: Context) -> Detection:
    """What the SDK gave the code: the expected value (SUPPORTED), an exception or a wrong type on a 2xx (a
    compat finding: conformance FAILED), or nothing to judge (UNVERIFIABLE)."""
    facts: dict[str, Any] = next((o.client for o in ctx.variant if o.client), None) or {}
    call = facts.get("call", "the SDK call")
    m = {"sdk": f"openai {facts.get('version')} (tested {facts.get('tested')})", "call": call}
    raised = facts.get("raised")
    if raised:
        return Detection(Support.UNVERIFIABLE,
                         [f"{call} raised {raised['type']} on a 2xx answer: {raised['message'][:300]}"],
                         {**m, "raised": raised},
                         [_finding("sdk.raised", f"the openai SDK raised {raised['type']}: {raised['message'][:300]}",
                                   "a parsed answer", raised["type"])])
    notes, findings, unverifiable = _problems(str(ctx.args.get("scenario")), facts)
    if unverifiable:
        return Detection(Support.UNVERIFIABLE, [f"{call}: {unverifiable}", *notes], m, findings)
    if findings:
        return Detection(Support.UNVERIFIABLE, [f"{call} returned, but: {findings[0].message}", *notes], m, findings)
    return Detection(Support.SUPPORTED, [f"{call} gives the code what it expects", *notes], m)
