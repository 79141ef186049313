"""The pytest plugin, driven end to end with pytester (real subprocess runs against the fake server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.report.results_io import validate_results
from tests.fakeserver import FakeConfig, FakeServer
from tests.plugin_helpers import run

QUICK = ["--probe", "chat.completion", "--probe", "request.max_tokens", "--probe", "request.stream.basic",
         "--probe", "errors.bad_key"]
REPORT_FILES = ("results.json", "compat.html", "report.html", "summary.md", "junit.xml")




def results_of(report_dir: Path) -> dict:
    data = json.loads((report_dir / "results.json").read_text())
    assert validate_results(data) == []
    return data


def triples(data: dict) -> dict[tuple[str, str], tuple]:
    return {(f, t): (r["status"], r["support"], r["conformance"])
            for f, per in data["features"].items() for t, r in per.items()}


def test_options_are_in_help(pytester: pytest.Pytester) -> None:
    out = run(pytester, "--help").stdout.str()
    for option in ("--target", "--base-url", "--model", "--api-key-env", "--target-name", "--record-mode",
                   "--cassette-dir", "--report-dir", "--baseline", "--concurrency"):
        assert option in out


def test_unknown_target_alone_is_a_usage_error_naming_it(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--target", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--target nope: unknown target" in result.stderr.str()


def test_unknown_target_beside_others_is_a_usage_error_before_any_request(pytester: pytest.Pytester,
                                                                          fake: FakeServer, tmp_path: Path) -> None:
    result = run(pytester, "--target", "nope", "--base-url", fake.base_url, "--model", "fake-model",
                 "--record-mode=all", "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r"),
                 "--probe", "chat.completion")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--target nope: unknown target" in result.stderr.str()
    assert fake.requests == []


def test_bad_targets_file_names_file_target_and_field(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("targets.toml").write_text('[targets.local]\nbase_url = "http://x/v1"\nmodel = 5\n')
    result = run(pytester, "--target", "local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "targets.toml" in err and "'local'" in err and "'model'" in err


def test_record_then_replay_gives_the_same_verdicts(pytester: pytest.Pytester, fake: FakeServer,
                                                    tmp_path: Path) -> None:
    cassettes, live, replay = tmp_path / "cassettes", tmp_path / "live", tmp_path / "replay"
    common = ["--base-url", fake.base_url, "--model", "fake-model", "--cassette-dir", str(cassettes), *QUICK]
    recorded = run(pytester, *common, "--record-mode=all", "--report-dir", str(live))
    recorded.assert_outcomes(passed=5)
    assert "custom::chat.completion" in (live / "junit.xml").read_text()
    sent = len(fake.requests)
    fake.stop()
    replayed = run(pytester, *common, "--report-dir", str(replay))
    replayed.assert_outcomes(passed=5)
    assert len(fake.requests) == sent
    assert triples(results_of(live)) == triples(results_of(replay))
    assert all((replay / name).is_file() for name in REPORT_FILES)
    assert results_of(replay)["run"]["record_mode"] == "none"
    assert Path(cassette_of(results_of(live), "chat.completion")).is_file()


def cassette_of(results: dict, feature: str) -> str:
    """The cassette a feature's first request was recorded in (its own, or a shared request's)."""
    return results["features"][feature]["custom"]["evidence"][0]["exchanges"][0]["cassette"]


def test_replay_without_cassette_skips_with_the_record_command(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = run(pytester, "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--target-name", "nowhere",
                 "--cassette-dir", str(tmp_path / "empty"), "--report-dir", str(tmp_path / "r"),
                 "--probe", "chat.completion", "-rs")
    result.assert_outcomes(skipped=1)
    assert "--record-mode=once" in result.stdout.str()
    assert results_of(tmp_path / "r")["features"]["chat.completion"]["nowhere"]["status"] == "SKIPPED"


def test_missing_key_skips_that_target_only(pytester: pytest.Pytester, fake: FakeServer, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONFORMANCE_TEST_UNSET_KEY", raising=False)
    pytester.path.joinpath("targets.toml").write_text(
        f'[targets.open]\nbase_url = "{fake.base_url}"\nmodel = "fake-model"\n\n'
        f'[targets.keyed]\nbase_url = "{fake.base_url}"\nmodel = "fake-model"\n'
        'api_key_env = "CONFORMANCE_TEST_UNSET_KEY"\n')
    result = run(pytester, "--target", "open", "--target", "keyed", "--record-mode=once",
                 "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r"),
                 "--probe", "chat.completion", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    assert "CONFORMANCE_TEST_UNSET_KEY is not set" in result.stdout.str()
    features = results_of(tmp_path / "r")["features"]["chat.completion"]
    assert features["open"]["support"] == "SUPPORTED" and features["keyed"]["status"] == "SKIPPED"


def test_canary_key_never_reaches_a_written_file(pytester: pytest.Pytester, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "sk-canary-" + "7f3a9c1e5b2d4f6a8c0e" * 2
    monkeypatch.setenv("CONFORMANCE_CANARY_KEY", canary)
    with FakeServer(FakeConfig(api_key=canary)) as srv:
        result = run(pytester, "--base-url", srv.base_url, "--model", "fake-model", "--api-key-env",
                     "CONFORMANCE_CANARY_KEY", "--record-mode=all", "--cassette-dir", str(tmp_path / "c"),
                     "--report-dir", str(tmp_path / "r"), *QUICK)
        assert any(r["headers"].get("authorization") == f"Bearer {canary}" for r in srv.requests)
    result.assert_outcomes(passed=5)
    written = [p for p in tmp_path.rglob("*") if p.is_file()] + [p for p in pytester.path.rglob("*") if p.is_file()]
    assert len(written) >= 8
    for path in written:
        text = path.read_text(errors="replace")
        assert canary not in text, path
    assert canary not in result.stdout.str() + result.stderr.str()


def test_malformed_cassette_is_an_error_naming_the_file_and_the_rest_runs(
        pytester: pytest.Pytester, fake: FakeServer, tmp_path: Path) -> None:
    """A damaged cassette is the probe's ERROR naming the file, never "no recording"; the other probes run."""
    cassettes = tmp_path / "c"
    common = ["--base-url", fake.base_url, "--model", "fake-model", "--cassette-dir", str(cassettes), *QUICK]
    run(pytester, *common, "--record-mode=all", "--report-dir", str(tmp_path / "r1")).assert_outcomes(passed=5)
    damage = {"chat.completion": "interactions: [\n  {this is: not yaml",  # not YAML
              # YAML, but the response lacks its body
              "request.stream": "interactions:\n- request: {method: POST, uri: /x, body: null, headers: {}}\n"
                                "  response: {status: {code: 200}, headers: {}}\n",
              "errors.bad_key": ""}  # empty: vcrpy alone would record it again
    bad = {feature: Path(cassette_of(results_of(tmp_path / "r1"), feature)) for feature in damage}
    assert len(set(bad.values())) == len(bad)
    for feature, text in damage.items():
        bad[feature].write_text(text)
    result = run(pytester, *common, "--report-dir", str(tmp_path / "r2"))
    assert result.ret == 1 and result.parseoutcomes().get("skipped", 0) == 0
    data = results_of(tmp_path / "r2")
    for feature, path in bad.items():
        assert str(path) in result.stdout.str(), feature
        cell = data["features"][feature]["custom"]
        assert cell["status"] == "ERROR" and any(str(path) in note for note in cell["notes"]), (feature, cell)
    assert data["features"]["request.max_tokens"]["custom"]["support"] == "SUPPORTED"


