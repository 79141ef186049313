"""`python -m conformance validate|report …`: the command-line entry points."""

from __future__ import annotations

import sys

USAGE = """usage: python -m conformance COMMAND …

commands:
  validate PATH…   lint recorded traffic (cassettes, raw JSON bodies, SSE text) against the schemas
  report RESULTS…  rebuild every report file from one or several results.json files
  run …            the conformance suite itself: same as `pytest conformance …`
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "validate":
        from conformance.validate import main as validate

        return validate(rest)
    if command == "report":
        from conformance.report.report_cli import main as report

        return report(rest)
    if command == "run":
        import pytest

        from conformance import plugin

        return int(pytest.main([str(plugin.PACKAGE_DIR), *rest]))
    print(f"unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2
