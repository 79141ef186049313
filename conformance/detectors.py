"""Effect detectors: small registered functions comparing a probe's answers with a control's.

A detector receives only 2xx answers (classify.py has dealt with errors) and returns a Detection.
Adding a detector is a vocabulary change: review it as such.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conformance import answers as A
from conformance.findings import Finding
from conformance.observation import Observation
from conformance.probes import Probe
from conformance.verdicts import Support


@dataclass
class Context:
    probe: Probe
    variant: list[Observation]  # the probe's own answers (k samples when stochastic) and its later turns
    control: list[Observation]
    args: dict[str, Any]

    @property
    def samples(self) -> list[Observation]:
        return [o for o in self.variant if o.role == "variant" or o.role.startswith("variant-")]

    @property
    def alternates(self) -> list[Observation]:
        return [o for o in self.variant if o.role.startswith("alt")]

    @property
    def turn2(self) -> Observation | None:
        return next((o for o in self.variant if o.role == "turn-2"), None)


@dataclass
class Detection:
    support: Support
    notes: list[str] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


F = TypeVar("F", bound=Callable[..., Any])


def _registrar(table: dict[str, F], kind: str) -> Callable[[str], Callable[[F], F]]:
    """A decorator factory that files functions by name in `table` (a name is registered once)."""
    def named(name: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if name in table:
                raise ValueError(f"{kind} {name!r} registered twice")
            table[name] = fn
            return fn
        return register
    return named


Detector = Callable[[Context], Detection]
DETECTORS: dict[str, Detector] = {}
detector = _registrar(DETECTORS, "detector")


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
    _c_top, c_distinct = agreement(control)
    m = {"samples": len(variant), "variant_distinct": v_distinct, "control_distinct": c_distinct,
         "variant": [t[:80] for t in variant], "control": [t[:80] for t in control]}
    agree = f"{v_top}/{len(variant)} samples identical; control: {c_distinct} distinct of {len(control)}"
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
        return Detection(Support.IGNORED, [(f"stream requested but the answer is {obs.content_type or 'untyped'}, "
                                           "not text/event-stream")])
    got = A.text(obs)
    if not got and not A.tool_calls(obs):
        return Detection(Support.UNVERIFIABLE, ["the stream reassembles to an empty answer"])
    return Detection(Support.SUPPORTED, [f"reassembled {len(got)} characters"], {"content": got[:200]})


# Derivers: build part of a probe's request from its control's answer (deterministic on replay).
Deriver = Callable[[Probe, list[Observation]], dict[str, Any]]
DERIVERS: dict[str, Deriver] = {}
deriver = _registrar(DERIVERS, "deriver")


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
followup = _registrar(FOLLOWUPS, "follow-up")


def _sent(obs: Observation) -> dict[str, Any]:
    return obs.request_body if isinstance(obs.request_body, dict) else {}


@detector("seed")
def seed(ctx: Context) -> Detection:
    """Same seed at a high temperature repeats across k samples; a different seed (the alternate) differs.

    The control (unseeded, same temperature) must vary, else nothing can be concluded.
    """
    same = [A.text(o) for o in ctx.samples]
    other = [A.text(o) for o in ctx.alternates]
    control = [A.text(o) for o in ctx.control]
    top, distinct = agreement(same)
    _, c_distinct = agreement(control)
    m = {"same_seed": [t[:80] for t in same], "other_seed": [t[:80] for t in other], "control_distinct": c_distinct}
    agree = f"same seed: {top}/{len(same)} identical; unseeded control: {c_distinct} distinct of {len(control)}"
    if c_distinct <= 1:
        return Detection(Support.UNVERIFIABLE, [f"the unseeded control does not vary ({agree}): seed cannot show"], m)
    if distinct > 1:
        return Detection(Support.IGNORED, [f"the same seed does not repeat: {agree}"], m)
    if other and other[0] == same[0]:
        return Detection(Support.PARTIAL, [f"the same seed repeats but a different seed gives the same text ({agree})"],
                         m)
    return Detection(Support.SUPPORTED, [f"the same seed repeats, another seed differs ({agree})"], m)


@detector("n_choices")
def n_choices(ctx: Context) -> Detection:
    """n choices with distinct indexes 0..n-1."""
    want = int(_sent(ctx.variant[0]).get("n", ctx.args.get("n", 2)))
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
    k = _sent(ctx.variant[0]).get("top_logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    if not isinstance(content, list) or not content:
        return Detection(Support.IGNORED, [f"no logprobs in the answer (choices[0].logprobs = {str(lp)[:60]})"])
    m = {"tokens": len(content), "top_logprobs": k}
    if k is None:
        return Detection(Support.SUPPORTED, [f"{len(content)} tokens with logprobs"], m)
    sizes = [len(t.get("top_logprobs") or []) for t in content if isinstance(t, dict)]
    m["alternatives"] = sorted(set(sizes))
    if sizes and all(s == k for s in sizes):
        return Detection(Support.SUPPORTED, [f"{len(content)} tokens, each with {k} alternatives"], m)
    if any(sizes):
        return Detection(Support.PARTIAL, [f"asked for {k} alternatives, got {sorted(set(sizes))}"], m)
    return Detection(Support.IGNORED, [f"asked for {k} alternatives per token, got none"], m)


def repetition(text: str) -> float:
    """Share of words that repeat an earlier word (0 = all distinct)."""
    words = [w.strip(".,!?;:").lower() for w in text.split() if w.strip(".,!?;:")]
    return round(1 - len(set(words)) / len(words), 3) if words else 0.0


@detector("less_repetition")
def less_repetition(ctx: Context) -> Detection:
    """A penalty lowers repetition on a repetition-prone prompt, against the same prompt without it."""
    got, ctrl = repetition(A.text(ctx.variant[0])), repetition(A.text(ctx.control[0]))
    m = {"repetition": got, "control_repetition": ctrl}
    if ctrl < 0.2:
        return Detection(Support.UNVERIFIABLE, [f"the control barely repeats (repetition {ctrl}): nothing to lower"],
                         m)
    if got < ctrl - 0.1:
        return Detection(Support.SUPPORTED, [f"repetition {ctrl} → {got}"], m)
    return Detection(Support.IGNORED, [f"repetition unchanged ({ctrl} → {got})"], m)


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


@detector("json_object")
def json_object(ctx: Context) -> Detection:
    """The content parses as a JSON object; code fences are flagged."""
    raw = A.text(ctx.samples[0]).strip()
    value, why = A.json_content(ctx.samples[0])
    if raw.startswith("```"):
        return Detection(Support.PARTIAL, ["JSON wrapped in a Markdown code fence: json.loads on the content fails"],
                         {"content": raw[:200]})
    if not isinstance(value, dict):
        return Detection(Support.IGNORED, [why or f"content is JSON but not an object: {raw[:80]!r}"],
                         {"content": raw[:200]})
    ctrl_value = None
    if ctx.control:
        ctrl_value, _ = A.json_content(ctx.control[0])
    if isinstance(ctrl_value, dict):
        return Detection(Support.UNVERIFIABLE, [("content is a JSON object, but so is the control's without "
                                                "response_format: the prompt alone may explain it")],
                         {"content": raw[:200]})
    return Detection(Support.SUPPORTED, ["content is a JSON object"], {"content": raw[:200]})


@detector("json_schema")
def json_schema(ctx: Context) -> Detection:
    """The content validates against the requested schema (a refusal is reported, not judged)."""
    import jsonschema

    obs = ctx.samples[0]
    refusal = A.message(obs).get("refusal")
    if refusal:
        return Detection(Support.UNVERIFIABLE, [f"the model refused: {str(refusal)[:200]}"])
    schema = (((_sent(obs).get("response_format") or {}).get("json_schema") or {}).get("schema")) or {}
    value, why = A.json_content(obs)
    m: dict[str, Any] = {"content": A.text(obs)[:200]}
    if ctx.control:
        m["prompt_tokens"] = A.tokens(obs, "prompt")
        m["control_prompt_tokens"] = A.tokens(ctx.control[0], "prompt")
    if why:
        return Detection(Support.IGNORED, [why], m)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(value))
    if errors:
        return Detection(Support.IGNORED, [f"content does not match the schema: {errors[0].message[:160]}"], m)
    if ctx.control:
        ctrl_value, _ = A.json_content(ctx.control[0])
        if ctrl_value is not None and not list(jsonschema.Draft202012Validator(schema).iter_errors(ctrl_value)):
            return Detection(Support.UNVERIFIABLE, [("content matches the schema, but so does the control's without "
                                                    "response_format")], m)
    return Detection(Support.SUPPORTED, ["content matches the requested schema"], m)


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


def _usage_chunks(obs: Observation) -> tuple[list[dict[str, Any]], list[int]]:
    """The stream's chunks and the indexes of those that carry a usage object."""
    from conformance.sse import parse_sse

    chunks = parse_sse(obs.body_text).chunks
    return chunks, [i for i, c in enumerate(chunks) if isinstance(c.get("usage"), dict)]


