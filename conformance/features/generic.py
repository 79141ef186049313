"""Detectors shared by several feature groups: acceptance, unobservable parameters, token accounting, instructions.

The differential rule: SUPPORTED or PARTIAL only for an effect a fair control does not show. Acceptance alone
is UNVERIFIABLE, with the note ACCEPTED_ONLY.
"""

from __future__ import annotations

from typing import Any

from conformance.judge import answers as A
from conformance.judge.detection import Context, Detection, detector
from conformance.model.observation import Observation
from conformance.model.probes import DROP
from conformance.model.verdicts import Support

ACCEPTED_ONLY = "accepted; whether it is honoured cannot be seen with this model"

# A prompt far longer than the probes' own: a target whose prompt_tokens do not move with it reports
# synthetic usage, and no token-accounting verdict can be drawn from it.
LONG_PROMPT = ("Read this list and then say hello: " + ", ".join(f"item number {i}" for i in range(60)) + ".")


def usage_check(*drop: str) -> dict[str, Any]:
    """The alternate that tests usage: the probe's request with only the long prompt (`drop` names the probe's
    own fields), one token long — the same request for every probe that tests usage, so it is sent once per
    target, and only its prompt_tokens are read."""
    return {"messages": [{"role": "user", "content": LONG_PROMPT}], "max_tokens": 1, **{k: DROP for k in drop}}


SYNTHETIC_USAGE = "usage is synthetic on this target (prompt_tokens do not move with prompt length)"


# strict against the same request without strict (tools.strict, json.json_schema): what each answer's problem
# with the schema says. A problem of NOTHING_TO_CHECK (no tool call, no answer) cannot be compared.
NO_ANSWER = "no answer"


def schema_problem(value: Any, schema: dict[str, Any]) -> str | None:
    """The first way `value` breaks `schema` (None: it validates)."""
    import jsonschema

    err = next(iter(jsonschema.Draft202012Validator(schema).iter_errors(value)), None)
    return err.message[:120] if err else None


def strict_verdict(got: str | None, loose: str | None, subject: str, nothing: str, nothing_why: str
                   ) -> tuple[Support, str]:
    """strict on a schema a free model tends to break (an enum, a pattern), against the same request without
    strict: the strict answer valid where the loose one is not → SUPPORTED; both valid → UNVERIFIABLE (the model
    conforms anyway); the strict answer invalid → IGNORED. `got`/`loose` are the answers' schema problems
    (None = valid); `nothing` is the problem that means there is no answer to check (why: `nothing_why`)."""
    if got == nothing:
        return Support.UNVERIFIABLE, f"{nothing_why}: nothing to check"
    if got:
        return Support.IGNORED, f"strict {subject} break the schema: {got}"
    if loose is None:
        return Support.UNVERIFIABLE, (f"strict {subject} match the schema, and so do they without strict: the model "
                                      "conforms without strict; whether strict is enforced cannot be seen")
    if loose in (nothing, NO_ANSWER):
        return Support.UNVERIFIABLE, (f"strict {subject} match the schema, but without strict there is {loose} to "
                                      "compare: no effect to tell")
    return Support.SUPPORTED, f"strict {subject} match the schema; without strict: {loose}"


def usage_is_synthetic(short: Observation, long: Observation) -> bool | None:
    """Whether prompt_tokens stay put between a short and a much longer prompt (None: no usage to tell)."""
    a, b = A.tokens(short, "prompt"), A.tokens(long, "prompt")
    if a is None or b is None:
        return None
    return b <= a + 20


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
    return Detection(Support(ctx.args.get("absent", Support.UNVERIFIABLE)),
                     [f"accepted, but {ctx.args['path']} is absent: {ctx.args.get('why', 'no effect to observe')}"])


@detector("more_prompt_tokens")
def more_prompt_tokens(ctx: Context) -> Detection:
    """Token accounting: the extra input (tools, a system message) must add prompt tokens.

    The alternate (the same request with a much longer prompt) tests the usage first: usage that does not move
    with prompt length is synthetic, and nothing is concluded from it.
    """
    got, ctrl = A.tokens(ctx.samples[0], "prompt"), A.tokens(ctx.control[0], "prompt")
    m: dict[str, Any] = {"prompt_tokens": got, "control_prompt_tokens": ctrl}
    if got is None or ctrl is None:
        return Detection(Support.UNVERIFIABLE, ["usage.prompt_tokens not reported"], m)
    synthetic = usage_is_synthetic(ctx.samples[0], ctx.alternates[0]) if ctx.alternates else None
    m["usage_synthetic"] = synthetic
    if synthetic:
        m["long_prompt_tokens"] = A.tokens(ctx.alternates[0], "prompt")
        return Detection(Support.UNVERIFIABLE, [f"{SYNTHETIC_USAGE}: {got} prompt tokens, and "
                                                f"{m['long_prompt_tokens']} for a far longer prompt"], m)
    if got > ctrl:
        return Detection(Support.SUPPORTED, [f"prompt_tokens {ctrl} → {got}"], m)
    return Detection(Support.IGNORED, [f"prompt_tokens {ctrl} → {got}: the extra input never reached the model"], m)


