"""classify(probe, variant, control) on plain data: every status, support and conformance value, by rule.

Observations are built by hand (status, headers, body text, role, request body); no socket, no pytest plugin.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.features import registry
from conformance.judge import answers
from conformance.judge.classify import MAX_JUDGED_CHARS, classify, findings_of
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.sse import parse_sse
from conformance.model.verdicts import Conformance, Status, Support, Verdict

PROBES = registry.probe_by_id()
JSON_HEADERS = {"content-type": "application/json"}
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8"}
HTML_HEADERS = {"content-type": "text/html"}


# --------------------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------------------


def completion(
    content: str | None = "The quick brown fox jumps over the lazy dog .",
    finish: str = "stop",
    completion_tokens: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A chat.completion that passes the strict schema."""
    tokens = len((content or "").split()) if completion_tokens is None else completion_tokens
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": tokens, "total_tokens": 9 + tokens},
    }
    body.update(extra)
    return body


def sse_text(content: str = "Hello there .", done: bool = True) -> str:
    """A streamed answer: role chunk, one chunk per word, finishing chunk, then [DONE] (or not)."""
    base = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "fake-model",
    }
    deltas = [{"role": "assistant", "content": ""}] + [{"content": w} for w in _pieces(content)]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]}
        for d in deltas
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return text + ("data: [DONE]\n\n" if done else "")


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]]


