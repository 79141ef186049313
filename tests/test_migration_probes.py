"""Issue 13's probes and the official SDK as a client, end to end over real sockets against the fake server:
an OpenAI-like configuration and a Mistral-like one built from ../shared/quirks/mistral.md (fakeserver.mistral_like).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conformance.features import registry
from conformance.model.targets import Target
from conformance.run.engine import ProbeResult, run_pairs
from tests.fakeserver import FakeConfig, FakeServer, mistral_like

PROBES = registry.probe_by_id()
NEW = ["tools.no_parameters", "tools.no_parameters.hint_empty_schema", "tools.empty_list", "tools.tool_choice.null",
       "tools.call_shape", "conversation.assistant_text_and_tool_calls", "conversation.reasoning_content_echo",
       "conversation.tool_call_id.openai_style", "conversation.tool_call_id.hint_nine_alnum",
       "conversation.assistant_last.hint_prefix", "request.temperature.top_of_range",
       "request.temperature.hint_clamped",
       "request.top_p.zero", "request.top_p.one", "json.json_schema.no_strict", "json.json_object.no_json_word",
       "request.reasoning_effort.none", "request.reasoning_effort.minimal", "request.reasoning_effort.high",
       "request.reasoning_effort.max", "errors.context_overflow", "stream.padding", "models.list",
       "sdk.openai.chat", "sdk.openai.stream", "sdk.openai.stream_tools", "sdk.openai.parse", "sdk.openai.tools"]


def _run(config: FakeConfig, ids: list[str], cassettes: Path, mode: str = "all", high_t: float = 2.0
         ) -> dict[str, ProbeResult]:
    with FakeServer(config) as srv:
        target = Target("fake", srv.base_url, "fake-model", high_temperature=high_t)
        results, _ = run_pairs([(target, PROBES[i]) for i in ids], cassettes, mode)
    return {r.probe.id: r for r in results}


def _triple(r: ProbeResult) -> tuple[str, str | None, str | None]:
    v = r.verdict
    return v.status.value, v.support.value if v.support else None, v.conformance.value if v.conformance else None


@pytest.fixture(scope="module")
def mistral(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ProbeResult]:
    return _run(mistral_like(), NEW, tmp_path_factory.mktemp("mistral"), high_t=1.5)


@pytest.fixture(scope="module")
def openai(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ProbeResult]:
    return _run(FakeConfig(reject_unknown=True), NEW, tmp_path_factory.mktemp("openai"))


# The Mistral-like fake's expected verdicts, one per documented difference (quirks/mistral.md row in the comment).
MISTRAL_EXPECTED = {
    "tools.no_parameters": ("REJECTED", "NON_STRICT"),  # A16 parameters required
    "tools.no_parameters.hint_empty_schema": ("SUPPORTED", None),  # the fix works
    "tools.empty_list": ("REJECTED", "NON_STRICT"),  # php-mistral#76
    "tools.tool_choice.null": ("REJECTED", "NON_STRICT"),  # A9
    "tools.call_shape": ("PARTIAL", None),  # C3 no type
    "conversation.assistant_text_and_tool_calls": ("REJECTED", "NON_STRICT"),  # B6
    "conversation.reasoning_content_echo": ("REJECTED", "NON_STRICT"),  # B7
    "conversation.tool_call_id.openai_style": ("REJECTED", "OK"),  # B5 (its flat envelope: errors.invalid_value's)
    "conversation.tool_call_id.hint_nine_alnum": ("SUPPORTED", None),
    "conversation.assistant_last.hint_prefix": ("UNVERIFIABLE", None),  # B1 prefix: accepted, no effect to see
    "request.temperature.top_of_range": ("REJECTED", "NON_STRICT"),  # A13 0-1.5
    "request.temperature.hint_clamped": ("SUPPORTED", None),
    "request.top_p.zero": ("REJECTED", "NON_STRICT"),  # A13 (0, 1]
    "request.top_p.one": ("SUPPORTED", None),
    "json.json_schema.no_strict": ("SUPPORTED", None),  # A11 strict defaults to false
    "request.reasoning_effort.minimal": ("REJECTED", "NON_STRICT"),  # A14 none..xhigh
    "request.reasoning_effort.max": ("REJECTED", "NON_STRICT"),
    "request.reasoning_effort.high": ("SUPPORTED", "FAILED"),  # C5 thinking chunks in content
    "errors.context_overflow": ("SUPPORTED", "NON_STRICT"),  # D: 400 code 3051, flat envelope
    "stream.padding": ("PARTIAL", None),  # C11 `p`
    "models.list": ("SUPPORTED", "OK"),
    "sdk.openai.chat": ("SUPPORTED", "OK"),
    "sdk.openai.stream": ("SUPPORTED", "OK"),
    "sdk.openai.stream_tools": ("UNVERIFIABLE", "FAILED"),  # C2: the stream helper raises on deltas without index
    "sdk.openai.parse": ("SUPPORTED", "OK"),
    "sdk.openai.tools": ("SUPPORTED", "OK"),  # its own 9-character ids go back unchanged
}


@pytest.mark.parametrize("probe", sorted(MISTRAL_EXPECTED))
def test_mistral_like_verdicts(mistral: dict[str, ProbeResult], probe: str) -> None:
    status, support, conformance = _triple(mistral[probe])
    want_support, want_conformance = MISTRAL_EXPECTED[probe]
    assert (status, support) == ("OK", want_support), mistral[probe].verdict.notes
    if want_conformance:
        assert conformance == want_conformance, mistral[probe].verdict.notes


@pytest.mark.parametrize("probe", [p for p in NEW if not p.startswith(("request.reasoning_effort",
                                                                        "conversation.reasoning_content"))])
def test_openai_like_accepts_what_openai_accepts(openai: dict[str, ProbeResult], probe: str) -> None:
    """The same probes on an OpenAI-like fake: nothing is rejected, nothing fails (the differential's other side)."""
    status, support, conformance = _triple(openai[probe])
    assert status == "OK" and support != "REJECTED" and conformance != "FAILED", openai[probe].verdict.notes


def test_acceptance_alone_is_unverifiable(openai: dict[str, ProbeResult]) -> None:
    """A model that does not show reasoning cannot make reasoning_effort SUPPORTED, whatever it accepts."""
    assert _triple(openai["request.reasoning_effort.high"])[1] == "UNVERIFIABLE"
    assert _triple(openai["conversation.reasoning_content_echo"])[1] == "UNVERIFIABLE"  # the fake ignores history
    assert _triple(openai["tools.empty_list"])[1] == "UNVERIFIABLE"  # the fake answers the same to any prompt


def test_thinking_chunks_fail_with_the_chunks_in_evidence(mistral: dict[str, ProbeResult]) -> None:
    verdict = mistral["request.reasoning_effort.high"].verdict
    content = [f for f in verdict.findings if f.pointer == "/choices/0/message/content"]
    assert content and content[0].level == "compat"
    assert isinstance(content[0].actual, list) and content[0].actual[0]["type"] == "thinking"


def test_finish_reason_outside_the_enum_fails_naming_it(tmp_path: Path) -> None:
    # a context of 15 words: the answer fills it and Mistral stops with model_length
    result = _run(mistral_like(context_window=15), ["chat.completion"], tmp_path)["chat.completion"]
    assert _triple(result)[2] == "FAILED"
    finish = [f for f in result.verdict.findings if f.pointer.endswith("/finish_reason")]
    assert finish and finish[0].actual == "model_length" and "model_length" in finish[0].message


def test_sdk_stream_helper_typeerror_is_in_the_evidence(mistral: dict[str, ProbeResult]) -> None:
    result = mistral["sdk.openai.stream_tools"]
    assert "TypeError" in result.verdict.notes[0] and "NoneType" in result.verdict.notes[0]
    assert result.observations[0].client and result.observations[0].client["raised"]["type"] == "TypeError"
    assert result.verdict.measurements["sdk"].startswith("openai ")


def test_sdk_rejection_names_the_exception(tmp_path: Path) -> None:
    """A target that answers with OpenAI's message fields (refusal, annotations) but forbids them in history
    (quirks B7): the SDK code that appends the message it received gets a 422 on the second turn."""
    config = mistral_like(response_style="openai")
    result = _run(config, ["sdk.openai.tools"], tmp_path)["sdk.openai.tools"]
    assert _triple(result)[1] == "REJECTED"
    assert any("raises openai.UnprocessableEntityError" in n for n in result.verdict.notes), result.verdict.notes


def test_sdk_probes_replay_offline(tmp_path: Path) -> None:
    ids = [i for i in NEW if i.startswith("sdk.")]
    live = _run(mistral_like(), ids, tmp_path)
    with FakeServer(FakeConfig()) as srv:  # a different server: replay must never reach it
        target = Target("fake", srv.base_url, "fake-model")
        replayed = {r.probe.id: r for r in run_pairs([(target, PROBES[i]) for i in ids], tmp_path, "none")[0]}
        assert srv.requests == []
    for probe in ids:
        assert _triple(replayed[probe]) == _triple(live[probe]), probe
        assert all(o.replayed for o in replayed[probe].observations)


def test_sdk_probes_skip_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # import openai → ImportError
    result = _run(FakeConfig(), ["sdk.openai.chat"], tmp_path)["sdk.openai.chat"]
    assert result.verdict.status.value == "SKIPPED"
    assert "openai-conformance[sdk]" in result.verdict.notes[0]


def test_models_list_judged_against_its_schema(tmp_path: Path) -> None:
    bad = _run(FakeConfig(model_created="2024-01-01"), ["models.list"], tmp_path / "a")["models.list"]
    assert _triple(bad)[2] == "FAILED"
    assert any(f.pointer == "/data/0/created" for f in bad.verdict.findings)
    missing = _run(FakeConfig(models=("fake-model", "other")), ["models.list"], tmp_path / "b")["models.list"]
    assert _triple(missing)[1] == "SUPPORTED"
    with FakeServer(FakeConfig(models=("other",))) as srv:
        target = Target("fake", srv.base_url, "fake-model")
        result = run_pairs([(target, PROBES["models.list"])], tmp_path / "c", "all")[0][0]
    assert result.verdict.support.value == "PARTIAL" and "'fake-model' is not listed" in result.verdict.notes[0]


@pytest.mark.parametrize(("config", "shape"), [(FakeConfig(fault="rate_limit"), "openai"),
                                               (mistral_like(fault="rate_limit"), "flat")])
def test_a_429_body_shape_is_reported_when_met(tmp_path: Path, config: FakeConfig, shape: str) -> None:
    with FakeServer(config) as srv:
        target = Target("fake", srv.base_url, "fake-model", retries=0)
        result = run_pairs([(target, PROBES["chat.completion"])], tmp_path, "all")[0][0]
    assert result.verdict.status.value == "ERROR" and result.verdict.support is None  # never a verdict
    assert result.verdict.measurements["rate_limit_body"] == shape
    assert any(n.startswith("429 body") for n in result.verdict.notes)
    if shape == "flat":
        assert "not OpenAI-shaped" in result.verdict.notes[1] and "'1300'" in result.verdict.notes[1]
