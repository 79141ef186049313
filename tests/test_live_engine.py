"""The live engine: concurrency gives the same verdicts, the budget stops cleanly, Ctrl-C keeps what ended."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conformance.features import registry
from conformance.model.targets import Target
from conformance.run.engine import plan, run_pairs
from conformance.wire.http import Budget
from tests.fakeserver import FakeConfig, FakeServer

ROOT = Path(__file__).resolve().parents[1]
SOME = [p for p in registry.PROBES if p.feature.split(".")[0] in ("request", "stream", "chat")][:40]


def verdicts(results) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    return {r.probe.id: (r.verdict.status, r.verdict.support, r.verdict.conformance) for r in results}


def test_concurrency_does_not_change_verdicts(tmp_path: Path) -> None:
    with FakeServer(FakeConfig(latency=0.01)) as srv:
        target = Target("fake", srv.base_url, "fake-model", high_temperature=2.0)
        pairs = [(target, p) for p in SOME]
        one, _ = run_pairs(pairs, tmp_path / "c1", "all", concurrency=1)
        many, _ = run_pairs(pairs, tmp_path / "c8", "all", concurrency=8)
        replayed, _ = run_pairs(pairs, tmp_path / "c8", "none", concurrency=8)
    assert verdicts(one) == verdicts(many) == verdicts(replayed)


def test_plan_counts_shared_controls_once() -> None:
    target = Target("t", "http://127.0.0.1:9/v1", "m", samples=3)
    by_id = registry.probe_by_id()
    two = [(target, by_id["request.max_tokens.effect"]), (target, by_id["request.stop.string"])]
    assert plan(two)["requests"] == 1 + 1 + 1  # the plain_t0 control once, then each probe once


def test_request_budget_skips_the_rest_and_says_so(tmp_path: Path) -> None:
    with FakeServer(FakeConfig()) as srv:
        target = Target("fake", srv.base_url, "fake-model", concurrency=1)
        pairs = [(target, p) for p in SOME[:10]]
        results, _ = run_pairs(pairs, tmp_path, "all", budget=Budget(max_requests=3, max_tokens=None))
        assert len(srv.requests) == 3
    skipped = [r for r in results if r.verdict.status.value == "SKIPPED"]
    assert skipped and all("--max-requests 3" in r.verdict.notes[0] for r in skipped)


def test_ctrl_c_writes_partial_results_marked_incomplete(tmp_path: Path) -> None:
    with FakeServer(FakeConfig(latency=0.3)) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", "--base-url",
             srv.base_url, "--model", "fake-model", "--record-mode=all", "--concurrency", "1",
             "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 60
        while len(srv.requests) < 6 and time.time() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["run"]["complete"] is False, out[-2000:]
    assert "interrupted" in data["run"]["interrupted_reason"]
    assert 0 < data["run"]["counts"]["probes"] < len(registry.PROBES)
    for name in ("compat.html", "summary.md"):
        assert (tmp_path / "r" / name).is_file()
