"""The pytest plugin: options, one generic test parametrized over (target, probe), and the reports.

The only module that knows pytest. Verdicts travel in each test report's `user_properties`, so
pytest-xdist workers (even on other hosts) end in one results.json written by the controller.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conformance import preflight
from conformance.features import registry
from conformance.model.probes import Probe
from conformance.model.targets import Target, TargetError, adhoc_target, load_targets, select_targets
from conformance.model.verdicts import FAILING_STATUS_WORDS, Conformance, Status
from conformance.report.drift import Change, compare_to_expectations, load_expectations
from conformance.report.results_io import record_text, verdict_text
from conformance.report.terminal_summary import Line, Severity, alert, estimate_text, summary_lines
from conformance.run import progress
from conformance.run.engine import Engine, make_engine, plan
from conformance.run.plan import Estimate
from conformance.run.results import (
    build_results,
    charge_unseen_findings,
    failed,
    failed_rule,
    internal_problems,
    now,
    record_of,
    skip_causes,
)
from conformance.wire.budget import Budget, budget_limits
from conformance.wire.http import Deadline
from conformance.wire.recording import RECORD_MODES

PACKAGE_DIR = Path(__file__).resolve().parent
PROPERTY = "conformance"


# Options other pytest plugins define with the same meaning: pytest-recording's --record-mode (the same vcrpy record
# modes) and pytest-base-url's --base-url (the URL of the application under test). Where such a plugin is loaded,
# its option is the one parsed and the suite reads its value; else the suite defines the option itself. They are
# added once every plugin has defined its own options (argparse refuses a second --record-mode).
SHARED_OPTIONS = {
    "--record-mode": dict(default=None, metavar="MODE",
                          help="none = replay only (default); once / new_episodes / all go live and record"),
    "--base-url": dict(default=None, help="an ad-hoc target's base URL, e.g. http://127.0.0.1:8000/v1"),
}
GROUP = "conformance"
_SHARED_KEY = pytest.StashKey[frozenset[str]]()  # the shared options another plugin defines


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup(GROUP, "OpenAI-compatibility conformance")
    g.addoption("--target", action="append", default=[], metavar="NAME",
                help="a target from targets.toml or a preset (openai, mistral); repeatable; `all` = every one")
    g.addoption("--model", default=None, help="the ad-hoc target's model")
    g.addoption("--api-key-env", default=None, help="environment variable holding the ad-hoc target's key")
    g.addoption("--target-name", default="custom", help="name of the ad-hoc target (default: custom)")
    g.addoption("--targets-file", default=None, help="targets file (default: ./targets.toml when present)")
    g.addoption("--cassette-dir", default=None,
                help="cassette root, one folder per target (default: ./cassettes; the embedded default replays "
                     "the cassettes bundled in the package)")
    g.addoption("--report-dir", default="reports", help="where reports are written (default: reports/)")
    g.addoption("--baseline", default=None, metavar="NAME|results.json",
                help="target (or stored results file) the migration view compares with")
    g.addoption("--uses", default=None, metavar="FILE", help="features your application relies on (go / no-go)")
    g.addoption("--expect", default=None, metavar="FILE", help="drift gate: fail when a verdict changed")
    g.addoption("--update-expectations", action="store_true", help="write --expect FILE from this run")
    g.addoption("--concurrency", default=None, metavar="N", help="requests in flight per target (default: per target)")
    g.addoption("--max-requests", default=None, metavar="N",
                help="a ceiling: no live request beyond N (retries included); the probes left end SKIPPED")
    g.addoption("--max-tokens", default=None, metavar="N",
                help="a ceiling: a live request whose estimated tokens could take the run past N is not sent")
    g.addoption("--probe", action="append", default=[], metavar="PREFIX",
                help="only probes whose id or feature starts with PREFIX; repeatable")
    g.addoption("--deadline", type=float, default=None, metavar="SECONDS",
                help="the whole live run ends after SECONDS: requests in flight are cut (TIMEOUT), the rest not sent "
                     "(SKIPPED); every report is still written")


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser) -> Any:
    """After every plugin (also those the initial conftests name) has defined its options: the shared ones."""
    result = yield
    groups = [parser._anonymous, *parser._groups]  # noqa: SLF001  # pytest offers no public view of the options
    taken = {name for g in groups if g.name != GROUP for opt in g.options for name in opt.names()}
    early_config.stash[_SHARED_KEY] = frozenset(taken & set(SHARED_OPTIONS))
    for name, attrs in SHARED_OPTIONS.items():
        if name not in taken:
            parser.getgroup(GROUP).addoption(name, **attrs)
    return result


class _NoExtraInfo(dict):  # type: ignore[type-arg]
    """pytest's parser lists the rootdir and ini file under a usage error: here, nothing is added."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