def openai_error(message: str, param: str | None = None, code: str | None = None) -> str:
    return json.dumps(
        {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    )


def fastapi_error(*fields: str) -> str:
    return json.dumps(
        {
            "detail": [
                {
                    "type": "extra_forbidden",
                    "loc": ["body", f],
                    "msg": "Extra inputs are not permitted",
                    "input": 1,
                }
                for f in fields
            ]
        }
    )


def mistral_error(*fields: str) -> str:
    return json.dumps(
        {
            "object": "error",
            "message": {
                "detail": [
                    {"type": "extra_forbidden", "loc": ["body", f], "msg": "Extra inputs are not permitted"}
                    for f in fields
                ]
            },
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    )


def flat_error(message: str) -> str:
    return json.dumps({"message": message, "type": "invalid_request_error", "code": None})


def obs(
    status: int | None = 200,
    body: Any = None,
    *,
    role: str = "variant",
    headers: dict[str, str] | None = None,
    request: Any = None,
    **facts: Any,
) -> Observation:
    """An observation; a dict body is sent as JSON, a str body as is."""
    text = json.dumps(body) if isinstance(body, (dict, list)) else (body or "")
    if headers is None:
        headers = JSON_HEADERS if status is not None else {}
    return Observation(
        role=role,
        method="POST",
        path="/chat/completions",
        request_body=request or {},
        status=status,
        headers=headers,
        body_text=text,
        **facts,
    )


def ok(
    content: str = "The quick brown fox jumps over the lazy dog .", role: str = "variant", **kw: Any
) -> Observation:
    return obs(200, completion(content, **kw), role=role)


def sse(content: str = "Hello there .", done: bool = True, role: str = "variant") -> Observation:
    return obs(200, sse_text(content, done), role=role, headers=SSE_HEADERS, request={"stream": True})


def probe(probe_id: str) -> Probe:
    return PROBES[probe_id]


def check(
    verdict: Verdict, status: Status, support: Support | None, conformance: Conformance | None, *notes: str
) -> None:
    """Assert the three axes, and that each expected text appears in some note."""
    assert (verdict.status, verdict.support, verdict.conformance) == (status, support, conformance), verdict
    for text in notes:
        assert any(text in n for n in verdict.notes), (text, verdict.notes)


# --------------------------------------------------------------------------------------------------------
# The builders themselves are clean (so a finding below comes from the case, not the fixture)
# --------------------------------------------------------------------------------------------------------


def test_builders_are_clean() -> None:
    assert findings_of(ok()) == []
    assert findings_of(sse()) == []
    assert findings_of(obs(400, openai_error("bad", "seed"))) == []


# --------------------------------------------------------------------------------------------------------
# Status: only OK yields a support verdict
# --------------------------------------------------------------------------------------------------------


LONG_ANSWER = "The quick brown fox jumps over the lazy dog near the river bank today ."
CUT_STREAM = "\n\n".join(sse_text().split("\n\n")[:3]) + "\n\n"  # role chunk and two words, then nothing
ERROR_EVENT = 'data: {"error": {"message": "The server had an error", "type": "server_error"}}\n\n'


@dataclass(frozen=True)
class Case:
    name: str
    probe: str
    variant: tuple[Observation, ...]
    control: tuple[Observation, ...]
    status: Status
    support: Support | None
    conformance: Conformance | None
    notes: tuple[str, ...] = ()


STATUS_CASES = [
    Case(
        "skipped: no cassette",
        "chat.completion",
        (obs(None, skipped_reason="no recording of this request (replay only)"),),
        (),
        Status.SKIPPED,
        None,
        None,
        ("no recording of this request",),
    ),
    Case(
        "skipped wins over a transport error",
        "request.max_tokens.effect",
        (obs(None, error="ConnectError: refused"),),
        (obs(None, role="control", skipped_reason="budget reached"),),
        Status.SKIPPED,
        None,
        None,
        ("budget reached",),
    ),
    Case(
        "timeout",
        "chat.completion",
        (obs(None, timed_out=True, error="ReadTimeout: timed out"),),
        (),
        Status.TIMEOUT,
        None,
        None,
        ("variant: ReadTimeout",),
    ),
    Case(
        "transport error",
        "chat.completion",
        (obs(None, error="ConnectError: connection refused"),),
        (),
        Status.ERROR,
        None,
        None,
        ("ConnectError",),
    ),
    Case(
        "500",
        "chat.completion",
        (obs(500, openai_error("The server had an error")),),
        (),
        Status.ERROR,
        None,
        None,
        ("HTTP 500", "The server had an error"),
    ),
    Case(
        "502 html",
        "request.seed.repeat",
        (obs(502, "<html>502 Bad Gateway</html>", headers=HTML_HEADERS),),
        (),
        Status.ERROR,
        None,
        None,
        ("HTTP 502",),
    ),
    Case(
        "429 after retries",
        "chat.completion",
        (obs(429, openai_error("Rate limit reached"), retries=3),),
        (),
        Status.ERROR,
        None,
        None,
        ("HTTP 429 after 3 retries", "Rate limit"),
    ),
    Case(
        "a 5xx on the control is no verdict either",
        "request.max_tokens.effect",
        (ok(finish="length", completion_tokens=3),),
        (obs(503, "busy", role="control", headers={}),),
        Status.ERROR,
        None,
        None,
        ("control: HTTP 503",),
    ),
    Case(
        "2xx body that is not JSON",
        "chat.completion",
        (obs(200, '{"id": "chatcmpl-1", "choices": [{'),),
        (),
        Status.ERROR,
        None,
        None,
        ("not JSON",),
    ),
    Case(
        "2xx html body",
        "chat.completion",
        (obs(200, "<html>hi</html>", headers=HTML_HEADERS),),
        (),
        Status.ERROR,
        None,
        None,
        ("not JSON",),
    ),
    Case(
        "event stream with no events",
        "request.stream.basic",
        (obs(200, ": keep-alive\n\n", headers=SSE_HEADERS, request={"stream": True}),),
        (),
        Status.ERROR,
        None,
        None,
        ("event stream with no events",),
    ),
    Case(
        "a stream cut before its end (no finish_reason, no [DONE])",
        "request.stream.basic",
        (obs(200, CUT_STREAM, headers=SSE_HEADERS, request={"stream": True}),),
        (),
        Status.ERROR,
        None,
        None,
        ("stream cut after 3 events",),
    ),
    Case(
        "a stream that carries an error event",
        "request.stream.basic",
        (obs(200, CUT_STREAM + ERROR_EVENT, headers=SSE_HEADERS, request={"stream": True}),),
        (),
        Status.ERROR,
        None,
        None,
        ("stream carried an error event", "The server had an error"),
    ),
    Case(
        "a runaway answer too large to judge",
        "request.max_tokens.effect",
        (ok(" ".join(["echo"] * 900_000)),),
        (ok(LONG_ANSWER, role="control"),),
        Status.ERROR,
        None,
        None,
        ("over the 4,000,000",),
    ),
]


@pytest.mark.parametrize("case", STATUS_CASES, ids=lambda c: c.name)
def test_status(case: Case) -> None:
    v = classify(probe(case.probe), list(case.variant), list(case.control))
    check(v, case.status, case.support, case.conformance, *case.notes)
    assert v.support is None


# --------------------------------------------------------------------------------------------------------
# Support
# --------------------------------------------------------------------------------------------------------

LONG = LONG_ANSWER
SEED_REQ = {"seed": 42}

SUPPORT_CASES = [
    Case(
        "SUPPORTED: accepted and answered",
        "chat.completion",
        (ok(),),
        (),
        Status.OK,
        Support.SUPPORTED,
        Conformance.OK,
    ),
    Case(
        "SUPPORTED: max_tokens cut the answer",
        "request.max_tokens.effect",
        (ok("The quick brown", finish="length"),),
        (ok(LONG, role="control"),),
        Status.OK,
        Support.SUPPORTED,
        Conformance.OK,
        ("finish_reason length",),
    ),
    Case(
        "PARTIAL: finish_reason length but more tokens than asked",
        "request.max_tokens.effect",
        (ok("The quick brown fox jumps", finish="length"),),
        (ok(LONG, role="control"),),
        Status.OK,
        Support.PARTIAL,
        Conformance.OK,
        ("only part of the effect",),
    ),
    Case(
        "IGNORED: max_tokens had no effect",
        "request.max_tokens.effect",
        (ok(LONG),),
        (ok(LONG, role="control"),),
        Status.OK,
        Support.IGNORED,
        Conformance.OK,
        ("> 3",),
    ),
    Case(
        "IGNORED: an invalid value accepted silently",
        "request.temperature.invalid",
        (ok(),),
        (),
        Status.OK,
        Support.IGNORED,
        Conformance.OK,
        ("accepts a value OpenAI rejects",),
    ),
    Case(
        "IGNORED: unknown field dropped",
        "request.unknown_parameter",
        (ok(),),
        (),
        Status.OK,
        Support.IGNORED,
        Conformance.OK,
        ("silently dropped",),
    ),
    Case(
        "REJECTED: 400 naming the field",
        "request.seed.repeat",
        (obs(400, openai_error("Unsupported parameter: 'seed' is not supported.", "seed")),),
        (),
        Status.OK,
        Support.REJECTED,
        Conformance.OK,
        ("rejected (names seed)", "HTTP 400"),
    ),
    Case(
        "REJECTED: 400 naming no field (not blaming another)",
        "request.n.choices",
        (obs(400, openai_error("This model does not do that.")),),
        (),
        Status.OK,
        Support.REJECTED,
        Conformance.OK,
        ("rejected",),
    ),
    Case(
        "REJECTED: an invalid value rejected, as OpenAI does",
        "request.temperature.invalid",
        (obs(400, openai_error("Invalid 'temperature': above maximum value.", "temperature")),),
        (),
        Status.OK,
        Support.REJECTED,
        Conformance.OK,
        ("as OpenAI does (names temperature)",),
    ),
    Case(
        "REJECTED wins over a control that failed for the same field",
        "request.temperature.zero",
        (obs(400, openai_error("Unsupported parameter: 'temperature'", "temperature")),),
        (obs(400, openai_error("Unsupported parameter: 'temperature'", "temperature"), role="control-1"),),
        Status.OK,
        Support.REJECTED,
        Conformance.OK,
        ("names temperature",),
    ),
    Case(
        "UNVERIFIABLE: the 4xx blames another field",
        "request.seed.repeat",
        (obs(400, openai_error("Invalid 'temperature': above maximum value.", "temperature")),),
        (),
        Status.OK,
        Support.UNVERIFIABLE,
        Conformance.OK,
        ("the 4xx blames temperature, not seed",),
    ),
    Case(
        "UNVERIFIABLE: the control failed",
        "request.max_tokens.effect",
        (ok("The quick brown", finish="length"),),
        (obs(400, openai_error("bad request"), role="control"),),
        Status.OK,
        Support.UNVERIFIABLE,
        None,
        ("the control request failed (HTTP 400",),
    ),
    Case(
        "UNVERIFIABLE: control failed and the variant's 4xx blames another field",
        "request.max_tokens.effect",
        (obs(400, openai_error("Invalid 'top_p'", "top_p")),),
        (obs(400, openai_error("Invalid 'top_p'", "top_p"), role="control"),),
        Status.OK,
        Support.UNVERIFIABLE,
        None,
        ("the control request failed",),
    ),
    Case(
        "UNVERIFIABLE: no observable effect",
        "request.user.accepted",
        (ok(),),
        (),
        Status.OK,
        Support.UNVERIFIABLE,
        Conformance.OK,
        ("abuse monitoring",),
    ),
    Case(
        "UNVERIFIABLE: control too short to show a limit",
        "request.max_tokens.effect",
        (ok("Hi ."),),
        (ok("Hi .", role="control"),),
        Status.OK,
        Support.UNVERIFIABLE,
        Conformance.OK,
        ("too short",),
    ),
    Case(
        "SUPPORTED: an error probe answered with the right 4xx",
        "errors.invalid_value",
        (obs(400, openai_error("Invalid 'temperature': above maximum value.", "temperature")),),
        (),
        Status.OK,
        Support.SUPPORTED,
        Conformance.OK,
        ("the message names temperature",),
    ),
    Case(
        "IGNORED: an error probe answered 2xx",
        "errors.invalid_value",
        (ok(),),
        (),
        Status.OK,
        Support.IGNORED,
        Conformance.NON_STRICT,
        ("accepted silently with a 2xx where OpenAI answers 400",),
    ),
    Case(
        "IGNORED: silent model substitution",
        "errors.unknown_model",
        (ok(model="fake-default"),),
        (),
        Status.OK,
        Support.IGNORED,
        Conformance.NON_STRICT,
        ("silent substitution", "fake-default"),
    ),
]


@pytest.mark.parametrize("case", SUPPORT_CASES, ids=lambda c: c.name)
def test_support(case: Case) -> None:
    check(
        classify(probe(case.probe), list(case.variant), list(case.control)),
        case.status,
        case.support,
        case.conformance,
        *case.notes,
    )


def _seed_samples(
    same: list[str], other: str, control: list[str]
) -> tuple[list[Observation], list[Observation]]:
    variant = [ok(t, role=f"variant-{i + 1}") for i, t in enumerate(same)] + [ok(other, role="alt-1")]
    return variant, [ok(t, role=f"control-{i + 1}") for i, t in enumerate(control)]


@pytest.mark.parametrize(
    "same,other,control,support",
    [
        (["a b c"] * 3, "d e f", ["x", "y", "z"], Support.SUPPORTED),
        (["a b c"] * 3, "a b c", ["x", "y", "z"], Support.PARTIAL),
        (["a", "b", "c"], "d", ["x", "y", "z"], Support.IGNORED),
        (["a b c"] * 3, "d e f", ["x"] * 3, Support.UNVERIFIABLE),
    ],
)
def test_seed_detector_values(same: list[str], other: str, control: list[str], support: Support) -> None:
    variant, ctrl = _seed_samples(same, other, control)
    v = classify(probe("request.seed.repeat"), variant, ctrl)
    assert (v.status, v.support) == (Status.OK, support)
    if support is Support.PARTIAL:
        assert v.notes


def test_partial_needs_a_note() -> None:
    with pytest.raises(ValueError):
        Verdict(Status.OK, Support.PARTIAL)


# --------------------------------------------------------------------------------------------------------
# Conformance
# --------------------------------------------------------------------------------------------------------

broken_choices = completion()
broken_choices["choices"][0]["message"]["content"] = 5
no_refusal = completion()
del no_refusal["choices"][0]["message"]["refusal"]

CONFORMANCE_CASES = [
    Case(
        "OK: strict schema passes",
        "chat.completion",
        (ok(),),
        (),
        Status.OK,
        Support.SUPPORTED,
        Conformance.OK,
    ),
    Case(
        "OK: a clean stream",
        "request.stream.basic",
        (sse(),),
        (),
        Status.OK,
        Support.SUPPORTED,
        Conformance.OK,
    ),
    Case(
        "NON_STRICT: a strict-only schema finding",
        "chat.completion",
        (obs(200, no_refusal),),
        (),
        Status.OK,
        Support.SUPPORTED,
        Conformance.NON_STRICT,
    ),
    Case(
        "NON_STRICT: FastAPI 422",
        "request.seed.repeat",
        (obs(422, fastapi_error("seed")),),
        (),
        Status.OK,
        Support.REJECTED,
        Conformance.NON_STRICT,
        ("names seed", "HTTP 422 where OpenAI answers 400", "FastAPI"),
    ),
    Case(
        "NON_STRICT: Mistral 422",
        "request.n.choices",
        (obs(422, mistral_error("n")),),
        (),
        Status.OK,
        Support.REJECTED,
        Conformance.NON_STRICT,
        ("names n", "HTTP 422", "error envelope"),
    ),
    Case(
        "OK: a flat envelope is charged to errors.invalid_value, not to seed",
        "request.seed.repeat",
        (obs(400, flat_error("'seed' is not supported")),),
        (),
        Status.OK,
        Support.REJECTED,
        Conformance.OK,
        ("names seed", "also seen (see errors.invalid_value)", "flat error object"),
    ),
    Case(
        "NON_STRICT: a text error body, on the feature that owns the envelope",
        "errors.invalid_value",
        (obs(400, "temperature not supported", headers={}),),
        (),
        Status.OK,
        Support.SUPPORTED,
        Conformance.NON_STRICT,
        ("not JSON",),
    ),
    Case(
        "NON_STRICT: an error probe answered with the wrong 4xx",
        "errors.invalid_value",
        (obs(422, fastapi_error("temperature")),),
        (),
        Status.OK,
        Support.SUPPORTED,
        Conformance.NON_STRICT,
        ("HTTP 422 where OpenAI answers 400",),
    ),
    Case(
        "OK: an invalid value rejected with a flat body (the envelope is errors.invalid_value's finding)",
        "request.temperature.invalid",
        (obs(400, flat_error("Invalid 'temperature'")),),
        (),
        Status.OK,
        Support.REJECTED,
        Conformance.OK,
        ("also seen (see errors.invalid_value)", "flat error object"),
    ),
    Case(
        "FAILED: compat schema violation (content is a number)",
        "chat.completion",
        (obs(200, broken_choices),),
        (),
        Status.OK,
        Support.UNVERIFIABLE,
        Conformance.FAILED,
        ("empty answer",),
    ),
    Case(
        "FAILED: an unknown finish_reason",
        "chat.completion",
        (ok(finish="eos"),),
        (),
        Status.OK,
        Support.SUPPORTED,
        Conformance.FAILED,
    ),
    Case(
        "FAILED: stream without [DONE], charged to stream.done_sentinel: the sentinel is not sent (IGNORED)",
        "stream.done_sentinel",
        (sse(done=False),),
        (),
        Status.OK,
        Support.IGNORED,
        Conformance.FAILED,
        ("no [DONE]",),
    ),
    Case(
        "OK: stream without [DONE] on another streaming feature: mentioned, not charged",
        "request.stream.basic",
        (sse(done=False),),
        (),
        Status.OK,
        Support.SUPPORTED,
        Conformance.OK,
        ("also seen (see stream.done_sentinel)",),
    ),
    Case(
        "FAILED: stream requested, JSON came back",
        "request.stream.basic",
        (obs(200, completion(), request={"stream": True}),),
        (),
        Status.OK,
        Support.IGNORED,
        Conformance.FAILED,
        ("not text/event-stream",),
    ),
]


@pytest.mark.parametrize("case", CONFORMANCE_CASES, ids=lambda c: c.name)
def test_conformance(case: Case) -> None:
    check(
        classify(probe(case.probe), list(case.variant), list(case.control)),
        case.status,
        case.support,
        case.conformance,
        *case.notes,
    )


def test_failed_conformance_keeps_the_finding_pointer() -> None:
    v = classify(probe("chat.completion"), [obs(200, broken_choices)])
    assert any(f.pointer == "/choices/0/message/content" and f.level == "compat" for f in v.findings)


def test_error_envelope_is_never_failed() -> None:
    """An error body that is not OpenAI-shaped is a SHOULD (NON_STRICT), whatever the error schema says; it is
    charged to errors.invalid_value, and the parameter probes that saw it mention it and stay OK."""
    for body in (fastapi_error("seed"), mistral_error("seed"), flat_error("no"), "plain text", "", "[1, 2]"):
        for pid in ("request.seed.repeat", "errors.invalid_value", "request.seed.invalid"):
            v = classify(probe(pid), [obs(400, body)])
            want = Conformance.NON_STRICT if pid.startswith("errors.") else Conformance.OK
            assert v.conformance is want, (pid, body, v)
            if want is Conformance.OK:
                assert any("also seen (see errors.invalid_value)" in n for n in v.notes), v.notes


# --------------------------------------------------------------------------------------------------------
# Property: any observation gets exactly one coherent verdict that survives JSON
# --------------------------------------------------------------------------------------------------------

BODIES = [
    json.dumps(completion()),
    json.dumps(completion("The quick", finish="length", completion_tokens=2)),
    json.dumps(completion(None, finish="tool_calls")),
    json.dumps(broken_choices),
    sse_text(),
    sse_text(done=False),
    openai_error("Unsupported parameter: 'seed'", "seed"),
    openai_error("Invalid 'temperature'", "temperature"),
    fastapi_error("n"),
    mistral_error("stop"),
    flat_error("Unexpected role 'user' after role 'tool'"),
    "<html>502 Bad Gateway</html>",
    '{"id": "chatcmpl-1", "choices": [{',
    "",
    "null",
    "[1, 2, 3]",
    '"just a string"',
    "data: not json\n\n",
    "data: not json\n\ndata: [DONE]\n\n",
    "\n\n".join(sse_text().split("\n\n")[:3]) + "\n\n",
    'data: {"error": {"message": "overloaded"}}\n\n',
    ": comment only\n\n",
    json.dumps({"choices": "nope", "usage": 7}),
    "\x00\xff garbage",
]
STATUSES = [200, 400, 401, 404, 422, 429, 500, 502, None]


@st.composite
def observations(draw: st.DrawFn, role: str) -> Observation:
    status = draw(st.sampled_from(STATUSES))
    body = draw(st.sampled_from(BODIES))
    headers = draw(st.sampled_from([JSON_HEADERS, SSE_HEADERS, HTML_HEADERS, {}]))
    request = draw(
        st.sampled_from(
            [
                {},
                {"stream": True},
                {"stream": True, "stream_options": {"include_usage": True}},
                {"stop": "fox"},
                {"n": 2},
                "raw {",
            ]
        )
    )
    if status is None:
        timed_out = draw(st.booleans())
        return obs(
            None,
            role=role,
            request=request,
            error="ReadTimeout" if timed_out else "ConnectError: reset",
            timed_out=timed_out,
        )
    return obs(status, body, role=role, headers=headers, request=request, retries=draw(st.integers(0, 3)))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Probe, list[Observation], list[Observation]]:
    p = draw(st.sampled_from(registry.PROBES))
    count = 3 if p.stochastic else 1
    variant = [draw(observations(f"variant-{i + 1}" if count > 1 else "variant")) for i in range(count)]
    variant += [draw(observations(f"alt-{i + 1}")) for i in range(len(p.alternates))]
    if p.followup and draw(st.booleans()):
        variant.append(draw(observations("turn-2")))
    control: list[Observation] = []
    if p.control:
        n = 3 if registry.CONTROLS[p.control].stochastic else 1
        control = [draw(observations(f"control-{i + 1}" if n > 1 else "control")) for i in range(n)]
    return p, variant, control


def _expected_status(observations: list[Observation], controls: list[Observation] | None = None) -> Status:
    """The status rule, restated: skipped, then timeout/transport, then 5xx/429/unreadable 2xx/cut 4xx, then a 2xx
    control that is no completion (no choices: nothing to compare with), else OK."""
    if any(o.skipped_reason for o in observations):
        return Status.SKIPPED
    for o in observations:
        if o.timed_out:
            return Status.TIMEOUT
        if o.error:
            return Status.ERROR
    for o in observations:
        assert o.status is not None
        if o.status >= 500 or o.status == 429:
            return Status.ERROR
        if o.status < 300 and not o.is_sse and o.json() is None:
            return Status.ERROR
        if o.status >= 400 and o.body_text.lstrip().startswith("{") and o.json() is None:  # an error body cut short
            return Status.ERROR
        if o.status < 300 and len(o.body_text) > MAX_JUDGED_CHARS:
            return Status.ERROR
        if o.status < 300 and o.is_sse:
            stream = parse_sse(o.body_text)
            finished = any(
                isinstance(c, dict) and any(ch.get("finish_reason") for ch in c.get("choices") or [])
                for c in stream.chunks
            )
            if not stream.events or stream.error_events or not (stream.done_count or finished):
                return Status.ERROR
    for o in controls or []:
        body = answers.completion(o) if o.status is not None and o.status < 300 else {"choices": [{}]}
        if not isinstance(body.get("choices"), list) or not body["choices"]:
            return Status.ERROR
    return Status.OK


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_any_observation_gets_one_coherent_verdict(
    case: tuple[Probe, list[Observation], list[Observation]],
) -> None:
    p, variant, control = case
    before = copy.deepcopy((variant, control))
    v = classify(p, variant, control)
    assert isinstance(v, Verdict)
    assert (variant, control) == before  # classify is pure
    assert v.status is _expected_status(variant + control, control if p.control else [])
    # Only an OK run yields a support verdict, and an OK run always yields one.
    assert (v.status is Status.OK) == (v.support is not None), v
    if v.status is not Status.OK:
        assert v.conformance is None and v.notes
    if v.support is Support.PARTIAL:
        assert v.notes
    # Round trip through JSON.
    wire = json.loads(json.dumps(v.to_dict()))
    back = Verdict.from_dict(wire)
    assert (back.status, back.support, back.conformance, back.notes) == (
        v.status,
        v.support,
        v.conformance,
        v.notes,
    )
    assert back.findings == v.findings
    assert back.to_dict() == wire


def test_verdict_round_trip_equality() -> None:
    v = classify(probe("chat.completion"), [obs(200, broken_choices)])
    assert Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v


# --------------------------------------------------------------------------------------------------------
# A reproducible 5xx is a rejection; one answered on the re-send is judged on that answer; else ERROR
# --------------------------------------------------------------------------------------------------------

def _server_error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


def test_same_5xx_twice_with_control_fine_is_rejected_and_failed() -> None:
    body = _server_error("Internal error")
    v = classify(probe("request.seed.repeat"), [obs(500, body), obs(500, body, role="repeat")],
                 [obs(200, completion("a b c"), role="control")])
    check(v, Status.OK, Support.REJECTED, Conformance.FAILED, "clients retry it")


def test_5xx_naming_the_field_twice_is_rejected_even_with_another_body() -> None:
    variant = [obs(500, _server_error("bad seed (req 1)")), obs(500, _server_error("bad seed (req 2)"), role="repeat")]
    v = classify(probe("request.seed.repeat"), variant, [obs(200, completion("a b c"), role="control")])
    check(v, Status.OK, Support.REJECTED, Conformance.FAILED)


def test_5xx_that_varies_between_tries_is_judged_on_the_answer_with_a_server_defect() -> None:
    """500 then 200 for the same request: the server fails on some of its own outputs, not on the value: the
    answer decides (an invalid value accepted: IGNORED), with a server-defect finding (FAILED), never ERROR."""
    v = classify(probe("request.temperature.invalid"),
                 [obs(500, _server_error("Failed to parse the tool call")),
                  obs(200, completion("a b c"), role="repeat")],
                 [obs(200, completion("a b c"), role="control")])
    check(v, Status.OK, Support.IGNORED, Conformance.FAILED, "on one try and HTTP 200")
    assert [f.rule for f in v.findings] == ["server.defect"]


@pytest.mark.parametrize(("repeat", "control_status"), [
    (obs(502, _server_error("other"), role="repeat"), 200),  # another status
    (obs(500, _server_error("Internal error"), role="repeat"), 500),  # the control fails too
])
def test_5xx_that_does_not_reproduce_or_hits_the_control_stays_error(repeat: Observation, control_status: int) -> None:
    control = obs(control_status, completion("a b c") if control_status == 200 else _server_error("x"), role="control")
    v = classify(probe("request.seed.repeat"), [obs(500, _server_error("Internal error")), repeat], [control])
    assert (v.status, v.support) == (Status.ERROR, None), v


def test_unrelated_5xx_bodies_that_name_nothing_stay_error() -> None:
    v = classify(probe("request.seed.repeat"),
                 [obs(500, _server_error("oops 1")), obs(500, _server_error("oops 2"), role="repeat")],
                 [obs(200, completion("a b c"), role="control")])
    assert v.status is Status.ERROR


# --------------------------------------------------------------------------------------------------------
# One finding, one owner
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("part", "pointer", "rule", "message", "owner"), [
    ("response", "/choices/0/message/refusal", "required", "", "chat.completion"),
    ("response", "", "additionalProperties", "", "chat.completion"),
    ("response", "/usage/completion_tokens_details", "type", "", "chat.completion"),
    ("response", "/choices/0/message/tool_calls/0/id", "type", "", None),
    ("response", "/choices/0/logprobs/refusal", "required", "", "request.logprobs"),
    ("response", "/choices/0/finish_reason", "tools.finish_reason", "", "request.tools"),
    ("stream", "", "stream.done_sentinel", "", "stream.done_sentinel"),
    ("stream", "/chunks/3/usage", "stream.usage_placement", "", "stream.usage_chunk"),
    ("stream", "/chunks/0/choices/0/finish_reason", "required", "", "request.stream"),
    ("stream", "/chunks/2/choices/0/delta/tool_calls/0", "stream.tool_call_index", "", "stream.tool_call_deltas"),
])
def test_finding_owners(part: str, pointer: str, rule: str, message: str, owner: str | None) -> None:
    from conformance.judge.ownership import owner_of
    from conformance.model.findings import Finding

    assert owner_of(Finding(part, pointer, rule, "strict", message)) == owner


