"""`conformance uses PATH… [-o FILE]`: which features an application really uses, from its recorded traffic.

Reads the chat-completions requests an app sent — vcrpy / pytest-recording cassettes (any common layout), HAR files,
JSONL request logs (one JSON object per line: a request body, or {"request": …} / {"body": …}) — and writes the
features file that `--uses` reads: the parameters, message shapes, tool and JSON modes and streaming options found,
as the suite's feature ids, each with how many requests sent it and where one was seen. With `--uses`, the migration
plan counts only these features and the decision is for that app.

Exit codes: 0 written; 1 no chat-completions request found in the input; 2 usage error (no path, unreadable path).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.features.registry import PROBES
from conformance.report.report_cli import USAGE_ERROR, CommandParser, UsageError
from conformance.wire.traffic import CHAT_PATH, TrafficError, load_interactions

SUFFIXES = (".yaml", ".yml", ".har", ".jsonl", ".ndjson")
FEATURES = frozenset(p.feature for p in PROBES)
ALWAYS = ("chat.completion", "request.messages", "request.model")
ECHOED_ASSISTANT_FIELDS = ("refusal", "annotations", "audio", "function_call")


@dataclass
class Usage:
    """What the input showed: feature id → request count, an example per feature, and what was not usable."""

    counts: Counter[str] = field(default_factory=Counter)
    example: dict[str, str] = field(default_factory=dict)
    uncovered: Counter[str] = field(default_factory=Counter)  # request fields no probe of the suite covers
    requests: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, body: dict[str, Any], where: str) -> None:
        self.requests += 1
        found, uncovered = features_of_request(body)
        for fid in found:
            self.counts[fid] += 1
            self.example.setdefault(fid, where)
        self.uncovered.update(uncovered)


def _tool_choice_feature(choice: Any) -> str | None:
    if choice is None:
        return "tools.tool_choice.null"
    if isinstance(choice, dict):
        return "tools.tool_choice.named"
    if choice in ("required", "none", "auto"):
        return f"tools.tool_choice.{choice}"
    return None


def _message_features(messages: list[Any]) -> set[str]:
    """Conversation shapes: roles, content parts, names, tool turns, echoed assistant fields, message order."""
    found: set[str] = set()
    msgs = [m for m in messages if isinstance(m, dict)]
    roles = [m.get("role") for m in msgs]
    if "system" in roles:
        found.add("conversation.system_message")
    if "developer" in roles:
        found.add("conversation.developer_role")
    if roles.count("user") > 1 or "assistant" in roles:
        found.add("conversation.multi_turn")
    if "tool" in roles:
        found |= {"tools.followup_turn", "conversation.tool_call_id"}
    for i, m in enumerate(msgs):
        role = m.get("role")
        if isinstance(m.get("content"), list) and role in ("user", "system", "developer"):
            found.add("conversation.content_parts")
        if m.get("name") is not None and role in ("user", "system", "assistant", "developer"):
            found.add("conversation.user_name")
        if role == "assistant":
            if m.get("tool_calls") and m.get("content"):
                found.add("conversation.assistant_text_and_tool_calls")
            if any(k in m for k in ECHOED_ASSISTANT_FIELDS):
                found.add("conversation.assistant_echo")
            if "reasoning_content" in m:
                found.add("conversation.reasoning_content_echo")
        if role == "user" and i > 0 and msgs[i - 1].get("role") == "tool":
            found.add("conversation.user_after_tool")
    if roles and roles[-1] == "assistant":
        found.add("conversation.assistant_last")
    return found


def _tool_features(body: dict[str, Any]) -> set[str]:
    tools = body.get("tools")
    found: set[str] = set()
    if tools == []:
        found.add("tools.empty_list")
    elif isinstance(tools, list):
        found.add("tools.call_shape")
        functions = [t.get("function") for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]
        if any("parameters" not in f for f in functions):
            found.add("tools.no_parameters")
        if any(f.get("strict") is True for f in functions):
            found.add("tools.strict")
        if body.get("stream") is True:
            found.add("stream.tool_call_deltas")
    if "tool_choice" in body:
        feature = _tool_choice_feature(body["tool_choice"])
        if feature:
            found.add(feature)
    return found


def _format_features(fmt: Any) -> set[str]:
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_object":
        return {"request.response_format.json_object", "json.json_object"}
    if kind == "json_schema":
        strict = (fmt.get("json_schema") or {}).get("strict") is True
        return {"request.response_format.json_schema", "json.json_schema" if strict else "json.json_schema.no_strict"}
    return {"request.response_format"} if kind else set()


def features_of_request(body: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(the suite's feature ids this request body uses, its top-level fields no probe covers)."""
    found = set(ALWAYS)
    uncovered: set[str] = set()
    for key in body:
        if key in ("model", "messages"):
            continue
        fid = f"request.{key}"
        (found.add(fid) if fid in FEATURES else uncovered.add(key))
    if body.get("stream") is True:
        found |= {"stream.reassembly", "stream.done_sentinel"}
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            found.add("stream.usage_chunk")
        if isinstance(body.get("n"), int) and body["n"] > 1:
            found.add("stream.n_interleave")
    if isinstance(body.get("messages"), list):
        found |= _message_features(body["messages"])
    found |= _tool_features(body)
    found |= _format_features(body.get("response_format"))
    return {f for f in found if f in FEATURES}, uncovered


