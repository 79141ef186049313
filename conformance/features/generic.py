"""Detectors shared by several feature groups: acceptance, unobservable parameters, token accounting."""

from __future__ import annotations

from typing import Any

from conformance.judge import answers as A
from conformance.judge.detection import Context, Detection, detector
from conformance.model.verdicts import Support


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


@detector("field_present")
def field_present(ctx: Context) -> Detection:
    """A response field shows the effect (e.g. message.audio, service_tier); absent → UNVERIFIABLE or IGNORED."""
    body = A.completion(ctx.samples[0])
    value: Any = body
    for part in str(ctx.args["path"]).split("."):
        value = value[int(part)] if isinstance(value, list) and part.isdigit() and int(part) < len(value) else (
            value.get(part) if isinstance(value, dict) else None)
    if value not in (None, "", [], {}, 0):  # a zero count (accepted_prediction_tokens: 0) shows no effect
        return Detection(Support.SUPPORTED, [f"{ctx.args['path']} = {str(value)[:80]}"])
    return Detection(Support(ctx.args.get("absent", "UNVERIFIABLE")),
                     [f"accepted, but {ctx.args['path']} is absent: {ctx.args.get('why', 'no effect to observe')}"])


@detector("more_prompt_tokens")
def more_prompt_tokens(ctx: Context) -> Detection:
    """Token accounting: the extra input (tools, a system message) must add prompt tokens."""
    got, ctrl = A.tokens(ctx.samples[0], "prompt"), A.tokens(ctx.control[0], "prompt")
    m = {"prompt_tokens": got, "control_prompt_tokens": ctrl}
    if got is None or ctrl is None:
        return Detection(Support.UNVERIFIABLE, ["usage.prompt_tokens not reported"], m)
    if got > ctrl:
        return Detection(Support.SUPPORTED, [f"prompt_tokens {ctrl} → {got}"], m)
    return Detection(Support.IGNORED, [f"prompt_tokens {ctrl} → {got}: the extra input never reached the model"], m)


@detector("answered")
def answered(ctx: Context) -> Detection:
    """A conversation shape OpenAI accepts: 2xx with an answer."""
    obs = ctx.samples[0]
    if A.text(obs) or A.tool_calls(obs):
        return Detection(Support.SUPPORTED, ["accepted and answered"])
    return Detection(Support.UNVERIFIABLE, ["accepted, but the answer is empty"])

