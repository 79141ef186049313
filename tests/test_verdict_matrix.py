"""The verdict matrix: a fake server honours, ignores, then rejects each parameter in turn; the verdict of the
parameter's feature must be right in every cell.

The engine is driven directly (no pytest-in-pytest) against one fake server whose switches change per cell.
Where the fake model cannot show an effect, or a detector honestly cannot tell, the expected verdict is
written down in EXCEPTIONS with the reason; a cell whose verdict is wrong for a reason outside the
classifier's files is a strict xfail in KNOWN_WRONG (it turns into a failure the day it is fixed).

Exceptions (param / mode / feature: verdict, why)
==================================================
logit_bias / honour / request.logit_bias: UNVERIFIABLE
    the fake's logprobs carry no token ids, so no ban can be built (a neutral bias is sent instead)
logit_bias / ignore / request.logit_bias: UNVERIFIABLE
    same: nothing was banned, so nothing can be missed
parallel_tool_calls / honour / request.parallel_tool_calls: UNVERIFIABLE
    the control (two_cities) makes one call: the fake calls in parallel only for prompts containing
    "two" or "cities", or with 2+ tools, and the registry's prompt says "each city" with one tool
parallel_tool_calls / ignore / request.parallel_tool_calls: UNVERIFIABLE
    same
response_format / honour, ignore / request.response_format: UNVERIFIABLE
    {"type": "text"} is the default: honoured or dropped, the answer looks the same (json_object and
    json_schema, the features with an effect, are SUPPORTED / IGNORED)
stream / ignore / request.stream: IGNORED, conformance FAILED
    a JSON body where a stream was asked (no [DONE], not text/event-stream)
stream_options / ignore / request.stream_options: IGNORED
    include_usage sent, no chunk carries usage (the broken rule is stream.usage_chunk's: FAILED there)
stream_options / honour, ignore / request.stream_options.include_obfuscation: UNVERIFIABLE
    the fake never pads chunks with `obfuscation`: turning the padding off shows nothing
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.features import registry
from conformance.model.targets import Target
from conformance.run.engine import run_pairs
from conformance.run.results import aggregate_feature, record_of
from tests.fakeserver import FakeConfig, FakeServer

PROBES = registry.probe_by_id()
MODES = ("honour", "ignore", "reject")
DEFAULT = {"honour": "SUPPORTED", "ignore": "IGNORED", "reject": "REJECTED"}

# Every parameter the fake server implements, with the features that judge it.
PARAMS: dict[str, list[str]] = {
    "temperature": ["request.temperature"],
    "top_p": ["request.top_p"],
    "seed": ["request.seed"],
    "n": ["request.n"],
    "max_tokens": ["request.max_tokens"],
    "max_completion_tokens": ["request.max_completion_tokens"],
    "stop": ["request.stop"],
    "logprobs": ["request.logprobs"],
    "top_logprobs": ["request.top_logprobs"],
    "presence_penalty": ["request.presence_penalty"],
    "frequency_penalty": ["request.frequency_penalty"],
    "logit_bias": ["request.logit_bias"],
    "response_format": [
        "request.response_format",
        "request.response_format.json_object",
        "request.response_format.json_schema",
    ],
    "tools": ["request.tools"],
    "tool_choice": ["request.tool_choice", "tools.tool_choice.named", "tools.tool_choice.none"],
    "parallel_tool_calls": ["request.parallel_tool_calls"],
    "stream": ["request.stream"],
    "stream_options": ["request.stream_options", "request.stream_options.include_obfuscation"],
}

# (param, mode, feature) → (support, why): the honest verdict where the default one cannot be reached.
EXCEPTIONS: dict[tuple[str, str, str], tuple[str, str]] = {
    ("logit_bias", "honour", "request.logit_bias"): (
        "UNVERIFIABLE",
        "the fake's logprobs show no token ids: no ban can be built",
    ),
    ("logit_bias", "ignore", "request.logit_bias"): (
        "UNVERIFIABLE",
        "the fake's logprobs show no token ids: nothing was banned",
    ),
    ("parallel_tool_calls", "honour", "request.parallel_tool_calls"): (
        "UNVERIFIABLE",
        "the fake makes one call for the registry's two-cities prompt: nothing to prevent",
    ),
    ("parallel_tool_calls", "ignore", "request.parallel_tool_calls"): (
        "UNVERIFIABLE",
        "the fake makes one call for the registry's two-cities prompt: nothing to prevent",
    ),
    ("response_format", "honour", "request.response_format"): (
        "UNVERIFIABLE",
        "{'type': 'text'} is the default output: honoured or dropped, the answer looks the same",
    ),
    ("response_format", "ignore", "request.response_format"): (
        "UNVERIFIABLE",
        "{'type': 'text'} is the default output: honoured or dropped, the answer looks the same",
    ),
    **{("stream_options", mode, "request.stream_options.include_obfuscation"): (
        "UNVERIFIABLE", "the fake never pads chunks with `obfuscation`: turning it off shows nothing",
    ) for mode in ("honour", "ignore")},
}

# (param, mode, feature) → conformance, where it is not OK.
CONFORMANCE: dict[tuple[str, str, str], str] = {
    ("stream", "ignore", "request.stream"): "FAILED",  # JSON where a stream was asked: no [DONE], wrong type
}

# Cells whose verdict is wrong for a reason outside classify/detectors/error_body (reported, not hidden).
KNOWN_WRONG: dict[tuple[str, str, str], str] = {
}


def probes_of(features: list[str]) -> list[Any]:
    return [p for p in registry.PROBES if p.feature in features]


def target(srv: FakeServer, **kw: Any) -> Target:
    return Target(
        name="fake", base_url=srv.base_url, model="fake-model", high_temperature=2.0, samples=3, **kw
    )


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def run(
    srv: FakeServer, config: FakeConfig, probe_list: list[Any], cassettes: Path, tgt: Target | None = None
) -> dict[str, dict[str, Any]]:
    """Run the probes against the server under `config`; return records by probe id."""
    srv.config = config
    results, _ = run_pairs([(tgt or target(srv), p) for p in probe_list], cassettes, "all")
    return {r.probe.id: record_of(r) for r in results}


def feature_verdict(records: dict[str, dict[str, Any]], feature: str) -> dict[str, Any]:
    return aggregate_feature([r for r in records.values() if r["feature"] == feature], PROBES)


def _cells() -> Iterator[Any]:
    for param in PARAMS:
        for mode in MODES:
            marks = [
                pytest.mark.xfail(strict=True, reason=why)
                for (p, m, _), why in KNOWN_WRONG.items()
                if (p, m) == (param, mode)
            ]
            yield pytest.param(param, mode, id=f"{param}-{mode}", marks=marks)


def test_registry_covers_the_matrix() -> None:
    """Every feature named above has probes, and every parameter probe of the fake's parameters is used."""
    for param, features in PARAMS.items():
        for feature in features:
            assert probes_of([feature]), feature
        own = {p.feature for p in registry.PARAMETERS if p.feature.split(".")[1] == param}
        assert own <= set(features), (param, own - set(features))


