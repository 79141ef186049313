"""Sampling and length: max_tokens, stop, temperature, top_p, seed, n, penalties, logit_bias, logprobs."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from conformance.features.common import CREATIVE, HIGH_T, REPEAT, invalid, user
from conformance.judge import answers as A
from conformance.judge.detection import Context, Detection, deriver, detector, sent_request
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.verdicts import Conformance, Support

PROBES: list[Probe] = [
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
          {"messages": user(CREATIVE), "temperature": 0, "top_p": 1}, "deterministic", control="high_temp",
          stochastic=True),
    Probe("request.temperature.high", "request.temperature", "A high temperature must add variety.",
          {"messages": user(CREATIVE), "temperature": HIGH_T, "top_p": 1}, "varies", control="creative_t0",
          stochastic=True, params=("temperature",)),
    invalid("temperature", 5, "temperature above 2"),
    Probe("request.top_p.tiny", "request.top_p", "A tiny top_p removes variation (nucleus sampling).",
          {"messages": user(CREATIVE), "temperature": HIGH_T, "top_p": 0.01}, "deterministic", control="high_temp",
          stochastic=True, params=("top_p",)),
    invalid("top_p", 2, "top_p above 1"),
    Probe("request.seed.repeat", "request.seed", "A seed makes sampled answers reproducible.",
          {"messages": user(CREATIVE), "temperature": HIGH_T, "top_p": 1, "seed": 42}, "seed", control="high_temp",
          stochastic=True, alternates=({"seed": 4242}, {"seed": 7}, {"seed": 99}), params=("seed",),
          hint="send `random_seed` instead of `seed`"),
    Probe("request.seed.hint_random_seed", "request.seed", "Mistral's name for seed: does the alternative work?",
          {"messages": user(CREATIVE), "temperature": HIGH_T, "top_p": 1, "random_seed": 42}, "seed",
          control="high_temp", stochastic=True,
          alternates=({"random_seed": 4242}, {"random_seed": 7}, {"random_seed": 99}), role="hint",
          params=("random_seed",), hint="send `random_seed` instead of `seed`"),
    invalid("seed", "forty-two", "a seed that is not an integer"),
    Probe("request.n.choices", "request.n", "Several candidates in one call (ranking, self-consistency).",
          {"messages": user(CREATIVE), "temperature": HIGH_T, "n": 2}, "n_choices"),
    Probe("request.n.streamed", "request.n", "n candidates when streaming too (honoured unstreamed only: PARTIAL).",
          {"messages": user(CREATIVE), "temperature": HIGH_T, "n": 2, "stream": True}, "n_choices",
          params=("n",)),
    invalid("n", 0, "n = 0"),
    Probe("request.presence_penalty.effect", "request.presence_penalty", "Penalties curb repetition.",
          {"messages": user(REPEAT), "temperature": 0, "presence_penalty": 2}, "less_repetition",
          control="repeat_t0"),
    invalid("presence_penalty", 3, "presence_penalty above 2"),
    Probe("request.frequency_penalty.effect", "request.frequency_penalty", "Penalties curb repetition.",
          {"messages": user(REPEAT), "temperature": 0, "frequency_penalty": 2}, "less_repetition",
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
          {"temperature": 0, "logprobs": True}, "logprobs", control="plain_t0"),
    Probe("request.logprobs.with_top_logprobs", "request.logprobs",
          "logprobs beside top_logprobs (honoured only with it: PARTIAL).",
          {"temperature": 0, "logprobs": True, "top_logprobs": 1}, "logprobs", control="plain_t0",
          params=("logprobs",)),
    invalid("logprobs", "yes", "logprobs that is not a boolean"),
    Probe("request.top_logprobs.alternatives", "request.top_logprobs", "k most likely alternatives per token.",
          {"temperature": 0, "logprobs": True, "top_logprobs": 3}, "logprobs", control="logprobs_t0",
          params=("top_logprobs",)),
    invalid("top_logprobs", 50, "top_logprobs above 20", logprobs=True),
    # the migration (issue 13): the edges of OpenAI's documented ranges
    Probe("request.temperature.top_of_range", "request.temperature",
          "temperature 2.0, the top of OpenAI's documented range (0-2), must be accepted and add variety.",
          {"messages": user(CREATIVE), "temperature": 2.0, "top_p": 1}, "varies", control="creative_t0",
          stochastic=True, params=("temperature",), hint="clamp temperature to the target's range (Mistral: 0-1.5)"),
    Probe("request.temperature.hint_clamped", "request.temperature",
          "temperature 1.5 (Mistral's maximum): does clamping work?",
          {"messages": user(CREATIVE), "temperature": 1.5, "top_p": 1}, "varies", control="creative_t0",
          stochastic=True, role="hint", params=("temperature",),
          hint="clamp temperature to the target's range (Mistral: 0-1.5)"),
    Probe("request.top_p.zero", "request.top_p", "top_p 0, the bottom edge of OpenAI's range: greedy decoding.",
          {"messages": user(CREATIVE), "temperature": HIGH_T, "top_p": 0}, "deterministic", control="high_temp",
          stochastic=True, params=("top_p",), hint="send top_p in (0, 1]: a tiny positive value instead of 0"),
    Probe("request.top_p.one", "request.top_p", "top_p 1, the top edge: the whole distribution, no truncation.",
          {"messages": user(CREATIVE), "temperature": HIGH_T, "top_p": 1}, "varies",
          control="high_temp_top_p_tiny", stochastic=True, params=("top_p",)),
]


# Sequential sampling (issue 21 item 4). A stochastic request's samples are sent one after another (run/engine.py)
# and stop as soon as two answers differ: variation is then certain. Identical answers conclude "no variation" only
# when k of them make a miss unlikely: if a setting that samples makes a new answer differ from the first with
# probability at least MIN_DIFFERENCE, k identical answers happen by chance with probability at most
# (1 - MIN_DIFFERENCE)^(k-1); "no variation" needs that bound <= MAX_ERROR, else the side is undecided
# (UNVERIFIABLE). The plan counts k_max (the target's `samples`); the engine sends k <= k_max.
MIN_DIFFERENCE = 0.8  # assumed per-sample chance that a sampling setting gives another answer to the creative prompt
MAX_ERROR = 0.05  # the largest false "no variation" rate a verdict may rest on
SAMPLING_RULE = (f"samples one at a time, alone on the target; stop when two differ (variation certain); k identical "
                 f"conclude no variation when (1-{MIN_DIFFERENCE:g})^(k-1) <= {MAX_ERROR:g}")


def _answered(obs: Observation) -> bool:
    return obs.status is not None and 200 <= obs.status < 300 and not obs.error


def sampling_settled(samples: list[Observation]) -> bool:
    """Whether the decision is clear without more samples: two answered samples differ."""
    return len({A.text(o) for o in samples if _answered(o)}) > 1


def no_variation_error(k: int) -> float:
    """The most often k identical samples come from a setting that does vary (under MIN_DIFFERENCE)."""
    return (1 - MIN_DIFFERENCE) ** max(k - 1, 0)


def _undecided(texts: list[str]) -> bool:
    """These samples are identical but too few to conclude "no variation" at MAX_ERROR."""
    return len(set(texts)) <= 1 and no_variation_error(len(texts)) > MAX_ERROR + 1e-12


def _sampling_measurements(variant: list[str], control: list[str]) -> dict[str, Any]:
    """k per side, the rule, and the error bound of each side that showed no variation (the verdict rests on it)."""
    bounds = {f"{side}_no_variation_error": round(no_variation_error(len(texts)), 4)
              for side, texts in (("variant", variant), ("control", control)) if texts and len(set(texts)) == 1}
    return {"k": len(variant), "control_k": len(control), "rule": SAMPLING_RULE, **bounds}


def _too_few(which: str, texts: list[str]) -> str:
    need = next(k for k in range(2, 100) if no_variation_error(k) <= MAX_ERROR + 1e-12)
    return (f"{which}: {len(texts)} identical sample(s), too few to conclude no variation at error <= {MAX_ERROR:g} "
            f"(needs {need}; a replay stops where its recording ends)")


def agreement(texts: list[str]) -> tuple[int, int]:
    """(size of the largest group of identical texts, number of distinct texts)."""
    counts = Counter(texts)
    return (max(counts.values()) if counts else 0, len(counts))


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
        return Detection(Support.UNVERIFIABLE, [(f"the control answer has only {ctrl_tokens} tokens: too short to "
                                                f"see a limit of {limit}")], m)
    within = got_tokens is not None and got_tokens <= limit
    if reason == "length" and within:
        return Detection(Support.SUPPORTED, [f"finish_reason length, {got_tokens} <= {limit} tokens"], m)
    if within or reason == "length":
        return Detection(Support.PARTIAL, [(f"finish_reason {reason!r}, completion_tokens {got_tokens} "
                                           f"(limit {limit}): only part of the effect shows")], m)
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
    if present and _kept_and_halted(got, ctrl_text, present[0]):
        return Detection(Support.PARTIAL, [(f"halts at the stop text but keeps {present[0]!r} in the content "
                                            "(OpenAI strips it)")], m, conformance=Conformance.NON_STRICT)
    if present:
        return Detection(Support.IGNORED, [f"stop text {present[0]!r} still in the answer"], m)
    if A.finish_reason(obs) != "stop":
        return Detection(Support.PARTIAL, [f"stop text absent but finish_reason is {A.finish_reason(obs)!r}"], m)
    return Detection(Support.SUPPORTED, ["stop text absent, finish_reason stop"], m)


def _kept_and_halted(got: str, control: str, stop_text: str) -> bool:
    """The answer ends at the first stop text, kept, where the control goes on after it."""
    cut = control.find(stop_text) + len(stop_text)
    return got.rstrip() == control[:cut].rstrip() and len(control.rstrip()) > cut


@detector("deterministic")
def deterministic(ctx: Context) -> Detection:
    """k samples of a setting that must remove sampling (temperature 0, tiny top_p) are identical.

    The control (k samples at a high temperature) must vary, else the model is too confident to tell.
    """
    variant = [A.text(o) for o in ctx.variant]
    control = [A.text(o) for o in ctx.control]
    v_top, v_distinct = agreement(variant)
    _c_top, c_distinct = agreement(control)
    m = {"samples": len(variant), "variant_distinct": v_distinct, "control_distinct": c_distinct,
         "variant": [t[:80] for t in variant], "control": [t[:80] for t in control],
         **_sampling_measurements(variant, control)}
    agree = f"{v_top}/{len(variant)} samples identical; control: {c_distinct} distinct of {len(control)}"
    if v_distinct > 1 and _undecided(control):
        return Detection(Support.UNVERIFIABLE, [f"answers vary; {_too_few('the control', control)}"], m)
    if c_distinct > 1 and _undecided(variant):
        return Detection(Support.UNVERIFIABLE, [f"the control varies; {_too_few('the probe', variant)}"], m)
    if v_distinct > 1:
        if c_distinct > 1:
            return Detection(Support.IGNORED, [f"answers still vary: {agree}"], m)
        return Detection(Support.UNVERIFIABLE, [f"answers vary but the control does not: {agree}"], m)
    if c_distinct > 1:
        return Detection(Support.SUPPORTED, [f"sampling removed: {agree}"], m)
    return Detection(Support.UNVERIFIABLE, [(f"outputs never vary, with or without the parameter ({agree}): the "
                                            "model is too confident to tell")], m)


@detector("varies")
def varies(ctx: Context) -> Detection:
    """k samples of a setting that must add variation (high temperature) differ, where a control repeats."""
    variant = [A.text(o) for o in ctx.variant]
    control = [A.text(o) for o in ctx.control]
    _, v_distinct = agreement(variant)
    _, c_distinct = agreement(control)
    m = {"samples": len(variant), "variant_distinct": v_distinct, "control_distinct": c_distinct,
         **_sampling_measurements(variant, control)}
    agree = f"{v_distinct} distinct of {len(variant)}; control {c_distinct} distinct of {len(control)}"
    if v_distinct > 1 and _undecided(control):
        return Detection(Support.UNVERIFIABLE, [f"variation seen; {_too_few('the control', control)}"], m)
    if v_distinct > 1 and c_distinct == 1:
        return Detection(Support.SUPPORTED, [f"variation added: {agree}"], m)
    if v_distinct == 1 and c_distinct == 1:
        return Detection(Support.UNVERIFIABLE, [f"no variation either way ({agree})"], m)
    return Detection(Support.UNVERIFIABLE, [f"control already varies ({agree})"], m)


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


@detector("seed")
def seed(ctx: Context) -> Detection:
    """Same seed at a high temperature repeats across k samples; a different seed (one of the alternates) differs.

    The control (unseeded, same temperature) must vary, else nothing can be concluded. Several other seeds, because
    a model with a few likely answers gives one other seed the same text by chance (llama-server: seeds 42 and 4242
    both say 'Hello! I am a tiny test model.', seed 7 the JSON answer): PARTIAL only when every other seed repeats it.
    """
    same = [A.text(o) for o in ctx.samples]
    other = [A.text(o) for o in ctx.alternates]
    control = [A.text(o) for o in ctx.control]
    top, distinct = agreement(same)
    _, c_distinct = agreement(control)
    m = {"same_seed": [t[:80] for t in same], "other_seed": [t[:80] for t in other], "control_distinct": c_distinct,
         **_sampling_measurements(same, control)}
    agree = f"same seed: {top}/{len(same)} identical; unseeded control: {c_distinct} distinct of {len(control)}"
    if c_distinct <= 1:
        return Detection(Support.UNVERIFIABLE, [f"the unseeded control does not vary ({agree}): seed cannot show"], m)
    if distinct > 1:
        return Detection(Support.IGNORED, [f"the same seed does not repeat: {agree}"], m)
    if _undecided(same):
        return Detection(Support.UNVERIFIABLE, [f"the control varies; {_too_few('the same seed', same)}"], m)
    if other and all(t == same[0] for t in other):
        return Detection(Support.PARTIAL, [f"the same seed repeats but {len(other)} different seed(s) give the same "
                                           f"text ({agree})"], m)
    return Detection(Support.SUPPORTED, [f"the same seed repeats, another seed differs ({agree})"], m)


@detector("n_choices")
def n_choices(ctx: Context) -> Detection:
    """n choices with distinct indexes 0..n-1."""
    want = int(sent_request(ctx.variant[0]).get("n", ctx.args.get("n", 2)))
    choices = A.completion(ctx.variant[0]).get("choices") or []
    indexes = sorted(c.get("index") for c in choices if isinstance(c, dict) and isinstance(c.get("index"), int))
    m = {"n": want, "choices": len(choices), "indexes": indexes}
    if len(choices) == want and indexes == list(range(want)):
        return Detection(Support.SUPPORTED, [f"{want} choices, indexes {indexes}"], m)
    if len(choices) <= 1:
        return Detection(Support.IGNORED, [f"asked for {want} choices, got {len(choices)}"], m)
    return Detection(Support.PARTIAL, [f"asked for {want} choices, got {len(choices)} with indexes {indexes}"], m)


@detector("logprobs")
def logprobs(ctx: Context) -> Detection:
    """choices[].logprobs.content lists tokens; with top_logprobs k, each carries k alternatives."""
    lp = A.choice(ctx.variant[0]).get("logprobs")
    k = sent_request(ctx.variant[0]).get("top_logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    if not isinstance(content, list) or not content:
        return Detection(Support.IGNORED, [f"no logprobs in the answer (choices[0].logprobs = {json.dumps(lp)[:60]})"])
    m = {"tokens": len(content), "top_logprobs": k}
    ctrl_sizes = _alternatives(ctx.control[0]) if ctx.control else None
    if ctrl_sizes is not None and (k is None or ctx.probe.feature == "request.logprobs"):
        return Detection(Support.UNVERIFIABLE, ["logprobs come back without logprobs requested too: no effect to "
                                                "tell"], m)
    if k is None:
        return Detection(Support.SUPPORTED, [f"{len(content)} tokens with logprobs"], m)
    sizes = [len(t.get("top_logprobs") or []) for t in content if isinstance(t, dict)]
    if ctx.probe.feature == "request.logprobs" and sizes:
        return Detection(Support.SUPPORTED, [f"{len(content)} tokens with logprobs (sent with top_logprobs {k})"], m)
    if ctrl_sizes and all(s == k for s in ctrl_sizes) and ctx.probe.feature != "request.logprobs":
        return Detection(Support.UNVERIFIABLE, [f"{k} alternatives per token, as the control asking for fewer: "
                                                "no effect to tell"], m)
    m["alternatives"] = sorted(set(sizes))
    if sizes and all(s == k for s in sizes):
        return Detection(Support.SUPPORTED, [f"{len(content)} tokens, each with {k} alternatives"], m)
    if any(sizes):
        return Detection(Support.PARTIAL, [f"asked for {k} alternatives, got {sorted(set(sizes))}"], m)
    return Detection(Support.IGNORED, [f"asked for {k} alternatives per token, got none"], m)


def _alternatives(obs: Observation) -> list[int] | None:
    """The number of top_logprobs per token of an answer, or None when it carries no logprobs."""
    lp = A.choice(obs).get("logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    if not isinstance(content, list) or not content:
        return None
    return [len(t.get("top_logprobs") or []) for t in content if isinstance(t, dict)]


def repetition(text: str) -> float:
    """Share of words that repeat an earlier word (0 = all distinct)."""
    words = [w.strip(".,!?;:").lower() for w in text.split() if w.strip(".,!?;:")]
    return round(1 - len(set(words)) / len(words), 3) if words else 0.0


@detector("less_repetition")
def less_repetition(ctx: Context) -> Detection:
    """A penalty changes the answer to a repetition-prone prompt, against the same prompt without it (both at
    temperature 0): lower repetition, or any other change (a server whose default repeat penalty already removes
    repetition from the control still shows the penalty as a shorter or different answer). The same answer:
    IGNORED when the control repeats (there was repetition to lower), else UNVERIFIABLE."""
    obs, ctrl_obs = ctx.variant[0], ctx.control[0]
    text, ctrl_text = A.text(obs), A.text(ctrl_obs)
    got, ctrl = repetition(text), repetition(ctrl_text)
    tokens, ctrl_tokens = A.tokens(obs, "completion"), A.tokens(ctrl_obs, "completion")
    m = {"repetition": got, "control_repetition": ctrl, "completion_tokens": tokens,
         "control_completion_tokens": ctrl_tokens, "answer": text[:200], "control_answer": ctrl_text[:200]}
    if got < ctrl - 0.1:
        return Detection(Support.SUPPORTED, [f"repetition {ctrl} → {got}"], m)
    if text.strip() != ctrl_text.strip():
        size = f"{ctrl_tokens} → {tokens} tokens" if tokens is not None and ctrl_tokens is not None else (
            f"{len(ctrl_text)} → {len(text)} characters")
        return Detection(Support.SUPPORTED, [f"the answer changed against the control without the penalty ({size}; "
                                             f"repetition {ctrl} → {got}): {ctrl_text[:50]!r} → {text[:50]!r}"], m)
    if ctrl < 0.2:
        return Detection(Support.UNVERIFIABLE, [f"the same answer with and without the penalty, and the control "
                                                f"barely repeats (repetition {ctrl}): nothing to lower"], m)
    return Detection(Support.IGNORED, [f"the same answer with and without the penalty (repetition {ctrl})"], m)


@detector("logit_bias")
def logit_bias(ctx: Context) -> Detection:
    """The banned token (taken from the control's logprobs) no longer appears first."""
    obs, ctrl = ctx.samples[0], ctx.control[0]
    banned = ctx.args.get("banned_token") or _first_token(ctrl)
    first = _first_token(obs)
    m = {"banned_token": banned, "first_token": first, "control_first_token": _first_token(ctrl)}
    sent = sent_request(obs).get("logit_bias")
    if isinstance(sent, dict) and sent and all(v == 0 for v in sent.values()) and not ctx.args.get("banned_token"):
        return Detection(Support.UNVERIFIABLE, [("accepted; the control's logprobs show no token ids, so only a "
                                                "neutral bias was sent: no ban to observe")], m)
    if banned is None:
        return Detection(Support.UNVERIFIABLE, ["no token visible in the control's logprobs"], m)
    if first is None:
        text_start = A.text(obs)[: len(banned)]
        first = text_start
    if first == banned:
        return Detection(Support.IGNORED, [f"the banned token {banned!r} still comes first"], m)
    return Detection(Support.SUPPORTED, [f"the banned token {banned!r} is gone (first token now {first!r})"], m)


def _first_token(obs: Observation) -> str | None:
    lp = A.choice(obs).get("logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("token")
    return None


_TOKEN_ID_KEYS = ("token_id", "id")


def observable_token_id(entry: dict[str, Any]) -> int | None:
    """A token id from a logprobs entry: an id field, or vLLM's `token_id:N` token form."""
    for key in _TOKEN_ID_KEYS:
        if isinstance(entry.get(key), int):
            return entry[key]
    token = entry.get("token")
    if isinstance(token, str) and token.startswith("token_id:") and token[9:].isdigit():
        return int(token[9:])
    return None


NEUTRAL_LOGIT_BIAS = {"1": 0}


@deriver("logit_bias_from_control")
def logit_bias_from_control(probe: Probe, control: list[Observation]) -> dict[str, Any]:
    """Ban the control's first token, when the control shows its token id.

    Without a visible token id a neutral bias is sent: no effect can be judged (the detector says
    UNVERIFIABLE), but a target that rejects `logit_bias` is still seen rejecting it.
    """
    lp = A.choice(control[0]).get("logprobs") if control else None
    content = lp.get("content") if isinstance(lp, dict) else None
    token_id = None
    if isinstance(content, list) and content and isinstance(content[0], dict):
        token_id = observable_token_id(content[0])
    if token_id is None:
        return {"logit_bias": dict(NEUTRAL_LOGIT_BIAS)}
    return {"logit_bias": {str(token_id): -100}}

