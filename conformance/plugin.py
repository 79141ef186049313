"""The pytest plugin: options, one generic test parametrized over (target, probe), and the reports.

The only module that knows pytest. Verdicts travel in each test report's `user_properties`, so
pytest-xdist workers (even on other hosts) end in one results.json written by the controller.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from conformance.features import registry
from conformance.model.probes import Probe
from conformance.model.targets import Target, TargetError, adhoc_target, load_targets, select_targets
from conformance.run.engine import make_engine, plan
from conformance.run.results import build_results, failed, now, record_of
from conformance.wire.http import Budget
from conformance.wire.recording import RECORD_MODES

PACKAGE_DIR = Path(__file__).resolve().parent
PROPERTY = "conformance"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("conformance", "OpenAI-compatibility conformance")
    g.addoption("--target", action="append", default=[], metavar="NAME",
                help="a target from targets.toml or a preset (openai, mistral); repeatable; `all` = every one")
    g.addoption("--base-url", default=None, help="an ad-hoc target's base URL, e.g. http://127.0.0.1:8000/v1")
    g.addoption("--model", default=None, help="the ad-hoc target's model")
    g.addoption("--api-key-env", default=None, help="environment variable holding the ad-hoc target's key")
    g.addoption("--target-name", default="custom", help="name of the ad-hoc target (default: custom)")
    g.addoption("--targets-file", default="targets.toml", help="targets file (default: ./targets.toml)")
    g.addoption("--record-mode", default="none", choices=RECORD_MODES,
                help="none = replay only (default); once / new_episodes / all go live and record")
    g.addoption("--cassette-dir", default=None,
                help="cassette root (default: cassettes/ of this checkout), one folder per target")
    g.addoption("--report-dir", default="reports", help="where reports are written (default: reports/)")
    g.addoption("--baseline", default=None, metavar="NAME|results.json",
                help="target (or stored results file) the migration view compares with")
    g.addoption("--uses", default=None, metavar="FILE", help="features your application relies on (go / no-go)")
    g.addoption("--expect", default=None, metavar="FILE", help="drift gate: fail when a verdict changed")
    g.addoption("--update-expectations", action="store_true", help="write --expect FILE from this run")
    g.addoption("--concurrency", type=int, default=None, help="requests in flight per target (default: per target)")
    g.addoption("--max-requests", type=int, default=None, help="stop sending live requests after N")
    g.addoption("--max-tokens", type=int, default=None, help="stop sending live requests after N tokens")
    g.addoption("--probe", action="append", default=[], metavar="PREFIX",
                help="only probes whose id or feature starts with PREFIX; repeatable")


def default_cassette_dir() -> Path:
    return PACKAGE_DIR.parent / "cassettes"


class ConformanceRun:
    """State of one pytest session's conformance run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = now()
        opt = config.getoption
        self.record_mode: str = opt("record_mode")
        self.cassette_dir = Path(opt("cassette_dir")) if opt("cassette_dir") else default_cassette_dir()
        self.report_dir = Path(opt("report_dir"))
        self.problems: list[str] = []  # said at the end and in results.json; the other targets still run
        self.targets = self._targets()
        prefixes = opt("probe")
        self.probes: list[Probe] = [p for p in registry.PROBES
                                    if not prefixes or any(p.id.startswith(x) or p.feature.startswith(x)
                                                           for x in prefixes)]
        self.results: dict[str, dict[str, Any]] | None = None
        self.records: dict[str, dict[str, Any]] = {}
        self.interrupted: str | None = None

    def _targets(self) -> list[Target]:
        opt = self.config.getoption
        try:
            known = load_targets(Path(opt("targets_file")))
            adhoc = None
            if opt("base_url"):
                adhoc = adhoc_target(opt("target_name"), opt("base_url"), opt("model"), opt("api_key_env"), known)
            elif opt("model") or opt("api_key_env"):
                raise TargetError("--model / --api-key-env describe an ad-hoc target and need --base-url")
            chosen, self.problems = select_targets(known, list(opt("target")), adhoc)
            return chosen
        except TargetError as exc:
            raise pytest.UsageError(str(exc)) from None

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
            planned = plan(pairs)
            tr = self.config.pluginmanager.getplugin("terminalreporter")
            if tr is not None:
                tr.write_line(f"conformance: live run ({self.record_mode}): at most {planned['requests']} requests "
                              f"to {len(targets)} target(s), about {planned['tokens']} tokens (estimate); limits: "
                              f"--max-requests {opt('max_requests') or 'none'}, --max-tokens "
                              f"{opt('max_tokens') or 'none'}")
        self.results = {}
        engine = make_engine(pairs, self.cassette_dir, self.record_mode, opt("concurrency"), budget)
        try:
            asyncio.run(engine.run(pairs))
        except KeyboardInterrupt:
            self.interrupted = "interrupted (Ctrl-C) before every probe ended"
            raise
        finally:  # what ended before an interruption still reaches results.json
            for r in engine.done:
                self.results[f"{r.target}::{r.probe.id}"] = record_of(r)

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
    return bool(config.getoption("target") or config.getoption("base_url"))


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-html read their output paths
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a conformance probe against a target")
    if not _is_conformance_args(config):
        return
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
    """What the generic test sees: the verdict record of one (target, probe)."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def check(self) -> None:
        rec = self.record
        notes = "\n".join(f"  - {n}" for n in rec["notes"])
        summary = f"{rec['target']}::{rec['probe']}: status {rec['status']}, support {rec['support']}, " \
                  f"conformance {rec['conformance']}"
        if rec["status"] == "SKIPPED":
            pytest.skip(f"{summary}\n{notes}")
        if failed(rec):
            pytest.fail(f"{summary}\n{notes}", pytrace=False)


@pytest.fixture
def conformance_case(request: pytest.FixtureRequest) -> Case:
    target, probe = request.param
    record = _run(request.config).result(f"{target}::{probe}", request.session)
    request.node.user_properties.append((PROPERTY, record))
    return Case(record)


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
    if report.when == "teardown" and any(k == PROPERTY for k, _ in props):
        report.user_properties = [(k, v) for k, v in props if k != PROPERTY]


_LOGGED: list[dict[str, Any]] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput") or _RUN_KEY not in config.stash:
        return
    run = config.stash[_RUN_KEY]
    records = {f"{r['target']}::{r['probe']}": r for r in _LOGGED}
    for key, rec in (run.results or {}).items():
        records.setdefault(key, rec)  # interrupted before pytest reported it
    _LOGGED.clear()
    if not records and run.results is None and not session.items:
        return
    complete = run.interrupted is None and len(records) == len(session.items or records) and exitstatus != 2
    results = build_results(list(records.values()), run.targets, record_mode=run.record_mode,
                            probes=registry.probe_by_id(), started=run.started, finished=now(), complete=complete,
                            interrupted_reason=run.interrupted or (None if complete else "not every probe ended"))
    results["run"]["problems"] = list(run.problems)
    from conformance.report import report_cli

    opt = config.getoption
    tr = config.pluginmanager.getplugin("terminalreporter")
    expect = Path(opt("expect")) if opt("expect") else None
    try:
        results, baseline, uses, drift = report_cli.prepare(
            results, opt("baseline"), Path(opt("uses")) if opt("uses") else None, expect, opt("update_expectations"))
    except (ValueError, OSError, report_cli.ResultsError) as exc:
        # the report is still written, without the view that failed; the run says why
        baseline, uses, drift = None, None, None
        if tr is not None:
            tr.write_line(f"conformance: {exc}", red=True)
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
    report_cli.write_reports(results, run.report_dir, baseline, uses, drift, pytest_files=True)
    code, changes = report_cli.finish(results, expect, opt("update_expectations"), run.report_dir, drift)
    if tr is not None:
        tr.write_line(f"conformance: reports written to {run.report_dir}/ (results.json, compat.html, report.html, "
                      f"summary.md, junit.xml); {results['run']['requests']} requests, "
                      f"{results['run']['tokens']['total']} tokens")
        for name, doc in results["targets"].items():  # what the target took at once, learnt on a live run
            if doc.get("concurrency"):
                tr.write_line(f"conformance: {name}: concurrency {doc['concurrency']['reason']}")
        for line in changes:
            tr.write_line(line, red=bool(code))
        for problem in run.problems:
            tr.write_line(f"conformance: {problem}", red=True)
    if (code or run.problems) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if _RUN_KEY not in config.stash:
        return None
    run = config.stash[_RUN_KEY]
    names = ", ".join(f"{t.name} ({t.base_url}, {t.model})" for t in run.targets)
    return [f"conformance: record mode {run.record_mode}; targets: {names or 'none'}; cassettes {run.cassette_dir}"]

