"""Effect detectors: small registered functions comparing a probe's answers with a control's.

A detector receives only 2xx answers (classify.py has dealt with errors) and returns a Detection.
Adding a detector is a vocabulary change: review it as such.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from conformance import answers as A
from conformance.findings import Finding
from conformance.observation import Observation
from conformance.probes import Probe
from conformance.verdicts import Support


@dataclass
class Context:
    probe: Probe
    variant: list[Observation]
    control: list[Observation]
    args: dict[str, Any]


@dataclass
class Detection:
    support: Support
    notes: list[str] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


Detector = Callable[[Context], Detection]
DETECTORS: dict[str, Detector] = {}


def detector(name: str) -> Callable[[Detector], Detector]:
    def register(fn: Detector) -> Detector:
        if name in DETECTORS:
            raise ValueError(f"detector {name!r} registered twice")
        DETECTORS[name] = fn
        return fn

    return register


def agreement(texts: list[str]) -> tuple[int, int]:
    """(size of the largest group of identical texts, number of distinct texts)."""
    counts = Counter(texts)
    return (max(counts.values()) if counts else 0, len(counts))


@detector("accepted")
def accepted(ctx: Context) -> Detection:
    """The request is accepted and answers with something: SUPPORTED."""
    obs = ctx.variant[0]
    if not A.text(obs) and not A.tool_calls(obs):
        return Detection(Support.UNVERIFIABLE, ["2xx with an empty answer: nothing to judge"])
    return Detection(Support.SUPPORTED)


@detector("unobservable")
def unobservable(ctx: Context) -> Detection:
    """Accepted, but the parameter has no effect any model output can show."""
    reason = ctx.args.get("reason", "no observable effect in a chat completion")
    return Detection(Support.UNVERIFIABLE, [f"accepted; {reason}"])


@detector("no_effect_expected")
def no_effect_expected(ctx: Context) -> Detection:
    """A field no API defines: a 2xx means the target dropped it silently."""
    return Detection(Support.IGNORED, ["accepted with 2xx: the field was silently dropped (OpenAI answers 400)"])


@detector("max_tokens")
def max_tokens(ctx: Context) -> Detection:
    """finish_reason `length` and completion_tokens <= N, against a control that runs longer."""
    limit = int(ctx.args["limit"])
    obs, ctrl = ctx.variant[0], ctx.control[0]
    ctrl_tokens = A.tokens(ctrl, "completion")
    got_tokens = A.tokens(obs, "completion")
    reason = A.finish_reason(obs)
    m = {"limit": limit, "completion_tokens": got_tokens, "control_completion_tokens": ctrl_tokens,
         "finish_reason": reason, "control_finish_reason": A.finish_reason(ctrl)}
    if ctrl_tokens is not None and ctrl_tokens <= limit:
        return Detection(Support.UNVERIFIABLE, [f"the control answer has only {ctrl_tokens} tokens: too short to "
                                                f"see a limit of {limit}"], m)
    within = got_tokens is not None and got_tokens <= limit
    if reason == "length" and within:
        return Detection(Support.SUPPORTED, [f"finish_reason length, {got_tokens} <= {limit} tokens"], m)
    if within or reason == "length":
        return Detection(Support.PARTIAL, [f"finish_reason {reason!r}, completion_tokens {got_tokens} "
                                           f"(limit {limit}): only part of the effect shows"], m)
    if got_tokens is None and len(A.text(obs)) < len(A.text(ctrl)) / 2:
        return Detection(Support.PARTIAL, ["answer cut short but no usage reported to confirm the limit"], m)
    return Detection(Support.IGNORED, [f"finish_reason {reason!r}, completion_tokens {got_tokens} > {limit}"], m)


@detector("stop")
def stop(ctx: Context) -> Detection:
    """The stop text is absent and finish_reason is `stop`, where the control contains it."""
    sent = ctx.variant[0].request_body if isinstance(ctx.variant[0].request_body, dict) else {}
    stops = sent.get("stop")
    stops = [stops] if isinstance(stops, str) else list(stops or [])
    obs, ctrl = ctx.variant[0], ctx.control[0]
    got, ctrl_text = A.text(obs), A.text(ctrl)
    m = {"stop": stops, "content": got[:200], "control_content": ctrl_text[:200], "finish_reason": A.finish_reason(obs)}
    if not stops or not any(s in ctrl_text for s in stops):
        return Detection(Support.UNVERIFIABLE, ["the control answer does not contain the stop text"], m)
    present = [s for s in stops if s in got]
    if present:
        return Detection(Support.IGNORED, [f"stop text {present[0]!r} still in the answer"], m)
    if A.finish_reason(obs) != "stop":
        return Detection(Support.PARTIAL, [f"stop text absent but finish_reason is {A.finish_reason(obs)!r}"], m)
    return Detection(Support.SUPPORTED, ["stop text absent, finish_reason stop"], m)


@detector("deterministic")
def deterministic(ctx: Context) -> Detection:
    """k samples of a setting that must remove sampling (temperature 0, tiny top_p) are identical.

    The control (k samples at a high temperature) must vary, else the model is too confident to tell.
    """
    variant = [A.text(o) for o in ctx.variant]
    control = [A.text(o) for o in ctx.control]
    v_top, v_distinct = agreement(variant)
    c_top, c_distinct = agreement(control)
    m = {"samples": len(variant), "variant_distinct": v_distinct, "control_distinct": c_distinct,
         "variant": [t[:80] for t in variant], "control": [t[:80] for t in control]}
    agree = f"{v_top}/{len(variant)} samples identical; control: {c_distinct} distinct of {len(control)}"
    if v_distinct > 1:
        if c_distinct > 1:
            return Detection(Support.IGNORED, [f"answers still vary: {agree}"], m)
        return Detection(Support.UNVERIFIABLE, [f"answers vary but the control does not: {agree}"], m)
    if c_distinct > 1:
        return Detection(Support.SUPPORTED, [f"sampling removed: {agree}"], m)
    return Detection(Support.UNVERIFIABLE, [f"outputs never vary, with or without the parameter ({agree}): the "
                                            "model is too confident to tell"], m)


@detector("varies")
def varies(ctx: Context) -> Detection:
    """k samples of a setting that must add variation (high temperature) differ, where a control repeats."""
    variant = [A.text(o) for o in ctx.variant]
    control = [A.text(o) for o in ctx.control]
    _, v_distinct = agreement(variant)
    _, c_distinct = agreement(control)
    m = {"samples": len(variant), "variant_distinct": v_distinct, "control_distinct": c_distinct}
    agree = f"{v_distinct} distinct of {len(variant)}; control {c_distinct} distinct of {len(control)}"
    if v_distinct > 1 and c_distinct == 1:
        return Detection(Support.SUPPORTED, [f"variation added: {agree}"], m)
    if v_distinct == 1 and c_distinct == 1:
        return Detection(Support.UNVERIFIABLE, [f"no variation either way ({agree})"], m)
    return Detection(Support.UNVERIFIABLE, [f"control already varies ({agree})"], m)


@detector("stream_basic")
def stream_basic(ctx: Context) -> Detection:
    """A stream that reassembles into a non-empty answer."""
    obs = ctx.variant[0]
    if not obs.is_sse:
        return Detection(Support.IGNORED, [f"stream requested but the answer is {obs.content_type or 'untyped'}, "
                                           "not text/event-stream"])
    got = A.text(obs)
    if not got and not A.tool_calls(obs):
        return Detection(Support.UNVERIFIABLE, ["the stream reassembles to an empty answer"])
    return Detection(Support.SUPPORTED, [f"reassembled {len(got)} characters"], {"content": got[:200]})


@detector("stream_matches_control")
def stream_matches_control(ctx: Context) -> Detection:
    """The reassembled stream equals the non-streamed control answer (both deterministic)."""
    obs, ctrl = ctx.variant[0], ctx.control[0]
    if not obs.is_sse:
        return Detection(Support.IGNORED, ["stream requested but the answer is not text/event-stream"])
    got, want = A.text(obs), A.text(ctrl)
    m = {"stream_content": got[:200], "control_content": want[:200],
         "stream_finish_reason": A.finish_reason(obs), "control_finish_reason": A.finish_reason(ctrl)}
    if got == want and A.finish_reason(obs) == A.finish_reason(ctrl):
        return Detection(Support.SUPPORTED, ["reassembled content and finish_reason equal the non-streamed answer"], m)
    if got == want:
        return Detection(Support.PARTIAL, [f"same content, finish_reason {A.finish_reason(obs)!r} vs "
                                           f"{A.finish_reason(ctrl)!r} unstreamed"], m)
    return Detection(Support.PARTIAL, ["reassembled content differs from the non-streamed answer at temperature 0"], m)


# Derivers: build part of a probe's request from its control's answer (deterministic on replay).
Deriver = Callable[[Probe, list[Observation]], dict[str, Any]]
DERIVERS: dict[str, Deriver] = {}


def deriver(name: str) -> Callable[[Deriver], Deriver]:
    def register(fn: Deriver) -> Deriver:
        DERIVERS[name] = fn
        return fn

    return register


def _stop_word(text: str, position: int) -> str | None:
    words = [w for w in text.split() if len(w) >= 2]
    return words[min(position, len(words) - 1)] if len(words) >= 3 else None


@deriver("stop_from_control")
def stop_from_control(probe: Probe, control: list[Observation]) -> dict[str, Any]:
    """Stop on a word from the middle of the control's answer (as a string or a list)."""
    word = _stop_word(A.text(control[0]), int(probe.args.get("position", 2))) if control else None
    if word is None:
        return {}
    return {"stop": [word] if probe.args.get("as_list") else word}


# Follow-ups: build a second turn from the first answer (tool results, conversations).
Followup = Callable[[Probe, dict[str, Any], Observation], "dict[str, Any] | None"]
FOLLOWUPS: dict[str, Followup] = {}


def followup(name: str) -> Callable[[Followup], Followup]:
    def register(fn: Followup) -> Followup:
        FOLLOWUPS[name] = fn
        return fn

    return register
