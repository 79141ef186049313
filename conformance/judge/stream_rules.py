"""Rules for a whole chat-completion stream, beyond the per-chunk schema, and stream reassembly."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance.judge.schemas import check_chunk
from conformance.model.findings import Finding, dedupe
from conformance.model.sse import DONE, SSEStream, is_error_payload

USAGE_PLACEMENT_WHY = (
    "usage arrives on a chunk that also carries choices; OpenAI sends it alone on a last chunk with "
    "`choices: []`. OpenAI clients take usage from the chunk whose choices are empty (and the SDK's "
    "stream helpers stop reading choices at finish_reason), so code that reads chunk.choices[0] on "
    "the usage chunk and usage elsewhere either misses the token counts or handles that chunk twice"
)


def _finding(rule: str, level: str, ptr: str, message: str, expected: Any = None, actual: Any = None,
             choice: Any = None) -> Finding:
    return Finding(part="stream", pointer=ptr, rule=rule, level=level, message=message,
                   expected=expected, actual=actual, choice=choice if isinstance(choice, int) else None)


def _choices(chunks: list[Any]) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(chunk index, position in choices, choice) for every well-formed choice in the stream."""
    for ci, chunk in enumerate(chunks):
        if isinstance(chunk, dict) and isinstance(chunk.get("choices"), list):
            for pos, choice in enumerate(chunk["choices"]):
                if isinstance(choice, dict):
                    yield ci, pos, choice


def _delta(choice: dict[str, Any]) -> dict[str, Any]:
    delta = choice.get("delta")
    return delta if isinstance(delta, dict) else {}


def tool_call_key(entry: dict[str, Any], position: int) -> Hashable:
    """Which call a tool_calls delta entry belongs to: its index, else its id (Mistral), else its position."""
    if isinstance(entry.get("index"), int):
        return ("index", entry["index"])
    if isinstance(entry.get("id"), str) and entry["id"]:
        return ("id", entry["id"])
    return ("position", position)


@dataclass
class _Call:
    first_ptr: str
    arguments: list[str] = field(default_factory=list)


def _arguments_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _tool_call_findings(chunks: list[Any]) -> list[Finding]:
    out: list[Finding] = []
    calls: dict[tuple[int, Hashable], _Call] = {}
    for ci, pos, choice in _choices(chunks):
        entries = _delta(choice).get("tool_calls")
        if not isinstance(entries, list):
            continue
        for k, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            base = f"/chunks/{ci}/choices/{pos}/delta/tool_calls/{k}"
            fn = entry.get("function") if isinstance(entry.get("function"), dict) else {}
            if "index" not in entry:
                out.append(_finding("stream.tool_call_index", "compat", base + "/index",
                                    "tool-call delta without `index`: OpenAI clients merge fragments by index "
                                    "and fail (or merge every call into one) without it", "integer", None))
            key = (choice.get("index", 0), tool_call_key(entry, k))
            call = calls.get(key)
            if call is None:
                calls[key] = call = _Call(first_ptr=base)
                for name, level, value in (("id", "compat", entry.get("id")),
                                           ("function/name", "compat", fn.get("name")),
                                           ("type", "strict", entry.get("type"))):
                    if value is None:
                        out.append(_finding("stream.tool_call_first_fragment", level, f"{base}/{name}",
                                            f"the first fragment of a tool call has no `{name.replace('/', '.')}`"
                                            + ("" if level == "strict" else ": the client cannot answer the "
                                               "call (tool_call_id) or dispatch it (name)")))
            else:
                for name, value in (("id", entry.get("id")), ("type", entry.get("type")),
                                    ("function/name", fn.get("name"))):
                    if value is not None:
                        out.append(_finding("stream.tool_call_first_fragment", "strict", f"{base}/{name}",
                                            f"`{name.replace('/', '.')}` repeated on a later fragment of the "
                                            "same call: clients that concatenate fragments duplicate it",
                                            None, value))
            call.arguments.append(_arguments_text(fn.get("arguments")))
    for call in calls.values():
        text = "".join(call.arguments)
        try:
            json.loads(text)
        except ValueError as exc:
            out.append(_finding("stream.tool_call_arguments_json", "compat", call.first_ptr + "/function/arguments",
                                f"concatenated tool-call arguments are not JSON ({exc})", "JSON text", text[:200]))
    return out