@detector("answered")
def answered(ctx: Context) -> Detection:
    """A request shape OpenAI accepts, with no effect to compare: 2xx with an answer is acceptance only."""
    obs = ctx.samples[0]
    if A.text(obs) or A.tool_calls(obs):
        return Detection(Support.UNVERIFIABLE, [f"{ACCEPTED_ONLY} (answered: {A.text(obs)[:60]!r})"])
    return Detection(Support.UNVERIFIABLE, ["accepted, but the answer is empty"])


def usage_is_real(ctx: Context) -> bool | None:
    """Whether this target's usage counts the prompt: the long-prompt alternate (`usage_check`) has more than 20
    prompt tokens over the control's (None: no alternate or no usage to tell)."""
    if not ctx.control or not ctx.alternates:
        return None
    synthetic = usage_is_synthetic(ctx.control[0], ctx.alternates[0])
    return None if synthetic is None else not synthetic


def part_tokens(ctx: Context) -> tuple[Detection | None, list[str], dict[str, Any]]:
    """Token accounting for a message-level part (`args.without` names it; the probe's control is its request
    without that part, and its alternate is `usage_check()`): on a target whose usage is real, a part that reaches
    the prompt adds prompt tokens, so identical prompt_tokens with and without it mean it was dropped.

    (IGNORED when it decides, else None; notes and measurements to add either way.)"""
    part = ctx.args.get("without")
    if not part or not ctx.control:
        return None, [], {}
    got, ctrl = A.tokens(ctx.samples[0], "prompt"), A.tokens(ctx.control[0], "prompt")
    real = usage_is_real(ctx)
    m: dict[str, Any] = {"prompt_tokens": got, "control_prompt_tokens": ctrl, "usage_synthetic": (
        None if real is None else not real)}
    if got is None or ctrl is None or real is None:
        return None, [], m
    if not real:
        return None, [f"{SYNTHETIC_USAGE}: token accounting cannot tell whether {part} reached the prompt"], m
    if got == ctrl:
        return Detection(Support.IGNORED, [f"prompt_tokens {got} with {part} and without it, on a target whose usage "
                                           f"counts the prompt: {part} was dropped before the prompt"], m), [], m
    return None, [f"{part} reaches the prompt (prompt_tokens {ctrl} → {got})"], m


@detector("instruction_followed")
def instruction_followed(ctx: Context) -> Detection:
    """The request carries an instruction dictating an unlikely word (`args.word`) in the part under test (a
    system or developer message, a `name`, an earlier turn, a content part); the control lacks that part.

    The word in the answer and not in the control's: SUPPORTED. Otherwise token accounting decides where it can
    (`part_tokens`: the same prompt_tokens with and without the part, on real usage → IGNORED). Else: nowhere, the
    model cannot show it (UNVERIFIABLE); in both, the word came from elsewhere (UNVERIFIABLE).
    """
    word = str(ctx.args["word"]).lower()
    got, ctrl = A.text(ctx.samples[0]), A.text(ctx.control[0]) if ctx.control else ""
    dropped, token_notes, tokens = part_tokens(ctx)
    m = {"word": word, "answer": got[:200], "control_answer": ctrl[:200], **tokens}
    if word in got.lower() and word not in ctrl.lower():
        return Detection(Support.SUPPORTED, [f"the answer says {word!r}, as {ctx.args.get('where', 'instructed')}; "
                                             "the control without it does not"], m)
    if dropped is not None:
        return Detection(dropped.support, [*dropped.notes, f"the answer: {got[:60]!r}"], m)
    if word in got.lower():
        return Detection(Support.UNVERIFIABLE, [f"{word!r} is in the control's answer too: no effect to tell",
                                                *token_notes], m)
    if got and got == ctrl:
        return Detection(Support.UNVERIFIABLE, [f"{ACCEPTED_ONLY}: the answer is the same as the control's "
                                                f"({got[:60]!r}); the model did not say {word!r}", *token_notes], m)
    return Detection(Support.UNVERIFIABLE, [f"{ACCEPTED_ONLY}: the model did not say {word!r} "
                                            f"(answered {got[:60]!r})", *token_notes], m)


@detector("answer_depends_on_prompt")
def answer_depends_on_prompt(ctx: Context) -> Detection:
    """The messages reach the model: a different prompt gets a different answer than the control's."""
    got, ctrl = A.text(ctx.samples[0]), A.text(ctx.control[0])
    m = {"answer": got[:200], "control_answer": ctrl[:200]}
    if not got:
        return Detection(Support.UNVERIFIABLE, ["accepted, but the answer is empty"], m)
    if got != ctrl:
        return Detection(Support.SUPPORTED, ["a different prompt gets a different answer"], m)
    return Detection(Support.IGNORED, [f"the same answer for a different prompt ({got[:60]!r}): the messages do "
                                       "not reach a model"], m)

