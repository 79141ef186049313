"""Our errors are ours (issue 22, item 5): an exception of the suite's own code is an INTERNAL error with its
traceback (secrets scrubbed) in the evidence, fails the run and is never read as the target's behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.features.registry import PROBES
from conformance.judge.detection import DERIVERS
from conformance.model.roles import Role
from conformance.model.targets import Target
from conformance.model.verdicts import Status
from conformance.run import sdk
from conformance.run.engine import run_pairs
from conformance.run.results import failed, record_of
from conformance.wire.http import NotAnswered
from tests.fakeserver import FakeConfig, FakeServer
from tests.plugin_helpers import run

KEY = "sk-test-internal-0123456789"
BY_ID = {p.id: p for p in PROBES}
DERIVED = "request.stop.string"  # a probe whose request is built by a deriver from the control's answer


def _broken_deriver(*_: Any) -> dict[str, Any]:
    raise RuntimeError(f"a bug in the deriver, near the key {KEY}")


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("H7_KEY", KEY)
    with FakeServer(FakeConfig(api_key=KEY)) as server:
        yield server


def _target(server: FakeServer) -> Target:
    return Target("fake", server.base_url, "fake-model", api_key_env="H7_KEY")


def test_a_broken_deriver_is_internal_with_its_traceback_and_no_secret(keyed: FakeServer, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DERIVERS, BY_ID[DERIVED].derive, _broken_deriver)
    results, _ = run_pairs([(_target(keyed), BY_ID[DERIVED])], tmp_path, "all")
    verdict = results[0].verdict
    assert verdict.status is Status.INTERNAL and verdict.support is None
    assert verdict.notes[0].startswith("internal error in the suite: RuntimeError: a bug in the deriver")
    trace = verdict.measurements["traceback"]
    assert "_broken_deriver" in trace and "Traceback (most recent call last)" in trace
    assert KEY not in json.dumps(record_of(results[0]))  # the key the bug's message held is scrubbed
    assert failed(record_of(results[0]))


def test_a_suite_bug_fails_the_run_in_every_report(pytester: pytest.Pytester, keyed: FakeServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DERIVERS, BY_ID[DERIVED].derive, _broken_deriver)
    reports = tmp_path / "r"
    result = run(pytester, "--base-url", keyed.base_url, "--model", "fake-model", "--api-key-env", "H7_KEY",
                 "--record-mode=all", "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(reports),
                 "--probe", DERIVED, "--probe", "chat.completion")
    out = result.stdout.str()
    assert result.ret == 1
    assert "PROBLEM: internal error in the suite: RuntimeError: a bug in the deriver" in out
    assert KEY not in out
    data = json.loads((reports / "results.json").read_text())
    cell = data["features"]["request.stop"]["custom"]
    assert cell["status"] == "INTERNAL" and "_broken_deriver" in cell["evidence"][0]["measurements"]["traceback"]
    assert data["features"]["chat.completion"]["custom"]["status"] == "OK"  # the other probes go on
    junit = (reports / "junit.xml").read_text()
    assert "INTERNAL" in junit and "<failure" in junit
    assert "INTERNAL" in (reports / "summary.md").read_text()
    for name in ("results.json", "summary.md", "junit.xml", "report.html", "compat.html"):
        assert KEY not in (reports / name).read_text(), name


async def _buggy_scenario(client: Any, transport: Any, model: str) -> dict[str, Any]:
    answer = await client.chat.completions.create(model=model, temperature=0,
                                                  messages=[{"role": "user", "content": "Hi"}])
    return {"content": answer.choices[0].message.no_such_field}  # our bug, after the SDK answered fine


def test_a_bug_in_our_sdk_scenario_is_internal_not_the_targets_behaviour(keyed: FakeServer, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openai")
    call, _ = sdk.SCENARIOS["chat"]
    monkeypatch.setitem(sdk.SCENARIOS, "chat", (call, _buggy_scenario))
    results, _ = run_pairs([(_target(keyed), BY_ID["sdk.openai.chat"])], tmp_path, "all")
    verdict = results[0].verdict
    assert verdict.status is Status.INTERNAL, verdict
    assert "AttributeError" in verdict.notes[0] and "_buggy_scenario" in verdict.measurements["traceback"]


def test_what_the_sdk_raises_for_the_targets_answer_stays_the_targets(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A body the SDK cannot read raises inside the SDK: a fact about the target, never INTERNAL."""
    pytest.importorskip("openai")
    with FakeServer(FakeConfig(fault="invalid_json")) as server:
        target = Target("fake", server.base_url, "fake-model")
        results, _ = run_pairs([(target, BY_ID["sdk.openai.chat"])], tmp_path, "all")
    assert results[0].verdict.status is not Status.INTERNAL, results[0].verdict
    raised = next(o.client for o in results[0].observations if o.client)["raised"]
    assert raised["type"].startswith("openai.") or raised["type"].startswith("json"), raised


def test_suite_bug_tells_our_frames_from_the_librarys() -> None:
    pytest.importorskip("openai")
    try:
        Role.parse("no role")  # raised in the package's own code
    except ValueError as exc:
        assert sdk.suite_bug(exc)
    try:
        json.loads("{")  # raised outside the package, as the SDK's parsing of an answer would
    except ValueError as exc:
        assert not sdk.suite_bug(exc)
    try:
        raise NotAnswered("no recording of this request")  # our transport's signal: an answer that never came
    except NotAnswered as exc:
        assert not sdk.suite_bug(exc)


def test_a_suite_bug_is_never_an_expectation_nor_a_known_deviation() -> None:
    from conformance.report.drift import compare_to_expectations, expectations_from_results, known_deviations

    internal = {"status": "INTERNAL", "support": None, "conformance": None, "notes": ["internal error in the suite"],
                "evidence": []}
    results = {"targets": {"t": {"base_url": "http://x"}}, "features": {"chat.completion": {"t": internal}}}
    assert expectations_from_results(results)["targets"]["t"]["features"] == {}
    expected = {"kind": "conformance-expectations", "version": 1, "targets": {"t": {"features": {
        "chat.completion": {"status": "INTERNAL", "support": None, "conformance": None}}}}}
    assert known_deviations(results, expected, compare_to_expectations(results, expected)) == []
