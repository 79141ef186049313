"""A fake OpenAI-like Chat Completions server with switches, over real sockets.

It simulates an honest tiny model whose behaviour is fully controlled, so the suite's own tests can reach
every verdict (supported, ignored, rejected, error, timeout, non-strict, failed) without a network.
Stdlib only: ``http.server.ThreadingHTTPServer`` in a daemon thread bound to ``127.0.0.1`` port 0.

Usage::

    with FakeServer(FakeConfig(ignore={"seed"}, reject={"logprobs"})) as srv:
        httpx.post(f"{srv.base_url}/chat/completions", json={...})
        srv.requests[-1]["body"]

The simulated model:

* tokens are whitespace-separated words; each word of :data:`VOCAB` has the stable token id
  ``VOCAB.index(word)`` (see :func:`token_id`);
* sampling is deterministic when ``temperature`` is honoured and ``== 0`` or ``top_p`` is honoured and
  ``<= 0.1``: the answer is one of :data:`SENTENCES`, chosen by a hash of the prompt text; otherwise 12 words
  are drawn with ``random.Random(seed)`` (seed honoured and given) or ``random.Random()``;
* every other parameter has a visible, documented effect when honoured (see the module README in the
  docstring of :class:`FakeConfig`), no effect when listed in ``ignore`` and a 4xx naming it when listed in
  ``reject``.

Importable both as ``tests.fakeserver`` and as ``fakeserver`` (when ``tests/`` is on ``sys.path``).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import random
import re
import socket
import string
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "KNOWN_REQUEST_FIELDS",
    "MISTRAL_REJECTS",
    "mistral_like",
    "SENTENCES",
    "VOCAB",
    "FakeConfig",
    "FakeServer",
    "deterministic_answer",
    "token_id",
]

# ---------------------------------------------------------------------------------------------------------
# Vocabulary and the simulated model
# ---------------------------------------------------------------------------------------------------------

#: The model's vocabulary: token id = index. Every word of :data:`SENTENCES` is in it.
VOCAB: tuple[str, ...] = (
    "The", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "near",
    "river", "bank", "today", ".", "a", "cat", "sleeps", "on", "warm", "mat",
    "under", "sun", "bird", "sings", "in", "tall", "tree", "every", "morning", "small",
    "boat", "drifts", "across", "calm", "lake", "at", "night", "old", "man", "walks",
    "along", "quiet", "road", "with", "his", "echo", "green", "field", "red", "house",
    "stands", "by", "blue", "sea", "and", "light", "rain", "falls", "softly", "city",
)  # fmt: skip

#: The deterministic answers (>= 12 words each); the prompt's hash picks one.
SENTENCES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog near the river bank today .",
    "The small bird sings in the tall green tree every morning near the old house .",
    "The old man walks along the quiet road with his dog every morning by the sea .",
    "The small boat drifts across the calm blue lake at night and light rain falls softly .",
)

#: Words that replace a banned word (logit_bias) in the deterministic answer, in order of preference.
_FILLERS: tuple[str, ...] = ("a", "cat", "sun", "sea", "city", "mat", "field", "red", "rain", "light")

#: Top-level fields of the OpenAI CreateChatCompletionRequest (specs/openai-chat-completions-subset.json).
KNOWN_REQUEST_FIELDS: frozenset[str] = frozenset({
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
    "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model", "moderation", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options",
    "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
    "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
})  # fmt: skip

#: Mistral-only request fields its API accepts (quirks/mistral.md A15); random_seed acts as seed.
MISTRAL_ONLY_FIELDS: frozenset[str] = frozenset({"random_seed", "safe_prompt", "prompt_mode", "guardrails"})

_MISTRAL_MESSAGE_KEYS: dict[str, frozenset[str]] = {
    "system": frozenset({"role", "content"}),
    "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls", "prefix"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}
_OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_MISTRAL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
_ALNUM = string.ascii_letters + string.digits
_MISSING: Any = object()
_BAN_THRESHOLD = -50  # a logit_bias at or below this bans the token


def token_id(word: str) -> int:
    """Return the stable token id of a vocabulary word (raises ValueError for an unknown word)."""
    return VOCAB.index(word)


def deterministic_answer(prompt: str) -> str:
    """Return the deterministic (temperature 0) sentence the fake model gives for this prompt text."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return SENTENCES[digest[0] % len(SENTENCES)]


def _words(text: str) -> int:
    """Count tokens: whitespace-separated words."""
    return len(text.split())


