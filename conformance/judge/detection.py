"""Effect detectors, derivers and follow-ups: the registries and what a detector receives and returns.

A detector receives only 2xx answers (classify.py has dealt with errors) and returns a Detection.
Adding a detector is a vocabulary change: review it as such. The detectors themselves live beside
their probes in conformance/features/<group>.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conformance.model.findings import Finding
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.roles import TURN_2, RoleKind
from conformance.model.verdicts import Conformance, Support


@dataclass
class Context:
    probe: Probe
    variant: list[Observation]  # the probe's own answers (k samples when stochastic) and its later turns
    control: list[Observation]
    args: dict[str, Any]

    @property
    def samples(self) -> list[Observation]:
        return [o for o in self.variant if o.role.kind is RoleKind.VARIANT]

    @property
    def alternates(self) -> list[Observation]:
        return [o for o in self.variant if o.role.kind is RoleKind.ALT]

    @property
    def turn2(self) -> Observation | None:
        return next((o for o in self.variant if o.role == TURN_2), None)


@dataclass
class Detection:
    support: Support
    notes: list[str] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    conformance: Conformance | None = None  # a rule the detector itself checks (e.g. the stop text kept)


F = TypeVar("F", bound=Callable[..., Any])


def _registrar(table: dict[str, F], kind: str) -> Callable[[str], Callable[[F], F]]:
    """A decorator factory that files functions by name in `table` (a name is registered once)."""
    def named(name: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if name in table:
                raise ValueError(f"{kind} {name!r} registered twice")
            table[name] = fn
            return fn
        return register
    return named


Detector = Callable[[Context], Detection]


DETECTORS: dict[str, Detector] = {}


detector = _registrar(DETECTORS, "detector")


# Derivers: build part of a probe's request from its control's answer (deterministic on replay).
Deriver = Callable[[Probe, list[Observation]], dict[str, Any]]


DERIVERS: dict[str, Deriver] = {}


deriver = _registrar(DERIVERS, "deriver")


# Follow-ups: build a second turn from the first answer (tool results, conversations).
Followup = Callable[[Probe, dict[str, Any], Observation], "dict[str, Any] | None"]


FOLLOWUPS: dict[str, Followup] = {}


followup = _registrar(FOLLOWUPS, "follow-up")


def sent_request(obs: Observation) -> dict[str, Any]:
    return obs.request_body if isinstance(obs.request_body, dict) else {}

