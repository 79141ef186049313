"""The paths a new user walks (issue 19): targets.toml over the presets, recordings outside the package, the
report command's baseline, and the usage errors of every command."""

from __future__ import annotations

import json
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

from conformance.model.targets import TargetError, load_targets
from conformance.plugin import BUNDLED_CASSETTES, PACKAGE_DIR
from conformance.report.report_cli import main as report_main
from tests.fakeserver import FakeConfig, FakeServer
from tests.plugin_helpers import run


def test_a_targets_table_may_override_only_the_base_url_of_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text('[targets.mistral]\nbase_url = "http://127.0.0.1:9/v1"\n')
    mistral = load_targets(path)["mistral"]
    assert mistral.base_url == "http://127.0.0.1:9/v1"
    assert (mistral.model, mistral.api_key_env, mistral.context_window) == (
        "mistral-small-latest", "MISTRAL_API_KEY", 131072)
    assert mistral.source == str(path)


def test_a_new_target_still_needs_its_model_and_a_bad_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text('[targets.mine]\nbase_url = "http://127.0.0.1:9/v1"\n')
    with pytest.raises(TargetError, match=r"targets.toml: target 'mine', field 'model': 'model' is a required"):
        load_targets(path)
    path.write_text('[targets.mistral]\ncontext_window = "big"\n')
    with pytest.raises(TargetError, match=r"target 'mistral', field 'context_window'"):
        load_targets(path)


RESULTS = Path(__file__).parent / "data" / "results"


def test_report_baseline_file_brings_in_its_baseline_target_only(tmp_path: Path) -> None:
    """`report a.json --baseline b.json`: b's baseline target (the one its run named, else its first) beside a's
    targets, not every target of b.json."""
    both = json.loads((RESULTS / "openai_mistral.json").read_text())
    both["targets"]["llama"] = dict(both["targets"]["mistral"], base_url="http://127.0.0.1:8013/v1")
    for cells in both["features"].values():
        if "mistral" in cells:
            cells["llama"] = cells["mistral"]
    many = tmp_path / "many.json"
    many.write_text(json.dumps(both))
    assert report_main([str(RESULTS / "mistral.json"), "-o", str(tmp_path / "r"), "--baseline", str(many)]) == 0
    merged = json.loads((tmp_path / "r" / "results.json").read_text())
    assert list(merged["targets"]) == ["openai", "mistral"]
    assert merged["run"]["baseline"] == "openai"
    assert {t for cells in merged["features"].values() for t in cells} == {"openai", "mistral"}
    both["run"]["baseline"] = "llama"  # the baseline that file's own run named
    many.write_text(json.dumps(both))
    assert report_main([str(RESULTS / "mistral.json"), "-o", str(tmp_path / "s"), "--baseline", str(many)]) == 0
    merged = json.loads((tmp_path / "s" / "results.json").read_text())
    assert list(merged["targets"]) == ["llama", "mistral"] and merged["run"]["baseline"] == "llama"


def _package_files() -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(PACKAGE_DIR)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_recordings_go_to_the_users_directory_never_into_the_package(pytester: pytest.Pytester,
                                                                       fake: FakeServer) -> None:
    before = _package_files()
    adhoc = ("--base-url", fake.base_url, "--model", "fake-model", "--probe", "chat.completion")
    recorded = run(pytester, *adhoc, "--record-mode=once")
    assert recorded.ret == 0, recorded.stdout.str()
    assert list((pytester.path / "cassettes" / "custom").glob("*.yaml"))  # recorded in ./cassettes of the cwd
    refused = run(pytester, *adhoc, "--record-mode=all", "--cassette-dir", str(BUNDLED_CASSETTES))
    assert refused.ret == 4
    assert refused.stderr.str().strip().splitlines() == [
        f"ERROR: --cassette-dir {BUNDLED_CASSETTES}: is inside the conformance package ({BUNDLED_CASSETTES}), whose "
        "bundled files are read-only; record into a directory of your own (the default is ./cassettes)"]
    (pytester.path / "elsewhere").mkdir()
    (pytester.path / "elsewhere" / "cassettes").symlink_to(BUNDLED_CASSETTES)  # an old checkout's ./cassettes link
    linked = pytester.runpytest_subprocess(str(PACKAGE_DIR), "-p", "no:cacheprovider", *adhoc, "--record-mode=once",
                                           "--rootdir", str(pytester.path / "elsewhere"),
                                           "--cassette-dir", str(pytester.path / "elsewhere" / "cassettes"))
    assert linked.ret == 4 and "inside the conformance package" in linked.stderr.str()
    replay = run(pytester, "--target", "vllm", "--probe", "chat.completion", "--cassette-dir", str(BUNDLED_CASSETTES))
    assert replay.ret == 0, replay.stdout.str()  # reading the bundled recordings is fine
    assert _package_files() == before


def test_conformance_run_keeps_pytests_rootdir_where_the_user_runs(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "conformance", "run", "--probe", "chat.completion", "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert (tmp_path / "reports" / "results.json").is_file()
    assert f"rootdir: {tmp_path}" in subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--probe", "chat.completion", "--co"], cwd=tmp_path,
        capture_output=True, text=True, timeout=300, check=False).stdout


def test_the_missing_recording_hint_is_a_command_that_records_it(pytester: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMU_KEY", "emu-secret-0123456789")
    with FakeServer(FakeConfig(api_key="emu-secret-0123456789")) as emu:
        adhoc = ("--base-url", emu.base_url, "--model", "fake-model", "--api-key-env", "EMU_KEY",
                 "--target-name", "emu", "--cassette-dir", "mine")
        replay = run(pytester, *adhoc, "--probe", "chat.completion")
        assert replay.ret != 0  # nothing recorded yet: skipped, the run tested nothing
        notes = json.loads((pytester.path / "reports" / "results.json").read_text())["features"][
            "chat.completion"]["emu"]["notes"]
        hint = next(n for n in notes if "record it with: " in n).split("record it with: ", 1)[1]
        assert hint.startswith("pytest conformance ")
        recorded = run(pytester, *hint.split()[2:], "--probe", "chat.completion")
        assert recorded.ret == 0, (hint, recorded.stdout.str(), recorded.stderr.str())
        again = run(pytester, *adhoc, "--probe", "chat.completion")
        assert again.ret == 0, again.stdout.str()


@pytest.mark.parametrize("args,line", [
    (["run", "--bogus"], "ERROR: python -m conformance run: error: unrecognized arguments: --bogus"),
    (["run", "--concurrency", "many"], "ERROR: --concurrency many: must be a whole number of at least 1"),
    # the suite's own --record-mode, or pytest-recording's where it is installed (its choices are checked first)
    (["run", "--record-mode=sometimes"], "ERROR: *--record-mode*sometimes*"),
    (["report"], "python -m conformance report: error: the following arguments are required: results; see --help"),
    (["validate", "--level", "x", "."], "python -m conformance validate: error: argument --level: invalid choice: 'x' "
                                        "(choose from 'strict', 'compat'); see --help"),
    (["frob"], "python -m conformance: error: unknown command 'frob'; `python -m conformance --help` lists the "
               "commands"),
])
def test_every_usage_error_of_every_command_is_one_line_and_exit_4(tmp_path: Path, args: list[str],
                                                                    line: str) -> None:
    done = subprocess.run([sys.executable, "-m", "conformance", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 4, done.stdout + done.stderr
    lines = [x for x in (done.stdout + done.stderr).splitlines() if x.strip()]
    assert len(lines) == 1 and fnmatch(lines[0], line), lines
