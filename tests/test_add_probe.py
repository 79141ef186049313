"""Adding a probe: the one-probe recording writes only that probe's cassettes (and missing shared ones), and its
truth lines are drafted for a person, never written into the truth tables as checked (truth/add_probe.py,
truth/accept.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conformance.features.registry import PROBES
from conformance.judge.classify import classify
from conformance.model.targets import load_targets
from conformance.model.verdicts import Status, Support
from conformance.run import plan
from conformance.run.plan import shared_requests
from tests.fakeserver import FakeConfig, FakeServer
from tests.test_classify import SSE_HEADERS, obs, sse_text
from truth import TABLES, add_probe
from truth import accept as acc
from truth.add_probe import UNCHECKED, draft, record, select, write_drafts

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "conformance" / "data" / "cassettes"
TARGETS = load_targets(ROOT / "targets.toml")
BY_ID = {p.id: p for p in PROBES}


@pytest.mark.parametrize("name", sorted(t.name for t in TARGETS.values() if t.reference))
def test_selection_names_the_files_the_engine_records(name: str) -> None:
    """Each bundled cassette is some probe's own or shared file, and no probe needs a shared file the bundle lacks:
    the selection names files exactly as the full recording wrote them."""
    have = {p.name for p in (BUNDLE / name).glob("*.yaml")}
    selected = set()
    table = shared_requests(TARGETS[name])
    for probe in PROBES:
        sel = select([probe], TARGETS[name], table)
        selected |= sel.own | sel.shared
        assert sel.to_record(have) == sel.own, probe.id
    assert have - selected == set()


def test_selection_of_one_probe() -> None:
    vllm = TARGETS["vllm"]
    with_control = select([BY_ID["request.stream_options.include_usage"]], vllm)
    assert with_control.own == {"request.stream_options.include_usage.yaml"}
    assert with_control.shared == {"_controls_stream_plain.yaml"}
    alone = select([BY_ID["request.user.accepted"]], vllm)  # no control: the witness beside a re-sent 5xx
    assert alone.own == {"request.user.accepted.yaml"} and alone.shared == {"_controls_plain_t0.yaml"}
    shared = select([BY_ID["request.model.echo"]], vllm)  # a request other probes send alike
    assert "_shared_request.model.echo.yaml" in shared.shared
    assert shared.to_record({"_controls_plain_t0.yaml"}) == shared.own | (shared.shared - {"_controls_plain_t0.yaml"})
    assert shared.to_record(shared.shared) == shared.own


def _results(feature: str, target: str, cell: dict[str, Any]) -> dict[str, Any]:
    return {"features": {feature: {target: cell}}}


ERROR_EXCHANGE = {"role": "variant", "request": {"method": "POST", "path": "/chat/completions",
                                                 "body": {"model": "tiny", "user": 12345}},
                  "response": {"status": 400, "body": {"error": {"message": "Input should be a valid string"}}}}
STREAM_EXCHANGE = {"role": "variant", "request": {"method": "POST", "path": "/chat/completions",
                                                  "body": {"model": "tiny", "stream": True}},
                   "response": {"status": 200, "body": None, "sse": [
                       {"i": 0, "data": {"id": "c", "choices": [{"delta": {"content": "Hel"}}]}},
                       {"i": 1, "data": {"id": "c", "obfuscation": "xx", "choices": [{"delta": {"content": "lo"}}]}},
                       {"i": 2, "data": "[DONE]"}]}}


def test_draft_proposes_the_suite_verdict_unchecked_with_evidence_and_curls(tmp_path: Path) -> None:
    cell = {"status": "OK", "support": "REJECTED", "conformance": "OK", "notes": ["rejects it"],
            "evidence": [{"probe": "request.user.invalid", "exchanges": [ERROR_EXCHANGE, STREAM_EXCHANGE]}]}
    doc = draft("request.user", _results("request.user", "vllm", cell), [TARGETS["vllm"]])
    line = doc["targets"]["vllm"]
    assert doc["status"] == "unchecked" and line["checked"] == UNCHECKED and line["why"] == "?"
    assert (line["support"], line["conformance"]) == ("REJECTED", "OK") and line["suite"]["notes"] == ["rejects it"]
    assert line["evidence"][0]["status"] == 400 and "valid string" in line["evidence"][0]["answer"]
    assert "obfuscation" in line["evidence"][1]["answer"] and '"Hello"' in line["evidence"][1]["answer"]
    assert line["curl"][0].startswith("curl -s http://127.0.0.1:8011/v1/chat/completions")
    assert "12345" in line["curl"][0]
    assert line["table_now"]["support"] == json.loads((TABLES / "vllm.json").read_text())["features"][
        "request.user"]["support"]  # a feature the table has: its current truth, to compare
    assert acc.problems(doc)  # as drafted, it cannot be accepted


def test_a_cell_the_suite_did_not_reach_is_drafted_as_unknown() -> None:
    line = draft("request.user", {"features": {}}, [TARGETS["vllm"]])["targets"]["vllm"]
    assert (line["support"], line["conformance"], line["evidence"], line["curl"]) == ("?", "?", [], [])


def _tables(tmp_path: Path) -> Path:
    tables = tmp_path / "tables"
    shutil.copytree(TABLES, tables)
    return tables


def test_accept_refuses_an_unchecked_draft_and_writes_nothing(tmp_path: Path) -> None:
    tables = _tables(tmp_path)
    before = {p.name: p.read_bytes() for p in tables.iterdir()}
    cell = {"status": "OK", "support": "UNVERIFIABLE", "conformance": "OK", "evidence": []}
    path = write_drafts(["request.user"], _results("request.user", "vllm", cell), [TARGETS["vllm"]], tmp_path / "d",
                        tables)[0]
    expected = tmp_path / "expected.json"
    assert acc.main(["accept", str(path), "--tables", str(tables), "--expected", str(expected)]) == 1
    assert {p.name: p.read_bytes() for p in tables.iterdir()} == before and not expected.exists()


def test_accept_writes_the_checked_entry_without_the_proposal_and_rebuilds_expectations(tmp_path: Path) -> None:
    tables = _tables(tmp_path)
    cell = {"status": "OK", "support": "UNVERIFIABLE", "conformance": "OK",
            "evidence": [{"probe": "request.user.accepted", "exchanges": [ERROR_EXCHANGE]}]}
    doc = draft("request.user", _results("request.user", "vllm", cell), [TARGETS["vllm"]], tables)
    doc["targets"]["vllm"].update(why="200, nothing to see", checked="2026-12-02 by hand: the curl")
    path = tmp_path / "draft.json"
    path.write_text(json.dumps(doc))
    expected = tmp_path / "expected.json"
    assert acc.main(["accept", str(path), "--tables", str(tables), "--expected", str(expected)]) == 0
    assert (tables / "llama.json").read_bytes() == (TABLES / "llama.json").read_bytes()  # only the draft's targets
    entry = json.loads((tables / "vllm.json").read_text())["features"]["request.user"]
    assert entry["why"] == "200, nothing to see" and entry["checked"].startswith("2026-12-02")
    assert not {"suite", "evidence", "curl", "table_now"} & set(entry) and isinstance(entry["request"], dict)
    golden = json.loads(expected.read_text())["targets"]["vllm"]["features"]["request.user"]
    assert golden == {"status": "OK", "support": "UNVERIFIABLE", "conformance": "OK"}


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.yaml"))}


def test_one_probe_recording_on_a_fake_reference_touches_only_that_probe(tmp_path: Path) -> None:
    """A fake server stands in for vLLM (same model name, so the same requests): recording one probe into a copy of
    vLLM's bundled cassettes re-records its own cassette and the shared control the copy lacks; every other
    cassette stays byte-identical."""
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE / "vllm", bundle / "fake")
    (bundle / "fake" / "_controls_stream_plain.yaml").unlink()  # a control this probe needs, missing
    before = _digests(bundle / "fake")
    probe = BY_ID["request.stream_options.include_usage"]
    model = TARGETS["vllm"].model
    with FakeServer(FakeConfig(models=(model,))) as srv:
        targets_file = tmp_path / "targets.toml"
        targets_file.write_text(f'[targets.fake]\nbase_url = "{srv.base_url}"\nmodel = "{model}"\n')
        fake = load_targets(targets_file)["fake"]
        done = record([probe], [fake], bundle, targets_file)
    own = "request.stream_options.include_usage.yaml"
    assert select([probe], fake).to_record(set(before)) == {own, "_controls_stream_plain.yaml"}
    assert done.written == {"fake": ["_controls_stream_plain.yaml", own]} and not done.refused
    after = _digests(bundle / "fake")
    assert set(after) == set(before) | {"_controls_stream_plain.yaml"} and after[own] != before[own]
    assert {k: v for k, v in after.items() if k != own and k in before} == {k: v for k, v in before.items()
                                                                            if k != own}
    cell = done.results["features"]["request.stream_options"]["fake"]
    assert cell["status"] == "OK" and cell["evidence"][0]["exchanges"]


def test_dry_run_prints_the_files_it_would_write_and_records_nothing(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / "_controls_stream_plain.yaml").write_text("interactions: []\n")
    assert add_probe.main(["add_probe", "request.stream_options.include_usage", "--target", "vllm", "--dry-run",
                           "--bundle", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "vllm: would write request.stream_options.include_usage.yaml\n"
    assert add_probe.main(["add_probe", "no.such.probe", "--dry-run", "--bundle", str(tmp_path)]) == 4
    assert "no.such.probe" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "vllm").iterdir()] == ["_controls_stream_plain.yaml"]


@pytest.mark.parametrize("where", ["last", "first"])
def test_a_probe_that_sends_another_probes_request_alike_names_the_cassette_it_moves(
        where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two probes sending one request share a cassette named after the first in the registry: the other probe
    replays from it after the recording, so the tool says so (and records it, as it is missing)."""
    clone = dataclasses.replace(BY_ID["request.user.accepted"], id="aaa.clone")
    registry = [*PROBES, clone] if where == "last" else [clone, *PROBES]
    monkeypatch.setattr(add_probe, "PROBES", registry)
    monkeypatch.setattr(plan, "PROBES", registry)
    name = "_shared_request.user.accepted.yaml" if where == "last" else "_shared_aaa.clone.yaml"
    assert add_probe.moved([clone], TARGETS["vllm"]) == [f"{name} (was each probe its own cassette)"]
    assert name in select([clone], TARGETS["vllm"]).to_record({p.name for p in (BUNDLE / "vllm").glob("*.yaml")})
    assert add_probe.moved([BY_ID["request.stream_options.include_obfuscation.off"]], TARGETS["vllm"]) == []


