"""Stochastic verdicts with a stated error rate (issue 21 item 4).

Samples are sent one at a time and stop as soon as two differ; identical samples conclude "no variation" only
when there are enough of them for the stated error bound; the evidence shows k and the rule. The plan counts
k_max, the engine sends at most that; a replay recorded with fewer samples stops where its recording ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.features import registry
from conformance.features.sampling import MAX_ERROR, SAMPLING_RULE, no_variation_error
from conformance.judge.classify import classify
from conformance.model.targets import Target
from conformance.model.verdicts import Status, Support
from conformance.run.engine import plan, run_pairs
from tests.fakeserver import FakeConfig, FakeServer
from tests.test_classify import ok

PROBES = registry.probe_by_id()


def _samples(texts: list[str], role: str) -> list[Any]:
    return [ok(t, role=f"{role}-{i + 1}") for i, t in enumerate(texts)]


def test_the_stated_error_bound_decides_at_the_default_k() -> None:
    """k identical samples of a setting that varies happen at most (1 - p)^(k-1): 3 decide, 2 do not."""
    assert no_variation_error(3) <= MAX_ERROR < no_variation_error(2)


@pytest.mark.parametrize("k,support", [(2, Support.UNVERIFIABLE), (3, Support.SUPPORTED)])
def test_temperature_zero_needs_enough_identical_samples(k: int, support: Support) -> None:
    v = classify(PROBES["request.temperature.zero"], _samples(["same"] * k, "variant"),
                 _samples(["a", "b"], "control"))
    assert (v.status, v.support) == (Status.OK, support), v.notes
    assert v.measurements["k"] == k and v.measurements["control_k"] == 2
    assert v.measurements["rule"] == SAMPLING_RULE
    if support is Support.UNVERIFIABLE:
        assert any("too few to conclude no variation" in n for n in v.notes), v.notes
    else:
        assert v.measurements["variant_no_variation_error"] == round(no_variation_error(k), 4)


@pytest.mark.parametrize("k,support", [(2, Support.UNVERIFIABLE), (3, Support.SUPPORTED)])
def test_high_temperature_needs_a_control_that_surely_repeats(k: int, support: Support) -> None:
    v = classify(PROBES["request.temperature.high"], _samples(["a", "b"], "variant"),
                 _samples(["same"] * k, "control"))
    assert (v.status, v.support) == (Status.OK, support), v.notes


@pytest.mark.parametrize("k,support", [(2, Support.UNVERIFIABLE), (3, Support.SUPPORTED)])
def test_seed_needs_enough_identical_samples(k: int, support: Support) -> None:
    variant = [*_samples(["seeded"] * k, "variant"), ok("other", role="alt-1")]
    v = classify(PROBES["request.seed.repeat"], variant, _samples(["a", "b"], "control"))
    assert (v.status, v.support) == (Status.OK, support), v.notes


def test_a_difference_decides_at_once() -> None:
    """Two different samples are certain variation: IGNORED for temperature 0, whatever k_max was."""
    v = classify(PROBES["request.temperature.zero"], _samples(["a", "b"], "variant"), _samples(["c", "d"], "control"))
    assert (v.status, v.support) == (Status.OK, Support.IGNORED), v.notes


def _target(srv: FakeServer, samples: int = 3) -> Target:
    return Target(name="seq", base_url=srv.base_url, model="fake-model", high_temperature=2.0, samples=samples)


def _chat_sends(srv: FakeServer, temperature: float) -> int:
    return sum(1 for r in srv.requests if isinstance(r["body"], dict) and r["body"].get("temperature") == temperature
               and r["body"].get("top_p") == 1)


def test_live_samples_stop_when_two_differ_and_stay_within_the_plan(tmp_path: Path) -> None:
    """temperature.high varies at once: 2 samples of the 3 planned; its control (temperature 0) repeats: all 3."""
    probe = PROBES["request.temperature.high"]
    with FakeServer(FakeConfig()) as srv:
        tgt = _target(srv)
        bound = plan([(tgt, probe)])
        results, _ = run_pairs([(tgt, probe)], tmp_path, "all")
        high, zero = _chat_sends(srv, 2.0), _chat_sends(srv, 0)
    verdict = results[0].verdict
    assert (verdict.status, verdict.support) == (Status.OK, Support.SUPPORTED), verdict.notes
    assert (high, zero) == (2, 3)
    assert (verdict.measurements["k"], verdict.measurements["control_k"]) == (2, 3)
    assert high + zero <= bound.requests


def test_a_replay_recorded_with_fewer_samples_stops_where_the_recording_ends(tmp_path: Path) -> None:
    """Recorded with k_max 2 (a fake at temperature 0 repeats: both kept), replayed with k_max 3: the third sample
    is not in the cassette, so the rule is undecided and the cell says so (UNVERIFIABLE), not an error."""
    probe = PROBES["request.temperature.zero"]
    with FakeServer(FakeConfig()) as srv:
        recorded, _ = run_pairs([(_target(srv, 2), probe)], tmp_path, "all")
        assert recorded[0].verdict.support is Support.UNVERIFIABLE  # 2 identical: too few, live as well
        replayed, _ = run_pairs([(_target(srv, 3), probe)], tmp_path, "none")
        sent = len(srv.requests)
        again, _ = run_pairs([(_target(srv, 3), probe)], tmp_path, "none")
        assert len(srv.requests) == sent  # a replay sends nothing
    verdict = replayed[0].verdict
    assert (verdict.status, verdict.support) == (Status.OK, Support.UNVERIFIABLE), verdict.notes
    assert verdict.measurements["k"] == 2
    assert any("a replay stops where its recording ends" in n for n in verdict.notes), verdict.notes
    assert again[0].verdict.notes == verdict.notes