@pytest.mark.parametrize("param,mode", list(_cells()))
def test_cell(server: FakeServer, tmp_path: Path, param: str, mode: str) -> None:
    features = PARAMS[param]
    config = FakeConfig(
        ignore={param} if mode == "ignore" else set(), reject={param} if mode == "reject" else set()
    )
    records = run(server, config, probes_of(features), tmp_path)
    wrong = []
    for feature in features:
        agg = feature_verdict(records, feature)
        want, why = EXCEPTIONS.get((param, mode, feature), (DEFAULT[mode], ""))
        want_conf = CONFORMANCE.get((param, mode, feature), "OK")
        got = (agg["status"], agg["support"], agg["conformance"])
        if got != ("OK", want, want_conf):
            wrong.append(
                f"{feature}: got {got}, want ('OK', {want!r}, {want_conf!r}) {why}\n  "
                + "\n  ".join(agg["notes"][:6])
            )
    assert not wrong, "\n".join(wrong)
    if mode == "reject":  # every probe that sends the parameter is rejected, and the 4xx is read as naming it
        for pid, rec in records.items():
            if param in PROBES[pid].request or param in PROBES[pid].params or PROBES[pid].derive:
                assert rec["support"] == "REJECTED", (pid, rec["notes"])
                assert any(f"names {param}" in n for n in rec["notes"]), (pid, rec["notes"])


# --------------------------------------------------------------------------------------------------------
# Single switches
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reject_unknown,support", [(True, "REJECTED"), (False, "IGNORED")])
def test_unknown_parameter(server: FakeServer, tmp_path: Path, reject_unknown: bool, support: str) -> None:
    records = run(
        server, FakeConfig(reject_unknown=reject_unknown), [PROBES["request.unknown_parameter"]], tmp_path
    )
    rec = records["request.unknown_parameter"]
    assert (rec["status"], rec["support"], rec["conformance"]) == ("OK", support, "OK"), rec["notes"]
    if reject_unknown:
        assert "names frobnicate_conformance_probe" in rec["notes"][0]


@pytest.mark.parametrize(
    "unknown_model,support,conformance,note",
    [
        ("404", "SUPPORTED", "OK", "the message names model"),
        ("substitute", "IGNORED", "NON_STRICT", "silent substitution"),
    ],
)
def test_unknown_model(
    server: FakeServer, tmp_path: Path, unknown_model: str, support: str, conformance: str, note: str
) -> None:
    records = run(server, FakeConfig(unknown_model=unknown_model), [PROBES["errors.unknown_model"]], tmp_path)
    agg = feature_verdict(records, "errors.unknown_model")
    assert (agg["status"], agg["support"], agg["conformance"]) == ("OK", support, conformance), agg["notes"]
    assert any(note in n for n in agg["notes"]), agg["notes"]
    if unknown_model == "substitute":
        assert "fake-default" in " ".join(agg["notes"])


