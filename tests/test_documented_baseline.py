"""OpenAI as a documented baseline: the shipped file, its citations, and `--baseline openai` on a run without OpenAI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.features.registry import PROBES
from conformance.report.documented import (
    DOCUMENTED_NAME,
    load_documented,
    resolve_baseline,
    with_documented_openai,
)
from conformance.report.report_cli import main
from conformance.report.results_io import load_results

DATA = Path(__file__).parent / "data" / "results"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"  # ../shared from a checkout (specs/, recordings/)


def test_the_file_matches_its_schema_and_names_only_features_the_suite_produces() -> None:
    doc = load_documented()
    produced = {p.feature for p in PROBES}
    assert doc["label"] == "documented, not measured"
    assert set(doc["features"]) <= produced
    assert len(doc["features"]) >= 30


def _resolve(data: object, pointer: str) -> object:
    for raw in pointer.strip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        data = data[int(part)] if isinstance(data, list) else data[part]  # type: ignore[index]
    return data


@pytest.mark.skipif(not (SHARED / "specs").is_dir(), reason="the shared reference material (../shared) is not here")
def test_every_citation_resolves_to_its_quote_in_the_spec_or_the_recording() -> None:
    """No entry without a source a reader can open: the pointer holds the quote, the recording the string."""
    for fid, entry in load_documented()["features"].items():
        for source in entry["sources"]:
            path = SHARED / source["file"]
            assert path.is_file(), (fid, source["file"])
            if "pointer" in source:
                node = _resolve(json.loads(path.read_text()), source["pointer"])
                text = node if isinstance(node, str) else json.dumps(node)
                assert source["quote"] in " ".join(str(text).split()), (fid, source["pointer"])
            else:
                assert source["contains"] in path.read_text(errors="replace"), (fid, source["file"])


def test_baseline_openai_is_the_measured_target_when_there_is_one() -> None:
    both = load_results(DATA / "openai_mistral.json")
    view, name = resolve_baseline(both, "openai")
    assert name == "openai" and view is both
    mistral = load_results(DATA / "mistral.json")
    view, name = resolve_baseline(mistral, "openai")
    assert name == DOCUMENTED_NAME and DOCUMENTED_NAME not in mistral["targets"]  # the input stays as it was
    assert view["targets"][DOCUMENTED_NAME]["documented"] is True
    seed = view["features"]["request.seed"][DOCUMENTED_NAME]
    assert seed["support"] == "SUPPORTED" and seed["notes"][0].startswith("documented, not measured: ")
    assert any(n.startswith("source: specs/openai-chat-completions-subset.json#/components/") for n in seed["notes"])


def test_an_undocumented_feature_stays_unknown() -> None:
    mistral = load_results(DATA / "mistral.json")
    mistral["features"]["request.audio"] = {"mistral": mistral["features"]["request.seed"]["mistral"]}
    view = with_documented_openai(mistral)
    assert DOCUMENTED_NAME not in view["features"]["request.audio"]  # no citable source: never guessed


def test_report_with_baseline_openai_on_a_run_without_openai(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    assert main([str(DATA / "mistral.json"), "-o", str(tmp_path), "--baseline", "openai"]) == 0
    out = capsys.readouterr().out
    assert f"migration decision (from {DOCUMENTED_NAME})" in out
    assert out.strip().splitlines()[-1].startswith("    ")  # the output ends with the decision's top blockers
    html = (tmp_path / "compat.html").read_text()
    assert "documented, not measured" in html and f"{DOCUMENTED_NAME} → mistral" in html
    md = (tmp_path / "summary.md").read_text()
    assert "Migration plan from openai (documented, not measured)" in md
    results = json.loads((tmp_path / "results.json").read_text())
    assert DOCUMENTED_NAME not in results["targets"]  # results.json keeps only what was measured
