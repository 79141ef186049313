"""The probe registry: every probe of every feature group, and the shared controls.

A new parameter probe touches one feature-group module (conformance/features/<group>.py): its probe data and,
for a new kind of effect, its detector, side by side. Feature ids are dotted and stable: request.<parameter>,
stream.*, tools.*, json.*, conversation.*, errors.*.
"""

from __future__ import annotations

from conformance.features import (
    basics,
    conversation,
    errors,
    generic,
    json,
    models,
    sampling,
    sdk,
    streaming,
    tools,
)
from conformance.features.common import BASE_REQUEST, CONTROLS
from conformance.model.probes import Probe

__all__ = ["BASE_REQUEST", "CONTROLS", "PARAMETERS", "PROBES", "generic", "probe_by_id"]

PROBES: list[Probe] = [*basics.PROBES, *sampling.PROBES, *json.PROBES, *streaming.PROBES, *tools.PROBES,
                       *conversation.PROBES, *errors.PROBES, *models.PROBES, *sdk.PROBES]
PARAMETERS: list[Probe] = [p for p in PROBES if p.feature.startswith("request.")]


def probe_by_id() -> dict[str, Probe]:
    out: dict[str, Probe] = {}
    for p in PROBES:
        if p.id in out:
            raise ValueError(f"probe id {p.id!r} registered twice")
        out[p.id] = p
    return out
