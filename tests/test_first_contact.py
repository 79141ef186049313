"""A new user's first commands and mistakes: usage errors before any request, no green run that tested nothing,
no lost recordings, the estimate shown before spending, a misconfigured target (wrong key, base URL without /v1,
nothing listening, TLS to a plain HTTP port) stopped after its first contact with one line saying why (pytester
subprocesses against the fake server, over real sockets)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import ssl
import sys
from pathlib import Path

import httpx
import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from conformance import cli
from conformance.model.targets import Target
from conformance.plugin import PACKAGE_DIR
from conformance.report.summary_md import md_text
from conformance.wire.first_contact import (
    CONFIRMATIONS,
    FINE,
    UNSURE,
    FirstContact,
    Reading,
    connect_problem,
    read_answer,
)
from conformance.wire.http import _connect_cause
from tests.fakeserver import FakeConfig, FakeServer
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
    "zero deadline": (lambda t: ["--deadline", "0"], "--deadline 0", "seconds above 0"),
    "cassette dir under a file": (lambda t: ["--cassette-dir", str(a_file(t) / "sub")], "--cassette-dir",
                                  "cannot be created"),
    "missing baseline file": (lambda t: ["--baseline", str(t / "nope.json")], "--baseline", "nope.json"),
    "unknown baseline target": (lambda t: ["--baseline", "mistral"], "--baseline mistral", "target of this run"),
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
    # pytest captured the test that printed it; the upper bound counts every re-send the one request may call for
    assert re.search(r"conformance: live run \(all\): at most \d+ requests \(1 unless an answer calls for more\)", out)
    assert "1 requests sent live, 0 replayed" in out
    assert "conformance: 1/1 probes done, 1 requests, " in out and ": run ended" in out  # the last progress line


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


# --------------------------------------------------------------------------------------------------------
# A misconfigured target stops after its first contact and says why in one line (issue 19, item 2)
# --------------------------------------------------------------------------------------------------------

REPORT_FILES = ("results.json", "compat.html", "report.html", "summary.md", "junit.xml")
FIRST_CONTACT_REQUESTS = 1 + CONFIRMATIONS  # the request that shows the problem and its confirmations


def a_closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_stopped_early(result: pytest.RunResult, reports: Path, line: str) -> dict:
    """Exit 1, the problem said in one line (live and in the summary), every report written, no probe judged."""
    out = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    told = [x for x in out.splitlines() if x.startswith("conformance: target 'custom' is misconfigured: ")]
    assert len(told) == 1 and line in told[0], out[-3000:]
    assert f"PROBLEM: target 'custom' is misconfigured: {told[0].split('misconfigured: ', 1)[1]}".split(
        " (its other requests")[0] in out
    assert "concurrent" not in out and "Traceback" not in out
    assert len(out.splitlines()) < 40, out  # not a line per probe
    for name in REPORT_FILES:
        assert (reports / name).is_file(), name
    data = json.loads((reports / "results.json").read_text())
    assert any(line in p for p in data["run"]["problems"])
    cells = [c for per_target in data["features"].values() for c in per_target.values()]
    assert {c["status"] for c in cells} <= {"SKIPPED", "ERROR"}, cells
    assert md_text(line) in (reports / "summary.md").read_text()
    return data


def test_a_wrong_key_stops_after_the_first_contact_and_names_the_variable(
        pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMU_KEY", "sk-expired-0123456789")
    with FakeServer(FakeConfig(api_key="sk-current-key")) as keyed:
        result = run(pytester, *live(keyed, tmp_path, "--api-key-env", "EMU_KEY", "--probe", "request",
                                     "--probe", "errors"))
        received = len(keyed.requests)
    assert received <= 1 + FIRST_CONTACT_REQUESTS  # one wrong-key probe may go first: its 401 is no evidence
    assert_stopped_early(result, tmp_path / "r",
                         "401 on every request: check EMU_KEY (the server says 'Incorrect API key provided.')")
    assert "sk-expired" not in result.stdout.str() + (tmp_path / "r" / "results.json").read_text()


def test_a_keyless_target_answered_401_is_told_to_name_its_key(pytester: pytest.Pytester, tmp_path: Path) -> None:
    with FakeServer(FakeConfig(api_key="sk-current-key")) as keyed:
        result = run(pytester, *live(keyed, tmp_path, "--probe", "request.temperature"))
        assert len(keyed.requests) == FIRST_CONTACT_REQUESTS
    assert_stopped_early(result, tmp_path / "r", "this target sends no key; name the variable that holds it")


def test_a_base_url_without_v1_is_404_and_the_fix_is_named(pytester: pytest.Pytester, fake: FakeServer,
                                                           tmp_path: Path) -> None:
    root = fake.base_url.removesuffix("/v1")
    args = live(fake, tmp_path, "--probe", "request")
    args[args.index(fake.base_url)] = root
    result = run(pytester, *args)
    assert len(fake.requests) <= 1 + FIRST_CONTACT_REQUESTS  # request.model.invalid's 404 (another model) may go first
    assert {r["path"] for r in fake.requests} == {"/chat/completions"}
    assert_stopped_early(result, tmp_path / "r", f"404 on /chat/completions: did you mean {root}/v1? (the server "
                                                 "says 'Unknown request URL: POST")


def test_nothing_listening_is_said_once_and_never_blamed_on_concurrency(pytester: pytest.Pytester,
                                                                        tmp_path: Path) -> None:
    port = a_closed_port()
    result = run(pytester, "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "m", "--record-mode=all",
                 "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r"))
    data = assert_stopped_early(result, tmp_path / "r", f"nothing listens on 127.0.0.1:{port} (connection refused)")
    assert data["run"]["live_requests"] <= FIRST_CONTACT_REQUESTS
    assert data["run"]["complete"] is False and "on a misconfigured target" in data["run"]["interrupted_reason"]


def test_tls_to_a_plain_http_server_says_to_try_http(pytester: pytest.Pytester, fake: FakeServer,
                                                     tmp_path: Path) -> None:
    args = live(fake, tmp_path)
    args[args.index(fake.base_url)] = fake.base_url.replace("http://", "https://")
    result = run(pytester, *args)
    assert_stopped_early(result, tmp_path / "r", f"TLS handshake with 127.0.0.1:{fake.port} failed")
    assert f"the server speaks plain HTTP: try {fake.base_url}" in result.stdout.str()


def test_the_wrong_key_probe_401_is_no_misconfiguration(pytester: pytest.Pytester, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """errors.bad_key sends a wrong key on purpose: its 401 is the answer it asks for, even as the first request."""
    monkeypatch.setenv("EMU_KEY", "sk-current-key")
    with FakeServer(FakeConfig(api_key="sk-current-key")) as keyed:
        result = run(pytester, *live(keyed, tmp_path, "--api-key-env", "EMU_KEY", "--probe", "errors.bad_key"))
        assert len(keyed.requests) == 2
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, out[-3000:]
    assert "misconfigured" not in out
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert data["features"]["errors.bad_key"]["custom"]["status"] == "OK"


# A first contact read answer by answer: what is a configuration problem, and what proves nothing either way.
TARGET = Target(name="t", base_url="http://h:1/v1", model="m", api_key_env="EMU_KEY", models={"tools": "m-tools"})
CHAT = {"model": "m", "messages": []}
READINGS = {
    "401 with the target's key": (("target", "POST", "/chat/completions", CHAT, 401, ""), "check EMU_KEY"),
    "403 with the target's key": (("target", "POST", "/models", None, 403, ""), "403 on every request: check"),
    "401 to the wrong-key probe": (("bad", "POST", "/chat/completions", CHAT, 401, ""), None),
    "404 on GET /models": (("target", "GET", "/models", None, 404, ""), None),
    "404 for another model": (("target", "POST", "/chat/completions", {"model": "nope"}, 404,
                               '{"error": {"message": "The model `nope` does not exist"}}'), None),
    "404 for the target's own model": (("target", "POST", "/chat/completions", {"model": "m-tools"}, 404,
                                        '{"error": {"message": "The model `m-tools` does not exist"}}'),
                                       "404 for model 'm-tools' on every request"),
    "404 on the path": (("target", "POST", "/chat/completions", CHAT, 404, '{"detail": "Not Found"}'),
                        "404 on http://h:1/v1/chat/completions: check the base URL"),
    "a 500": (("target", "POST", "/chat/completions", CHAT, 500, ""), ""),
    "a 400": (("target", "POST", "/chat/completions", CHAT, 400, ""), ""),
}


@pytest.mark.parametrize("case", list(READINGS))
def test_first_contact_reads_only_a_sure_sign_as_misconfiguration(case: str) -> None:
    args, expected = READINGS[case]
    reading = read_answer(TARGET, *args)
    if expected is None:  # says nothing: the next request checks again
        assert reading == UNSURE
    elif expected == "":  # the setup works (the server's trouble is a verdict, not a configuration problem)
        assert reading == FINE
    else:
        assert reading.problem is not None and expected in reading.problem, reading


def test_the_first_contact_gate_lets_one_request_at_a_time_until_settled() -> None:
    async def scenario() -> list[str]:
        gate, seen = FirstContact(TARGET), []

        async def request(name: str, settle: Reading | None) -> None:
            async with gate.turn() as checking:
                seen.append(f"{name} in ({'checks' if checking else 'free'})")
                await asyncio.sleep(0.01)
                if settle is not None:
                    gate.settle(settle, confirmed=True)
                seen.append(f"{name} out")

        await asyncio.gather(request("a", UNSURE), request("b", FINE), request("c", None), request("d", None))
        return seen

    assert asyncio.run(scenario()) == ["a in (checks)", "a out", "b in (checks)", "b out", "c in (free)",
                                       "d in (free)", "c out", "d out"]


def test_the_deadline_ends_a_hanging_run_and_every_report_is_written(pytester: pytest.Pytester,
                                                                     tmp_path: Path) -> None:
    """--deadline 3 against a server that never answers: the requests in flight are cut (TIMEOUT), the rest are not
    sent (SKIPPED), both naming the deadline; the run fails and says so; the reports are written."""
    with FakeServer(FakeConfig(fault="hang")) as hanging:
        result = run(pytester, *live(hanging, tmp_path, "--probe", "request.temperature", "--probe", "request.seed",
                                     "--deadline", "3"))
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    assert "PROBLEM: the run's --deadline of 3 s passed before every probe ended" in out
    for name in REPORT_FILES:
        assert (tmp_path / "r" / name).is_file(), name
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    cells = [c for per_target in data["features"].values() for c in per_target.values()]
    assert {c["status"] for c in cells} <= {"TIMEOUT", "SKIPPED"}
    assert all("the run's --deadline of 3 s" in " ".join(c["notes"]) for c in cells), cells
    assert "status TIMEOUT" in out and "no complete answer within the run's --deadline of 3 s" in out  # the one cut
    assert "8 of 9 probes skipped: 8 after the run's --deadline" in out  # the others were never sent


def _raised(outer: Exception, inner: Exception) -> Exception:
    """`outer` with `inner` as its __context__, as httpcore raises them."""
    outer.__context__ = inner
    return outer


@pytest.mark.parametrize("exc, cause, line", [
    (_raised(httpx.ConnectError("All connection attempts failed"), ConnectionRefusedError(111, "refused")),
     "refused", "nothing listens on h:1 (connection refused): start the server or check the base URL http://h:1/v1"),
    (_raised(httpx.ConnectError("[Errno -2] Name or service not known"), socket.gaierror(-2, "Name or service")),
     "dns", "the host h does not resolve ([Errno -2] Name or service not known): check the base URL http://h:1/v1"),
    (_raised(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
             ssl.SSLError(1, "CERTIFICATE_VERIFY_FAILED")),
     "tls", "TLS handshake with h:1 failed ([SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed): check its "
            "certificate and the scheme (http/https) of the base URL"),
    (httpx.ConnectError("[Errno 101] Network is unreachable"), "failed",
     "cannot connect to h:1 ([Errno 101] Network is unreachable): check the base URL http://h:1/v1"),
])
def test_a_connection_that_never_opened_is_named_by_its_cause(exc: Exception, cause: str, line: str) -> None:
    """DNS and certificate failures need a network this machine does not have: read from the exceptions httpx
    raises (a refused connection and TLS to a plain port are checked over real sockets above)."""
    assert _connect_cause(exc) == cause
    assert connect_problem(TARGET, cause, str(exc)) == line
