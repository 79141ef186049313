"""Observations: facts only, as seen on the wire (or replayed from a cassette)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance.model.roles import Role
from conformance.model.verdicts import SkipCause


@dataclass
class Observation:
    """One HTTP request and what came back (or why nothing did)."""

    role: Role  # variant, control, variant-2, alt-1, turn-2… (text from a stored record is parsed)
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
    retry_reasons: list[str] = field(default_factory=list)  # one per retry: what failed and how it was re-sent
    skipped_reason: str | None = None  # not sent (no cassette, budget…): what the user reads
    skip_cause: SkipCause | None = None  # not sent: why, as data (set with skipped_reason)
    shared: str | None = None  # a request sent once for several probes: its cassette name and sample (name#N)
    client: dict[str, Any] | None = None  # what a client library (the openai SDK) made of the answer: facts only
    reassembled: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # cache of answers.completion

    def __post_init__(self) -> None:
        if isinstance(self.role, str):
            self.role = Role.parse(self.role)

    def skip(self, cause: SkipCause, reason: str) -> None:
        """Not sent, for `cause`; `reason` says so to the user."""
        self.skip_cause, self.skipped_reason = cause, reason

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
