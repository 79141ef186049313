"""A good neighbour in a pytest environment (issue 19, item 4): the suite loads beside pytest-recording and
pytest-base-url (both in the dev extra), takes their --record-mode and --base-url (the same meaning), and a run
through their options gives the same verdicts as one through the suite's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import pytest_base_url.plugin  # noqa: F401  # the dev extra installs both: without them this test cannot run
import pytest_recording.plugin  # noqa: F401

from conformance.plugin import PACKAGE_DIR
from tests.fakeserver import FakeServer
from tests.plugin_helpers import run

QUICK = ("--probe", "chat.completion", "--probe", "request.temperature")
WITHOUT_THEM = ("-p", "no:recording", "-p", "no:base_url")
ORDERS = {
    "suite first": ("-p", "conformance.plugin", "-p", "pytest_recording.plugin", "-p", "pytest_base_url.plugin"),
    "suite last": ("-p", "pytest_recording.plugin", "-p", "pytest_base_url.plugin", "-p", "conformance.plugin"),
}


def _cells(report_dir: Path) -> dict[tuple[str, str], tuple[Any, Any, Any]]:
    results = json.loads((report_dir / "results.json").read_text())
    return {(target, feature): (cell["status"], cell["support"], cell["conformance"])
            for feature, by_target in results["features"].items() for target, cell in by_target.items()}


@pytest.mark.parametrize("order", list(ORDERS))
def test_the_suite_loads_beside_both_plugins_whichever_loads_first(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    helped = pytester.runpytest_subprocess(*ORDERS[order], "-p", "no:cacheprovider", "--help")
    assert helped.ret == 0, helped.stderr.str()
    out = helped.stdout.str()
    assert "rewrite" in out  # pytest-recording's --record-mode is the one defined (it has one more mode)
    assert "base url for the application under test" in out  # pytest-base-url's --base-url
    assert "--cassette-dir" in out and "--api-key-env" in out
    collected = pytester.runpytest_subprocess(*ORDERS[order], "-p", "no:cacheprovider", str(PACKAGE_DIR), "--co",
                                              "-q", *QUICK)
    assert collected.ret == 0, collected.stdout.str() + collected.stderr.str()
    collected.stdout.fnmatch_lines(["*test_probe?vllm::chat.completion?*"])


def test_their_options_record_and_replay_as_the_suites_own_do(pytester: pytest.Pytester, fake: FakeServer) -> None:
    adhoc = ("--base-url", fake.base_url, "--model", "fake-model", *QUICK)
    theirs = run(pytester, *adhoc, "--record-mode=once", "--cassette-dir", "c1", "--report-dir", "theirs")
    assert theirs.ret == 0, theirs.stdout.str()
    sent = len(fake.requests)
    ours = run(pytester, *WITHOUT_THEM, *adhoc, "--record-mode=once", "--cassette-dir", "c2", "--report-dir", "ours")
    assert ours.ret == 0, ours.stdout.str()
    assert len(fake.requests) == 2 * sent  # each recorded live, the same requests
    assert _cells(pytester.path / "theirs") == _cells(pytester.path / "ours")
    assert {t for t, _ in _cells(pytester.path / "theirs")} == {"custom"}
    replay = run(pytester, *adhoc, "--cassette-dir", "c1", "--report-dir", "replay")  # their default: none
    assert replay.ret == 0, replay.stdout.str()
    assert len(fake.requests) == 2 * sent
    assert _cells(pytester.path / "replay") == _cells(pytester.path / "ours")
    refused = run(pytester, *adhoc, "--record-mode=rewrite")
    assert refused.ret == 4
    refused.stderr.fnmatch_lines(["ERROR: --record-mode rewrite: the conformance suite records with none, once, "
                                  "new_episodes, all"])


def test_the_projects_own_base_url_is_not_a_target(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_web="def test_page(base_url):\n    assert base_url == 'http://127.0.0.1:9/app'\n")
    own = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--base-url", "http://127.0.0.1:9/app",
                                        "test_web.py")
    own.assert_outcomes(passed=1)  # the project's own tests, and no conformance run
    assert "conformance summary" not in own.stdout.str()
    monkeypatch.setenv("PYTEST_BASE_URL", "http://127.0.0.1:9/app")
    suite = run(pytester, "--probe", "chat.completion")  # the embedded default, not an ad-hoc target at the web app
    assert suite.ret == 0, suite.stdout.str()
    assert set(json.loads((pytester.path / "reports" / "results.json").read_text())["targets"]) == {
        "vllm", "litellm", "llama", "litellm-vllm"}
