"""The probe registry is consistent, and covers every parameter of OpenAI's chat completion request."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conformance.features.registry import CONTROLS, PROBES, probe_by_id
from conformance.judge.detection import DERIVERS, DETECTORS, FOLLOWUPS

SHARED = Path(os.environ.get("CONFORMANCE_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
SPEC = SHARED / "specs" / "openai-chat-completions-subset.json"


def request_properties() -> list[str]:
    if not SPEC.exists():
        pytest.skip(f"the OpenAI spec subset is not at {SPEC} (set CONFORMANCE_SHARED_DIR)")
    schemas = json.loads(SPEC.read_text())["components"]["schemas"]

    def props(name: str) -> dict:
        out: dict = {}
        for part in schemas[name].get("allOf", [schemas[name]]):
            out.update(props(part["$ref"].split("/")[-1]) if "$ref" in part else part.get("properties", {}))
        return out

    return sorted(props("CreateChatCompletionRequest"))


def test_ids_are_unique_and_names_resolve() -> None:
    by_id = probe_by_id()
    assert len(by_id) == len(PROBES)
    for p in PROBES:
        assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", p.feature), p.id
        assert p.detector in DETECTORS, p.id
        assert p.control is None or p.control in CONTROLS, p.id
        assert p.derive is None or p.derive in DERIVERS, p.id
        assert p.followup is None or p.followup in FOLLOWUPS, p.id
        assert p.why.strip(), p.id
        if p.role == "hint":
            assert p.hint, f"{p.id}: a hint probe must say what the alternative is"


def test_every_feature_has_a_probe_that_decides_support() -> None:
    features = {p.feature for p in PROBES}
    deciding = {p.feature for p in PROBES if p.role == "support"}
    assert features == deciding


@pytest.mark.parametrize("param", request_properties() if SPEC.exists() else ["(spec absent)"])
def test_every_request_parameter_has_acceptance_and_invalid_value_probes(param: str) -> None:
    if param == "(spec absent)":
        request_properties()
    probes = [p for p in PROBES if p.feature == f"request.{param}" or p.feature.startswith(f"request.{param}.")]
    assert any(p.role == "support" for p in probes), f"request.{param}: no acceptance/effect probe"
    assert any(p.kind == "invalid" for p in probes), f"request.{param}: no invalid-value probe"
