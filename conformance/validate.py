"""`python -m conformance validate PATH…`: lint recorded traffic against the schemas and stream rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from conformance.judge.schemas import check_error, check_request, check_response
from conformance.judge.stream_rules import check_stream
from conformance.model.findings import Finding
from conformance.model.sse import parse_data_lines, parse_sse
from conformance.report.report_cli import USAGE_ERROR, CommandParser, UsageError
from conformance.wire.traffic import TRAFFIC_SUFFIXES, Interaction, TrafficError, load_interactions


def iter_files(paths: list[Path]) -> list[Path]:
    """The traffic files named by `paths`; directories are searched recursively (yaml/yml/json/txt)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(TRAFFIC_SUFFIXES)))
        else:
            out.append(path)
    return out


def _is_error_body(inter: Interaction, body: Any) -> bool:
    if inter.status is not None:
        return inter.status >= 400
    # raw fixtures record no status: an object without choices but with error fields is an error body
    return isinstance(body, dict) and "choices" not in body and ("error" in body or "message" in body)


def check_interaction(inter: Interaction, requests: bool = True) -> list[Finding]:
    """Findings for one chat-completion interaction: the answer (response or stream), and the request if asked."""
    findings: list[Finding] = []
    if requests and isinstance(inter.request_body, dict):
        findings.extend(check_request(inter.request_body))
    if inter.kind == "sse" or inter.kind == "data_lines":
        stream = parse_sse(inter.response_text) if inter.kind == "sse" else parse_data_lines(inter.response_text)
        request = inter.request_body if isinstance(inter.request_body, dict) else None
        findings.extend(check_stream(stream, request, inter.content_type if inter.kind == "sse" else None))
        return findings
    try:
        body = json.loads(inter.response_text)
    except ValueError as exc:
        return findings + [Finding("response", "", "json", "compat", f"response body is not JSON: {exc}",
                                   "JSON", inter.response_text[:200])]
    findings.extend(check_error(body) if _is_error_body(inter, body) else check_response(body))
    return findings


def _record(inter: Interaction, f: Finding) -> dict[str, Any]:
    return {"file": inter.file, "interaction": inter.index, **f.to_dict()}


def _print_human(rows: list[dict[str, Any]], skipped: list[tuple[Interaction, str]], out: TextIO) -> None:
    for inter, reason in skipped:
        print(f"{inter.file} #{inter.index}: skipped ({reason})", file=out)
    for r in rows:
        print(f"{r['file']} #{r['interaction']} {r['part']} {r['pointer'] or '/'} [{r['level']}] "
              f"{r['rule']}: {r['message']}", file=out)


def main(argv: list[str], prog: str = "python -m conformance validate") -> int:
    """Run the validator; 0 = nothing fails at --level, 1 = something does, 2 = unusable input, 4 = a usage
    error (one line)."""
    parser = CommandParser(prog=prog, description="Lint recorded chat-completion traffic against the schemas.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="cassette, body file or directory")
    parser.add_argument("--level", choices=("strict", "compat"), default="compat",
                        help="fail on findings at this level (default compat; strict reports everything)")
    parser.add_argument("--json", action="store_true", help="print findings as a JSON list")
    parser.add_argument("--requests", action="store_true",
                        help="lint the recorded requests too (off by default: a conformance suite's cassettes hold "
                             "requests that are invalid on purpose, to see how the server answers them)")
    try:
        args = parser.parse_args(argv)
        missing = next((p for p in args.paths if not p.exists()), None)
        if missing is not None:
            raise UsageError(f"{prog}: error: {missing}: no such file or directory")
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return USAGE_ERROR

    rows: list[dict[str, Any]] = []
    skipped: list[tuple[Interaction, str]] = []
    unusable = False
    checked = 0
    for path in iter_files(args.paths):
        try:
            interactions = load_interactions(path)
        except TrafficError as exc:
            unusable = True
            print(f"error: {exc.path}: {exc.reason}", file=sys.stderr)
            continue
        for inter in interactions:
            if inter.skip_reason:
                skipped.append((inter, inter.skip_reason))
                continue
            checked += 1
            rows.extend(_record(inter, f) for f in check_interaction(inter, args.requests)
                        if f.fails_at(args.level))
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        print()
        for inter, reason in skipped:
            print(f"{inter.file} #{inter.index}: skipped ({reason})", file=sys.stderr)
    else:
        _print_human(rows, skipped, sys.stdout)
    if unusable:
        return 2
    if checked == 0:  # an empty directory or only non-chat traffic must not pass as "clean"
        names = ", ".join(str(p) for p in args.paths)
        print(f"error: nothing to validate in {names}: no chat-completion interaction found "
              f"(looked for {', '.join(TRAFFIC_SUFFIXES)} files)", file=sys.stderr)
        return 2
    return 1 if rows else 0
