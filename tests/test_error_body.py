"""read_error: who an error answer blames and whether its envelope is OpenAI-shaped.

Plain data only, plus the verbatim Mistral error bodies collected in the shared quirks folder.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import pytest

from conformance.judge.error_body import SHAPE_NOTES, ErrorReading, params_in_text, read_error


def _shared_dir() -> Path:
    env = os.environ.get("CONFORMANCE_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"


QUIRKS_FILE = _shared_dir() / "quirks" / "mistral_error_bodies_reported.json"


# --------------------------------------------------------------------------------------------------------
# The shapes
# --------------------------------------------------------------------------------------------------------


def test_openai_envelope() -> None:
    body = {
        "error": {
            "message": "Unsupported parameter: 'seed' is not supported with this model.",
            "type": "invalid_request_error",
            "param": "seed",
            "code": "unsupported_parameter",
        }
    }
    r = read_error(json.dumps(body))
    assert r == ErrorReading(
        "openai", body["error"]["message"], ["seed"], "unsupported_parameter", "invalid_request_error"
    )
    assert r.names("seed") and not r.names("temperature")


def test_openai_envelope_param_null_message_names_field() -> None:
    body = {
        "error": {
            "message": "Invalid 'temperature': decimal above maximum value.",
            "type": "x",
            "param": None,
            "code": None,
        }
    }
    r = read_error(json.dumps(body))
    assert r.shape == "openai"
    assert r.params == ["temperature"]
    assert r.code is None


def test_openai_partial_envelope() -> None:
    r = read_error(json.dumps({"error": {"message": "bad", "type": "invalid_request_error"}}))
    assert r.shape == "openai-partial"
    assert r.message == "bad"
    assert r.shape in SHAPE_NOTES


def test_fastapi_detail_list_loc_names_the_field() -> None:
    body = {
        "detail": [
            {
                "type": "int_parsing",
                "loc": ["body", "seed"],
                "msg": "Input should be a valid integer",
                "input": "forty-two",
            }
        ]
    }
    r = read_error(json.dumps(body))
    assert r.shape == "fastapi"
    assert r.params == ["seed"]
    assert r.names("seed")
    assert "Input should be a valid integer" in r.message


def test_fastapi_nested_loc_is_dotted_and_blames_the_top_level_field() -> None:
    body = {
        "detail": [
            {
                "type": "extra_forbidden",
                "loc": ["body", "stream_options", "include_usage"],
                "msg": "Extra inputs are not permitted",
            },
            {"type": "missing", "loc": ["body", "messages", 0, "content"], "msg": "Field required"},
        ]
    }
    r = read_error(json.dumps(body))
    assert r.params == ["stream_options.include_usage", "messages.0.content"]
    assert r.names("stream_options") and r.names("messages")
    assert r.message.count(";") == 1


def test_fastapi_detail_string() -> None:
    r = read_error(json.dumps({"detail": "Not Found"}))
    assert (r.shape, r.message, r.params) == ("fastapi", "Not Found", [])


def test_mistral_object_error_with_detail() -> None:
    body = {
        "object": "error",
        "message": {
            "detail": [
                {
                    "type": "extra_forbidden",
                    "loc": ["body", "n"],
                    "msg": "Extra inputs are not permitted",
                    "input": 2,
                }
            ]
        },
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    r = read_error(json.dumps(body))
    assert r.shape == "mistral"
    assert r.params == ["n"]
    assert r.type == "invalid_request_error"
    assert r.code is None


def test_mistral_detail_as_json_string() -> None:
    """Mistral (2024) put the detail object in `message` as a JSON *string*."""
    inner = {
        "detail": [
            {
                "type": "extra_forbidden",
                "loc": ["body", "frequency_penalty"],
                "msg": "Extra inputs are not permitted",
            }
        ]
    }
    body = {
        "object": "error",
        "message": json.dumps(inner),
        "type": "internal_error_proxy",
        "param": None,
        "code": "1000",
    }
    r = read_error(json.dumps(body))
    assert r.shape == "mistral"
    assert r.params == ["frequency_penalty"]
    assert r.code == "1000"


def test_flat_bodies() -> None:
    r = read_error(
        json.dumps(
            {
                "object": "error",
                "message": "Unexpected role 'user' after role 'tool'",
                "type": "invalid_request_message_order",
                "param": None,
                "code": "3230",
            }
        )
    )
    assert (r.shape, r.params, r.code) == ("flat", [], "3230")  # 'user' and 'tool' are roles, not fields
    r = read_error(json.dumps({"message": "Invalid 'seed'", "param": "seed", "type": "x", "code": None}))
    assert (r.shape, r.params) == ("flat", ["seed"])
    r = read_error(json.dumps({"error": "model not found"}))
    assert (r.shape, r.message) == ("flat", "model not found")
    r = read_error(json.dumps(["not", "an", "object"]))
    assert r.shape == "flat"


@pytest.mark.parametrize(
    "text,shape",
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("Internal Server Error", "text"),
        ("<html><body>502 Bad Gateway</body></html>", "text"),
    ],
)
def test_plain_text_and_empty(text: str, shape: str) -> None:
    r = read_error(text)
    assert r.shape == shape
    assert r.message == text.strip()
    assert r.shape in SHAPE_NOTES


@pytest.mark.parametrize(
    "message,known,params",
    [
        ("Unsupported parameter: 'seed' is not supported with this model.", (), ["seed"]),
        ("Unrecognized request argument supplied: frobnicate", (), ["frobnicate"]),
        ("Invalid type for 'model': expected a string.", (), ["model"]),
        ("Invalid 'tools[0]': expected a function tool.", (), ["tools"]),
        ("Unexpected role 'user' after role 'tool'", (), []),
        ("Invalid value: 'sometimes'. Supported values are: 'auto', 'none', 'required'.", (), []),
        ("Input should be 'auto', 'none' or 'any'", (), []),
        ("'seed' and 'temperature' are not supported", (), ["seed", "temperature"]),
        ("Invalid model: mistral-medium-3.5", (), ["model"]),
        ("The model `gpt-9` does not exist or you do not have access to it.", (), ["model"]),
        ("logprobs is not supported", ("logprobs", "top_logprobs"), ["logprobs"]),
        ("Prompt contains 150004 tokens, too large for the model with 131072 maximum context length", (), []),
    ],
)
def test_params_in_text(message: str, known: tuple[str, ...], params: list[str]) -> None:
    assert params_in_text(message, known) == params


# --------------------------------------------------------------------------------------------------------
# Verbatim Mistral bodies (quoted in public issues, or recorded)
# --------------------------------------------------------------------------------------------------------

# kind (a prefix of the entry's "kind") → (shape, params) that read_error must give. Python-repr bodies are
# the client's rendering of the JSON Mistral sent: they are turned back into that JSON first.
EXPECTED: dict[str, tuple[str, list[str]]] = {
    "context window exceeded": ("flat", []),
    "bad API key (alternate shape)": ("fastapi", []),
    "bad API key": ("flat", []),
    "unknown param (frequency_penalty": ("mistral", ["frequency_penalty"]),
    "unknown param n": ("mistral", ["n"]),
    "name / tool_calls on a user message": (
        "mistral",
        ["messages.0.user.name", "messages.0.user.tool_calls"],
    ),
    "stream_options.include_usage": ("mistral", ["stream_options.include_usage"]),
    "max_completion_tokens": ("mistral", ["max_completion_tokens"]),
    "store + max_completion_tokens": ("fastapi", ["store", "max_completion_tokens"]),
    "newer shape": ("fastapi", ["tools"]),
    "tool_choice: null rejected": ("mistral", ["tool_choice.ToolChoice"]),
    "tool_call_id format": ("flat", []),
    "last message is assistant": ("flat", []),
    "user directly after tool": ("flat", []),
    "tool directly after user": ("flat", []),
    "tool message without preceding": ("flat", []),
    "tool_calls/tool results count": ("flat", []),
    "assistant message with": ("flat", []),
    "invalid model": ("flat", ["model"]),
    "rate limit": ("flat", []),
}


def _entries() -> list[dict[str, Any]]:
    if not QUIRKS_FILE.exists():
        return []
    return json.loads(QUIRKS_FILE.read_text(encoding="utf-8"))["entries"]


def _wire_text(entry: dict[str, Any]) -> str | None:
    """The body as it was on the wire; None for a fragment that was never a whole body."""
    if "body" in entry:
        return json.dumps(entry["body"])
    text = entry["body_text"]
    try:
        json.loads(text)
        return text
    except ValueError:
        pass
    try:
        return json.dumps(ast.literal_eval(text))  # a Python repr of the JSON (see the file's _about)
    except (ValueError, SyntaxError):
        return None


def _expected(kind: str) -> tuple[str, list[str]] | None:
    return next((v for k, v in EXPECTED.items() if kind.startswith(k)), None)


needs_quirks = pytest.mark.skipif(
    not QUIRKS_FILE.exists(),
    reason=f"{QUIRKS_FILE} is absent (set CONFORMANCE_SHARED_DIR to the shared folder)",
)


@needs_quirks
@pytest.mark.parametrize("entry", _entries(), ids=lambda e: str(e.get("kind"))[:40])
def test_verbatim_mistral_body(entry: dict[str, Any]) -> None:
    text = _wire_text(entry)
    if text is None:  # a quoted fragment: never crash, keep the text, call it not-JSON
        r = read_error(entry["body_text"])
        assert r.shape == "text"
        assert r.message
        return
    expected = _expected(entry["kind"])
    assert expected is not None, f"no expectation for {entry['kind']!r}: add one to EXPECTED"
    r = read_error(text)
    shape, params = expected
    assert r.shape == shape, r
    assert r.params[: len(params)] == params, r
    assert r.shape != "openai"  # none of Mistral's bodies is OpenAI's envelope
    assert r.message, r


@needs_quirks
def test_every_expectation_is_used() -> None:
    kinds = [e["kind"] for e in _entries()]
    unused = [k for k in EXPECTED if not any(kind.startswith(k) for kind in kinds)]
    assert not unused


@needs_quirks
def test_verbatim_mistral_rejections_name_the_field_the_probe_sent() -> None:
    """Every extra_forbidden 422 names the request fields it complains about (never `body`)."""
    for entry in _entries():
        text = _wire_text(entry)
        if text is None or "extra_forbidden" not in text:
            continue
        r = read_error(text)
        assert r.params, entry["kind"]
        assert all(not p.startswith("body") for p in r.params)
