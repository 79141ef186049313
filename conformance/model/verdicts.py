"""The verdict vocabulary: three independent axes (status, support, conformance)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from conformance.model.findings import Finding


class Status(str, Enum):
    OK = "OK"  # the probe ran and the target answered
    ERROR = "ERROR"  # 5xx, transport failure, unparsable body, malformed cassette
    TIMEOUT = "TIMEOUT"  # connect/read/whole-stream timeout
    SKIPPED = "SKIPPED"  # precondition unmet: no key, no cassette, no model for the feature, budget
    INTERNAL = "INTERNAL"  # a bug of the suite's own code: never the target's verdict; fails the run


# the statuses of a probe that could not reach a verdict through no choice of the user's: each fails the run
FAILING_STATUSES = frozenset({Status.ERROR, Status.TIMEOUT, Status.INTERNAL})
FAILING_STATUS_WORDS = frozenset(s.value for s in FAILING_STATUSES)
INTERNAL_ERROR = "internal error in the suite"  # how an INTERNAL verdict's note and the run's problem line begin


def fails(record: Mapping[str, Any]) -> bool:
    """A results record or cell (a dictionary) that fails the run: conformance FAILED or a failing status."""
    return record.get("conformance") == Conformance.FAILED.value or record.get("status") in FAILING_STATUS_WORDS


class SkipCause(str, Enum):
    """Why a request (and so its probe) was not sent: decided where the request was held back (wire/)."""

    NO_RECORDING = "no_recording"  # replay, and no cassette holds the request
    NO_KEY = "no_key"  # the target's key is not set (the user's choice: not counted as unrun)
    BUDGET = "budget"  # a cost ceiling could be crossed (wire/budget.py)
    MISCONFIGURED = "misconfigured"  # the target's first contact showed it is not set up (wire/first_contact.py)
    DEADLINE = "deadline"  # the run's deadline had passed
    NO_CLIENT = "no_client"  # the client library the probe uses is not installed


class Support(str, Enum):
    SUPPORTED = "SUPPORTED"  # accepted, effect observed
    PARTIAL = "PARTIAL"  # some variants only (a note is required)
    IGNORED = "IGNORED"  # 2xx but no effect against the control
    REJECTED = "REJECTED"  # 4xx naming (or not blaming another) parameter
    UNVERIFIABLE = "UNVERIFIABLE"  # accepted, but no detector can tell with this model


class Conformance(str, Enum):
    OK = "OK"
    NON_STRICT = "NON_STRICT"  # a SHOULD broken
    FAILED = "FAILED"  # a MUST broken


CONFORMANCE_RANK = {None: 0, Conformance.OK: 0, Conformance.NON_STRICT: 1, Conformance.FAILED: 2}


@dataclass
class Verdict:
    status: Status
    support: Support | None = None
    conformance: Conformance | None = None
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    skip_cause: SkipCause | None = None  # SKIPPED only: why nothing was sent

    def __post_init__(self) -> None:
        # Only an OK run yields a support verdict: a 502 is never blamed on a parameter.
        if self.status is not Status.OK:
            self.support = None
        if self.support is Support.PARTIAL and not self.notes:
            raise ValueError("a PARTIAL verdict needs a note")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "support": self.support.value if self.support else None,
            "conformance": self.conformance.value if self.conformance else None,
            "notes": list(self.notes),
            "findings": [f.to_dict() for f in self.findings],
            "measurements": dict(self.measurements),
            **({"skip_cause": self.skip_cause.value} if self.skip_cause else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            status=Status(data["status"]),
            support=Support(data["support"]) if data.get("support") else None,
            conformance=Conformance(data["conformance"]) if data.get("conformance") else None,
            notes=list(data.get("notes") or []),
            findings=[Finding.from_dict(f) for f in data.get("findings") or []],
            measurements=dict(data.get("measurements") or {}),
            skip_cause=SkipCause(data["skip_cause"]) if data.get("skip_cause") else None,
        )


def worst_conformance(*values: Conformance | None) -> Conformance | None:
    """The most severe conformance value; None when nothing was judged."""
    judged = [v for v in values if v is not None]
    if not judged:
        return None
    return max(judged, key=lambda v: CONFORMANCE_RANK[v])


def conformance_of(findings: list[Finding]) -> Conformance:
    """FAILED on any compat finding, NON_STRICT on strict-only findings, else OK."""
    if any(f.level == "compat" for f in findings):
        return Conformance.FAILED
    if findings:
        return Conformance.NON_STRICT
    return Conformance.OK