@pytest.mark.parametrize("api_key,support", [("sk-fake", "SUPPORTED"), (None, "IGNORED")])
def test_bad_key(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_key: str | None, support: str
) -> None:
    monkeypatch.setenv("CONFORMANCE_FAKE_KEY", "sk-fake")
    tgt = target(server, api_key_env="CONFORMANCE_FAKE_KEY")
    records = run(
        server,
        FakeConfig(api_key=api_key),
        [PROBES["errors.bad_key"], PROBES["chat.completion"]],
        tmp_path,
        tgt,
    )
    assert records["errors.bad_key"]["support"] == support, records["errors.bad_key"]["notes"]
    assert records["chat.completion"]["support"] == "SUPPORTED"  # the right key still works


# --------------------------------------------------------------------------------------------------------
# A Mistral-like server: the rows a migrating team must see
# --------------------------------------------------------------------------------------------------------

MISTRAL: dict[str, Any] = {
    "error_style": "mistral",
    "stream_usage": "mistral",
    "tool_delta_style": "mistral",
    "tool_call_id_style": "mistral",
    "conversation_rules": "mistral",
}

# feature → (support, conformance); None = not asserted.
MISTRAL_ROWS: dict[str, tuple[str | None, str | None]] = {
    "stream.usage_chunk": ("UNVERIFIABLE", "NON_STRICT"),  # usage on the finishing chunk always: nothing to ask for
    "stream.tool_call_deltas": (None, "FAILED"),  # whole calls in one delta, without index
    "tools.followup_turn": ("REJECTED", None),  # OpenAI-style call_… ids are rejected
    "conversation.assistant_last": ("REJECTED", "OK"),  # a 400 in Mistral's envelope: errors.invalid_value's finding
    "conversation.user_after_tool": ("REJECTED", "OK"),
    "conversation.developer_role": ("REJECTED", "NON_STRICT"),
    "conversation.user_name": ("REJECTED", "NON_STRICT"),
    "conversation.assistant_echo": ("REJECTED", "NON_STRICT"),
    "conversation.tool_result_count": ("SUPPORTED", "OK"),  # rejected, as OpenAI does (the envelope is not its rule)
    "conversation.multi_turn": ("SUPPORTED", "OK"),
    "conversation.content_parts": ("SUPPORTED", "OK"),
    "errors.unknown_model": ("SUPPORTED", "NON_STRICT"),
    "errors.malformed_body": ("SUPPORTED", "NON_STRICT"),
    "errors.missing_messages": ("SUPPORTED", "NON_STRICT"),
    "errors.invalid_value": ("SUPPORTED", "NON_STRICT"),
    "tools.tool_choice.none": ("SUPPORTED", "OK"),
    "request.seed": ("SUPPORTED", "NON_STRICT"),  # the invalid-seed check gets a 422 in Mistral's envelope
    "chat.completion": ("SUPPORTED", "OK"),
}


@pytest.fixture(scope="module")
def mistral_records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    with FakeServer(FakeConfig(**MISTRAL)) as srv:  # its own server: the module one changes config per test
        return run(srv, srv.config, probes_of(list(MISTRAL_ROWS)), tmp_path_factory.mktemp("mistral"))


@pytest.mark.parametrize("feature", list(MISTRAL_ROWS))
def test_mistral_like_row(mistral_records: dict[str, dict[str, Any]], feature: str) -> None:
    agg = feature_verdict(mistral_records, feature)
    support, conformance = MISTRAL_ROWS[feature]
    assert agg["status"] == "OK", agg["notes"]
    if support is not None:
        assert agg["support"] == support, agg["notes"]
    if conformance is not None:
        assert agg["conformance"] == conformance, agg["notes"]


def test_mistral_followup_native_ids_hint_works(mistral_records: dict[str, dict[str, Any]]) -> None:
    """The hint (send the target's own 9-character ids back) works where call_… ids are rejected."""
    openai_ids = mistral_records["tools.followup_turn"]
    native = mistral_records["tools.followup_turn.native_ids"]
    assert openai_ids["support"] == "REJECTED"
    assert "must be a-z, A-Z, 0-9, with a length of 9" in " ".join(openai_ids["notes"])
    assert native["support"] == "SUPPORTED", native["notes"]
    agg = feature_verdict(mistral_records, "tools.followup_turn")
    assert agg["hint"] and "9 letters or digits" in agg["hint"]


def test_mistral_conversation_rejections_keep_the_message(mistral_records: dict[str, dict[str, Any]]) -> None:
    rec = mistral_records["conversation.user_after_tool"]
    assert "Unexpected role 'user' after role 'tool'" in " ".join(rec["notes"])
    rec = mistral_records["conversation.user_name"]
    assert "names messages.0.user.name" in rec["notes"][0]


def test_mistral_error_rows_explain_the_envelope(mistral_records: dict[str, dict[str, Any]]) -> None:
    for feature in ("errors.missing_messages", "errors.invalid_value"):
        notes = " ".join(feature_verdict(mistral_records, feature)["notes"])
        assert "error envelope" in notes and "HTTP 422 where OpenAI answers 400" in notes, notes
