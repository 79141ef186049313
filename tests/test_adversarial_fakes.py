"""Adversarial fakes over real sockets: servers built to fool a suite that reads acceptance as support.

(a) honours nothing yet answers plausibly: nothing may come out SUPPORTED or PARTIAL except what it really does.
(b) halts at the stop text but keeps it: PARTIAL for stop, conformance NON_STRICT.
(c) answers chosen invalid values with a reproducible 500 naming the field: REJECTED, conformance FAILED.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.features import registry
from conformance.model.targets import Target
from conformance.model.verdicts import Conformance, Support
from conformance.report.summary_md import render_summary_md
from conformance.run.engine import run_pairs
from conformance.run.results import build_results, now, record_of
from tests.fakeserver import FakeConfig, FakeServer

PROBES = registry.probe_by_id()

# What the oblivious server really does, so the only features it may earn SUPPORTED / PARTIAL with:
REALLY_DOES = {
    "chat.completion": ("SUPPORTED", "it answers with a chat.completion"),
    "request.model": ("SUPPORTED", "it echoes the requested model"),
    "request.stream": ("SUPPORTED", "it streams when asked (and sends JSON otherwise)"),
    "stream.done_sentinel": ("SUPPORTED", "its streams end with one [DONE]"),
    "stream.reassembly": ("SUPPORTED", "its streamed answer reassembles into the unstreamed one"),
    "errors.malformed_body": ("SUPPORTED", "a body that is not JSON gets a 400"),
    "request.tools": ("SUPPORTED", "it calls a tool when tools are sent, and never without"),
    "tools.tool_choice.auto": ("SUPPORTED", "the same: with tools (auto) a call, without tools none"),
    "stream.tool_call_deltas": ("SUPPORTED", "its streamed tool call reassembles into the unstreamed one"),
    "request.functions": ("PARTIAL", "it calls an offered legacy function, answering with tool_calls"),
    "tools.call_shape": ("SUPPORTED", "its tool calls have id, type, name and string arguments; none without tools"),
    "tools.no_parameters": ("SUPPORTED", "it calls the offered tool (parameters or not), and never without tools"),
    "stream.padding": ("SUPPORTED", "its chunks carry only the fields OpenAI sends"),
    "models.list": ("SUPPORTED", "GET /models lists its model"),
    "sdk.openai.chat": ("SUPPORTED", "the openai SDK parses its answers"),
    "sdk.openai.stream": ("SUPPORTED", "the SDK's stream helper assembles its streams"),
    "sdk.openai.stream_tools": ("SUPPORTED", "the SDK's stream helper assembles its streamed tool call"),
}


def target(srv: FakeServer) -> Target:
    return Target(name="adversary", base_url=srv.base_url, model="fake-model", high_temperature=2.0, samples=3)


def features_of(config: FakeConfig, tmp_path: Path, probe_ids: list[str] | None = None) -> dict[str, Any]:
    """The feature verdicts of every registry probe (or the given ones) against a fake under `config`."""
    probes = [PROBES[i] for i in probe_ids] if probe_ids else list(registry.PROBES)
    with FakeServer(config) as srv:
        tgt = target(srv)
        results, _ = run_pairs([(tgt, p) for p in probes], tmp_path / "cassettes", "all")
    doc = build_results([record_of(r) for r in results], [tgt], record_mode="all", probes=PROBES,
                        started=now(), finished=now())
    return {f: per["adversary"] for f, per in doc["features"].items()}


@pytest.fixture(scope="module")
def oblivious(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return features_of(FakeConfig(oblivious=True), tmp_path_factory.mktemp("oblivious"))


def verdict_table(features: dict[str, Any]) -> str:
    return "\n".join(f"{f:42} {c['status']:7} {c['support'] or '-':13} {c['conformance'] or '-'}"
                     for f, c in sorted(features.items()))


def test_oblivious_server_earns_nothing_it_does_not_do(oblivious: dict[str, Any]) -> None:
    over_claims = {f: (c["support"], c["notes"][:2]) for f, c in oblivious.items()
                   if c["support"] in ("SUPPORTED", "PARTIAL") and f not in REALLY_DOES}
    assert over_claims == {}, verdict_table(oblivious)


def test_oblivious_server_still_shows_what_it_really_does(oblivious: dict[str, Any]) -> None:
    """The list above is not a blanket excuse: each of those effects is really seen."""
    assert {f: oblivious[f]["support"] for f in REALLY_DOES} == {f: s for f, (s, _) in REALLY_DOES.items()}


def test_oblivious_server_every_probe_ran(oblivious: dict[str, Any]) -> None:
    assert {f: c["status"] for f, c in oblivious.items() if c["status"] != "OK"} == {}


@pytest.mark.parametrize("feature", ["tools.tool_choice.none", "tools.tool_choice.required", "request.tool_choice",
                                     "tools.tool_choice.named", "request.function_call", "tools.strict",
                                     "request.parallel_tool_calls", "tools.parallel_calls", "tools.followup_turn"])
def test_oblivious_tool_calls_are_never_support(oblivious: dict[str, Any], feature: str) -> None:
    """A server that calls the first tool whatever it is sent: tool_choice is IGNORED or UNVERIFIABLE."""
    assert oblivious[feature]["support"] in ("IGNORED", "UNVERIFIABLE"), oblivious[feature]["notes"]


def test_oblivious_constant_usage_is_called_synthetic(oblivious: dict[str, Any]) -> None:
    for feature in ("request.tools", "conversation.system_message"):
        notes = " ".join(oblivious[feature]["notes"])
        assert "usage is synthetic" in notes, (feature, notes)
    assert oblivious["conversation.system_message"]["support"] == "UNVERIFIABLE"


def test_synthetic_usage_is_reported_once_per_target(tmp_path: Path) -> None:
    probes = [PROBES["request.tools.prompt_tokens"], PROBES["conversation.system_message.prompt_tokens"]]
    with FakeServer(FakeConfig(oblivious=True)) as srv:
        tgt = target(srv)
        results, _ = run_pairs([(tgt, p) for p in probes], tmp_path / "c", "all")
    doc = build_results([record_of(r) for r in results], [tgt], record_mode="all", probes=PROBES,
                        started=now(), finished=now())
    assert doc["targets"]["adversary"]["usage_synthetic"] is True
    assert "synthetic" in render_summary_md(doc).split("## Top findings")[0]


def test_kept_stop_text_is_partial_and_non_strict(tmp_path: Path) -> None:
    got = features_of(FakeConfig(keep_stop=True), tmp_path, ["request.stop.string", "request.stop.list"])
    stop = got["request.stop"]
    assert (stop["support"], stop["conformance"]) == ("PARTIAL", "NON_STRICT"), stop["notes"]
    assert any("keeps" in n and "OpenAI strips it" in n for n in stop["notes"]), stop["notes"]


def test_stop_honoured_is_supported(tmp_path: Path) -> None:
    """The same probes against the honest fake: the difference is the kept text, nothing else."""
    stop = features_of(FakeConfig(), tmp_path, ["request.stop.string", "request.stop.list"])["request.stop"]
    assert (stop["support"], stop["conformance"]) == ("SUPPORTED", "OK"), stop["notes"]


def test_reproducible_500_naming_the_field_is_a_rejection(tmp_path: Path) -> None:
    config = FakeConfig(crash_on={"role": "developer", "top_p": 2})
    got = features_of(config, tmp_path, ["conversation.developer_role", "request.top_p.invalid", "chat.completion"])
    for feature in ("conversation.developer_role", "request.top_p"):
        cell = got[feature]
        assert (cell["status"], cell["support"], cell["conformance"]) == ("OK", "REJECTED", "FAILED"), cell["notes"]
        assert any("clients retry it" in n for n in cell["notes"]), cell["notes"]
    assert got["chat.completion"]["support"] == "SUPPORTED"  # the control is fine: the field is to blame


def test_a_500_that_does_not_reproduce_is_judged_on_the_answer(tmp_path: Path) -> None:
    """The re-sent request is answered: the 500 is the server failing on one try, not the developer role: judged on
    the answer (SUPPORTED), with a server-defect finding (issue 21)."""
    with FakeServer(FakeConfig(crash_on={"role": "developer"})) as srv:
        original = srv._record

        def record(entry: dict[str, Any]) -> None:
            original(entry)
            if "developer" in str(entry.get("body")):
                srv.config = FakeConfig()  # this request was read under the crashing config; the next ones heal

        srv._record = record  # type: ignore[method-assign]
        results, _ = run_pairs([(target(srv), PROBES["conversation.developer_role"])], tmp_path / "c", "all")
    verdict = results[0].verdict
    assert (verdict.status.value, verdict.support, verdict.conformance) == ("OK", Support.SUPPORTED,
                                                                            Conformance.FAILED), verdict
    assert [f.rule for f in verdict.findings] == ["server.defect"], verdict.findings


def test_the_summary_names_a_reproducible_500_as_the_reason_a_cell_failed(tmp_path: Path) -> None:
    """A reproducible 5xx has no schema finding: the summary's FAILED line gives that probe's reason, not the
    feature's first note (llama-server's request.tools showed 'called get_weather' there)."""
    probes = [PROBES[i] for i in ("request.top_p.tiny", "request.top_p.invalid")]
    with FakeServer(FakeConfig(crash_on={"top_p": 2})) as srv:
        tgt = target(srv)
        results, _ = run_pairs([(tgt, p) for p in probes], tmp_path / "cassettes", "all")
    doc = build_results([record_of(r) for r in results], [tgt], record_mode="all", probes=PROBES,
                        started=now(), finished=now())
    failed = render_summary_md(doc).split("**Conformance FAILED**")[1].split("**")[0]
    line = next(x for x in failed.splitlines() if "request.top_p" in x)
    assert "HTTP 500 twice" in line, failed


@pytest.mark.parametrize(("config", "support", "why"), [
    (FakeConfig(), "SUPPORTED", "does not match '^[A-Z]{3}$'"),  # the pattern is met only with strict
    (FakeConfig(json_schema="always"), "UNVERIFIABLE", "the model conforms without strict"),
    (FakeConfig(ignore={"response_format"}), "IGNORED", "strict content break the schema"),
], ids=["honours-strict", "always-valid", "ignores-schema"])
def test_strict_json_schema_is_judged_against_the_same_request_without_strict(
        tmp_path: Path, config: FakeConfig, support: str, why: str) -> None:
    """strict is SUPPORTED only when the same prompt and schema without strict break the schema."""
    cell = features_of(config, tmp_path, ["json.json_schema"])["json.json_schema"]
    assert (cell["status"], cell["support"]) == ("OK", support), cell["notes"]
    assert any(why in n for n in cell["notes"]), cell["notes"]
    sent = [ex["request"]["body"]["response_format"]["json_schema"] for ex in cell["evidence"][0]["exchanges"]]
    assert [s.get("strict") for s in sent] == [True, None] and sent[0]["schema"] == sent[1]["schema"], sent


def test_strict_json_schema_rejected_is_rejected(tmp_path: Path) -> None:
    cell = features_of(FakeConfig(reject={"response_format"}), tmp_path, ["json.json_schema"])["json.json_schema"]
    assert (cell["status"], cell["support"]) == ("OK", "REJECTED"), cell["notes"]
