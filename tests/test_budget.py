"""Cost is bounded by the numbers the user sees: the estimate is an upper bound on what a live run sends and spends
(re-sends and the target's context window counted), and --max-requests / --max-tokens / a target's max_requests /
max_tokens are ceilings: a request that could cross one is not sent, and its probe ends SKIPPED naming it.

Over real sockets against the fake server; the server's own request log is the count of what was sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.features.registry import PROBES, probe_by_id
from conformance.model.probes import Probe
from conformance.model.targets import Target
from conformance.preflight import probes_matching
from conformance.run.engine import ProbeResult, plan, run_pairs
from conformance.wire.budget import Budget, request_tokens
from tests.fakeserver import FakeConfig, FakeServer

ROOT = Path(__file__).resolve().parents[1]
BIG_CONTEXT = 128_000  # a 128k-context model: the context-overflow probe alone sends about 256k words


def fake_target(srv: FakeServer, **fields: object) -> Target:
    return Target("fake", srv.base_url, "fake-model", high_temperature=2.0, **fields)  # type: ignore[arg-type]


def run_live(target: Target, probes: list[Probe], cassettes: Path, budget: Budget) -> list[ProbeResult]:
    results, _ = run_pairs([(target, p) for p in probes], cassettes, "all", budget=budget)
    return results


def skipped_for(results: list[ProbeResult], limit: str) -> list[ProbeResult]:
    return [r for r in results if r.verdict.status.value == "SKIPPED" and limit in r.verdict.notes[0]]


CASES = [  # (fake server switches, probe prefixes, target fields)
    ({}, ["stream", "request.n", "chat"], {}),
    ({"context_window": BIG_CONTEXT}, ["errors", "models"], {"context_window": BIG_CONTEXT}),
    # every invalid value accepted, our answer cap refused: each capped probe is re-sent without it
    ({"oblivious": True, "reject": {"max_tokens"}}, ["request.logit_bias", "request.stop", "errors"], {}),
    # a reproducible 500 on temperature: re-sent once, beside the witness control
    ({"server_error": {"temperature"}}, ["request.temperature", "request.top_p", "request.seed"], {}),
    ({"tool_delta_style": "mistral", "tool_call_id_style": "mistral"}, ["tools", "sdk", "conversation"], {}),
]


@pytest.mark.parametrize(("switches", "prefixes", "fields"), CASES, ids=[",".join(c[1]) for c in CASES])
def test_the_estimate_bounds_what_a_live_run_sends_and_spends(tmp_path: Path, switches: dict, prefixes: list[str],
                                                               fields: dict) -> None:
    probes = probes_matching(prefixes, PROBES)
    budget = Budget()
    with FakeServer(FakeConfig(**switches)) as srv:
        target = fake_target(srv, **fields)
        results = run_live(target, probes, tmp_path, budget)
        sent = len(srv.requests)
    bound = plan([(target, p) for p in probes])
    assert budget.requests == sent  # the budget counts what the server received
    assert bound.planned <= sent <= bound.requests, (bound, sent)
    assert budget.tokens <= bound.tokens, (bound, budget.spent())
    assert not skipped_for(results, "budget")


def test_the_context_window_is_in_the_estimate() -> None:
    overflow = probe_by_id()["errors.context_overflow"]
    small, big = (Target("t", "http://127.0.0.1:9/v1", "m", context_window=n) for n in (4096, BIG_CONTEXT))
    assert plan([(big, overflow)]).tokens > 2 * BIG_CONTEXT > plan([(small, overflow)]).tokens


def test_max_requests_is_a_ceiling_the_server_sees(tmp_path: Path) -> None:
    probes = probes_matching(["request"], PROBES)[:30]
    budget = Budget(max_requests=7)
    with FakeServer(FakeConfig()) as srv:
        results = run_live(fake_target(srv, concurrency=4), probes, tmp_path, budget)
        sent = len(srv.requests)
    assert sent == budget.requests == 7
    skipped = skipped_for(results, "--max-requests 7")
    assert skipped and all(r.verdict.notes[0].startswith("budget: --max-requests 7 reached; not sent")
                       for r in skipped)
    assert all(r.verdict.status.value in ("OK", "SKIPPED") for r in results)


def test_max_tokens_is_a_ceiling_and_the_overflow_request_is_never_sent(tmp_path: Path) -> None:
    """On a 128k-context target the context-overflow request alone could cost ~250k tokens: under --max-tokens
    5000 it is not sent (before: it went out, then the cap was checked)."""
    probes = [probe_by_id()["errors.context_overflow"], *probes_matching(["request.temperature", "stream"], PROBES)]
    budget = Budget(max_tokens=5000)
    with FakeServer(FakeConfig(context_window=BIG_CONTEXT)) as srv:
        results = run_live(fake_target(srv, context_window=BIG_CONTEXT), probes, tmp_path, budget)
        bodies = [r.get("body") for r in srv.requests]
        answered = sum(1 for _ in srv.requests)
    assert budget.tokens <= 5000 and budget.reserved == 0
    assert max(len(json.dumps(b)) for b in bodies if b is not None) < 10_000  # no 256k-word prompt went out
    overflow = next(r for r in results if r.probe.id == "errors.context_overflow")
    assert overflow.verdict.status.value == "SKIPPED" and "--max-tokens 5000" in overflow.verdict.notes[0]
    assert answered > 3  # the small probes still ran


def test_a_targets_own_limits_are_ceilings_and_named(tmp_path: Path) -> None:
    probes = probes_matching(["request"], PROBES)[:30]
    with FakeServer(FakeConfig()) as srv:
        results = run_live(fake_target(srv, max_requests=5), probes, tmp_path / "a", Budget())
        sent = len(srv.requests)
    assert sent == 5 and skipped_for(results, "max_requests of target 'fake' 5")
    with FakeServer(FakeConfig()) as srv:
        budget = Budget()
        overflow = probe_by_id()["errors.context_overflow"]  # twice the context window: ~20k tokens estimated
        results = run_live(fake_target(srv, max_tokens=3000), [overflow, *probes], tmp_path / "b", budget)
    assert budget.tokens <= 3000 and skipped_for(results, "max_tokens of target 'fake' 3000")
    assert len(skipped_for(results, "budget")) == 1  # the requests that fit once the others were back went out


def test_requests_wait_for_the_answers_in_flight_rather_than_being_refused(tmp_path: Path) -> None:
    """Under a tight --max-tokens, the reservations of requests waiting their turn do not refuse the rest: a
    request that fits once the answers in flight are back (they cost less than reserved) waits and goes out."""
    probes = probes_matching(["request"], PROBES)[:40]
    budget = Budget(max_tokens=2000)
    with FakeServer(FakeConfig()) as srv:
        results = run_live(fake_target(srv, concurrency=2), probes, tmp_path, budget)
        sent = len(srv.requests)
    assert budget.tokens <= 2000 and budget.reserved == 0
    smallest = min(request_tokens(r.get("body")) for r in srv.requests if r.get("body"))
    assert sent > 2000 // smallest  # more than reservations alone would let out: answers cost less than reserved
    assert sent == budget.requests and not skipped_for(results, "budget")  # every one fitted


def test_a_request_is_estimated_from_its_body() -> None:
    short = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    capped = {**short, "max_tokens": 3}
    assert request_tokens(None) == 0
    assert request_tokens(short) > request_tokens(capped)  # an answer cap bounds the answer
    assert request_tokens({**capped, "n": 4}) > request_tokens(capped)  # every choice is an answer
    long = {**short, "messages": [{"role": "user", "content": "echo " * 10_000}]}
    assert request_tokens(long) > 10_000  # at least a token per word


def test_the_run_prints_its_estimate_and_what_it_spent(tmp_path: Path) -> None:
    """Through the plugin, with a targets.toml limit: the estimate line before, the spent line at the end, both in
    results.json's run section."""
    with FakeServer(FakeConfig()) as srv:
        (tmp_path / "targets.toml").write_text(f'[targets.fake]\nbase_url = "{srv.base_url}"\nmodel = "fake-model"\n'
                                               "max_requests = 12\n")
        proc = subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                               "--targets-file", str(tmp_path / "targets.toml"), "--target", "fake",
                               "--record-mode=all", "--probe", "request.t", "--max-tokens", "100000",
                               "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r")],
                              cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        sent = len(srv.requests)
    out = proc.stdout
    run = json.loads((tmp_path / "r" / "results.json").read_text())["run"]
    assert run["spent"]["requests"] == sent <= 12 and run["spent"]["requests"] <= run["estimate"]["requests"]
    assert "at most" in out and "--max-tokens 100000" in out and "max_requests of target 'fake' 12" in out, out
    assert f"spent {sent} requests, {run['spent']['tokens']} tokens" in out, out
    assert f"of at most {run['estimate']['requests']} requests" in out, out