@pytest.mark.parametrize("choice, owner", [(1, "stream.n_interleave"), (0, "request.stream")])
def test_a_finish_reason_finding_is_placed_by_its_choice_not_its_words(choice: int, owner: str) -> None:
    from conformance.judge.ownership import owner_of
    from conformance.model.findings import Finding

    worded_otherwise = "choice 0 ended" if choice else "choice 1 ended"  # the message is never read
    assert owner_of(Finding("stream", "", "stream.finish_reason_once", "compat", worded_otherwise,
                            choice=choice)) == owner


def test_an_error_probe_answered_with_the_same_5xx_twice_is_refused_with_conformance_failed() -> None:
    """llama-server answers malformed JSON with a 500 parse error, every time: the mistake is refused (SUPPORTED),
    but as a server error clients retry (FAILED) — not ERROR, which would say "not tested"."""
    body = _server_error("[json.exception.parse_error.101] parse error at line 1")
    v = classify(probe("errors.malformed_body"), [obs(500, body), obs(500, body, role="repeat")],
                 [obs(200, completion("a b c"), role="control")])
    check(v, Status.OK, Support.SUPPORTED, Conformance.FAILED, "clients retry it")
    once = classify(probe("errors.malformed_body"), [obs(500, body)], [obs(200, completion("a b c"), role="control")])
    assert once.status is Status.ERROR


@pytest.mark.parametrize(("others", "support"), [
    (["Hello", "JSON", "Hello"], Support.SUPPORTED),  # llama-server: 4242 repeats seed 42's text, 7 does not
    (["Hello", "Hello", "Hello"], Support.PARTIAL),  # every other seed gives the same text
])
def test_one_other_seed_repeating_the_text_by_chance_is_not_partial(others: list[str], support: Support) -> None:
    variant = [ok("Hello", role=f"variant-{i + 1}") for i in range(3)]
    variant += [ok(t, role=f"alt-{i + 1}") for i, t in enumerate(others)]
    control = [ok(t, role=f"control-{i + 1}") for i, t in enumerate(["JSON", "Hello", "Hello"])]
    assert classify(probe("request.seed.repeat"), variant, control).support is support
