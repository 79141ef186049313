"""Typed contracts between layers (issue 22, item 3): roles, skip causes; no layer reads another's message text."""

from __future__ import annotations

import pytest

from conformance.model.observation import Observation
from conformance.model.roles import CONTROL, INDEXED, REPEAT, TURN_2, VARIANT, Role, RoleKind, alt, suspect
from conformance.model.verdicts import SkipCause, Status, Verdict
from conformance.run.results import skip_causes

STORED = ["variant", "variant-2", "alt-1", "alt-1-3", "repeat", "turn-2", "turn-2-3", "control", "control-3",
          "shared-1", "stream", "stream-2", "sdk-1", "suspect:answer_cap", "suspect:answer_cap@variant",
          "suspect:tool_call_id_format@turn-2"]


@pytest.mark.parametrize("text", STORED)
def test_a_stored_role_reads_back_to_the_same_text(text: str) -> None:
    assert str(Role.parse(text)) == text


def test_roles_are_built_from_parts_not_text() -> None:
    assert VARIANT.sampled(2) == Role.parse("variant-2") and VARIANT.sampled(2).request == VARIANT
    assert alt(1).kind is RoleKind.ALT and alt(1).index == 1 and RoleKind.ALT in INDEXED
    resent = suspect("answer_cap", TURN_2)
    assert resent.kind is RoleKind.SUSPECT and resent.of == TURN_2 and str(resent) == "suspect:answer_cap@turn-2"
    assert Observation(role="repeat", method="POST", path="/x", request_body={}).role == REPEAT


@pytest.mark.parametrize("text", ["", "sample-2", "variant-x", "variant-1-2", "alt-1-2-3", "Control"])
def test_text_no_role_writes_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an observation role"):
        Role.parse(text)


def test_a_role_compared_with_text_is_a_bug_caught_at_once() -> None:
    with pytest.raises(TypeError, match="use Role values"):
        _ = CONTROL == "control"


def test_skip_causes_are_counted_by_cause_not_by_note_text() -> None:
    budget = Verdict(Status.SKIPPED, notes=["a note in other words"], skip_cause=SkipCause.BUDGET).to_dict()
    untyped = Verdict(Status.SKIPPED, notes=["no recording of this request (replay only)"]).to_dict()
    no_key = Verdict(Status.SKIPPED, notes=["set the key"], skip_cause=SkipCause.NO_KEY).to_dict()
    assert skip_causes([budget, untyped, no_key]) == {"over the request budget": 1}
    assert Verdict.from_dict(budget).skip_cause is SkipCause.BUDGET
    assert "skip_cause" not in Verdict(Status.OK).to_dict()  # only a skipped verdict carries one
