"""A new user's first commands and mistakes: usage errors before any request, no green run that tested nothing,
no lost recordings, the estimate shown before spending (pytester subprocesses against the fake server)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from conformance import cli
from conformance.plugin import PACKAGE_DIR
from tests.fakeserver import FakeServer
from tests.plugin_helpers import run


def live(fake: FakeServer, tmp_path: Path, *extra: str) -> list[str]:
    """A live, recording run of two probes against the fake, with the given options after the defaults."""
    return ["--base-url", fake.base_url, "--model", "fake-model", "--record-mode=all",
            "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r"),
            "--probe", "chat.completion", *extra]


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a directory\n")
    return path


USAGE_ERRORS = {
    "report dir is a file": (lambda t: ["--report-dir", str(a_file(t))], "--report-dir", "is a file"),
    "negative concurrency": (lambda t: ["--concurrency", "-3"], "--concurrency -3", "at least 1"),
    "zero concurrency": (lambda t: ["--concurrency", "0"], "--concurrency 0", "at least 1"),
    "zero request budget": (lambda t: ["--max-requests", "0"], "--max-requests 0", "at least 1"),
    "cassette dir under a file": (lambda t: ["--cassette-dir", str(a_file(t) / "sub")], "--cassette-dir",
                                  "cannot be created"),
    "missing baseline file": (lambda t: ["--baseline", str(t / "nope.json")], "--baseline", "nope.json"),
    "unknown baseline target": (lambda t: ["--baseline", "openai"], "--baseline openai", "target of this run"),
    "missing expectations": (lambda t: ["--expect", str(t / "exp.json")], "--expect", "no such file"),
    "invalid expectations": (lambda t: ["--expect", str(a_file(t))], "--expect", "cannot read expectations"),
    "missing uses file": (lambda t: ["--uses", str(t / "uses.toml")], "--uses", "cannot read"),
    "probe matching nothing": (lambda t: ["--probe", "nosuch"], "--probe nosuch", "matches no probe"),
    "missing targets file": (lambda t: ["--targets-file", str(t / "t.toml")], "--targets-file", "no such file"),
    "unknown target": (lambda t: ["--target", "nope"], "--target nope", "unknown target"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_a_usage_error_is_one_line_exit_4_and_nothing_is_sent(pytester: pytest.Pytester, fake: FakeServer,
                                                              tmp_path: Path, case: str) -> None:
    make_args, option, problem = USAGE_ERRORS[case]
    result = run(pytester, *live(fake, tmp_path, *make_args(tmp_path)))
    err = result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:] + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and option in lines[0] and problem in lines[0], err
    assert "Traceback" not in err + result.stdout.str()
    assert fake.requests == []


def test_the_live_estimate_is_shown_before_the_first_request_in_a_passing_run(
        pytester: pytest.Pytester, fake: FakeServer, tmp_path: Path) -> None:
    result = run(pytester, *live(fake, tmp_path))
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, out[-3000:]
    assert "conformance: live run (all): at most 1 requests" in out  # pytest captured the test that printed it
    assert "1 requests sent live, 0 replayed" in out


def test_a_replay_that_tested_nothing_fails_and_says_why(pytester: pytest.Pytester, fake: FakeServer,
                                                         tmp_path: Path) -> None:
    result = run(pytester, "--base-url", fake.base_url, "--model", "fake-model", "--cassette-dir",
                 str(tmp_path / "empty"), "--report-dir", str(tmp_path / "r"), "--probe", "request.max_tokens")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    assert "no probe reached a verdict" in out and "without a recording" in out
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["run"]["complete"] is False and "skipped" in data["run"]["interrupted_reason"]
    summary = (tmp_path / "r" / "summary.md").read_text()
    assert "INCOMPLETE" in summary and "no probe reached a verdict" in summary
    assert "incomplete" in (tmp_path / "r" / "compat.html").read_text().lower()
    assert fake.requests == []


def test_a_run_stopped_by_the_budget_is_incomplete(pytester: pytest.Pytester, fake: FakeServer,
                                                   tmp_path: Path) -> None:
    result = run(pytester, *live(fake, tmp_path, "--probe", "request.max_tokens", "--max-requests", "1"))
    assert len(fake.requests) == 1
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["run"]["complete"] is False
    assert "over the request budget" in data["run"]["interrupted_reason"]
    assert "INCOMPLETE" in (tmp_path / "r" / "summary.md").read_text()
    assert "INCOMPLETE" in result.stdout.str()


def test_cassettes_that_cannot_be_saved_keep_the_results_and_fail_the_run(pytester: pytest.Pytester,
                                                                          fake: FakeServer, tmp_path: Path) -> None:
    cassettes = tmp_path / "c"
    cassettes.mkdir()
    (cassettes / "custom").write_text("a file where the target's folder goes\n")  # writable root, blocked folder
    result = run(pytester, *live(fake, tmp_path))
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    assert "Traceback" not in out and "could not be saved" in out
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["features"]["chat.completion"]["custom"]["support"] == "SUPPORTED"
    assert any("could not be saved" in p for p in data["run"]["problems"])
    assert "could not be saved" in (tmp_path / "r" / "summary.md").read_text()


def test_an_unset_key_sends_nothing_not_even_the_wrong_key_probe(pytester: pytest.Pytester, fake: FakeServer,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFORMANCE_UNSET_KEY", raising=False)
    result = run(pytester, *live(fake, tmp_path, "--api-key-env", "CONFORMANCE_UNSET_KEY", "--probe",
                                 "errors.bad_key"))
    assert fake.requests == []
    assert "CONFORMANCE_UNSET_KEY" in result.stdout.str()


@pytest.mark.parametrize("how", [["--pyargs", "conformance"], ["conformance"]], ids=" ".join)
def test_the_suite_runs_from_any_directory_with_bundled_data(pytester: pytest.Pytester, how: list[str]) -> None:
    """`pytest --pyargs conformance` (or `pytest conformance`) away from the checkout: built-in reference targets,
    bundled cassettes and expectations; reports land in ./reports of where the user stands."""
    result = pytester.runpytest_subprocess(*how, "-p", "no:cacheprovider", "-q", "--probe", "chat.completion",
                                           timeout=300)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, out[-3000:]
    data = json.loads((pytester.path / "reports" / "results.json").read_text())
    references = tomllib.loads((PACKAGE_DIR / "data" / "references.toml").read_text())
    assert sorted(data["targets"]) == sorted(references["targets"]) and data["run"]["live_requests"] == 0
    assert {c["status"] for c in data["features"]["chat.completion"].values()} == {"OK"}
    assert "expectations of the embedded default" in out


@pytest.mark.parametrize("argv0,usage", [("/venv/bin/conformance", "usage: conformance COMMAND"),
                                         ("/x/conformance/__main__.py", "usage: python -m conformance COMMAND")])
def test_the_usage_line_names_the_command_the_user_typed(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], argv0: str,
                                                         usage: str) -> None:
    monkeypatch.setattr(sys, "argv", [argv0])
    assert cli.main(["--help"]) == 0
    assert capsys.readouterr().out.startswith(usage)
    assert cli.main([]) == 4  # a usage error, in one line naming the command
    command = usage.removeprefix("usage: ").removesuffix(" COMMAND")
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{command}: error: a command is needed; `{command} --help` lists them"]