class OneLineUsage:
    """For `conformance run`: pytest's own usage errors (an unknown option, a value another plugin's option refuses)
    in one line naming the command, like every other usage error of every command. Registered before pytest parses
    anything, so the early parse of the options already known says it in one line too."""

    def __init__(self, prog: str) -> None:
        self.prog = prog

    def pytest_addoption(self, parser: pytest.Parser) -> None:
        parser.prog = self.prog
        parser.extra_info = _NoExtraInfo()
        argparser = getattr(parser, "optparser", None)  # pytest 9 builds it up front; older ones keep their usage line
        if argparser is not None:
            argparser.extra_info = parser.extra_info
            argparser.usage = argparse.SUPPRESS
            argparser.description = f"usage: {self.prog} [options] (pytest's, and the conformance group's below)"


def shared_with_others(config: pytest.Config, name: str) -> bool:
    """Whether another plugin defines this shared option (its own, e.g. pytest-base-url's, is the one parsed)."""
    return name in config.stash.get(_SHARED_KEY, frozenset())


BUNDLED_CASSETTES = PACKAGE_DIR / "data" / "cassettes"  # the reference targets' recordings, shipped in the package
BUNDLED_EXPECTATIONS = PACKAGE_DIR / "data" / "expected" / "embedded-default.json"