def _padded(text: str) -> str:
    """A stream whose every chunk carries OpenAI's `obfuscation` padding."""
    return "".join(line.replace('data: {"id"', 'data: {"obfuscation": "x1y2", "id"') + "\n"
                   for line in text.splitlines())


@pytest.mark.parametrize(("variant_padded", "control_padded", "support"), [
    (False, True, Support.SUPPORTED), (True, True, Support.IGNORED), (False, False, Support.UNVERIFIABLE)])
def test_the_worked_examples_detector(variant_padded: bool, control_padded: bool, support: Support) -> None:
    """request.stream_options.include_obfuscation (CONTRIBUTING.md): the padding only in the control is the effect."""
    def stream(padded: bool, role: str) -> Any:
        text = _padded(sse_text()) if padded else sse_text()
        return obs(200, text, role=role, headers=SSE_HEADERS, request={"stream": True})

    verdict = classify(BY_ID["request.stream_options.include_obfuscation.off"], [stream(variant_padded, "variant")],
                       [stream(control_padded, "control")])
    assert (verdict.status, verdict.support) == (Status.OK, support), verdict.notes


STRAY_RUN = """#!/usr/bin/env python3
import json, pathlib, sys
args = sys.argv
stage, report = pathlib.Path(args[args.index("--cassette-dir") + 1]), pathlib.Path(args[args.index("--report-dir") + 1])
(stage / "vllm" / "request.user.accepted.yaml").write_text("own\\n")
(stage / "vllm" / "_controls_plain_t0.yaml").write_text("changed\\n")  # another probe's, changed
(stage / "vllm" / "some.owner.probe.yaml").write_text("stray\\n")  # a file outside the selection, new
report.mkdir(parents=True)
(report / "results.json").write_text(json.dumps({"features": {}}))
"""


def test_copy_back_writes_only_the_selection(tmp_path: Path) -> None:
    """Whatever the recording run writes, only the probe's own cassette (and missing shared ones) reach the bundle;
    the rest is reported."""
    (tmp_path / "bundle" / "vllm").mkdir(parents=True)
    (tmp_path / "bundle" / "vllm" / "_controls_plain_t0.yaml").write_text("bundled\n")
    fake_python = tmp_path / "python"
    fake_python.write_text(STRAY_RUN)
    fake_python.chmod(0o755)
    done = record([BY_ID["request.user.accepted"]], [TARGETS["vllm"]], tmp_path / "bundle",
                  python=str(fake_python))
    assert done.written == {"vllm": ["request.user.accepted.yaml"]}
    assert done.refused == {"vllm": ["_controls_plain_t0.yaml", "some.owner.probe.yaml"]}
    assert sorted(p.name for p in (tmp_path / "bundle" / "vllm").iterdir()) == ["_controls_plain_t0.yaml",
                                                                                "request.user.accepted.yaml"]
    assert (tmp_path / "bundle" / "vllm" / "_controls_plain_t0.yaml").read_text() == "bundled\n"
