"""Server-sent events: a strict but tolerant parser (WHATWG event-stream rules) for recorded streams."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from typing import Any

DONE = "[DONE]"


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None
    line: int = 0  # 1-based line number where the event's first field starts


@dataclass
class SSEStream:
    events: list[SSEEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    done_count: int = 0
    done_last: bool = False
    chunks: list[Any] = field(default_factory=list)
    parse_errors: list[tuple[int, str]] = field(default_factory=list)
    error_events: list[dict[str, Any]] = field(default_factory=list)
    unterminated: bool = False
    # "sse" for a text/event-stream body; "data_lines" for payload-per-line fixtures, which never hold the
    # blank-line framing nor (always) the [DONE] terminator, so rules about those do not apply
    framing: str = "sse"


def is_error_payload(payload: Any) -> bool:
    """True for an error object sent as stream data ({"error": {...}} or a flat {"object": "error"})."""
    if not isinstance(payload, dict) or "choices" in payload:
        return False
    return "error" in payload or str(payload.get("object", "")).lower() == "error"


def summarize(events: list[SSEEvent], comments: list[str], unterminated: bool, framing: str = "sse") -> SSEStream:
    """Build an SSEStream from parsed events: [DONE] bookkeeping, JSON payloads, parse and error events."""
    stream = SSEStream(events=list(events), comments=list(comments), unterminated=unterminated, framing=framing)
    for i, ev in enumerate(events):
        if ev.data.strip() == DONE:
            stream.done_count += 1
            continue
        try:
            payload = json.loads(ev.data)
        except ValueError as exc:
            stream.parse_errors.append((i, f"data is not JSON: {exc}"))
            continue
        if is_error_payload(payload) or ev.event == "error":
            stream.error_events.append(payload if isinstance(payload, dict) else {"error": payload})
        else:
            stream.chunks.append(payload)
    stream.done_last = bool(events) and events[-1].data.strip() == DONE
    return stream


class SSEParser:
    """Incremental SSE parser: feed() bytes in any split, then close(); same events for any split."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._skip_lf = False  # the previous piece ended in CR: a following LF belongs to that line break
        self._first = True
        self._line_no = 0
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._start = 0
        self._has_fields = False
        self.events: list[SSEEvent] = []
        self.comments: list[str] = []

    def feed(self, data: bytes | str) -> None:
        """Add more of the stream."""
        text = data if isinstance(data, str) else self._decoder.decode(data)
        self._consume(text)

    def close(self) -> SSEStream:
        """End of input: flush what is pending and return the parsed stream."""
        self._consume(self._decoder.decode(b"", final=True))
        unterminated = False
        if self._buf:
            self._line(self._buf)  # a last line without a line break: keep it, note the truncation
            self._buf = ""
            unterminated = True
        if self._has_fields:
            unterminated = True
            self._dispatch()  # tolerant: keep an event the stream forgot to end with a blank line
        return summarize(self.events, self.comments, unterminated)

    def _consume(self, text: str) -> None:
        if not text:
            return
        if self._first:
            self._first = False
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text.startswith("\n"):
            text = text[1:]
        self._skip_lf = False
        buf = self._buf + text
        start = 0
        n = len(buf)
        i = 0
        while i < n:
            ch = buf[i]
            if ch == "\n" or ch == "\r":
                self._line(buf[start:i])
                if ch == "\r":
                    if i + 1 < n:
                        if buf[i + 1] == "\n":
                            i += 1
                    else:
                        self._skip_lf = True
                start = i + 1
            i += 1
        self._buf = buf[start:]

    def _line(self, line: str) -> None:
        self._line_no += 1
        if line == "":
            self._dispatch()
            return
        if line.startswith(":"):
            self.comments.append(line[1:])
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if not self._has_fields:
            self._start = self._line_no
            self._has_fields = True
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        # "retry" and unknown fields are ignored, as the SSE spec says

    def _dispatch(self) -> None:
        if self._data:
            self.events.append(SSEEvent(data="\n".join(self._data), event=self._event or None,
                                        id=self._id, line=self._start))
        self._data, self._event, self._has_fields = [], None, False


def parse_sse(raw: bytes | str) -> SSEStream:
    """Parse a whole SSE body (text/event-stream) into events, chunks and diagnostics."""
    parser = SSEParser()
    parser.feed(raw)
    return parser.close()


def parse_data_lines(text: str) -> SSEStream:
    """Parse a file holding one SSE data payload per line (the `data: ` prefix already stripped)."""
    events: list[SSEEvent] = []
    for no, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        payload = line.strip()
        if not payload:
            continue
        if payload.startswith("data:"):
            payload = payload[5:].lstrip(" ")  # tolerate files that kept the prefix
        events.append(SSEEvent(data=payload, line=no))
    return summarize(events, [], unterminated=False, framing="data_lines")
