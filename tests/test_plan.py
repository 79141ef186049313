"""One plan per probe: each probe's requests are data built once; the engine sends only what the plan holds, and the
estimate counts the same plans."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.features.registry import PROBES, probe_by_id
from conformance.judge.root_cause import SUSPECTS
from conformance.model.roles import CONTROL, REPEAT, TURN_2, RoleKind
from conformance.model.targets import Target
from conformance.run.engine import run_pairs
from conformance.run.plan import ANSWER_CAP, WITNESS_CONTROL, estimate, plan_probe
from tests.fakeserver import FakeConfig, FakeServer

TARGET = Target("t", "http://127.0.0.1:9/v1", "m", samples=3, high_temperature=2.0)


def test_every_probe_has_a_plan_that_says_what_it_may_send() -> None:
    for probe in PROBES:
        plan = plan_probe(probe, TARGET)
        sends = list(plan.possible_sends())
        assert sends, probe.id
        assert (plan.sdk is None) == (plan.shape is not None), probe.id
        if plan.shape is not None:
            assert plan.shape.variant.count == (TARGET.samples if probe.stochastic else 1), probe.id
            assert len(plan.shape.alternates) == len(probe.alternates), probe.id
            assert plan.repeat_on_5xx and (plan.witness is None) == (probe.control is not None), probe.id
        if probe.method == "GET":
            assert plan.shape is not None and plan.shape.variant.body is None and "model" in plan.probe.args


def test_a_capped_probe_plans_its_re_send_without_the_cap() -> None:
    probe = probe_by_id()["request.logit_bias.invalid"]
    plan = plan_probe(probe, TARGET)
    assert plan.shape is not None and plan.shape.variant.body["max_tokens"] == ANSWER_CAP
    assert plan.uncapped is not None and "max_tokens" not in plan.uncapped.variant.body
    assert plan_probe(probe_by_id()["request.max_tokens.invalid"], TARGET).uncapped is None  # its own value


def test_re_sends_count_in_the_upper_bound_only() -> None:
    probe = probe_by_id()["request.logit_bias.invalid"]  # capped, no control: uncapped + repeat + witness possible
    bound = estimate([plan_probe(probe, TARGET)])
    # the variant; re-sent uncapped, repeated on a 5xx beside the witness, and once per root-cause suspect present in
    # it: the answer cap and the parameter (it holds no assistant turn and no tool-call id)
    assert bound.planned == 1 and bound.requests == 1 + 1 + 1 + 1 + 2
    witness = plan_probe(probe, TARGET).witness
    assert witness is not None and witness.cassette.endswith(WITNESS_CONTROL)


def test_the_engine_sends_only_what_the_plans_hold(tmp_path: Path) -> None:
    """Every probe against the fake, with a reproducible 500 on `seed` (re-sent beside a witness control): each
    request the engine sent is a request of its probe's plan (or a turn / SDK request the plan declares)."""
    with FakeServer(FakeConfig(server_error={"seed"})) as srv:
        target = Target("fake", srv.base_url, "fake-model", high_temperature=2.0)
        results, _ = run_pairs([(target, p) for p in PROBES], tmp_path, "all")
    assert any(o.role == REPEAT for r in results for o in r.observations)
    for result in results:
        plan = plan_probe(result.probe, target)
        planned = {json.dumps(s.request.body, sort_keys=True) for s in plan.possible_sends()}
        for obs in result.observations:
            body = json.dumps(obs.request_body, sort_keys=True)
            if obs.role.kind is RoleKind.SUSPECT:  # the failed request with one part changed: one per suspect
                assert sum(o.role.kind is RoleKind.SUSPECT for o in result.observations) <= 2 * len(SUSPECTS)
            elif obs.role == TURN_2:
                assert plan.followup is not None or plan.sdk is not None, result.probe.id
            elif plan.sdk is not None and obs.role != CONTROL:
                continue  # the SDK builds its own requests (counted as up to two per scenario)
            elif plan.derive and obs.role != CONTROL:
                assert plan.shape is not None  # built from the control's answer over the planned fragment
            else:
                assert body in planned, (result.probe.id, obs.role)