class ConformanceRun:
    """State of one pytest session's conformance run; every option is checked here, before any request."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = now()
        self.problems: list[str] = []  # said at the end and in results.json (e.g. cassettes that could not be saved)
        self._rewritten = False  # the last line said was a progress line rewritten in place
        try:
            self._check_options()
        except (preflight.UsageProblem, TargetError) as exc:
            raise pytest.UsageError(str(exc)) from None
        self.results: dict[str, dict[str, Any]] | None = None
        self.records: dict[str, dict[str, Any]] = {}
        self.interrupted: str | None = None
        self.expectations: dict[str, Any] | None = None
        self.final: dict[str, Any] | None = None  # results.json as written, for the terminal summary
        self.drift_lines: list[Line] = []
        self.previous_line: str | None = None  # a re-run that lost verdicts says so
        self.changes: dict[tuple[str, str], Change] = {}
        self.estimate: Estimate | None = None  # of a live run: at most this many requests and tokens
        self.budget: Budget | None = None

    def _check_options(self) -> None:
        opt = self.config.getoption
        self.record_mode = preflight.record_mode(opt("record_mode"), RECORD_MODES)
        for option in ("concurrency", "max_requests", "max_tokens"):  # as ints from here on, for every reader
            value = preflight.whole_number("--" + option.replace("_", "-"), opt(option))
            setattr(self.config.option, option, value)
        preflight.seconds("--deadline", opt("deadline"))
        self.targets = self._targets()
        self.cassette_dir = self._cassette_dir()
        self.report_dir = Path(opt("report_dir"))
        preflight.writable_dir("--report-dir", self.report_dir)
        if self.record_mode != "none":
            preflight.outside_package("--cassette-dir", self.cassette_dir, PACKAGE_DIR)
            preflight.writable_dir("--cassette-dir", self.cassette_dir)
        self.probes: list[Probe] = preflight.probes_matching(list(opt("probe")), registry.PROBES)
        preflight.baseline(opt("baseline"), self.targets)
        update = bool(opt("update_expectations"))
        self.expect = Path(opt("expect")) if opt("expect") else None
        preflight.expectations(self.expect, update)
        if self.expect is None and not update and self.cassette_dir == BUNDLED_CASSETTES:
            self.expect = BUNDLED_EXPECTATIONS  # the bundled recordings' known deviations are expected
        preflight.uses(Path(opt("uses")) if opt("uses") else None)

    def _cassette_dir(self) -> Path:
        """--cassette-dir; else the bundled cassettes for a replay of the bundled references; else ./cassettes."""
        given = self.config.getoption("cassette_dir")
        if given:
            return Path(given)
        if self.record_mode == "none" and all(t.bundled for t in self.targets):
            return BUNDLED_CASSETTES
        return Path("cassettes")

    def _targets(self) -> list[Target]:
        opt = self.config.getoption
        known = load_targets(preflight.targets_file(Path(opt("targets_file")) if opt("targets_file") else None))
        adhoc = None
        base_url = given_base_url(self.config)
        if base_url:
            adhoc = adhoc_target(opt("target_name"), base_url, opt("model"), opt("api_key_env"), known)
        elif opt("model") or opt("api_key_env"):
            raise TargetError("--model / --api-key-env describe an ad-hoc target and need --base-url")
        chosen, unknown = select_targets(known, list(opt("target")), adhoc)
        if unknown:  # a typo must not cost the other targets' paid requests
            raise TargetError(unknown[0])
        return chosen

    def case_ids(self) -> list[tuple[str, str]]:
        return [(t.name, p.id) for t in self.targets for p in self.probes]

    def run_all(self, session: pytest.Session) -> None:
        """Run every collected case at once (concurrently), the first time a case asks for its result."""
        wanted = []
        for item in session.items:
            callspec = getattr(item, "callspec", None)
            if callspec is not None and "conformance_case" in callspec.params:
                wanted.append(callspec.params["conformance_case"])
        targets = {t.name: t for t in self.targets}
        probes = registry.probe_by_id()
        pairs = [(targets[t], probes[p]) for t, p in wanted]
        opt = self.config.getoption
        budget = Budget(opt("max_requests"), opt("max_tokens"))
        if self.record_mode != "none":
            self.estimate = plan(pairs)
            self.say(f"conformance: live run ({self.record_mode}): {estimate_text(self.estimate.to_dict())} to "
                     f"{len(targets)} target(s); ceilings: {budget_limits(budget, list(targets.values()))}")
        self.budget = budget
        self.results = {}
        seconds = opt("deadline")
        deadline = Deadline.after(seconds, f"the run's --deadline of {seconds:g} s") if seconds else None
        engine = make_engine(pairs, self.cassette_dir, self.record_mode, opt("concurrency"), budget, deadline)
        started = time.monotonic()
        try:
            asyncio.run(engine.run(pairs, self._watch(pairs)))
            self._tell_run_end(engine, pairs, started, deadline)
        except KeyboardInterrupt:
            self.interrupted = "interrupted (Ctrl-C) before every probe ended"
            raise
        finally:  # what ended before an interruption still reaches results.json
            # Every probe has ended: a finding whose owner's probes do not show it is charged back to the probe that
            # saw it now, so that probe's test fails (or xfails as a known deviation) like its cell.
            owners = [record_of(r) for r in engine.owner_results]
            for rec in charge_unseen_findings([record_of(r) for r in engine.done], owners):
                self.results[f"{rec['target']}::{rec['probe']}"] = rec
            self.problems.extend(engine.save_problems)
        self.changes = self._cell_changes()

    def _watch(self, pairs: list[tuple[Target, Probe]]) -> Any:
        """What runs beside a live run's probes: progress lines and misconfigured targets (run/progress.py)."""
        if self.record_mode == "none":
            return None
        totals = dict(Counter(t.name for t, _ in pairs))
        rewrite = functools.partial(self.say, transient=True) if self._on_terminal() else None
        return progress.watch_with(totals, self.say, rewrite)

    def _on_terminal(self) -> bool:
        """Whether the terminal output goes to a terminal (not a CI log), asked with pytest's capture off."""
        tr = self.config.pluginmanager.getplugin("terminalreporter")
        capman = self.config.pluginmanager.getplugin("capturemanager")
        file = getattr(getattr(tr, "_tw", None), "_file", None)
        if file is None or not hasattr(file, "isatty"):
            return False
        if capman is None:
            return bool(file.isatty())
        with capman.global_and_fixture_disabled():
            return bool(file.isatty())

    def _tell_run_end(self, engine: Engine, pairs: list[tuple[Target, Probe]], started: float,
                      deadline: Deadline | None) -> None:
        """A live run's last progress line; a misconfigured target and a passed deadline become problems."""
        for client in engine.clients.values():
            if client.contact.broken:
                self.problems.append(client.contact.misconfigured)
        cut = deadline is not None and any(deadline.label in n for r in engine.done for n in r.verdict.notes)
        if deadline is not None and cut:
            self.problems.append(f"{deadline.label} passed before every probe ended: the rest are TIMEOUT (cut) or "
                                 "SKIPPED (not sent)")
        if self.record_mode != "none":
            now_ = progress.progress(engine, dict(Counter(t.name for t, _ in pairs)), started)
            self.say(f"{now_.line()}: run ended")

    def say(self, line: str, transient: bool = False) -> None:
        """Write a line to the terminal now, even from inside a test while pytest captures output; a `transient`
        line (progress, on a terminal) is rewritten in place by the next line."""
        tr = self.config.pluginmanager.getplugin("terminalreporter")
        capman = self.config.pluginmanager.getplugin("capturemanager")
        if tr is None:
            return
        if capman is None:
            self._write(tr, line, transient)
            return
        with capman.global_and_fixture_disabled():
            self._write(tr, line, transient)

    def _write(self, tr: Any, line: str, transient: bool) -> None:
        if transient:
            tr.rewrite(line, erase=True)
        elif self._rewritten:
            tr.rewrite(line, erase=True)
            tr.write("\n")
        else:
            tr.write_line(line)
        self._rewritten = transient

    def _cell_changes(self) -> dict[tuple[str, str], Change]:
        """Per (target, feature): the difference from its expectation, judged on the whole feature (all probes)."""
        # --update-expectations may create the file: until then there is nothing to compare with
        self.expectations = load_expectations(self.expect) if self.expect and self.expect.exists() else None
        if self.expectations is None or not self.results:
            return {}
        if hasattr(self.config, "workerinput"):  # an xdist worker sees part of a feature's probes: the controller's
            return {}                            # gate judges whole cells; here a failure xfails only if expected
        results = build_results(list(self.results.values()), self.targets, record_mode=self.record_mode,
                                probes=registry.probe_by_id(), started=self.started, finished=now())
        return {(c.target, c.feature): c for c in compare_to_expectations(results, self.expectations)}

    def expected(self, target: str, feature: str) -> dict[str, Any] | None:
        """The stored expectation of one cell, or None."""
        if self.expectations is None:
            return None
        return self.expectations["targets"].get(target, {}).get("features", {}).get(feature)

    def result(self, key: str, session: pytest.Session) -> dict[str, Any]:
        if self.results is None:
            self.run_all(session)
        assert self.results is not None
        return self.results[key]


