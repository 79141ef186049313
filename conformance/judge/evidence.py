"""Evidence: what a reviewer needs to believe a verdict, built from observations."""

from __future__ import annotations

import json
from typing import Any

from conformance.judge.answers import tokens
from conformance.model.observation import Observation
from conformance.model.sse import parse_sse

BODY_EVIDENCE_LIMIT = 20_000  # characters of a body kept as evidence


def exchange_evidence(obs: Observation) -> dict[str, Any]:
    """One request and its answer as a reviewer reads them (the `exchanges` of a verdict's evidence)."""
    too_big = len(obs.body_text) > BODY_EVIDENCE_LIMIT
    body: Any = obs.json() if not obs.is_sse and not too_big else None
    if body is None:
        body = obs.body_text[:BODY_EVIDENCE_LIMIT] + (f"… [{len(obs.body_text)} characters]" if too_big else "")
    return {
        "role": str(obs.role),
        "request": {"method": obs.method, "path": obs.path, "body": obs.request_body},
        "response": {
            "status": obs.status,
            "headers": dict(obs.headers),
            "body": body,
            "sse": sse_timeline(obs.body_text[: BODY_EVIDENCE_LIMIT * 10]) if obs.is_sse else None,
            "error": obs.error or obs.skipped_reason,
        },
        "usage": usage_counts(obs),
        "cassette": obs.cassette,
        "replayed": obs.replayed,
        "sent": obs.skipped_reason is None and (obs.status is not None or obs.error is not None),
        "elapsed_ms": obs.elapsed_ms,
        "ttft_ms": obs.ttft_ms,
        "retries": obs.retries,
        "retry_reasons": list(obs.retry_reasons),
        **({"shared": obs.shared} if obs.shared else {}),
    }


def retry_note(observations: list[Observation]) -> str | None:
    """One note naming every re-sent request and why, or None when nothing was re-sent."""
    retried = [f"{o.role} ×{o.retries} ({'; '.join(o.retry_reasons)})" for o in observations if o.retries]
    return "re-sent: " + ", ".join(retried) if retried else None


def usage_counts(obs: Observation) -> dict[str, int] | None:
    """prompt/completion tokens of a 2xx answer, when the target reports them."""
    if obs.status is None or obs.status >= 300:
        return None

    prompt, completion = tokens(obs, "prompt"), tokens(obs, "completion")
    if prompt is None and completion is None:
        return None
    return {"prompt": prompt or 0, "completion": completion or 0}


def sse_timeline(text: str, limit: int = 400) -> list[dict[str, Any]]:
    """One entry per SSE event: its index and data (parsed when JSON)."""
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
