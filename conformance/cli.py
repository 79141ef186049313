"""`conformance validate|report|run …` (or `python -m conformance …`): the command-line entry points."""

from __future__ import annotations

import sys
from importlib.util import find_spec
from pathlib import Path

from conformance.report.report_cli import USAGE_ERROR


def prog() -> str:
    """How the user called us: `conformance` (the console script) or `python -m conformance`."""
    name = Path(sys.argv[0]).name
    return "conformance" if name in ("conformance", "conformance.exe") else "python -m conformance"


USAGE = """usage: {prog} COMMAND …

commands:
  validate PATH…   lint recorded traffic (cassettes, raw JSON bodies, SSE text) against the schemas
  report RESULTS…  rebuild every report file from one or several results.json files
  uses PATH…       the features an app sends, from its recorded traffic (cassettes, HAR, JSONL): the --uses file
  run …            the conformance suite itself, from any directory: same as `pytest --pyargs conformance …`
"""


def usage_error(message: str) -> int:
    """Every usage error of every command: one line on stderr, exit code 4 (pytest's, so `run` says the same)."""
    print(f"{prog()}: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE.format(prog=prog()))
        return 0
    if not args:
        return usage_error(f"a command is needed; `{prog()} --help` lists them")
    command, rest = args[0], args[1:]
    if command == "validate":
        from conformance.validate import main as validate

        return validate(rest, f"{prog()} validate")
    if command == "report":
        from conformance.report.report_cli import main as report

        return report(rest, f"{prog()} report")
    if command == "uses":
        from conformance.uses import main as uses

        return uses(rest, f"{prog()} uses")
    if command == "run":
        import pytest

        from conformance import plugin

        # pytest's rootdir (and so .pytest_cache) is where the user runs, not the common parent of it and the package
        here = [] if any(a.startswith("--rootdir") for a in rest) else [f"--rootdir={Path.cwd()}"]
        # an installed pytest-asyncio opens a run without its setting (no ini outside a checkout) with a warning
        quiet = ["-o", "asyncio_default_fixture_loop_scope=function"] if find_spec("pytest_asyncio") else []
        return int(pytest.main([str(plugin.PACKAGE_DIR), *here, *quiet, *rest],
                               plugins=[plugin.OneLineUsage(f"{prog()} run")]))
    return usage_error(f"unknown command {command!r}; `{prog()} --help` lists the commands")
