"""Reading error answers: who is blamed, and is the envelope OpenAI-shaped."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

OPENAI_ENVELOPE_KEYS = ("message", "type", "param", "code")


@dataclass
class ErrorReading:
    shape: str  # openai | fastapi | mistral | flat | text | empty
    message: str
    params: list[str]  # fields the error names (top-level request field first, when known)
    code: str | None = None
    type: str | None = None

    def names(self, field: str) -> bool:
        return any(p == field or p.split(".")[0] == field for p in self.params)


def _loc_param(loc: list[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) if parts else None


def _detail_params(detail: Any) -> tuple[list[str], str]:
    params: list[str] = []
    messages: list[str] = []
    if isinstance(detail, list):
        for item in detail:
            if isinstance(item, dict):
                loc = item.get("loc")
                if isinstance(loc, list):
                    p = _loc_param(loc)
                    if p:
                        params.append(p)
                messages.append(f"{item.get('type', '')}: {item.get('msg', '')}".strip(": "))
    elif isinstance(detail, str):
        messages.append(detail)
    return params, "; ".join(messages)


_QUOTED = re.compile(r"['`\"]([A-Za-z_][A-Za-z0-9_.\[\]]*)['`\"]")
_ARGUMENT = re.compile(r"(?:argument|parameter|field)[s]?(?: supplied)?:?\s+['`\"]?([A-Za-z_][A-Za-z0-9_.]*)")


# A quoted word right after one of these words is a value, not a field: "Unexpected role 'user' after role
# 'tool'", "Invalid value: 'sometimes'", "Input tag 'developer'", "Input should be 'auto', 'none' or 'any'".
_VALUE_WORDS = frozenset({"role", "roles", "value", "values", "tag", "tags", "be", "got", "was", "were", "are",
                          "expected", "type", "types", "of", "one", "enum", "model"})
_MODEL = re.compile(r"\b(?:invalid|unknown) model\b|\bmodel\b[^.]{0,80}\bdoes not exist\b", re.IGNORECASE)
_LIST_GAP = re.compile(r"^\s*(?:,|or|and|,\s*or|,\s*and)\s*$")
_LAST_WORD = re.compile(r"([A-Za-z_]+)\W*$")


def _quoted_fields(message: str) -> list[str]:
    """Quoted names that are fields: a quoted value (after `role`, `value`, `be`…) and the rest of its list are not."""
    out: list[str] = []
    previous_end, previous_is_value = -1, False
    for m in _QUOTED.finditer(message):
        gap = message[previous_end:m.start()] if previous_end >= 0 else ""
        if previous_end >= 0 and _LIST_GAP.match(gap):
            is_value = previous_is_value  # the next item of the same list
        else:
            word = _LAST_WORD.search(message[max(0, m.start() - 40):m.start()])
            is_value = bool(word) and word.group(1).lower() in _VALUE_WORDS
        if not is_value:
            out.append(m.group(1))
        previous_end, previous_is_value = m.end(), is_value
    return out


def params_in_text(message: str, known: tuple[str, ...] = ()) -> list[str]:
    """Field names an error message mentions: quoted names, `argument: x`, or known field names.

    Quoted values are skipped: in "Unexpected role 'user' after role 'tool'" no field is named.
    """
    found = [m.group(1) for m in _ARGUMENT.finditer(message)]
    found += _quoted_fields(message)
    if _MODEL.search(message):
        found.append("model")
    found += [k for k in known if re.search(rf"\b{re.escape(k)}\b", message)]
    out: list[str] = []
    for name in found:
        p = re.sub(r"\[\d+\]", "", name)
        if p not in out:
            out.append(p)
    return out


def read_error(body_text: str, known: tuple[str, ...] = ()) -> ErrorReading:
    """Parse OpenAI's envelope, FastAPI/Pydantic `detail` lists, Mistral's flat object, or plain text."""
    try:
        body = json.loads(body_text)
    except (ValueError, TypeError):
        text = (body_text or "").strip()
        return ErrorReading("text" if text else "empty", text[:500], params_in_text(text, known))
    if not isinstance(body, dict):
        return ErrorReading("flat", str(body)[:500], [])
    err = body.get("error")
    if isinstance(err, dict):
        message = str(err.get("message", ""))
        params = [str(err["param"])] if err.get("param") else []
        params += [p for p in params_in_text(message, known) if p not in params]
        shape = "openai" if all(k in err for k in OPENAI_ENVELOPE_KEYS) else "openai-partial"
        return ErrorReading(shape, message, params, _str(err.get("code")), _str(err.get("type")))
    if "detail" in body:
        params, message = _detail_params(body["detail"])
        return ErrorReading("fastapi", message, params or params_in_text(message, known), _str(body.get("code")),
                            _str(body.get("type")))
    msg = body.get("message")
    if isinstance(msg, str) and msg.lstrip().startswith("{"):  # Mistral (2024): the detail object as a JSON string
        try:
            inner = json.loads(msg)
        except ValueError:
            inner = None
        if isinstance(inner, dict) and "detail" in inner:
            msg = inner
    if isinstance(msg, dict) and "detail" in msg:  # Mistral: {"object":"error","message":{"detail":[…]}}
        params, message = _detail_params(msg["detail"])
        return ErrorReading("mistral", message, params, _str(body.get("code")), _str(body.get("type")))
    message = msg if isinstance(msg, str) else (json.dumps(msg) if msg is not None else json.dumps(body)[:300])
    if isinstance(err, str):
        message = err
    params = [str(body["param"])] if body.get("param") else []
    params += [p for p in params_in_text(message, known) if p not in params]
    return ErrorReading("flat", message, params, _str(body.get("code")), _str(body.get("type")))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


SHAPE_NOTES = {
    "openai-partial": "error object lacks some of message/type/param/code",
    "fastapi": "FastAPI/Pydantic `detail` list instead of OpenAI's {\"error\": {…}}",
    "mistral": "flat {\"object\": \"error\", \"message\": {\"detail\": […]}} instead of OpenAI's {\"error\": {…}}",
    "flat": "flat error object instead of OpenAI's {\"error\": {…}}: body.error.message is missing",
    "text": "error body is not JSON",
    "empty": "empty error body",
}
