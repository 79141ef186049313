"""Faults are never blamed on a parameter: a broken server gives ERROR or TIMEOUT (or OK once retries
succeed), with the evidence in the notes, and never REJECTED or IGNORED.

The engine is driven directly against the fake server's fault switches; subprocess runs of the pytest plugin
check that every report file is still written when every probe errors, and that a server where every request
meets one fault in turn (the fault server of bench/fault_run.py, with a short hang) is not taken one request at
a time: its faults are seen with nothing else in flight, so they are not our load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.features import registry
from conformance.model.targets import Target, Timeouts
from conformance.model.verdicts import Status
from conformance.report.results_io import validate_results
from conformance.run.engine import ProbeResult, run_pairs
from conformance.wire.recording import CassetteBook
from tests.fakeserver import FakeConfig, FakeServer

ROOT = Path(__file__).resolve().parents[1]
PROBES = registry.probe_by_id()
PROBE_IDS = ("chat.completion", "request.stream.basic", "request.max_tokens.effect")
FAST = Timeouts(connect=2, read=1, total=3)

# fault → (statuses allowed, a text every probe's notes must contain)
FAULTS: dict[str, tuple[set[Status], tuple[str, ...]]] = {
    "html502": ({Status.ERROR}, ("HTTP 502", "Bad Gateway")),
    "invalid_json": ({Status.ERROR}, ("not JSON",)),
    "truncated_sse": ({Status.ERROR}, ("not JSON", "stream cut")),  # a cut JSON body, or a cut stream
    "reset": ({Status.ERROR}, ("transport failure", "Error")),
    "huge": ({Status.ERROR}, ("the suite judges",)),
    "hang": ({Status.TIMEOUT}, ("timed out", "timeout")),
    "midstream_500": ({Status.ERROR}, ("HTTP 500", "error event")),
}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


def run(srv: FakeServer, config: FakeConfig, cassettes: Path, **target: Any) -> list[ProbeResult]:
    srv.config = config
    tgt = Target(
        name="fake", base_url=srv.base_url, model="fake-model", high_temperature=2.0, samples=3, **target
    )
    results, _ = run_pairs([(tgt, PROBES[p]) for p in PROBE_IDS], cassettes, "all")
    return results


def assert_not_blamed(results: list[ProbeResult], allowed: set[Status], evidence: tuple[str, ...]) -> None:
    for r in results:
        v = r.verdict
        assert v.status in allowed, (r.probe.id, v)
        assert v.support is None, (r.probe.id, v)  # never REJECTED / IGNORED / anything
        assert v.conformance is None, (r.probe.id, v)
        assert v.notes, r.probe.id
        text = " ".join(v.notes)
        assert any(e in text for e in evidence), (r.probe.id, evidence, v.notes)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_is_never_blamed_on_a_parameter(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    target: dict[str, Any] = {"timeouts": FAST} if fault == "hang" else {}
    if fault == "huge":
        # Writing a 10 MB body into a YAML cassette takes ~20 s and blocks the event loop (a recording.py
        # issue, reported); the verdict is what this test is about, so nothing is recorded here.
        monkeypatch.setattr(CassetteBook, "record", lambda *args, **kwargs: None)
    allowed, evidence = FAULTS[fault]
    results = run(server, FakeConfig(fault=fault), tmp_path, **target)
    assert [r.probe.id for r in results] == list(PROBE_IDS)
    assert_not_blamed(results, allowed, evidence)


def test_rate_limit_is_retried_then_ok(server: FakeServer, tmp_path: Path) -> None:
    results = run(server, FakeConfig(fault="rate_limit", rate_limit_count=2), tmp_path)
    for r in results:
        assert r.verdict.status is Status.OK, (r.probe.id, r.verdict)
        assert r.verdict.support is not None
    retried = sum(o.retries for r in results for o in r.observations)
    assert retried == 2  # the two 429s were retried, and nothing else was
    statuses = [req for req in server.requests if req["path"].endswith("/chat/completions")]
    assert len(statuses) == len([o for r in results for o in r.observations]) + 2


def test_rate_limit_storm_is_an_error_not_a_rejection(server: FakeServer, tmp_path: Path) -> None:
    results = run(server, FakeConfig(fault="rate_limit", rate_limit_count=1000), tmp_path, retries=1)
    assert_not_blamed(results, {Status.ERROR}, ("HTTP 429 after 1 retries",))
    assert all("Rate limit reached" in " ".join(r.verdict.notes) for r in results)


def test_no_rate_limit_answer_is_recorded(server: FakeServer, tmp_path: Path) -> None:
    results = run(server, FakeConfig(fault="rate_limit", rate_limit_count=1000), tmp_path, retries=0)
    assert_not_blamed(results, {Status.ERROR}, ("HTTP 429",))
    cassettes = list(tmp_path.rglob("*.yaml"))
    assert all("429" not in c.read_text() for c in cassettes), cassettes


# --------------------------------------------------------------------------------------------------------
# The plugin still writes every report when every probe errors
# --------------------------------------------------------------------------------------------------------

REPORT_FILES = ("results.json", "compat.html", "report.html", "summary.md", "junit.xml")


def test_plugin_writes_every_report_against_a_502_server(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with FakeServer(FakeConfig(fault="html502")) as srv:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "conformance",
                "--base-url",
                srv.base_url,
                "--model",
                "fake-model",
                "--record-mode=all",
                "--cassette-dir",
                str(tmp_path / "cassettes"),
                "--report-dir",
                str(reports),
                "-p",
                "no:cacheprovider",
                "-q",
                "--probe",
                "chat.completion",
                "--probe",
                "request.stream",
            ],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    output = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 1, output  # tests failed (ERROR probes), not a usage or internal error
    for name in REPORT_FILES:
        assert (reports / name).is_file() and (reports / name).stat().st_size > 0, (name, output)
    results = json.loads((reports / "results.json").read_text())
    assert validate_results(results) == []
    cells = [c for per_target in results["features"].values() for c in per_target.values()]
    assert cells and all(c["status"] == "ERROR" and c["support"] is None for c in cells), cells
    assert "HTTP 502" in json.dumps(results["features"])


def run_plugin(srv: FakeServer, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance", "--base-url", srv.base_url, "--model", "fake-model",
         "--record-mode=all", "--cassette-dir", str(tmp_path / "cassettes"), "--report-dir", str(reports),
         "-p", "no:cacheprovider", "-q", *extra],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return proc, reports


@pytest.mark.slow  # a whole live run against the fault server (every request one fault): about 25 s
def test_every_request_one_fault_every_cell_errors_and_the_concurrency_comes_back(tmp_path: Path) -> None:
    with FakeServer(FakeConfig(fault="cycle", hang_seconds=2)) as srv:
        proc, reports = run_plugin(srv, tmp_path, "--probe", "request", "--probe", "chat", "--probe", "models")
    output = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 1, output
    for name in REPORT_FILES:
        assert (reports / name).is_file(), (name, output)
    results = json.loads((reports / "results.json").read_text())
    assert validate_results(results) == []
    cells = {f: c["custom"] for f, c in results["features"].items()}
    assert all(c["status"] in ("ERROR", "TIMEOUT") and c["support"] is None for c in cells.values()), {
        f: (c["status"], c["support"], c["notes"][:1]) for f, c in cells.items() if c["status"] not in ("ERROR",
                                                                                                        "TIMEOUT")}
    concurrency = results["targets"]["custom"]["concurrency"]
    assert "(not our load): back to 4" in concurrency["reason"], concurrency
    alone = [r for per in cells.values() for ev in per["evidence"] for ex in ev["exchanges"]
             for r in ex["retry_reasons"] if "retried alone" in r]
    assert len(alone) <= 4, alone  # a few, until the faults were seen with nothing else in flight
    assert "misconfigured" not in proc.stdout  # a broken server is not a broken setup
