"""The live engine: concurrency gives the same verdicts, the budget stops cleanly, Ctrl-C keeps what ended."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.features import registry
from conformance.model.targets import Target, load_targets
from conformance.run.engine import ANSWER_CAP, build_body, plan, request_of, run_pairs
from conformance.run.plan import plan_probe
from conformance.run.results import build_results, now, record_of
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
    assert plan(two).planned == 1 + 1 + 1  # the plain_t0 control once, then each probe once


def sent_bodies(srv: FakeServer) -> list[str]:
    return [json.dumps(r["body"], sort_keys=True) for r in srv.requests if r.get("body") is not None]


def test_identical_requests_are_sent_once_per_target_and_the_plan_is_exact(tmp_path: Path) -> None:
    """Every probe of the registry against a fake that answers everything: a request several probes (or a probe
    and a control) send alike goes out once, the pre-run plan is the count sent, and results.json counts the
    same; each probe still gets its answers (no probe is left without a verdict). Sampled requests are the one
    exception to "exact": the plan counts k_max samples, the engine stops when two differ (at least 2 each)."""
    by_id = registry.probe_by_id()
    with FakeServer(FakeConfig()) as srv:
        target = Target("fake", srv.base_url, "fake-model", high_temperature=2.0, samples=3)
        pairs = [(target, p) for p in registry.PROBES if p.client == "http"]
        results, _ = run_pairs(pairs, tmp_path / "c", "all")
        bodies = sent_bodies(srv)
        sent = len(srv.requests)
    doc = build_results([record_of(r) for r in results], [target], record_mode="all", probes=by_id,
                        started=now(), finished=now())
    sampled = {(r.key, r.count) for t, p in pairs for plan_ in [plan_probe(p, t)]
               for r in [plan_.control, *(plan_.shape.requests() if plan_.shape else ())] if r and r.count > 1}
    planned = plan(pairs).planned
    assert sent == doc["targets"]["fake"]["requests"]
    assert planned - sum(count - 2 for _, count in sampled) <= sent <= planned
    usage_checks = [b for b in bodies if '"max_tokens": 1,' in b and "item number 59" in b]
    assert len(usage_checks) == 1, usage_checks  # the usage test: once per target and model, for three probes
    same = build_body(by_id["request.response_format.prompt_tokens"].request, target, "request.response_format")
    assert bodies.count(json.dumps(same, sort_keys=True)) == 1  # sent alike by two probes
    assert all(r.verdict.status.value == "OK" for r in results if r.probe.id in (
        "request.response_format.prompt_tokens", "request.response_format.json_schema")), results


def test_cassettes_recorded_before_a_request_was_shared_still_replay(tmp_path: Path) -> None:
    """A shared request is recorded in its own cassette (`_shared_<first probe>.yaml`); an older recording kept it in
    the probe's own cassette, which is replayed from when the shared one lacks it."""
    probe = registry.probe_by_id()["request.response_format.prompt_tokens"]
    with FakeServer(FakeConfig()) as srv:
        target = Target("fake", srv.base_url, "fake-model")
        live, _ = run_pairs([(target, probe)], tmp_path / "c", "all")
    shared = tmp_path / "c" / "fake" / "_shared_request.response_format.json_schema.yaml"
    assert shared.is_file()
    own = tmp_path / "c" / "fake" / f"{probe.id}.yaml"
    own.write_text(shared.read_text())  # the old layout: the request in the probe's own cassette
    shared.unlink()
    replayed, _ = run_pairs([(target, probe)], tmp_path / "c", "none")
    assert verdicts(replayed) == verdicts(live) and replayed[0].verdict.status.value == "OK", replayed[0].verdict


def test_only_probes_whose_answer_is_never_read_are_capped() -> None:
    """An invalid value or a client error is judged on the status alone: its answer is kept short. A probe whose
    detector reads the answer, or one that sets its own limit, is sent as written."""
    by_id = registry.probe_by_id()
    assert request_of(by_id["request.logit_bias.invalid"])["max_tokens"] == ANSWER_CAP
    assert request_of(by_id["errors.unknown_model"])["max_tokens"] == ANSWER_CAP
    assert "max_tokens" not in request_of(by_id["request.tool_choice.required"])
    assert request_of(by_id["request.max_tokens.invalid"]) == by_id["request.max_tokens.invalid"].request
    assert "max_tokens" not in request_of(by_id["request.max_completion_tokens.invalid"])


def test_a_target_that_refuses_the_cap_is_judged_on_the_probe_as_written(tmp_path: Path) -> None:
    """OpenAI's reasoning models refuse `max_tokens`: the capped request's 400 names our cap, not the probe's value,
    so the probe is re-sent without it. Against a server that accepts every invalid value, the invalid-value probes
    stay IGNORED (without the re-send they would all read as REJECTED)."""
    invalid = [p for p in registry.PROBES if p.kind == "invalid" and p.client == "http" and p.raw_body is None
               and p.method == "POST" and "max_tokens" in request_of(p) and "max_tokens" not in p.request][:6]
    assert invalid
    with FakeServer(FakeConfig(oblivious=True, reject={"max_tokens"})) as srv:
        target = Target("fake", srv.base_url, "fake-model")
        results, _ = run_pairs([(target, p) for p in invalid], tmp_path / "c", "all")
        sent = [r["body"] for r in srv.requests if r.get("body") is not None]
    assert {r.verdict.support.value for r in results} == {"IGNORED"}, [(r.probe.id, r.verdict) for r in results]
    assert sum("max_tokens" not in b for b in sent) == len(invalid)  # each re-sent once, as written


def test_reference_targets_plan_under_the_live_cost_rule() -> None:
    """Product rule: a live run of a reference target sends under 200 requests (tokens: test_live_servers.py)."""
    targets = load_targets(None)
    for name in ("vllm", "litellm", "llama", "litellm-vllm"):
        assert plan([(targets[name], p) for p in registry.PROBES]).planned < 200, name


def test_request_budget_skips_the_rest_and_says_so(tmp_path: Path) -> None:
    with FakeServer(FakeConfig()) as srv:
        target = Target("fake", srv.base_url, "fake-model", concurrency=1)
        pairs = [(target, p) for p in SOME[:10]]
        results, _ = run_pairs(pairs, tmp_path, "all", budget=Budget(max_requests=3, max_tokens=None))
        assert len(srv.requests) == 3
    skipped = [r for r in results if r.verdict.status.value == "SKIPPED"]
    assert skipped and all("--max-requests 3" in r.verdict.notes[0] for r in skipped)


@pytest.mark.slow  # a whole run in a subprocess, against a fake with 300 ms a request, until Ctrl-C
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