@pytest.mark.slow  # two xdist workers, each starting the suite
def test_xdist_workers_end_in_one_results_file(pytester: pytest.Pytester, fake: FakeServer, tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    result = run(pytester, "-n", "2", "--base-url", fake.base_url, "--model", "fake-model", "--record-mode=all",
                 "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r"), *QUICK)
    result.assert_outcomes(passed=5)
    data = results_of(tmp_path / "r")
    assert data["run"]["counts"]["probes"] == 5
    assert set(data["features"]) == {"chat.completion", "request.max_tokens", "request.stream", "errors.bad_key"}


def test_a_finding_its_owner_shows_stays_with_the_owner_even_when_the_owner_is_not_selected(
        pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The same server, stream.padding selected alone: the owners' probes run for its findings (they are not
    cells of the run), show them, and keep them; stream.padding's cell is the one a full run gives it."""
    with FakeServer(FakeConfig(ignore={"stream"})) as srv:
        result = run(pytester, "--base-url", srv.base_url, "--model", "fake-model", "--record-mode=all",
                     "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r"),
                     "--probe", "stream.padding", "-rf")
    features = results_of(tmp_path / "r")["features"]
    assert set(features) == {"stream.padding"}
    cell = features["stream.padding"]["custom"]
    assert cell["conformance"] != "FAILED" and any("also seen (see request.stream)" in n for n in cell["notes"])
    result.assert_outcomes(passed=1)


def test_a_finding_its_owner_shows_stays_with_the_owner(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The same server with the owners' probes run too: the owners' tests fail, stream.padding's does not."""
    with FakeServer(FakeConfig(ignore={"stream"})) as srv:
        result = run(pytester, "--base-url", srv.base_url, "--model", "fake-model", "--record-mode=all",
                     "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r"),
                     "--probe", "stream.padding", "--probe", "request.stream.basic", "--probe", "stream.done_sentinel",
                     "-rf")
    features = results_of(tmp_path / "r")["features"]
    assert features["stream.padding"]["custom"]["conformance"] != "FAILED"
    assert {f: features[f]["custom"]["conformance"] for f in ("request.stream", "stream.done_sentinel")} == {
        "request.stream": "FAILED", "stream.done_sentinel": "FAILED"}
    failed = [line for line in result.stdout.str().splitlines() if line.startswith("FAILED ") and "test_probe[" in line]
    assert len(failed) == 2 and not any("stream.padding" in line for line in failed), failed
