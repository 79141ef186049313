"""Reading answers: the completion inside an observation, streamed or not."""

from __future__ import annotations

import json
from typing import Any

from conformance.judge.stream_rules import reassemble
from conformance.model.observation import Observation
from conformance.model.sse import parse_sse


def completion(obs: Observation) -> dict[str, Any]:
    """The chat.completion dict of an answer: the JSON body, or the stream reassembled."""
    if obs.is_sse:
        if obs.reassembled is None:  # detectors read a stream many times; reassemble it once
            obs.reassembled = reassemble(parse_sse(obs.body_text))
        return obs.reassembled
    body = obs.json()
    return body if isinstance(body, dict) else {}


def choice(obs: Observation, index: int = 0) -> dict[str, Any]:
    choices = completion(obs).get("choices") or []
    for c in choices:
        if isinstance(c, dict) and c.get("index", 0) == index:
            return c
    return choices[index] if len(choices) > index and isinstance(choices[index], dict) else {}


def message(obs: Observation, index: int = 0) -> dict[str, Any]:
    msg = choice(obs, index).get("message") or {}
    return msg if isinstance(msg, dict) else {}


def text(obs: Observation, index: int = 0) -> str:
    """The answer text; content arrays of text parts are joined."""
    content = message(obs, index).get("content")
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def finish_reason(obs: Observation, index: int = 0) -> str | None:
    return choice(obs, index).get("finish_reason")


def tool_calls(obs: Observation, index: int = 0) -> list[dict[str, Any]]:
    calls = message(obs, index).get("tool_calls") or []
    return [c for c in calls if isinstance(c, dict)]


def usage(obs: Observation) -> dict[str, Any]:
    u = completion(obs).get("usage")
    return u if isinstance(u, dict) else {}


def tokens(obs: Observation, kind: str) -> int | None:
    """prompt / completion / total token count, when reported."""
    value = usage(obs).get(f"{kind}_tokens")
    return value if isinstance(value, int) else None


def json_content(obs: Observation) -> tuple[Any, str | None]:
    """The answer text parsed as JSON, or (None, why not)."""
    raw = text(obs).strip()
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, f"content is not JSON ({exc}): {raw[:120]!r}"


def invalid_answer(obs: Observation) -> str | None:
    """Why this is not an answer a client can use (None: it is one): no answer, an error status, a body that is
    not JSON, a stream without chunks or with an error event, or a completion without choices."""
    if obs.status is None or obs.error or obs.timed_out:
        return obs.error or obs.skipped_reason or "no answer"
    if obs.status >= 300:
        return f"HTTP {obs.status}"
    if obs.is_sse:
        stream = parse_sse(obs.body_text)
        if not stream.chunks or stream.error_events:
            return "an event stream without chunks" if not stream.chunks else "an event stream with an error event"
    elif not isinstance(obs.json(), dict):
        return f"HTTP {obs.status} with a body that is not a JSON object: {obs.body_text[:60]!r}"
    choices = completion(obs).get("choices")
    if not isinstance(choices, list) or not choices:
        return f"HTTP {obs.status} without choices: not a chat completion"
    return None
