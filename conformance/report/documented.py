"""OpenAI as a documented baseline, offline: `--baseline openai` on a run without an OpenAI target.

conformance/data/openai_documented.json holds OpenAI's documented behaviour per feature id, each entry citing its
sources (a pointer and a quote in the OpenAI OpenAPI spec, or a recorded exchange of api.openai.com). When no target of
the run is OpenAI, the migration view compares with it as a target labelled "documented, not measured" whose cells
carry the statement and the citations as notes. Measured beats documented: a target named `openai` (or one whose
base URL is api.openai.com) is used when the run or a merged results.json has it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema

DATA = Path(__file__).resolve().parents[1] / "data"
DOCUMENTED_FILE = DATA / "openai_documented.json"
SCHEMA_FILE = DATA / "openai_documented.schema.json"
OPENAI = "openai"
LABEL = "documented, not measured"
DOCUMENTED_NAME = f"openai ({LABEL})"


def load_documented(path: Path = DOCUMENTED_FILE) -> dict[str, Any]:
    """The documented behaviour file, validated against its schema (a broken package file is a bug: it raises)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))).validate(data)
    return data


def source_text(source: dict[str, Any]) -> str:
    """One citation as text: `file#pointer: “quote”` or `file: shows`."""
    if "pointer" in source:
        return f"{source['file']}#{source['pointer']}: “{source['quote']}”"
    return f"{source['file']}: {source['shows']}"


def measured_openai(results: dict[str, Any]) -> str | None:
    """The run's own OpenAI target: one named `openai`, else one whose base URL is api.openai.com."""
    targets = results.get("targets", {})
    if OPENAI in targets:
        return OPENAI
    return next((n for n, t in targets.items() if "://api.openai.com" in str(t.get("base_url", ""))), None)


def with_documented_openai(results: dict[str, Any]) -> dict[str, Any]:
    """A copy of `results` with the documented OpenAI as one more target (first), for the features this run tested."""
    doc = load_documented()
    view = copy.deepcopy(results)
    view["targets"] = {DOCUMENTED_NAME: {"base_url": doc["target"]["base_url"], "model": doc["target"]["model"],
                                         "engine": LABEL, "documented": True}, **view.get("targets", {})}
    for fid, cells in view.get("features", {}).items():
        entry = doc["features"].get(fid)
        if entry is None:
            continue  # not documented with a citable source: unknown, never guessed
        cells[DOCUMENTED_NAME] = {
            "status": entry["status"], "support": entry["support"], "conformance": entry["conformance"],
            "notes": [f"{LABEL}: {entry['statement']}", *(f"source: {source_text(s)}" for s in entry["sources"])],
            "evidence": [], "documented": True,
        }
    return view


def resolve_baseline(results: dict[str, Any], baseline: str | None) -> tuple[dict[str, Any], str | None]:
    """(results to render, baseline name): `openai` is the measured OpenAI target when there is one, else the
    documented baseline; any other name is returned as it is."""
    if baseline != OPENAI or baseline in results.get("targets", {}):
        return results, baseline
    measured = measured_openai(results)
    if measured is not None:
        return results, measured
    if DOCUMENTED_NAME in results.get("targets", {}):
        return results, DOCUMENTED_NAME
    return with_documented_openai(results), DOCUMENTED_NAME


def is_documented(results: dict[str, Any], target: str | None) -> bool:
    """Whether a target is the documented baseline (never measured)."""
    return bool(target) and bool(results.get("targets", {}).get(target, {}).get("documented"))
