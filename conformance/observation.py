"""Observations: facts only, as seen on the wire (or replayed from a cassette)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

BODY_EVIDENCE_LIMIT = 20_000  # characters of a body kept as evidence


@dataclass
class Observation:
    """One HTTP request and what came back (or why nothing did)."""

    role: str  # variant, control, sample-2, turn-2…
    method: str
    path: str
    request_body: Any  # the JSON sent, or raw text for a malformed-body probe
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body_text: str = ""
    error: str | None = None  # transport failure
    timed_out: bool = False
    elapsed_ms: float | None = None
    ttft_ms: float | None = None  # time to the first body byte (live streams only)
    cassette: str | None = None
    replayed: bool = False
    retries: int = 0
    skipped_reason: str | None = None  # not sent (no cassette, budget…)
    reassembled: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # cache of answers.completion

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_sse(self) -> bool:
        return "text/event-stream" in self.content_type or (
            self.body_text.lstrip().startswith("data:") and self.status is not None and self.status < 300
        )

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body_text)
        except (ValueError, TypeError):
            return None

    def evidence(self) -> dict[str, Any]:
        too_big = len(self.body_text) > BODY_EVIDENCE_LIMIT
        body: Any = self.json() if not self.is_sse and not too_big else None
        if body is None:
            body = self.body_text[:BODY_EVIDENCE_LIMIT] + (f"… [{len(self.body_text)} characters]" if too_big else "")
        return {
            "role": self.role,
            "request": {"method": self.method, "path": self.path, "body": self.request_body},
            "response": {
                "status": self.status,
                "headers": dict(self.headers),
                "body": body,
                "sse": sse_timeline(self.body_text[: BODY_EVIDENCE_LIMIT * 10]) if self.is_sse else None,
                "error": self.error or self.skipped_reason,
            },
            "usage": self.usage_counts(),
            "cassette": self.cassette,
            "replayed": self.replayed,
            "sent": self.skipped_reason is None and (self.status is not None or self.error is not None),
            "elapsed_ms": self.elapsed_ms,
            "ttft_ms": self.ttft_ms,
        }


    def usage_counts(self) -> dict[str, int] | None:
        """prompt/completion tokens of a 2xx answer, when the target reports them."""
        if self.status is None or self.status >= 300:
            return None
        from conformance.answers import tokens

        prompt, completion = tokens(self, "prompt"), tokens(self, "completion")
        if prompt is None and completion is None:
            return None
        return {"prompt": prompt or 0, "completion": completion or 0}


def sse_timeline(text: str, limit: int = 400) -> list[dict[str, Any]]:
    """One entry per SSE event: its index and data (parsed when JSON)."""
    from conformance.sse import parse_sse

    stream = parse_sse(text)
    out: list[dict[str, Any]] = []
    for i, event in enumerate(stream.events[:limit]):
        try:
            data: Any = json.loads(event.data)
        except ValueError:
            data = event.data
        out.append({"i": i, "event": event.event, "data": data})
    for comment in stream.comments[:20]:
        out.append({"comment": comment})
    return out