def _choice_findings(chunks: list[Any], has_done: bool) -> list[Finding]:
    out: list[Finding] = []
    seen: set[Any] = set()
    finishes: dict[Any, list[str]] = {}
    for ci, pos, choice in _choices(chunks):
        idx = choice.get("index", 0)
        base = f"/chunks/{ci}/choices/{pos}"
        if idx not in seen:
            seen.add(idx)
            if "role" not in _delta(choice):
                out.append(_finding("stream.role_first", "strict", base + "/delta/role",
                                    f"the first delta of choice {idx} has no `role`", "assistant", None))
        if choice.get("finish_reason") is not None:
            finishes.setdefault(idx, []).append(base + "/finish_reason")
    for idx, ptrs in finishes.items():
        for extra in ptrs[1:]:
            out.append(_finding("stream.finish_reason_once", "compat", extra,
                                f"choice {idx} got a second finish_reason (first at {ptrs[0]}): clients end the "
                                "choice at the first one and drop what follows", 1, len(ptrs), choice=idx))
    if has_done:
        for idx in sorted(seen - finishes.keys(), key=str):
            out.append(_finding("stream.finish_reason_once", "compat", "",
                                f"choice {idx} ended without a finish_reason", 1, 0, choice=idx))
    return out


def _stable_findings(chunks: list[Any]) -> list[Finding]:
    out: list[Finding] = []
    first: dict[str, Any] = {}
    for ci, chunk in enumerate(chunks):
        if not isinstance(chunk, dict):
            continue
        for name in ("id", "model", "created"):
            if name not in chunk:
                continue
            if name not in first:
                first[name] = chunk[name]
            elif chunk[name] != first[name]:
                out.append(_finding("stream.stable_fields", "strict", f"/chunks/{ci}/{name}",
                                    f"`{name}` changed within one stream", first[name], chunk[name]))
    return out


def _usage_findings(chunks: list[Any], request: dict[str, Any] | None) -> list[Finding]:
    out: list[Finding] = []
    usage_at = [ci for ci, c in enumerate(chunks) if isinstance(c, dict) and c.get("usage") is not None]
    options = (request or {}).get("stream_options") or {}
    asked = isinstance(options, dict) and bool(options.get("include_usage"))
    for ci in usage_at:
        choices = chunks[ci].get("choices")
        if choices:
            out.append(_finding("stream.usage_placement", "strict", f"/chunks/{ci}/usage", USAGE_PLACEMENT_WHY,
                                "usage on a final chunk with choices: []", "usage on a chunk with choices"))
    if request is not None and not asked and usage_at:
        out.append(_finding("stream.usage_unrequested", "strict", f"/chunks/{usage_at[0]}/usage",
                            "usage sent although the request did not set stream_options.include_usage",
                            None, len(usage_at)))
    if asked:
        last = len(chunks) - 1
        if not usage_at:
            out.append(_finding("stream.usage_placement", "compat", "",
                                "stream_options.include_usage was set but no chunk carries usage",
                                "a usage chunk", None))
        elif usage_at[-1] != last:
            out.append(_finding("stream.usage_placement", "strict", f"/chunks/{usage_at[-1]}/usage",
                                "the usage chunk is not the last chunk before [DONE]", last, usage_at[-1]))
    return out


def _sentinel_findings(stream: SSEStream) -> list[Finding]:
    out: list[Finding] = []
    done_at = [i for i, ev in enumerate(stream.events) if ev.data.strip() == DONE]
    if not done_at:
        out.append(_finding("stream.done_sentinel", "compat", "",
                            "stream ended without `data: [DONE]`: clients cannot tell a finished stream "
                            "from a cut connection", "data: [DONE]", None))
        return out
    lost = [ev for ev in stream.events[done_at[0] + 1:] if ev.data.strip() != DONE]
    if lost:
        out.append(_finding("stream.done_sentinel", "compat", f"/events/{done_at[0]}",
                            "events follow `data: [DONE]`: clients stop reading there and lose them",
                            "[DONE] last", f"{len(lost)} data events after it"))
    elif len(done_at) > 1:
        out.append(_finding("stream.done_sentinel", "strict", f"/events/{done_at[1]}",
                            "`data: [DONE]` sent more than once", 1, len(done_at)))
    return out