@detector("stream_usage")
def stream_usage(ctx: Context) -> Detection:
    """include_usage: a usage object arrives in the stream (placement is judged by the stream rules).

    With a control (the same stream without stream_options), usage that arrives there too shows no effect.
    """
    chunks, with_usage = _usage_chunks(ctx.samples[0])
    m = {"usage_chunks": with_usage, "chunks": len(chunks)}
    if not with_usage:
        return Detection(Support.IGNORED, ["no chunk carries usage"], m)
    last = chunks[with_usage[-1]]
    where = "a final chunk with choices: []" if last.get("choices") == [] else "a chunk that also carries choices"
    note = f"usage arrives on {where} (chunk {with_usage[-1] + 1} of {len(chunks)})"
    if ctx.control and _usage_chunks(ctx.control[0])[1]:
        return Detection(Support.UNVERIFIABLE, [f"{note}, but it arrives without include_usage too: the "
                                                "parameter has no effect to show (clients get usage either way)"], m)
    return Detection(Support.SUPPORTED, [note], m)


@detector("usage_unrequested")
def usage_unrequested(ctx: Context) -> Detection:
    """Without include_usage OpenAI sends no usage chunk; say what this target does."""
    chunks, with_usage = _usage_chunks(ctx.samples[0])
    if with_usage:
        return Detection(Support.SUPPORTED, [f"usage sent although not requested (chunk {with_usage[-1] + 1} of "
                                             f"{len(chunks)}): clients that read chunk.choices[0] on every chunk "
                                             "must tolerate it"])
    return Detection(Support.SUPPORTED, ["no usage unless requested, as OpenAI"])