def _pieces(text: str) -> list[str]:
    """Split text into one piece per word (leading whitespace attached) so that ''.join(pieces) == text."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        if pieces:
            pieces[-1] += tail
        else:
            pieces = [tail]
    return pieces


#: Every fault the fake can answer with (``fault="cycle"`` gives each chat request the next one in turn).
FAULTS = ("html502", "invalid_json", "truncated_sse", "reset", "huge", "hang", "midstream_500", "rate_limit")


@dataclass
class FakeConfig:
    """The switches of a :class:`FakeServer`; may be swapped between requests (``server.config = ...``).

    Attributes:
        ignore: request params accepted with NO effect (dotted for nested, e.g. "stream_options.include_usage").
        reject: request params answered with a 4xx naming the param (checked before anything else).
        reject_unknown: a top-level field outside the OpenAI request spec gets a 4xx (else silently ignored).
        error_style: "openai" | "fastapi" | "mistral" | "flat": the status and body shape of errors.
        stream_usage: "openai" (usage chunk with empty choices, only with stream_options.include_usage) |
            "mistral" (usage always on the finishing chunk) | "none".
        tool_delta_style: "openai" (index/id/type/name first, arguments in pieces) | "mistral" (whole calls
            in one delta, no index, no type).
        tool_call_id_style: "openai" (call_<24 alnum>) | "mistral" (9 alnum; other ids in a follow-up -> 400).
        conversation_rules: "openai" | "mistral" (Mistral's 400s on message order and 422s on roles/keys).
        unknown_model: "404" (404 model_not_found) | "substitute" (200 served by "fake-default").
        api_key: when set, a missing or wrong "Authorization: Bearer" gets a 401.
        malformed_body_status: the status for a body that is not JSON.
        fault: None | "html502" | "invalid_json" | "truncated_sse" | "reset" | "huge" | "hang" |
            "midstream_500" | "rate_limit" | "cycle" (each request gets the next of :data:`FAULTS` in turn, even one
            the server would refuse or a GET /models: a server where every request meets one fault).
        hang_seconds: with fault "hang", the socket is reset after this long (None: it hangs until the server stops).
        rate_limit_count: with fault "rate_limit", how many requests get a 429 before normal service.
        latency: seconds slept before answering each request.
        server_error: request params answered with a 500 naming the param (a reproducible server error).
        keep_alive: HTTP/1.1 persistent connections (JSON answers keep the connection open; streams close it).
        reset_after_5xx: (implies keep_alive) after a 5xx, the next request on that connection is reset unanswered:
            uvicorn closes the connection after a 5xx, and a client that reuses it first gets ECONNRESET.
        max_in_flight: chat requests served at once; one arriving beyond it gets ``over_capacity``.
        over_capacity: "reset" (the socket is reset unanswered) | "503" (a 503 Service Unavailable).
        models: the served model ids (GET /v1/models).
        param_rules: "openai" | "mistral" (quirks/mistral.md A9/A13/A14/A16/B6: temperature 0-1.5, top_p in
            (0, 1], tool_choice null, tools [] and tools without parameters, assistant text with tool_calls and
            reasoning_effort outside none..xhigh get a 422).
        response_style: "openai" | "mistral" (C3/C4/C5/C6/C8: tool calls without type, content "" beside
            them, no refusal/annotations, content as thinking/text chunks when reasoning_effort is not "none",
            finish_reason "model_length" when the context fills).
        model_created: the ``created`` of every GET /v1/models entry (OpenAI: an integer).
        context_window: prompt + answer tokens (words) the simulated model holds; a longer prompt gets a 400
            (OpenAI's context_length_exceeded, or Mistral's 3051), an answer that fills it stops there.
        aliases: extra field → OpenAI field it stands for, accepted and honoured as that field (a Mistral-like
            server: ``{"random_seed": "seed"}``).
        oblivious: the adversary that honours nothing yet answers plausibly: any JSON body gets 200 with
            :data:`OBLIVIOUS_TEXT` (streamed when asked), a call to the first offered tool or function whenever
            tools or functions are sent (whatever tool_choice says), usage always 10 + 20 = 30.
        keep_stop: generation halts at a stop text but keeps it in the content (OpenAI strips it).
        crash_on: field → value: a request carrying that value answers HTTP 500 with a body naming the field,
            every time (``"role"`` matches a message role, e.g. ``{"role": "developer"}``).
        json_schema: what a json_schema response_format gets: "strict" (like OpenAI: every value meets its
            pattern and enum only with ``strict: true``; without it a string is the answer text) | "always" (every
            value meets the schema, strict or not: a model that conforms anyway). ``ignore={"response_format"}``
            drops the schema (prose).
        tool_calls_as_text: a server that does not parse the model's calls: every call comes back as raw
            ``<tool_call>{...}</tool_call>`` text in ``content`` with finish_reason "stop" and no ``tool_calls``
            (the tools still reach the prompt: prompt_tokens rise).
        drop_message_fields: message-level keys dropped before the model sees the conversation (e.g. ``{"name"}``:
            a chat template that does not render ``name``): they neither steer the answer nor add prompt tokens.
        default_repeat_penalty: the server applies its own repeat penalty to every request, so the answer to a
            repetition-prone prompt never repeats; a frequency or presence penalty (when honoured) shortens it.
        done_sentinel: streams end with ``data: [DONE]`` (False: the last chunk, then the connection closes).
        refuse_null_content: an assistant message with ``content: null`` (OpenAI's shape for a tool-call turn) gets
            a 500 naming ``messages[i].content``, every time (``content: ""`` works).
        crash_on_cut_calls: a request with tools (tool_choice not "none") and a ``max_tokens`` below 26, what one
            tool call costs: the call is cut and the server's tool-call parser crashes on it with a 500, every time.
        unknown_tool_choice: "400" (OpenAI: a named tool_choice must name a declared tool) | "call_first" (an
            unknown name is accepted silently and the first tool is called).
        crash_on_prompt: a prompt containing this text makes the model write something the server's parser
            crashes on: a 500 every time, whatever the other fields.
        flaky_crash: a request carrying one of these fields gets a 500 on the first try of each distinct body and
            its answer on the next (the server fails on some of its own outputs, not on the request).
        shared_seed_state: one random state for every request (``shared_rng``): a chat request's ``seed`` reseeds
            it on arrival (an unseeded one draws from it), and the answer's words are drawn from it after
            ``latency``; a request arriving meanwhile moves the state, so a seed repeats only when its request
            has the server to itself.
    """

    ignore: set[str] = field(default_factory=set)
    reject: set[str] = field(default_factory=set)
    reject_unknown: bool = False
    error_style: str = "openai"
    stream_usage: str = "openai"
    tool_delta_style: str = "openai"
    tool_call_id_style: str = "openai"
    conversation_rules: str = "openai"
    unknown_model: str = "404"
    api_key: str | None = None
    malformed_body_status: int = 400
    fault: str | None = None
    hang_seconds: float | None = None
    rate_limit_count: int = 1000
    latency: float = 0.0
    server_error: set[str] = field(default_factory=set)
    keep_alive: bool = False
    reset_after_5xx: bool = False
    max_in_flight: int | None = None
    over_capacity: str = "reset"
    models: tuple[str, ...] = ("fake-model",)
    param_rules: str = "openai"
    response_style: str = "openai"
    context_window: int = 4096
    model_created: Any = 1700000000
    aliases: dict[str, str] = field(default_factory=dict)
    oblivious: bool = False
    keep_stop: bool = False
    crash_on: dict[str, Any] = field(default_factory=dict)
    json_schema: str = "strict"
    tool_calls_as_text: bool = False
    drop_message_fields: set[str] = field(default_factory=set)
    default_repeat_penalty: bool = False
    done_sentinel: bool = True
    refuse_null_content: bool = False
    crash_on_cut_calls: bool = False
    unknown_tool_choice: str = "400"
    crash_on_prompt: str | None = None
    flaky_crash: set[str] = field(default_factory=set)
    shared_seed_state: bool = False
    shared_rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------


class _ApiError(Exception):
    """A request error, rendered by :func:`_error_response` in the configured error style.

    ``kind`` "schema" is a validation error (400 openai/flat, 422 fastapi/mistral); "semantic" is a 400 (or
    ``status``) in every style. An explicit ``status`` always wins.
    """

    def __init__(
        self,
        message: str,
        param: str | None = None,
        *,
        kind: str = "schema",
        status: int | None = None,
        code: str | None = None,
        err_type: str = "invalid_request_error",
        detail_type: str = "value_error",
        detail_msg: str | None = None,
        loc: list[Any] | None = None,
        value: Any = _MISSING,
        mistral_type: str | None = None,
        mistral_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.kind = kind
        self.status = status
        self.code = code
        self.err_type = err_type
        self.detail_type = detail_type
        self.detail_msg = detail_msg or message
        self.loc = loc if loc is not None else (param.split(".") if param else [])
        self.value = value
        self.mistral_type = mistral_type
        self.mistral_code = mistral_code


def _error_response(style: str, err: _ApiError) -> tuple[int, dict[str, Any]]:
    """Render an error as (status, body) in the given style."""
    detail: dict[str, Any] = {"type": err.detail_type, "loc": ["body", *err.loc], "msg": err.detail_msg}
    detail["input"] = None if err.value is _MISSING else err.value
    if err.kind == "schema":
        if style == "fastapi":
            return err.status or 422, {"detail": [detail]}
        if style == "mistral":
            body = {"object": "error", "message": {"detail": [detail]}, "type": "invalid_request_error"}
            return err.status or 422, {**body, "param": None, "code": None}
    else:
        if style == "fastapi":
            return err.status or 400, {"detail": err.message}
        if style == "mistral":
            return err.status or 400, {
                "object": "error",
                "message": err.message,
                "type": err.mistral_type or err.err_type,
                "param": None,
                "code": err.mistral_code,
            }
    status = err.status or 400
    if style == "flat":
        return status, {"message": err.message, "type": err.err_type, "code": err.code}
    return status, {
        "error": {"message": err.message, "type": err.err_type, "param": err.param, "code": err.code}
    }


def _openai_error(message: str, err_type: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    """The OpenAI error envelope."""
    return {"error": {"message": message, "type": err_type, "param": param, "code": code}}


# ---------------------------------------------------------------------------------------------------------
# Request helpers
# ---------------------------------------------------------------------------------------------------------


def _get_path(obj: Any, dotted: str) -> Any:
    """Return the value at a dotted path in nested dicts, or _MISSING."""
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def _without(body: dict[str, Any], ignore: set[str]) -> dict[str, Any]:
    """Return a deep copy of the request body with every ignored (dotted) path removed."""
    eff = copy.deepcopy(body)
    for dotted in ignore:
        *parents, leaf = dotted.split(".")
        node: Any = eff
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return eff


def _text(content: Any) -> str:
    """The text of a message content: a string, or the text parts of a content array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return " ".join(parts)
    return ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_range(
    eff: dict[str, Any], name: str, lo: float, hi: float | None, *, integer: bool = False
) -> None:
    """Validate an honoured numeric param (present in ``eff``) against [lo, hi]; raise a 400 naming it."""
    value = eff.get(name, _MISSING)
    if value is _MISSING or value is None:
        return
    kind = "integer" if integer else "decimal"
    if not (_is_int(value) if integer else _is_number(value)):
        raise _ApiError(
            f"Invalid type for '{name}': expected {'an integer' if integer else 'a decimal'}, "
            f"but got a {type(value).__name__} instead.",
            name,
            code="invalid_type",
            detail_type="int_type" if integer else "float_type",
            detail_msg=f"Input should be a valid {'integer' if integer else 'number'}",
            value=value,
        )
    if value < lo:
        raise _ApiError(
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= {lo:g}, "
            f"but got {value} instead.",
            name,
            code=f"{kind}_below_min_value",
            detail_type="greater_than_equal",
            detail_msg=f"Input should be greater than or equal to {lo:g}",
            value=value,
        )
    if hi is not None and value > hi:
        raise _ApiError(
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= {hi:g}, "
            f"but got {value} instead.",
            name,
            code=f"{kind}_above_max_value",
            detail_type="less_than_equal",
            detail_msg=f"Input should be less than or equal to {hi:g}",
            value=value,
        )


def _invalid(name: str, message: str, value: Any = _MISSING, code: str = "invalid_value") -> _ApiError:
    """A 400 naming ``name``."""
    return _ApiError(message, name, code=code, value=value)


# ---------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------


def _check_rejected(cfg: FakeConfig, body: dict[str, Any]) -> None:
    """Reject any present param listed in ``cfg.reject`` (with the extra_forbidden shape in 422 styles)."""
    for name in sorted(cfg.reject):
        value = _get_path(body, name)
        if value is not _MISSING:
            raise _ApiError(
                f"Unsupported parameter: '{name}' is not supported with this model.",
                name,
                code="unsupported_parameter",
                detail_type="extra_forbidden",
                detail_msg="Extra inputs are not permitted",
                value=value,
            )


def _check_server_error(cfg: FakeConfig, body: dict[str, Any]) -> None:
    """Answer a 500 naming the first present param listed in ``cfg.server_error`` (the same body every time)."""
    for name in sorted(cfg.server_error):
        if _get_path(body, name) is not _MISSING:
            raise _ApiError(f"Internal server error while handling '{name}'.", name, kind="semantic", status=500,
                            err_type="server_error", code="internal_error")


def _check_unknown(cfg: FakeConfig, body: dict[str, Any]) -> None:
    """With ``reject_unknown``, reject top-level fields outside the OpenAI request spec (and not ignored)."""
    if not cfg.reject_unknown:
        return
    for name, value in body.items():
        if cfg.param_rules == "mistral" and name in MISTRAL_ONLY_FIELDS:
            continue
        if name not in KNOWN_REQUEST_FIELDS and name not in cfg.ignore and name not in cfg.aliases:
            raise _ApiError(
                f"Unrecognized request argument supplied: {name}",
                name,
                code=None,
                detail_type="extra_forbidden",
                detail_msg="Extra inputs are not permitted",
                value=value,
            )


def _check_messages(cfg: FakeConfig, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate ``messages`` (and Mistral's conversation rules when chosen); return them."""
    messages = body.get("messages", _MISSING)
    if messages is _MISSING:
        raise _ApiError(
            "Missing required parameter: 'messages'.",
            "messages",
            code="missing_required_parameter",
            detail_type="missing",
            detail_msg="Field required",
        )
    if not isinstance(messages, list) or not messages:
        raise _invalid(
            "messages",
            "Invalid 'messages': expected a non-empty array of messages.",
            messages,
            "empty_array" if isinstance(messages, list) else "invalid_type",
        )
    mistral = cfg.conversation_rules == "mistral"
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            raise _invalid(
                f"messages.[{i}]", f"Invalid 'messages[{i}]': expected an object with a 'role'.", msg
            )
        role = msg["role"]
        if mistral:
            if role not in _MISTRAL_MESSAGE_KEYS:
                raise _ApiError(
                    f"Input tag '{role}' found using 'role' does not match any of the expected tags: "
                    "'assistant', 'system', 'tool', 'user'",
                    f"messages.[{i}].role",
                    status=422,
                    detail_type="union_tag_invalid",
                    loc=["messages", i],
                    value=msg,
                )
            for key in msg:
                if key not in _MISTRAL_MESSAGE_KEYS[role]:
                    raise _ApiError(
                        "Extra inputs are not permitted",
                        f"messages.[{i}].{key}",
                        status=422,
                        detail_type="extra_forbidden",
                        loc=["messages", i, role, key],
                        value=msg[key],
                    )
        elif role not in _OPENAI_ROLES:
            raise _invalid(
                f"messages.[{i}].role",
                f"Invalid value: '{role}'. Supported values are: 'system', 'developer', 'user', 'assistant', "
                "'tool' and 'function'.",
                role,
            )
    if cfg.tool_call_id_style == "mistral":
        _check_mistral_ids(messages)
    if mistral:
        _check_mistral_order(messages)
    return messages


def _check_mistral_ids(messages: list[dict[str, Any]]) -> None:
    """Mistral: tool-call ids in a follow-up turn must be exactly 9 alphanumerics."""
    for msg in messages:
        ids = [c.get("id") for c in msg.get("tool_calls") or [] if isinstance(c, dict)]
        if msg.get("role") == "tool":
            ids.append(msg.get("tool_call_id"))
        for call_id in ids:
            if not isinstance(call_id, str) or not _MISTRAL_ID.match(call_id):
                raise _ApiError(
                    f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9.",
                    kind="semantic",
                    status=400,
                )


def _check_mistral_order(messages: list[dict[str, Any]]) -> None:
    """Mistral's 400s: message order, last role, and tool results matching tool calls."""
    order = {"mistral_type": "invalid_request_message_order", "mistral_code": "3230", "kind": "semantic"}
    for prev, cur in itertools.pairwise(messages):
        pair = (prev["role"], cur["role"])
        if pair in {("tool", "user"), ("user", "tool")}:
            raise _ApiError(f"Unexpected role '{pair[1]}' after role '{pair[0]}'", "messages", **order)
    last = messages[-1]
    if last["role"] == "assistant" and last.get("prefix") is not True:
        raise _ApiError(
            "Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant",
            "messages",
            kind="semantic",
        )
    for i, msg in enumerate(messages):
        calls = msg.get("tool_calls") or []
        if msg["role"] != "assistant" or not calls:
            continue
        results = 0
        for nxt in messages[i + 1 :]:
            if nxt["role"] != "tool":
                break
            results += 1
        if results != len(calls):
            raise _ApiError(
                "Not the same number of function calls and responses", "messages", kind="semantic"
            )


def _check_params(cfg: FakeConfig, raw: dict[str, Any], eff: dict[str, Any]) -> None:
    """Validate the honoured params (those in ``eff``); raise a 400 naming the first bad one."""
    _check_range(eff, "temperature", 0, 2)
    _check_range(eff, "top_p", 0, 1)
    _check_range(eff, "presence_penalty", -2, 2)
    _check_range(eff, "frequency_penalty", -2, 2)
    _check_range(eff, "top_logprobs", 0, 20, integer=True)
    _check_range(eff, "n", 1, 8, integer=True)
    _check_range(eff, "max_tokens", 1, None, integer=True)
    _check_range(eff, "max_completion_tokens", 1, None, integer=True)
    _check_range(eff, "seed", -(2**63), 2**63 - 1, integer=True)
    for name in ("stream", "logprobs", "parallel_tool_calls"):
        value = eff.get(name)
        if value is not None and not isinstance(value, bool):
            raise _invalid(name, f"Invalid type for '{name}': expected a boolean.", value, "invalid_type")
    if "stream_options" in eff and eff["stream_options"] is not None:
        opts = eff["stream_options"]
        if not isinstance(opts, dict):
            raise _invalid("stream_options", "Invalid type for 'stream_options': expected an object.", opts)
        if raw.get("stream") is not True:  # what the client sent, even when "stream" is ignored
            raise _invalid(
                "stream_options",
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                opts,
            )
    stop = eff.get("stop")
    if stop is not None:
        if isinstance(stop, list):
            if len(stop) > 4 or not all(isinstance(s, str) for s in stop):
                raise _invalid(
                    "stop", "Invalid 'stop': expected at most 4 strings.", stop, "array_above_max_length"
                )
        elif not isinstance(stop, str):
            raise _invalid(
                "stop", "Invalid type for 'stop': expected a string or an array.", stop, "invalid_type"
            )
    bias = eff.get("logit_bias")
    if bias is not None:
        if not isinstance(bias, dict):
            raise _invalid(
                "logit_bias", "Invalid type for 'logit_bias': expected an object.", bias, "invalid_type"
            )
        for key, value in bias.items():
            if not str(key).lstrip("-").isdigit() or not _is_number(value) or not -100 <= value <= 100:
                raise _invalid(
                    "logit_bias",
                    f"Invalid 'logit_bias': token '{key}' needs an integer id and a bias in [-100, 100].",
                    bias,
                )
    _check_response_format(eff)
    _check_tools(cfg, raw, eff)
    if cfg.param_rules == "mistral":
        _check_mistral_params(eff)


_MISTRAL_EFFORTS = ("none", "low", "medium", "high", "xhigh")


def _check_mistral_params(eff: dict[str, Any]) -> None:
    """Mistral's 422s on values OpenAI accepts (quirks/mistral.md A9, A13, A14, A16, B6)."""
    temperature = eff.get("temperature")
    if _is_number(temperature) and temperature > 1.5:
        raise _ApiError("Input should be less than or equal to 1.5", "temperature", status=422,
                        detail_type="less_than_equal", value=temperature)
    top_p = eff.get("top_p")
    if _is_number(top_p) and top_p <= 0:
        raise _ApiError("Input should be greater than 0", "top_p", status=422, detail_type="greater_than",
                        value=top_p)
    if "tool_choice" in eff and eff["tool_choice"] is None:
        raise _ApiError("Input should be 'auto', 'none', 'any' or 'required'", "tool_choice", status=422,
                        detail_type="enum", value=None)
    if eff.get("tools") == []:
        raise _ApiError("Extra inputs are not permitted", "tools", status=422, detail_type="extra_forbidden",
                        value=[])
    for i, tool in enumerate(eff.get("tools") or []):
        if "parameters" not in (tool.get("function") or {}):
            raise _ApiError("Field required", f"tools.{i}.function.parameters", status=422, detail_type="missing")
    effort = eff.get("reasoning_effort")
    if effort is not None and effort not in _MISTRAL_EFFORTS:
        raise _ApiError(f"Input should be {', '.join(repr(e) for e in _MISTRAL_EFFORTS)}", "reasoning_effort",
                        status=422, detail_type="enum", value=effort)
    for i, msg in enumerate(eff["messages"]):
        if msg.get("role") == "assistant" and msg.get("tool_calls") and _text(msg.get("content")):
            raise _ApiError("Assistant message must have either content or tool_calls, but not both.",
                            f"messages.{i}", status=422, detail_type="value_error", value=msg.get("content"))


def _check_response_format(eff: dict[str, Any]) -> None:
    fmt = eff.get("response_format")
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in {"text", "json_object", "json_schema"}:
        raise _invalid(
            "response_format",
            "Invalid 'response_format': expected type 'text', 'json_object' or 'json_schema'.",
            fmt,
        )
    if fmt["type"] == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict):
            raise _ApiError(
                "Missing required parameter: 'response_format.json_schema'.",
                "response_format.json_schema",
                code="missing_required_parameter",
                detail_type="missing",
                detail_msg="Field required",
            )
        if not isinstance(spec.get("name"), str):
            raise _ApiError(
                "Missing required parameter: 'response_format.json_schema.name'.",
                "response_format.json_schema.name",
                code="missing_required_parameter",
                detail_type="missing",
                detail_msg="Field required",
            )


def _check_tools(cfg: FakeConfig, raw: dict[str, Any], eff: dict[str, Any]) -> None:
    tools = eff.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _invalid("tools", "Invalid type for 'tools': expected an array.", tools, "invalid_type")
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
                raise _invalid(f"tools[{i}]", f"Invalid 'tools[{i}]': expected a function tool.", tool)
            if not isinstance(fn.get("name"), str):
                raise _invalid(f"tools[{i}].function.name", f"Missing 'tools[{i}].function.name'.", tool)
    choice = eff.get("tool_choice", _MISSING)
    if choice is _MISSING or choice is None:  # an explicit null means "not set" (param_rules mistral: a 422)
        return
    if not raw.get("tools"):
        raise _invalid(
            "tool_choice",
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        )
    allowed = {"none", "auto", "required"} | ({"any"} if cfg.conversation_rules == "mistral" else set())
    if isinstance(choice, str):
        if choice not in allowed:
            raise _invalid(
                "tool_choice",
                f"Invalid value: '{choice}'. Supported values are: {', '.join(sorted(allowed))}.",
                choice,
            )
        return
    names = {t["function"]["name"] for t in tools or []}
    name = _named_choice(choice)
    if name is _MISSING:
        raise _invalid(
            "tool_choice", "Invalid 'tool_choice': expected a string or a function object.", choice
        )
    if tools is not None and name not in names and cfg.unknown_tool_choice == "400":
        raise _invalid(
            "tool_choice", f"Invalid 'tool_choice': function '{name}' not found in 'tools'.", choice
        )


def _named_choice(choice: Any) -> Any:
    """The function name of a named tool_choice (or of the first allowed tool), or _MISSING."""
    if not isinstance(choice, dict):
        return _MISSING
    if choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        return choice["function"].get("name", _MISSING)
    if choice.get("type") == "allowed_tools":
        tools = (choice.get("allowed_tools") or {}).get("tools") or []
        if tools and isinstance(tools[0], dict):
            return (tools[0].get("function") or {}).get("name", tools[0].get("name", _MISSING))
    return _MISSING


# ---------------------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Choice:
    """One generated choice."""

    content: str | None
    finish_reason: str
    pieces: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] | None = None
    logprobs: list[dict[str, Any]] | None = None
    thinking: str | None = None  # Mistral reasoning: content becomes [thinking chunk, text chunk]


@dataclass
class _Plan:
    """Everything needed to render a completion, as JSON or as SSE."""

    model: str
    choices: list[_Choice]
    usage: dict[str, Any]
    stream: bool
    include_usage: bool


_SIMPLE_PATTERN = re.compile(r"^\^\[(A-Z|a-z|0-9)\]\{(\d+)\}\$$")


def _pattern_text(pattern: Any, text: str) -> str:
    """A string meeting a simple pattern such as ``^[A-Z]{3}$`` (else ``text``)."""
    m = _SIMPLE_PATTERN.match(pattern) if isinstance(pattern, str) else None
    if not m:
        return text
    letters = "".join(ch for ch in text.upper() if ch.isalpha()) + "CDGXYZ"
    pick = {"A-Z": letters, "a-z": letters.lower(), "0-9": "0123456789"}[m.group(1)]
    return pick[: int(m.group(2))]


def _schema_value(schema: Any, root: dict[str, Any], text: str, depth: int = 0, patterns: bool = True) -> Any:
    """A JSON value satisfying a (simple) JSON Schema; strings are ``text`` (meeting a simple pattern when
    ``patterns``)."""
    if not isinstance(schema, dict) or depth > 12:
        return text
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _schema_value(target, root, text, depth + 1, patterns)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            options = [s for s in schema[key] if not (isinstance(s, dict) and s.get("type") == "null")]
            return _schema_value((options or schema[key])[0], root, text, depth + 1, patterns)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: _schema_value(sub, root, text, depth + 1, patterns) for name, sub in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [_schema_value(schema.get("items", {}), root, text, depth + 1, patterns) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", schema.get("maximum", 42)))
    if kind == "number":
        return float(schema.get("minimum", schema.get("maximum", 3.5)))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _pattern_text(schema.get("pattern"), text) if patterns else text


def _ban(words: list[str], banned: set[int]) -> list[str]:
    """Replace every banned vocabulary word by the first filler that is not banned."""
    if not banned:
        return words
    filler = next((w for w in _FILLERS if token_id(w) not in banned), "")
    return [filler if w in VOCAB and token_id(w) in banned else w for w in words]


def _dedupe(words: list[str]) -> list[str]:
    """Keep the first occurrence of each word (case-insensitive)."""
    seen: set[str] = set()
    out = []
    for word in words:
        if word.lower() not in seen:
            seen.add(word.lower())
            out.append(word)
    return out


def _answer_words(eff: dict[str, Any], prompt: str, rng: random.Random | None, banned: set[int],
                  default_penalty: bool = False) -> list[str]:
    """The answer's words before formatting, stop and max tokens."""
    penalised = any(_is_number(eff.get(p)) and eff[p] > 0 for p in ("presence_penalty", "frequency_penalty"))
    repeat = "repeat" in prompt.lower()
    pool = [w for w in VOCAB if token_id(w) not in banned and w != "."] or ["a"]
    if rng is None:
        if repeat and default_penalty:  # never repeats; an explicit penalty on top shortens the answer
            words = _dedupe(deterministic_answer(prompt).split())
            return words[:4] if penalised else words
        if repeat:
            return _dedupe(deterministic_answer(prompt).split()) if penalised else ["echo"] * 12 + ["."]
        return deterministic_answer(prompt).split()
    if repeat and not penalised:
        return [rng.choice(pool)] * 12
    if penalised:
        return rng.sample(pool, min(12, len(pool)))
    return [rng.choice(pool) for _ in range(12)]


_SAY_WORD = re.compile(r"answer with (?:exactly one word:|the single word) (\w+)", re.IGNORECASE)
_SECRET = re.compile(r"the secret word is (\w+)", re.IGNORECASE)


def _instructed_answer(messages: list[dict[str, Any]]) -> str | None:
    """What a capable model answers when the conversation dictates it: a word an instruction names (in any
    system, developer or user message or content part), the asker's `name`, a secret word from an earlier turn."""
    last = messages[-1] if messages else {}
    question = _text(last.get("content")).lower()
    if last.get("role") == "user" and "what is my name" in question and isinstance(last.get("name"), str):
        return last["name"]
    if "secret word" in question:
        for m in messages[:-1]:
            found = _SECRET.search(_text(m.get("content")))
            if found:
                return found.group(1)
    for m in messages:
        if m.get("role") in ("system", "developer", "user"):
            found = _SAY_WORD.search(_text(m.get("content")))
            if found:
                return found.group(1)
    return None


def _asks_for_a_tool(prompt: str, tools: list[Any]) -> bool:
    """Whether the prompt mentions what a declared tool is about (a word of its name, e.g. "weather")."""
    low = prompt.lower()
    names = [str((t.get("function") or {}).get("name", "")) for t in tools if isinstance(t, dict)]
    return any(part in low for name in names for part in name.lower().split("_") if len(part) > 3)


def _format_content(eff: dict[str, Any], text: str, json_schema: str = "strict") -> str:
    """Apply response_format (when honoured) to the answer text (``json_schema``: see FakeConfig)."""
    fmt = eff.get("response_format")
    if not isinstance(fmt, dict):
        return text
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": text})
    if fmt.get("type") == "json_schema":
        schema = fmt["json_schema"].get("schema") or {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
        }
        strict = fmt["json_schema"].get("strict") is True
        return json.dumps(_schema_value(schema, schema, text, patterns=strict or json_schema == "always"))
    return text


def _cut(eff: dict[str, Any], content: str, keep_stop: bool = False) -> tuple[str, list[str], str]:
    """Apply stop (keeping the stop text when ``keep_stop``) then max_tokens / max_completion_tokens; return
    (content, pieces, finish_reason)."""
    stop = eff.get("stop")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    hits = [(content.find(s), s) for s in stops if s and s in content]
    if hits:
        at, text = min(hits)
        content = content[: at + len(text)] if keep_stop else content[:at]
    pieces = _pieces(content)
    limits = [eff[k] for k in ("max_tokens", "max_completion_tokens") if _is_int(eff.get(k))]
    if limits and len(pieces) > min(limits):
        pieces = pieces[: min(limits)]
        return "".join(pieces), pieces, "length"
    return content, pieces, "stop"


def _logprobs(pieces: list[str], k: int, deterministic: bool, banned: set[int]) -> list[dict[str, Any]]:
    """Per-token logprobs with ``k`` top alternatives (the chosen token first)."""
    out = []
    for idx, piece in enumerate(pieces):
        chosen = -0.0001 if deterministic else -4.0943
        word = piece.strip()
        start = token_id(word) if word in VOCAB else idx
        others = [VOCAB[(start + j) % len(VOCAB)] for j in range(1, len(VOCAB))]
        others = [w for w in others if token_id(w) not in banned]
        top = [{"token": piece, "logprob": chosen, "bytes": list(piece.encode())}]
        for j, other in enumerate(others[: max(0, k - 1)]):
            alt = " " + other if piece[:1].isspace() else other
            top.append(
                {"token": alt, "logprob": round(chosen - 2.5 * (j + 1), 4), "bytes": list(alt.encode())}
            )
        entry = {"token": piece, "logprob": chosen, "bytes": list(piece.encode()), "top_logprobs": top[:k]}
        out.append(entry)
    return out


def _call_id(style: str, rng: random.Random) -> str:
    if style == "mistral":
        return "".join(rng.choice(_ALNUM) for _ in range(9))
    return "call_" + "".join(rng.choice(_ALNUM) for _ in range(24))


def _tool_calls(cfg: FakeConfig, eff: dict[str, Any], prompt: str) -> list[dict[str, Any]]:
    """The tool calls the model makes (tools honoured, tool_choice not "none")."""
    tools = [t["function"] for t in eff["tools"]]
    named = _named_choice(eff.get("tool_choice"))
    if named is not _MISSING:
        targets = [next((f for f in tools if f["name"] == named), tools[0])]
    else:
        targets = [tools[0]]
        low = prompt.lower()
        parallel = "parallel" in low and eff.get("parallel_tool_calls") is not False
        if parallel and (len(tools) >= 2 or "two" in low or "cities" in low):
            targets = tools[:2] if len(tools) >= 2 else [tools[0], tools[0]]
    id_rng = random.Random()
    calls = []
    for i, fn in enumerate(targets):
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        args = _schema_value(params, params, ("Paris", "London")[i % 2], patterns=False)
        calls.append({
            "id": _call_id(cfg.tool_call_id_style, id_rng),
            "type": "function",
            "function": {"name": fn["name"], "arguments": json.dumps(args)},
        })  # fmt: skip
    if len({c["id"] for c in calls}) < len(calls):  # astronomically unlikely, but ids must be distinct
        return _tool_calls(cfg, eff, prompt)
    return calls


def _call_markup(call: dict[str, Any]) -> str:
    """A tool call as a Hermes-style chat template writes it (what an unparsed call looks like)."""
    fn = call["function"]
    return f"<tool_call>\n{json.dumps({'name': fn['name'], 'arguments': json.loads(fn['arguments'])})}\n</tool_call>"


def _plan(cfg: FakeConfig, raw: dict[str, Any], eff: dict[str, Any], model: str) -> _Plan:
    """Run the simulated model on a validated request."""
    messages = eff["messages"]
    prompt = "\n".join(_text(m.get("content")) for m in messages)
    deterministic = eff.get("temperature", 1.0) == 0 or (_is_number(eff.get("top_p")) and eff["top_p"] <= 0.1)
    seed = eff.get("seed")
    if seed is None and cfg.param_rules == "mistral":
        seed = eff.get("random_seed")
    rng = None if deterministic else (random.Random(seed) if _is_int(seed) else random.Random())
    if rng is not None and cfg.shared_seed_state:  # reseeded on arrival (_Handler._arrive): draws interleave
        rng = cfg.shared_rng
    banned = {
        int(k) for k, v in (eff.get("logit_bias") or {}).items() if _is_number(v) and v <= _BAN_THRESHOLD
    }
    n = eff.get("n") or 1
    tools = eff.get("tools") or []
    choice = eff.get("tool_choice", "auto")
    after_tool = messages[-1].get("role") == "tool"
    calling = bool(tools) and choice != "none" and not (after_tool and choice == "auto")
    if calling and choice == "auto" and not _asks_for_a_tool(prompt, tools):
        calling = False  # a capable model calls on `auto` only when the prompt asks for what a tool does
    want_logprobs = eff.get("logprobs") is True
    k = eff.get("top_logprobs") or 0

    instructed = _instructed_answer(messages)
    choices: list[_Choice] = []
    for _ in range(n):
        if calling and cfg.tool_calls_as_text:
            text = "".join(_call_markup(c) for c in _tool_calls(cfg, eff, prompt))
            choices.append(_Choice(content=text, finish_reason="stop", pieces=_pieces(text)))
            continue
        if calling:
            calls = _tool_calls(cfg, eff, prompt)
            choices.append(_Choice(content=None, finish_reason="tool_calls", tool_calls=calls))
            continue
        if after_tool:
            words = _ban(f"The result was: {_text(messages[-1].get('content'))}".split(), banned)
        elif instructed:
            words = [instructed]
        else:
            words = _ban(_answer_words(eff, prompt, rng, banned, cfg.default_repeat_penalty), banned)
        content, pieces, finish = _cut(eff, _format_content(eff, " ".join(words), cfg.json_schema), cfg.keep_stop)
        lp = _logprobs(pieces, k, deterministic, banned) if want_logprobs else None
        choices.append(_Choice(content=content, finish_reason=finish, pieces=pieces, logprobs=lp))

    prompt_tokens = _words(prompt) + sum(_words(m["name"]) for m in messages if isinstance(m.get("name"), str))
    if tools:
        prompt_tokens += _words(json.dumps(eff["tools"]))
    if eff.get("response_format") is not None:
        prompt_tokens += _words(json.dumps(eff["response_format"]))
    completion = 0
    for ch in choices:
        if ch.tool_calls:
            completion += sum(
                _words(c["function"]["name"]) + _words(c["function"]["arguments"]) for c in ch.tool_calls
            )
        else:
            completion += len(ch.pieces)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    include_usage = (
        isinstance(eff.get("stream_options"), dict) and eff["stream_options"].get("include_usage") is True
    )
    _fit_context(cfg, choices, prompt_tokens)
    if cfg.response_style == "mistral" and eff.get("reasoning_effort") not in (None, "none"):
        for ch in choices:
            if ch.content is not None:
                ch.thinking = "The user greets me; I answer briefly."
    return _Plan(model, choices, usage, eff.get("stream") is True, include_usage)


def _fit_context(cfg: FakeConfig, choices: list[_Choice], prompt_tokens: int) -> None:
    """A prompt over the context window is a 400; an answer that fills the window stops there."""
    room = cfg.context_window - prompt_tokens
    if room < 0:
        if cfg.response_style == "mistral":
            raise _ApiError(f"Prompt contains {prompt_tokens} tokens and 0 draft tokens, too large for model with "
                            f"{cfg.context_window} maximum context length", kind="semantic",
                            mistral_type="invalid_request_invalid_args", mistral_code="3051")
        raise _ApiError(f"This model's maximum context length is {cfg.context_window} tokens. However, your "
                        f"messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages.",
                        "messages", kind="semantic", code="context_length_exceeded")
    for ch in choices:
        if ch.tool_calls is None and ch.content is not None and len(ch.pieces) > room:
            ch.pieces = ch.pieces[:room]
            ch.content = "".join(ch.pieces)
            ch.finish_reason = "model_length" if cfg.response_style == "mistral" else "length"


def _mistral_content(ch: _Choice) -> Any:
    """Mistral's content (quirks C4/C5): "" beside tool calls, thinking/text chunks when it reasoned."""
    if ch.tool_calls:
        return ""
    if ch.thinking is not None:
        return [{"type": "thinking", "thinking": [{"type": "text", "text": ch.thinking}]},
                {"type": "text", "text": ch.content}]
    return ch.content


def _completion(plan: _Plan, style: str = "openai") -> dict[str, Any]:
    """The non-streaming chat.completion body."""
    choices = []
    for index, ch in enumerate(plan.choices):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": ch.content,
            "refusal": None,
            "annotations": [],
        }
        if style == "mistral":  # no refusal/annotations (C8); tool calls without type but with index (C3)
            message = {"role": "assistant", "content": _mistral_content(ch)}
            if ch.tool_calls:
                message["tool_calls"] = [{"id": c["id"], "function": c["function"], "index": k}
                                         for k, c in enumerate(ch.tool_calls)]
        elif ch.tool_calls:
            message["tool_calls"] = ch.tool_calls
        logprobs = {"content": ch.logprobs, "refusal": None} if ch.logprobs is not None else None
        choices.append(
            {"index": index, "message": message, "logprobs": logprobs, "finish_reason": ch.finish_reason}
        )
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": plan.model,
        "choices": choices,
        "usage": plan.usage,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def _split_args(arguments: str, size: int = 8) -> list[str]:
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


def _sse_events(cfg: FakeConfig, plan: _Plan) -> list[dict[str, Any]]:
    """The chunks of a streamed completion (without the [DONE] terminator)."""
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": plan.model,
        "system_fingerprint": "fp_fake",
    }
    openai_usage = cfg.stream_usage == "openai" and plan.include_usage

    def chunk(
        index: int, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None
    ) -> dict[str, Any]:
        out = {
            **base,
            "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
        }
        if openai_usage:
            out["usage"] = None
        if cfg.response_style == "mistral" and delta.get("content"):
            out["p"] = "abcdefghij"[: 1 + len(str(delta["content"])) % 10]  # C11: padding on content chunks
        return out

    events = []
    for i, ch in enumerate(plan.choices):
        first = "" if ch.tool_calls is None else None
        events.append(chunk(i, {"role": "assistant", "content": first, "refusal": None}))
    for i, ch in enumerate(plan.choices):
        if ch.thinking is not None and cfg.response_style == "mistral":
            thinking = [{"type": "thinking", "thinking": [{"type": "text", "text": ch.thinking}]}]
            events.append(chunk(i, {"content": thinking}))
    longest = max((len(ch.pieces) for ch in plan.choices), default=0)
    for step in range(longest):
        for i, ch in enumerate(plan.choices):
            if step < len(ch.pieces):
                lp = {"content": [ch.logprobs[step]], "refusal": None} if ch.logprobs is not None else None
                events.append(chunk(i, {"content": ch.pieces[step]}, logprobs=lp))
    for i, ch in enumerate(plan.choices):
        if not ch.tool_calls:
            continue
        if cfg.tool_delta_style == "mistral":
            calls = [{"id": c["id"], "function": dict(c["function"])} for c in ch.tool_calls]
            events.append(chunk(i, {"tool_calls": calls}))
            continue
        for k, call in enumerate(ch.tool_calls):
            head = {"index": k, "id": call["id"], "type": "function"}
            events.append(
                chunk(
                    i,
                    {
                        "tool_calls": [
                            {**head, "function": {"name": call["function"]["name"], "arguments": ""}}
                        ]
                    },
                )
            )
            for piece in _split_args(call["function"]["arguments"]):
                events.append(chunk(i, {"tool_calls": [{"index": k, "function": {"arguments": piece}}]}))
    for i, ch in enumerate(plan.choices):
        events.append(chunk(i, {}, finish=ch.finish_reason))
    if cfg.stream_usage == "mistral":
        events[-1]["usage"] = plan.usage
    elif openai_usage:
        events.append({**base, "choices": [], "usage": plan.usage})
    return events


@lru_cache(maxsize=1)
def _huge_body() -> bytes:
    """A valid chat.completion of about 10 MB."""
    content = "echo " * (2 * 1024 * 1024)
    plan = _Plan("fake-model", [_Choice(content=content, finish_reason="stop")], {}, False, False)
    body = _completion(plan)
    body["usage"] = {
        "prompt_tokens": 1,
        "completion_tokens": 2 * 1024 * 1024,
        "total_tokens": 2 * 1024 * 1024 + 1,
    }
    return json.dumps(body).encode()


_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
    b"\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


# ---------------------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that time out or reset are part of the tests."""


class _Handler(BaseHTTPRequestHandler):
    """One request; HTTP/1.0 so that a stream ends when the connection closes."""

    server: _HTTPServer
    protocol_version = "HTTP/1.0"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
    server_version = "fakeserver/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def setup(self) -> None:
        super().setup()
        cfg = self.server.fake.config
        if cfg.keep_alive or cfg.reset_after_5xx:
            self.protocol_version = "HTTP/1.1"  # read by parse_request: the connection then stays open
        self._sent_status = 0
        self._counted = False  # this request counts against max_in_flight until its answer starts
        self._doomed = False  # a 5xx was answered on this connection (reset_after_5xx)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._sent_status = code
        if self._counted:  # the request's work is done once its answer starts: the next one may come in
            self._counted = False
            self.server.fake._leave()
        super().send_response(code, message)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    # -- sending ------------------------------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers)

    def _send_sse(self, events: list[dict[str, Any]], tail: bytes = b"data: [DONE]\n\n") -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for event in events:
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            self.wfile.flush()
        if tail:
            self.wfile.write(tail)
            self.wfile.flush()

    def _reset(self) -> None:
        """Close the socket with an RST and answer nothing."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    # -- dispatch -----------------------------------------------------------------------------------------

    def _handle(self) -> None:
        fake = self.server.fake
        cfg = fake.config
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed: Any = json.loads(text) if text else text
        except ValueError:
            parsed = text
        path = urlsplit(self.path).path.rstrip("/")
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake._record({"method": self.command, "path": path, "headers": headers, "body": parsed})
        self._sent_status = 0
        if self._doomed:
            self._reset()
            return
        if self.command == "POST" and path == "/v1/chat/completions":
            self._counted = fake._enter(cfg)
            if not self._counted:
                self._over_capacity(cfg)
                return
        try:
            self._serve(fake, cfg, path, headers, text)
        finally:
            if self._counted:  # no answer was sent (hang released, reset)
                self._counted = False
                fake._leave()
        if cfg.reset_after_5xx and self._sent_status >= 500:
            self._doomed = True

    def _over_capacity(self, cfg: FakeConfig) -> None:
        if cfg.over_capacity == "503":
            body = _openai_error("The server is overloaded; try again later.", "server_error", "overloaded")
            self._send_json(503, body)
        else:
            self._reset()

    def _serve(self, fake: FakeServer, cfg: FakeConfig, path: str, headers: dict[str, str], text: str) -> None:
        if cfg.shared_seed_state and self.command == "POST" and path == "/v1/chat/completions":
            _arrive(cfg, text)
        if cfg.latency > 0 and fake._closing.wait(cfg.latency):
            return
        try:
            if self.command == "POST" and path == "/v1/chat/completions":
                self._chat(fake, cfg, headers, text)
            elif self.command == "GET" and (path == "/v1/models" or path.startswith("/v1/models/")):
                self._models(cfg, headers, path)
            else:
                message = f"Unknown request URL: {self.command} {path}. Please check the URL and method."
                self._send_json(404, _openai_error(message, "invalid_request_error", "unknown_url"))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # noqa: BLE001 - a bug in the fake must be visible, not a hang
            self._send_json(500, _openai_error(f"fakeserver bug: {exc!r}", "server_error", None))

    def _auth_error(self, cfg: FakeConfig, headers: dict[str, str]) -> bool:
        """Send a 401 when the API key is configured and missing or wrong; return whether it was sent."""
        if cfg.api_key is None:
            return False
        auth = headers.get("authorization", "")
        if auth == f"Bearer {cfg.api_key}":
            return False
        if not auth:
            body = _openai_error(
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
                None,
            )
        else:
            body = _openai_error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        self._send_json(401, body, {"WWW-Authenticate": "Bearer"})
        return True

    def _models(self, cfg: FakeConfig, headers: dict[str, str], path: str) -> None:
        if cfg.fault == "cycle":  # every request one fault, GET /models too
            fault = self.server.fake._next_fault()
            if not self._early_fault(self.server.fake, cfg, fault):
                self._cut_fault(fault, 200, json.dumps({"object": "list", "data": []}).encode())
            return
        if self._auth_error(cfg, headers):
            return
        entries = [
            {"id": m, "object": "model", "created": cfg.model_created, "owned_by": "fakeserver"} for m in cfg.models
        ]
        if path == "/v1/models":
            self._send_json(200, {"object": "list", "data": entries})
            return
        wanted = path[len("/v1/models/") :]
        found = [e for e in entries if e["id"] == wanted]
        if found:
            self._send_json(200, found[0])
        else:
            self._send_json(404, _unknown_model_body(wanted))

    def _early_fault(self, fake: FakeServer, cfg: FakeConfig, fault: str | None) -> bool:
        """Answer with a fault that needs no valid request (all but the two cut ones); whether it answered."""
        if fault == "html502":
            self._send(502, _HTML_502, "text/html")
        elif fault == "invalid_json":
            self._send(
                200, b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": [{', "application/json"
            )
        elif fault == "reset":
            self._reset()
        elif fault == "huge":
            self._send(200, _huge_body(), "application/json")
        elif fault == "hang":
            if not fake._closing.wait(cfg.hang_seconds):
                self._reset()
        elif fault == "rate_limit" and fake._take_rate_limit(cfg):
            limited = _openai_error(
                "Rate limit reached for requests. Please try again in 1s.", "requests", "rate_limit_exceeded"
            )
            if cfg.error_style == "mistral":  # quirks/mistral.md D, rate limit (cline#9085)
                limited = {"object": "error", "message": "Rate limit exceeded", "type": "rate_limited",
                           "param": None, "code": "1300"}
            self._send_json(
                429,
                limited,
                {
                    "Retry-After": "1",
                    "x-ratelimit-reset-requests": "1s",
                    "x-ratelimit-limit-requests": str(cfg.rate_limit_count),
                    "x-ratelimit-remaining-requests": "0",
                },
            )
        else:
            return False
        return True

    def _cut_fault(self, fault: str, status: int, body: bytes) -> None:
        """A JSON answer (not a stream) with a cut fault: a 500 instead, or the body cut in half."""
        if fault == "midstream_500":
            self._send_json(500, _openai_error("The server had an error processing your request.", "server_error",
                                               None))
            return
        self.send_response(status)  # truncated_sse: half the body, then close
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])

    def _chat(self, fake: FakeServer, cfg: FakeConfig, headers: dict[str, str], text: str) -> None:
        fault = fake._next_fault() if cfg.fault == "cycle" else cfg.fault
        if self._early_fault(fake, cfg, fault):
            return
        if self._auth_error(cfg, headers):
            return
        crash = _crash_field(cfg, text)
        if crash is not None:
            message = f"Internal server error while processing '{crash}'"
            self._send_json(500, _openai_error(message, "server_error", None, crash))
            return
        defect = _server_defect(fake, cfg, text)
        if defect is not None:
            self._send_json(500, _openai_error(defect, "server_error", None))
            return
        try:
            plan = _oblivious_plan(cfg, text) if cfg.oblivious else _validate_and_plan(cfg, text)
        except _ApiError as err:
            status, body = _error_response(cfg.error_style, err)
            if cfg.fault == "cycle" and fault in ("truncated_sse", "midstream_500"):  # refused, yet one fault too
                self._cut_fault(fault, status, json.dumps(body).encode())
                return
            self._send_json(status, body)
            return
        if not plan.stream:
            body = json.dumps(_completion(plan, cfg.response_style)).encode()
            if fault in ("truncated_sse", "midstream_500"):  # the non-stream analogues: a body cut in half, a 500
                self._cut_fault(fault, 200, body)
                return
            self._send(200, body, "application/json")
            return
        events = _sse_events(cfg, plan)
        if fault == "truncated_sse":
            self._send_sse(events[: min(4, len(events) - 1)], tail=b"")
        elif fault == "midstream_500":
            error = _openai_error(
                "The server had an error while processing your request.", "server_error", None
            )
            tail = b"data: " + json.dumps(error).encode() + b"\n\n"
            self._send_sse(events[: min(4, len(events) - 1)], tail=tail)
        else:
            self._send_sse(events, **({} if cfg.done_sentinel else {"tail": b""}))


OBLIVIOUS_TEXT = "Hello! I am a helpful assistant."
OBLIVIOUS_USAGE = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}


def _arrive(cfg: FakeConfig, text: str) -> None:
    """shared_seed_state: a seed reseeds the one random state; a request without one draws from it."""
    try:
        body = json.loads(text)
    except ValueError:
        return
    seed = body.get("seed") if isinstance(body, dict) else None
    if _is_int(seed):
        cfg.shared_rng.seed(seed)
    else:
        cfg.shared_rng.random()


def _oblivious_plan(cfg: FakeConfig, text: str) -> _Plan:
    """The answer of the server that honours nothing (but the fields of ``cfg.reject``): fixed text, or a call to the
    first tool offered."""
    try:
        body = json.loads(text)
    except ValueError:
        raise _ApiError("We could not parse the JSON body of your request.", detail_type="json_invalid") from None
    body = body if isinstance(body, dict) else {}
    _check_rejected(cfg, body)
    offered = [t.get("function") for t in body.get("tools") or [] if isinstance(t, dict)]
    offered += list(body.get("functions") or [])
    first = next((f for f in offered if isinstance(f, dict) and f.get("name")), None)
    if first is not None:
        call = {"id": "call_" + "0" * 24, "type": "function",
                "function": {"name": first["name"], "arguments": json.dumps({"city": "Paris"})}}
        choice = _Choice(content=None, finish_reason="tool_calls", tool_calls=[call])
    else:
        choice = _Choice(content=OBLIVIOUS_TEXT, finish_reason="stop", pieces=_pieces(OBLIVIOUS_TEXT))
    model = body.get("model") if isinstance(body.get("model"), str) else "fake-model"
    return _Plan(model, [choice], dict(OBLIVIOUS_USAGE), body.get("stream") is True, False)


def _json_object(text: str) -> dict[str, Any] | None:
    """The request body as a JSON object, or None."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _crash_field(cfg: FakeConfig, text: str) -> str | None:
    """The field of ``crash_on`` this request carries with its chosen value, if any."""
    body = _json_object(text) if cfg.crash_on else None
    if body is None:
        return None
    roles = {m.get("role") for m in body.get("messages") or [] if isinstance(m, dict)}
    for name, value in cfg.crash_on.items():
        if (name == "role" and value in roles) or (name in body and body[name] == value):
            return name
    return None


CUT_CALL_TOKENS = 26  # crash_on_cut_calls: what one tool call costs


def _server_defect(fake: FakeServer, cfg: FakeConfig, text: str) -> str | None:
    """The 500 message of the root-cause modes (refuse_null_content, crash_on_prompt, flaky_crash,
    crash_on_cut_calls), or None."""
    body = _json_object(text)
    if body is None:
        return None
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    if cfg.refuse_null_content:
        for i, m in enumerate(messages):
            if m.get("role") == "assistant" and "content" in m and m["content"] is None:
                return f"1 validation error: messages[{i}].content: Input should be a valid string"
    if cfg.crash_on_prompt and any(cfg.crash_on_prompt in _text(m.get("content")) for m in messages):
        return "Failed to parse the model output: unexpected token in tool call"
    if cfg.flaky_crash and any(f in body for f in cfg.flaky_crash) and fake._first_try(text):
        return "Failed to parse the model output: unexpected end of JSON"
    limit = body.get("max_tokens")
    if cfg.crash_on_cut_calls and _is_int(limit) and limit < CUT_CALL_TOKENS and body.get("tools") \
            and body.get("tool_choice") != "none":
        return "Failed to parse the tool call: unterminated string"
    return None


def _unknown_model_body(model: str) -> dict[str, Any]:
    return _openai_error(
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
        "model",
    )


def _validate_and_plan(cfg: FakeConfig, text: str) -> _Plan:
    """Parse and validate a chat request, then run the simulated model; raise _ApiError on a 4xx."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise _ApiError(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            status=cfg.malformed_body_status,
            detail_type="json_invalid",
            detail_msg=f"JSON decode error: {exc.msg}",
            loc=[exc.pos],
        ) from None
    if not isinstance(body, dict):
        raise _ApiError(
            "Invalid request body: expected a JSON object.", detail_type="model_attributes_type", value=body
        )
    _check_rejected(cfg, body)
    _check_server_error(cfg, body)
    _check_unknown(cfg, body)
    eff = _without(body, cfg.ignore)
    eff.update({canonical: body[alias] for alias, canonical in cfg.aliases.items() if alias in body})
    model = body.get("model", _MISSING)
    if model is _MISSING:
        raise _ApiError(
            "Missing required parameter: 'model'.",
            "model",
            code="missing_required_parameter",
            detail_type="missing",
            detail_msg="Field required",
        )
    if not isinstance(model, str):
        raise _invalid("model", "Invalid type for 'model': expected a string.", model, "invalid_type")
    _check_messages(cfg, eff)
    if model not in cfg.models:
        if cfg.unknown_model == "substitute":
            model = "fake-default"
        else:
            raise _ApiError(
                f"The model `{model}` does not exist or you do not have access to it.",
                "model",
                kind="semantic",
                status=404,
                code="model_not_found",
                mistral_type="invalid_model",
                mistral_code="1500",
            )
    _check_params(cfg, body, eff)
    if cfg.drop_message_fields:
        eff["messages"] = [{k: v for k, v in m.items() if k not in cfg.drop_message_fields} for m in eff["messages"]]
    return _plan(cfg, body, eff, model)


# ---------------------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------------------


class FakeServer:
    """A fake OpenAI-like server on 127.0.0.1 (a random free port), run in a daemon thread.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. ``config`` may be swapped between
    requests; ``requests`` records every received request (method, path, headers with lower-cased keys,
    body parsed as JSON or the raw text).
    """

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config: FakeConfig = config or FakeConfig()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._rate_config: FakeConfig | None = None
        self._rate_served = 0
        self._in_flight = 0
        self.refused = 0  # chat requests turned away over max_in_flight
        self._faults_served = 0
        self._tried: set[str] = set()  # request bodies seen (flaky_crash)

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._httpd is None:
            raise RuntimeError("FakeServer is not started: call start() or use it as a context manager")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> Self:
        """Bind and serve in a daemon thread; return self."""
        if self._httpd is not None:
            return self
        self._closing.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging requests, stop serving and close the listening socket."""
        if self._httpd is None:
            return
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def last_request(self) -> dict[str, Any]:
        """The most recent recorded request."""
        with self._lock:
            return self.requests[-1]

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def _enter(self, cfg: FakeConfig) -> bool:
        """Count a chat request in flight; False (not counted) when ``max_in_flight`` are already served."""
        with self._lock:
            if cfg.max_in_flight is not None and self._in_flight >= cfg.max_in_flight:
                self.refused += 1
                return False
            self._in_flight += 1
            return True

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _next_fault(self) -> str:
        """With fault "cycle": the fault of this chat request (the next of FAULTS in turn)."""
        with self._lock:
            self._faults_served += 1
            return FAULTS[(self._faults_served - 1) % len(FAULTS)]

    def _first_try(self, text: str) -> bool:
        """Whether this exact request body arrives for the first time (flaky_crash)."""
        with self._lock:
            seen = text in self._tried
            self._tried.add(text)
            return not seen

    def _take_rate_limit(self, cfg: FakeConfig) -> bool:
        """Whether this request gets a 429 (the first ``rate_limit_count`` requests under this config)."""
        with self._lock:
            if self._rate_config is not cfg:
                self._rate_config, self._rate_served = cfg, 0
            if self._rate_served >= cfg.rate_limit_count:
                return False
            self._rate_served += 1
            return True


#: OpenAI-only request fields Mistral answers with 422 extra_forbidden (quirks/mistral.md A1-A8, A15).
MISTRAL_REJECTS: frozenset[str] = frozenset({
    "seed", "max_completion_tokens", "stream_options", "logprobs", "top_logprobs", "logit_bias", "user", "store",
    "safety_identifier", "modalities", "audio", "web_search_options", "verbosity", "functions", "function_call",
    "service_tier", "prediction", "metadata", "prompt_cache_key",
})  # fmt: skip


def mistral_like(**overrides: Any) -> FakeConfig:
    """A fake that answers like Mistral's API as ../shared/quirks/mistral.md documents it: 422 extra_forbidden on
    OpenAI-only fields, Mistral's error envelope, usage on the finishing chunk, whole tool calls in one delta
    without index, 9-alphanumeric ids, message-order 400s, Mistral's value ranges and response shapes."""
    settings: dict[str, Any] = {
        "reject": set(MISTRAL_REJECTS), "reject_unknown": True, "error_style": "mistral", "stream_usage": "mistral",
        "tool_delta_style": "mistral", "tool_call_id_style": "mistral", "conversation_rules": "mistral",
        "param_rules": "mistral", "response_style": "mistral", "unknown_model": "404",
    }
    settings.update(overrides)
    return FakeConfig(**settings)