def _is_conformance_args(config: pytest.Config) -> bool:
    suite = PACKAGE_DIR
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == suite or suite in path.parents or arg in ("conformance",):
            return True
    # with pytest-base-url, --base-url alone is the project's own tests' option: the suite runs when named
    own_base_url = given_base_url(config) and not shared_with_others(config, "--base-url")
    return bool(config.getoption("target") or own_base_url)


def given_base_url(config: pytest.Config) -> str | None:
    """The ad-hoc target's --base-url. When pytest-base-url owns the option, only a value given on the command line:
    its `base_url` ini value and PYTEST_BASE_URL name the application of the project's own tests, not a target."""
    value = config.getoption("base_url")
    if not value or not shared_with_others(config, "--base-url"):
        return value
    words = [*config.invocation_params.args, *os.environ.get("PYTEST_ADDOPTS", "").split()]
    return value if any(w == "--base-url" or str(w).startswith("--base-url=") for w in words) else None


def _installed_suite_args(args: list[str]) -> list[str]:
    """`conformance` as an argument means the suite that is loaded: from any directory (no ./conformance), and in
    a checkout whose package is installed non-editable (collecting the copy would be an import-file mismatch)."""
    out = []
    for arg in args:
        path, sep, rest = arg.partition("::")
        here = Path(path)
        copy = here.is_dir() and (here / "test_suite.py").is_file() and (here / "plugin.py").is_file()
        installed = (path == "conformance" and not here.exists()) or (copy and here.resolve() != PACKAGE_DIR)
        out.append(str(PACKAGE_DIR) + sep + rest if installed else arg)
    return out


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-html read their output paths
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a conformance probe against a target")
    if not _is_conformance_args(config):
        return
    config.args[:] = _installed_suite_args(list(config.args))
    _run(config)  # option and target errors surface now, as usage errors
    if hasattr(config, "workerinput"):
        return
    report_dir = Path(config.getoption("report_dir"))
    report_dir.mkdir(parents=True, exist_ok=True)
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(report_dir / "junit.xml")
    if hasattr(config.option, "htmlpath") and not config.option.htmlpath:
        config.option.htmlpath = str(report_dir / "report.html")
        config.option.self_contained_html = True