def _is_chat(method: str | None, url: str | None) -> bool:
    path = urlsplit(url or "").path or (url or "")
    return (method or "POST").upper() == "POST" and path.rstrip("/").endswith(CHAT_PATH)


def _json_body(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) and isinstance(value.get("messages"), list) else None


def _from_har(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        entries = doc["log"]["entries"]
    except (ValueError, KeyError, TypeError) as exc:
        raise TrafficError(path, f"not a HAR file (expected log.entries): {exc}") from exc
    for i, entry in enumerate(entries):
        req = entry.get("request") or {}
        if _is_chat(req.get("method"), req.get("url")):
            body = _json_body((req.get("postData") or {}).get("text"))
            if body is not None:
                yield body, f"{path}#entry{i}"


def _from_jsonl(path: Path, problems: list[str]) -> Iterator[tuple[dict[str, Any], str]]:
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:  # one bad line loses nothing else
            problems.append(f"{path}: line {n} is not JSON ({exc.msg}): expected one JSON object per line")
            continue
        if not isinstance(obj, dict):
            continue
        req = obj.get("request") if isinstance(obj.get("request"), dict) else obj
        url = req.get("url") or req.get("path") or obj.get("url") or obj.get("path")
        if url is not None and not _is_chat(req.get("method") or obj.get("method"), str(url)):
            continue
        body = _json_body(req) or _json_body(req.get("body")) or _json_body(obj.get("body")) \
            or _json_body(obj.get("request_body"))
        if body is not None:
            yield body, f"{path}:{n}"


def _from_cassette(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    for it in load_interactions(path):
        if it.skip_reason is None and isinstance(it.request_body, dict):
            yield it.request_body, f"{path}#{it.index}"


def requests_in(path: Path, problems: list[str]) -> Iterator[tuple[dict[str, Any], str]]:
    """(request body, where) of every chat-completions request recorded in one file; unusable lines become
    `problems`."""
    name = path.name.lower()
    if name.endswith(".har"):
        yield from _from_har(path)
    elif name.endswith((".jsonl", ".ndjson")):
        yield from _from_jsonl(path, problems)
    else:
        yield from _from_cassette(path)


def files_under(paths: list[Path]) -> Iterator[Path]:
    """The recordings among the given files and, recursively, directories (sorted: the output is stable)."""
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(SUFFIXES))
        else:
            yield p


def scan(paths: list[Path]) -> Usage:
    """Every chat-completions request in the given files and directories; unreadable files become problems."""
    usage = Usage()
    for path in files_under(paths):
        usage.files += 1
        try:
            for body, where in requests_in(path, usage.problems):
                usage.add(body, where)
        except (TrafficError, OSError, UnicodeDecodeError) as exc:
            usage.problems.append(str(exc))
    return usage


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def render_uses(usage: Usage, sources: list[str]) -> str:
    """The features file (TOML, read by --uses): `features = [...]`, one id per line with its count and an example."""
    lines = ["# Features this application sends, found by `conformance uses` in its recorded traffic:",
             f"# {usage.requests} chat-completions request(s) in {usage.files} file(s) under "
             + ", ".join(sources),
             "# Use it with: pytest conformance --uses THIS_FILE (or conformance report … --uses)",
             "features = ["]
    for fid in sorted(usage.counts):
        lines.append(f"  {_toml_string(fid)},  # {usage.counts[fid]} request(s), e.g. {usage.example[fid]}")
    lines.append("]")
    if usage.uncovered:
        lines.append("# sent, but no probe of the suite covers them (not compared): "
                     + ", ".join(f"{k} ({n})" for k, n in sorted(usage.uncovered.items())))
    for problem in usage.problems:
        lines.append(f"# not read: {problem}")
    return "\n".join(lines) + "\n"


def build_parser(prog: str = "python -m conformance uses") -> argparse.ArgumentParser:
    """The argument parser of the uses command."""
    p = CommandParser(prog=prog, description="List the features an application uses, from its recorded "
                                "chat-completions traffic (vcrpy/pytest-recording cassettes, HAR, JSONL request "
                                "logs), as the features file --uses reads.")
    p.add_argument("paths", nargs="+", type=Path, help="recording files or directories (searched recursively)")
    p.add_argument("-o", "--output", type=Path, help="write the features file here (default: print it)")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m conformance uses") -> int:
    """Run the uses command; returns the exit code (0 written, 1 nothing found, 4 usage error, in one line)."""
    try:
        args = build_parser(prog).parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return USAGE_ERROR
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"{prog}: error: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return USAGE_ERROR
    usage = scan(list(args.paths))
    for problem in usage.problems:
        print(f"warning: not read: {problem}", file=sys.stderr)
    if not usage.requests:
        print(f"error: no chat-completions request found in {usage.files} file(s) (looked for POST …{CHAT_PATH} in "
              f"{', '.join(SUFFIXES)} files)", file=sys.stderr)
        return 1
    text = render_uses(usage, [str(p) for p in args.paths])
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"{len(usage.counts)} feature(s) from {usage.requests} request(s) written to {args.output}")
    else:
        print(text, end="")
    return 0