def _event_findings(stream: SSEStream) -> list[Finding]:
    out: list[Finding] = []
    for ev_index, message in stream.parse_errors:
        out.append(_finding("stream.parse", "compat", f"/events/{ev_index}", message, "JSON",
                            stream.events[ev_index].data[:200]))
    for i, ev in enumerate(stream.events):
        try:
            payload = json.loads(ev.data)
        except ValueError:
            continue
        if is_error_payload(payload) or (ev.event == "error" and ev.data.strip() != DONE):
            err = payload.get("error", payload) if isinstance(payload, dict) else payload
            text = err.get("message", err) if isinstance(err, dict) else err
            out.append(_finding("stream.error_event", "compat", f"/events/{i}",
                                f"error event in the stream: {text}", None, payload))
    if stream.unterminated:
        out.append(_finding("stream.parse", "strict", "",
                            "the stream does not end with a blank line: the last event is unterminated "
                            "(a strict SSE parser drops it)"))
    return out


def check_stream(stream: SSEStream, request: dict[str, Any] | None = None,
                 content_type: str | None = None) -> list[Finding]:
    """All findings for one recorded stream: chunk schemas plus the cross-chunk rules (part "stream")."""
    out: list[Finding] = []
    if content_type is not None and "text/event-stream" not in content_type.lower():
        out.append(_finding("stream.content_type", "compat", "",
                            "a stream must be served as text/event-stream", "text/event-stream", content_type))
    for ci, chunk in enumerate(stream.chunks):
        out.extend(check_chunk(chunk, ci))
    out.extend(_event_findings(stream))
    if stream.framing == "sse":
        out.extend(_sentinel_findings(stream))
    out.extend(_choice_findings(stream.chunks, stream.done_count > 0))
    out.extend(_stable_findings(stream.chunks))
    out.extend(_usage_findings(stream.chunks, request))
    out.extend(_tool_call_findings(stream.chunks))
    return dedupe(out)


def _content_text(value: Any) -> str:
    """Delta content as text: a string, or the text parts of a content array joined (thinking parts dropped)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p.get("text", "") for p in value
                       if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
    return ""


def reassemble(stream: SSEStream) -> dict[str, Any]:
    """A chat.completion-like dict built from the stream's deltas (choices sorted by index)."""
    out: dict[str, Any] = {"object": "chat.completion"}
    choices: dict[Any, dict[str, Any]] = {}
    calls: dict[Any, dict[Hashable, dict[str, Any]]] = {}
    for chunk in stream.chunks:
        if not isinstance(chunk, dict):
            continue
        for name in ("id", "model", "created"):
            out.setdefault(name, chunk.get(name))
        if chunk.get("usage") is not None:
            out["usage"] = chunk["usage"]
    for _ci, _pos, choice in _choices(stream.chunks):
        idx = choice.get("index", 0)
        state = choices.setdefault(idx, {"index": idx, "message": {"role": None, "content": None},
                                         "finish_reason": None})
        msg = state["message"]
        delta = _delta(choice)
        if delta.get("role") and msg["role"] is None:
            msg["role"] = delta["role"]
        if delta.get("content") is not None:
            msg["content"] = (msg["content"] or "") + _content_text(delta["content"])
        if isinstance(delta.get("refusal"), str):
            msg["refusal"] = msg.get("refusal", "") + delta["refusal"]
        for k, entry in enumerate(delta.get("tool_calls") or []):
            if not isinstance(entry, dict):
                continue
            call = calls.setdefault(idx, {}).setdefault(tool_call_key(entry, k),
                                                        {"function": {"name": None, "arguments": ""}})
            fn = entry.get("function") if isinstance(entry.get("function"), dict) else {}
            for name in ("id", "type"):
                if entry.get(name) is not None and name not in call:
                    call[name] = entry[name]
            if fn.get("name") is not None and call["function"]["name"] is None:
                call["function"]["name"] = fn["name"]
            call["function"]["arguments"] += _arguments_text(fn.get("arguments"))
        if choice.get("finish_reason") is not None:
            state["finish_reason"] = choice["finish_reason"]
    for idx, state in choices.items():
        state["message"]["role"] = state["message"]["role"] or "assistant"
        if calls.get(idx):
            state["message"]["tool_calls"] = [{k: c[k] for k in ("id", "type", "function") if k in c}
                                              for c in calls[idx].values()]
    # n>1 streams interleave choices: order them by index (a non-integer index sorts last)
    order = sorted(choices, key=lambda i: (0, i, "") if isinstance(i, int) else (1, 0, str(i)))
    out["choices"] = [choices[i] for i in order]
    return {k: v for k, v in out.items() if v is not None or k in ("id", "model", "created")}