_RUN_KEY = pytest.StashKey[ConformanceRun]()


def _run(config: pytest.Config) -> ConformanceRun:
    if _RUN_KEY not in config.stash:
        config.stash[_RUN_KEY] = ConformanceRun(config)
    return config.stash[_RUN_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_case" not in metafunc.fixturenames:
        return
    run = _run(metafunc.config)
    ids = run.case_ids()
    metafunc.parametrize("conformance_case", ids, ids=[f"{t}::{p}" for t, p in ids], indirect=True)


class Case:
    """What the generic test sees: the verdict record of one (target, probe), and its cell's expectation."""

    def __init__(self, record: dict[str, Any], expected: dict[str, Any] | None = None,
                 change: Change | None = None) -> None:
        self.record = record
        self.expected = expected
        self.change = change

    def check(self) -> None:
        rec = self.record
        notes = "\n".join(f"  - {n}" for n in rec["notes"])
        name = f"{rec['target']}::{rec['probe']}" + (f" (feature {rec['feature']})" if rec["feature"] != rec["probe"]
                                                      else "")
        summary = f"{name}: {record_text(rec)}"
        if self.change is not None and self.change.fails:
            pytest.fail(f"{rec['target']} · {rec['feature']}: expected {verdict_text(self.change.was)}, got "
                        f"{verdict_text(self.change.now)}\n{summary}\n{notes}", pytrace=False)
        if rec["status"] == Status.SKIPPED.value:
            pytest.skip(f"{summary}\n{notes}")
        if failed(rec):
            if self.expected is not None and _deviates_alike(self.expected, rec):  # a known deviation, confirmed
                pytest.xfail(f"known deviation confirmed: {rec['target']} · {rec['feature']} expected "
                             f"{verdict_text(self.expected)}; {summary}")
            rule = failed_rule(rec)  # first, so the one-line summary of a FAILED cell names the rule that failed
            pytest.fail(f"{'FAILED rule: ' + rule + chr(10) if rule else ''}{summary}\n{notes}", pytrace=False)


def _deviates_alike(expected: dict[str, Any], record: dict[str, Any]) -> bool:
    """The expected cell fails the way this probe does: the same failing status, or conformance FAILED."""
    if record["status"] == Status.INTERNAL.value:  # a suite bug is never a target's known deviation
        return False
    if record["status"] in FAILING_STATUS_WORDS:
        return expected.get("status") == record["status"]
    return expected.get("conformance") == Conformance.FAILED.value


@pytest.fixture
def conformance_case(request: pytest.FixtureRequest) -> Case:
    target, probe = request.param
    run = _run(request.config)
    record = run.result(f"{target}::{probe}", request.session)
    request.node.user_properties.append((PROPERTY, record))
    return Case(record, run.expected(target, record["feature"]), run.changes.get((target, record["feature"])))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not any(k == PROPERTY for k, _ in item.user_properties):
        return
    record = next(v for k, v in item.user_properties if k == PROPERTY)
    html = item.config.pluginmanager.getplugin("html")
    if html is not None:
        extras = getattr(report, "extras", [])
        from pytest_html import extras as html_extras

        extras.append(html_extras.json({k: record[k] for k in ("status", "support", "conformance", "notes")},
                                       name="verdict"))
        extras.append(html_extras.json(record["exchanges"], name="evidence (requests and responses)"))
        if record["findings"]:
            extras.append(html_extras.json(record["findings"], name="schema findings"))
        report.extras = extras


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect each verdict record (also from xdist workers), and keep it out of junit.xml's properties."""
    props = getattr(report, "user_properties", [])
    for key, value in props:
        if key == PROPERTY and report.when == "call":
            _LOGGED.append(value)
            if getattr(report, "wasxfail", None):
                _CONFIRMED.append(f"{value['target']} · {value['feature']}")
    if report.when == "teardown" and any(k == PROPERTY for k, _ in props):
        report.user_properties = [(k, v) for k, v in props if k != PROPERTY]


_LOGGED: list[dict[str, Any]] = []
_CONFIRMED: list[str] = []  # cells whose known deviation this run confirmed (xfailed probes)


def _completeness(run: ConformanceRun, records: dict[str, dict[str, Any]], items: int,
                  exitstatus: int) -> tuple[bool, str | None]:
    """Whether every probe ran, and why not: interrupted, or probes skipped for a missing recording or budget."""
    if run.interrupted:
        return False, run.interrupted
    if len(records) != (items or len(records)) or exitstatus == 2:
        return False, "not every probe ended"
    unrun = skip_causes(records.values())
    if unrun:
        total = sum(unrun.values())
        return False, f"{total} of {len(records)} probes skipped: " + ", ".join(f"{n} {c}" for c, n in unrun.items())
    return True, None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput") or _RUN_KEY not in config.stash or config.option.collectonly:
        return  # a collect-only session ran nothing: it writes no report (and replaces none)
    run = config.stash[_RUN_KEY]
    records = {f"{r['target']}::{r['probe']}": r for r in _LOGGED}
    for key, rec in (run.results or {}).items():
        records.setdefault(key, rec)  # interrupted before pytest reported it
    _LOGGED.clear()
    if not records and run.results is None and not session.items:
        return
    complete, reason = _completeness(run, records, len(session.items), exitstatus)
    run.problems.extend(internal_problems(records.values()))
    if records and all(r["status"] == Status.SKIPPED.value for r in records.values()):
        why = Counter((r["notes"] or ["no reason given"])[0] for r in records.values()).most_common(1)[0][0]
        run.problems.append(f"no probe reached a verdict: all {len(records)} were skipped, nothing was tested "
                            f"({reason + '; ' if reason else ''}e.g. {why})")
    results = build_results(list(records.values()), run.targets, record_mode=run.record_mode,
                            probes=registry.probe_by_id(), started=run.started, finished=now(), complete=complete,
                            interrupted_reason=reason)
    results["run"]["problems"] = list(run.problems)
    results["run"]["exit_status"] = int(exitstatus)  # the report's first screen alerts on a failing run
    if run.estimate is not None and run.budget is not None:  # a live run: what it could cost, what it cost
        results["run"]["estimate"] = run.estimate.to_dict()
        results["run"]["spent"] = run.budget.spent()
    from conformance.report import report_cli

    opt = config.getoption
    try:
        results, baseline, uses, drift = report_cli.prepare(
            results, opt("baseline"), Path(opt("uses")) if opt("uses") else None, run.expect,
            opt("update_expectations"))
    except (ValueError, OSError, report_cli.ResultsError) as exc:
        # checked before the run; still, the report is written without the view that failed, and the run says why
        baseline, uses, drift = None, None, None
        run.problems.append(str(exc))
        results["run"]["problems"] = list(run.problems)
    if drift is not None and opt("probe"):  # a run of some probes does not miss the others' expectations
        tested = {p.feature for p in run.probes}
        drift = [c for c in drift if c.kind != "absent" or c.feature in tested]
    run.previous_line = keep_previous_results(run.report_dir, results)
    report_cli.write_reports(results, run.report_dir, baseline, uses, drift, pytest_files=True)
    code, _ = report_cli.finish(results, run.expect, opt("update_expectations"), run.report_dir, drift)
    run.drift_lines = report_cli.drift_lines(drift) if drift is not None and not opt("update_expectations") else []
    run.final = results
    if (code or run.problems) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


PREVIOUS_RESULTS = "results.previous.json"


def keep_previous_results(report_dir: Path, results: dict[str, Any]) -> str | None:
    """Keep the report dir's results.json as results.previous.json before this run replaces it; when this run lost
    verdicts the previous one reached (a cell OK there, ERROR / TIMEOUT / SKIPPED now), a line that says so."""
    current = report_dir / "results.json"
    try:
        previous = json.loads(current.read_text(encoding="utf-8"))
        cells = previous["features"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # nothing (usable) to keep
    kept = report_dir / PREVIOUS_RESULTS
    current.replace(kept)
    lost = sorted(f"{target} · {feature}" for feature, by_target in results["features"].items()
                  for target, cell in by_target.items()
                  if cell.get("status") != Status.OK
                  and cells.get(feature, {}).get(target, {}).get("status") == Status.OK)
    if not lost:
        return None
    return (f"PREVIOUS REPORT KEPT: {len(lost)} cell(s) reached a verdict in the previous run and not in this one "
            f"(e.g. {lost[0]}); the previous results are in {kept} (rebuild its reports with: conformance report "
            f"{kept} -o DIR)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    run = config.stash.get(_RUN_KEY, None)
    if run is None or run.final is None:
        return
    terminalreporter.section("conformance summary")
    shown = str(run.expect) if run.expect and not config.getoption("update_expectations") else None
    if run.expect == BUNDLED_EXPECTATIONS:
        shown = "of the embedded default"
    lines = summary_lines(run.final, str(run.report_dir), list(_CONFIRMED), shown, run.drift_lines)
    _CONFIRMED.clear()
    if run.previous_line:  # this run lost verdicts the previous one reached
        lines.append(alert(run.previous_line))
    for line in lines:
        terminalreporter.write_line(line.text, red=line.severity is Severity.ALERT)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if _RUN_KEY not in config.stash:
        return None
    run = config.stash[_RUN_KEY]
    names = ", ".join(f"{t.name} ({t.base_url}, {t.model})" for t in run.targets)
    return [f"conformance: record mode {run.record_mode}; targets: {names or 'none'}; cassettes {run.cassette_dir}"]

