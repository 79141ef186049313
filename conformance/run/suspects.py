"""Root cause before blame, the engine's side: the re-sends that change one suspect part of a failed request.

The suspects and the judgement are data and pure functions in judge/root_cause.py; this module only turns a
failed request into the requests to send (role, body). The engine sends each once, to the probe's cassette, and
hands the answers to classify with the probe's other observations.
"""

from __future__ import annotations

from typing import Any

from conformance.judge.root_cause import suspect_role, suspects_for
from conformance.model.observation import Observation
from conformance.model.probes import Probe


def suspect_resends(probe: Probe, body: Any, failed: Observation) -> list[tuple[str, dict[str, Any]]]:
    """(role, body) of each re-send of a failed request with one suspect part changed (none when the failure is
    not one to re-send: judge/root_cause.resendable)."""
    return [(suspect_role(suspect, failed), changed) for suspect, changed in suspects_for(probe, body, failed)]
