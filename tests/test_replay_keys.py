"""Replay never needs or reads a key (issue 19, item 1), over real sockets to keyed fake servers.

Recorded: an ad-hoc target (`--api-key-env EMU_KEY`) and the `mistral` preset (MISTRAL_API_KEY) pointed at a local
keyed fake through a targets.toml table that overrides only its base_url. Replayed beside the reference target
`vllm` (its bundled recordings) with the keys set, unset and wrong: the verdicts are the same every time, and
none is an ERROR (it was `TypeError: a bytes-like object is required, not 'str'` whenever a key was set).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conformance.features import registry
from conformance.model.targets import Target
from conformance.plugin import BUNDLED_CASSETTES
from conformance.run.engine import run_pairs
from tests.fakeserver import FakeConfig, FakeServer
from tests.plugin_helpers import run

EMU_KEY = "emu-secret-0123456789abcdef"
MISTRAL_KEY = "mistral-secret-0123456789abcdef"
PROBES = ("--probe", "chat.completion", "--probe", "errors.bad_key", "--probe", "request.temperature",
          "--probe", "models.list")


def _cells(report_dir: Path) -> dict[tuple[str, str], tuple[Any, Any, Any]]:
    results = json.loads((report_dir / "results.json").read_text())
    return {(target, feature): (cell["status"], cell["support"], cell["conformance"])
            for feature, by_target in results["features"].items() for target, cell in by_target.items()}


def test_replay_gives_the_same_verdicts_with_the_key_set_unset_or_wrong(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer(FakeConfig(api_key=EMU_KEY)) as emu, FakeServer(FakeConfig(api_key=MISTRAL_KEY)) as mistral:
        (pytester.path / "targets.toml").write_text(f'[targets.mistral]\nbase_url = "{mistral.base_url}"\n')
        adhoc = ("--base-url", emu.base_url, "--model", "fake-model", "--api-key-env", "EMU_KEY",
                 "--target-name", "emu")
        monkeypatch.setenv("EMU_KEY", EMU_KEY)
        monkeypatch.setenv("MISTRAL_API_KEY", MISTRAL_KEY)
        recorded = run(pytester, "--target", "mistral", *adhoc, *PROBES, "--record-mode=once",
                       "--report-dir", "rec")
        assert recorded.ret == 0, recorded.stdout.str()
        live = _cells(pytester.path / "rec")
        assert {t for t, _ in live} == {"emu", "mistral"}
        assert all(status == "OK" for status, _, _ in live.values()), live
        assert len(emu.requests) > 0 and len(mistral.requests) > 0
        sent = len(emu.requests) + len(mistral.requests)
        for cassette in (pytester.path / "cassettes").rglob("*.yaml"):
            text = cassette.read_text()
            assert EMU_KEY not in text and MISTRAL_KEY not in text, cassette
        shutil.copytree(BUNDLED_CASSETTES / "vllm", pytester.path / "cassettes" / "vllm")

        replays: dict[str, dict[tuple[str, str], tuple[Any, Any, Any]]] = {}
        for label, keys in (("set", (EMU_KEY, MISTRAL_KEY)), ("wrong", ("wrong-key-xyz", "wrong-key-xyz")),
                            ("unset", None)):
            if keys is None:
                monkeypatch.delenv("EMU_KEY")
                monkeypatch.delenv("MISTRAL_API_KEY")
            else:
                monkeypatch.setenv("EMU_KEY", keys[0])
                monkeypatch.setenv("MISTRAL_API_KEY", keys[1])
            replay = run(pytester, "--target", "mistral", "--target", "vllm", *adhoc, *PROBES,
                         "--report-dir", label)
            out = replay.stdout.str()
            assert "TypeError" not in out, out
            replays[label] = _cells(pytester.path / label)
            statuses = {status for status, _, _ in replays[label].values()}
            assert statuses == {"OK"}, (label, replays[label])
        assert len(emu.requests) + len(mistral.requests) == sent  # a replay sends nothing
    assert replays["set"] == replays["wrong"] == replays["unset"]
    assert {t for t, _ in replays["set"]} == {"emu", "mistral", "vllm"}
    assert {k: v for k, v in replays["set"].items() if k[0] != "vllm"} == live


def test_a_rerun_that_loses_verdicts_keeps_the_previous_report_and_says_so(
        pytester: pytest.Pytester, fake: FakeServer) -> None:
    adhoc = ("--base-url", fake.base_url, "--model", "fake-model", "--probe", "chat.completion")
    first = run(pytester, *adhoc, "--record-mode=once")
    assert first.ret == 0, first.stdout.str()
    good = (pytester.path / "reports" / "results.json").read_text()
    # the same replay, from a cassette directory that holds nothing: every probe ends SKIPPED
    second = run(pytester, *adhoc, "--cassette-dir", "elsewhere")
    assert second.ret != 0
    second.stdout.fnmatch_lines(["PREVIOUS REPORT KEPT: 1 cell(s) reached a verdict in the previous run and not in "
                                 "this one (e.g. custom · chat.completion)*results.previous.json*"])
    assert (pytester.path / "reports" / "results.previous.json").read_text() == good
    assert json.loads((pytester.path / "reports" / "results.json").read_text())["features"]["chat.completion"][
        "custom"]["status"] == "SKIPPED"


def test_a_replay_never_reads_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: once recorded, a replay runs with every way of reading a key made to fail."""
    monkeypatch.setenv("EMU_KEY", EMU_KEY)
    probes = [p for p in registry.PROBES if p.id in ("chat.completion", "errors.bad_key", "request.temperature.zero")]
    with FakeServer(FakeConfig(api_key=EMU_KEY)) as emu:
        target = Target("emu", emu.base_url, "fake-model", api_key_env="EMU_KEY")
        live, _ = run_pairs([(target, p) for p in probes], tmp_path, "once")

    def read(*_: object) -> None:
        raise AssertionError("a replay read the key")

    monkeypatch.setattr(Target, "api_key", read)
    monkeypatch.setattr(Target, "missing_key_reason", read)
    replayed, _ = run_pairs([(target, p) for p in probes], tmp_path, "none")
    assert [(r.verdict.status, r.verdict.support) for r in replayed] == [
        (r.verdict.status, r.verdict.support) for r in live]
    assert all(r.verdict.status == "OK" for r in replayed)