@detector("done_sentinel")
def done_sentinel(ctx: Context) -> Detection:
    """Exactly one `data: [DONE]`, last."""
    from conformance.sse import parse_sse

    stream = parse_sse(ctx.samples[0].body_text)
    m = {"done_count": stream.done_count, "done_last": stream.done_last, "events": len(stream.events)}
    if stream.done_count == 1 and stream.done_last:
        return Detection(Support.SUPPORTED, ["one [DONE], last"], m)
    return Detection(Support.PARTIAL, [f"[DONE] seen {stream.done_count} time(s), last: {stream.done_last}"], m)


ALLOWED_STREAM_DIFFERENCES = ("id", "created", "system_fingerprint", "obfuscation", "usage.*_details")


@detector("stream_equals_unstreamed")
def stream_equals_unstreamed(ctx: Context) -> Detection:
    """The same request streamed and not streamed: content, tool calls, finish reason and usage agree.

    Allowed differences (not compared): id, created, system_fingerprint, padding fields, usage details.
    """
    obs, ctrl = ctx.samples[0], ctx.control[0]
    if not obs.is_sse:
        return Detection(Support.IGNORED, ["stream requested but the answer is not text/event-stream"])
    diffs = []
    if A.text(obs) != A.text(ctrl):
        diffs.append(f"content {A.text(obs)[:60]!r} vs {A.text(ctrl)[:60]!r}")
    calls = [(c.get("function") or {}) for c in A.tool_calls(obs)]
    ctrl_calls = [(c.get("function") or {}) for c in A.tool_calls(ctrl)]
    if [(c.get("name"), _norm_json(c.get("arguments"))) for c in calls] != \
            [(c.get("name"), _norm_json(c.get("arguments"))) for c in ctrl_calls]:
        diffs.append(f"tool calls {calls} vs {ctrl_calls}")
    if A.finish_reason(obs) != A.finish_reason(ctrl):
        diffs.append(f"finish_reason {A.finish_reason(obs)!r} vs {A.finish_reason(ctrl)!r}")
    for kind in ("prompt", "completion"):
        got, want = A.tokens(obs, kind), A.tokens(ctrl, kind)
        if got is not None and want is not None and got != want:
            diffs.append(f"{kind}_tokens {got} vs {want}")
    m = {"differences": diffs, "allowed_differences": list(ALLOWED_STREAM_DIFFERENCES)}
    if not diffs:
        return Detection(Support.SUPPORTED, [("streamed and unstreamed answers agree (content, tool calls, "
                                             "finish_reason, usage)")], m)
    return Detection(Support.PARTIAL, ["streamed vs unstreamed: " + "; ".join(diffs)], m)


def _norm_json(value: Any) -> Any:
    import json

    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


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


@detector("answered")
def answered(ctx: Context) -> Detection:
    """A conversation shape OpenAI accepts: 2xx with an answer."""
    obs = ctx.samples[0]
    if A.text(obs) or A.tool_calls(obs):
        return Detection(Support.SUPPORTED, ["accepted and answered"])
    return Detection(Support.UNVERIFIABLE, ["accepted, but the answer is empty"])


@detector("logit_bias")
def logit_bias(ctx: Context) -> Detection:
    """The banned token (taken from the control's logprobs) no longer appears first."""
    obs, ctrl = ctx.samples[0], ctx.control[0]
    banned = ctx.args.get("banned_token") or _first_token(ctrl)
    first = _first_token(obs)
    m = {"banned_token": banned, "first_token": first, "control_first_token": _first_token(ctrl)}
    sent = _sent(obs).get("logit_bias")
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


@detector("model_echo")
def model_echo(ctx: Context) -> Detection:
    """The answer names the requested model (a dated snapshot of it counts: gpt-4o-mini → gpt-4o-mini-2024-…)."""
    asked = str(_sent(ctx.samples[0]).get("model", ""))
    served = A.completion(ctx.samples[0]).get("model")
    m = {"requested": asked, "served": served}
    if not isinstance(served, str) or not served:
        return Detection(Support.UNVERIFIABLE, ["the answer does not say which model answered"], m)
    if served == asked or served.startswith(asked) or asked.startswith(served) or served.endswith("/" + asked):
        return Detection(Support.SUPPORTED, [f"answered by {served!r}"], m)
    return Detection(Support.PARTIAL, [f"asked for {asked!r}, the answer names {served!r}"], m)
