"""`conformance validate|report|run …` (or `python -m conformance …`): the command-line entry points."""

from __future__ import annotations

import sys
from pathlib import Path


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


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE.format(prog=prog()))
        return 0 if args else 2
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

        return int(pytest.main([str(plugin.PACKAGE_DIR), *rest]))
    print(f"unknown command {command!r}\n\n{USAGE.format(prog=prog())}", file=sys.stderr)
    return 2
