"""Validate bodies against our JSON Schemas (schemas/*.schema.json) at the compat and strict levels."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from conformance.model.findings import Finding, dedupe

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"  # shipped in the package
LEVELS = ("compat", "strict")  # compat first: a compat failure hides the same strict failure

SCHEMA_FILES = {
    "request": "chat.completion.request.schema.json",
    "response": "chat.completion.schema.json",
    "chunk": "chat.completion.chunk.schema.json",
    "error": "error.schema.json",
    "model_list": "model.list.schema.json",
}


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """The parsed schema document for `kind` (a key of SCHEMA_FILES)."""
    return json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))


@cache
def validator(kind: str, level: str) -> Draft202012Validator:
    """A validator for one level ($defs/strict or $defs/compat) of one schema; format checking is off."""
    doc = load_schema(kind)
    # validate the level's $def with the whole document as the resolution root (so "#/$defs/..." refs work)
    schema = {k: v for k, v in doc.items() if k not in ("$ref",)}
    schema["$ref"] = f"#/$defs/{level}"
    return Draft202012Validator(schema)


def escape_token(token: str | int) -> str:
    """RFC 6901 escaping of one reference token."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(path: Iterable[str | int], prefix: str = "") -> str:
    """A JSON pointer for a path of keys and indexes, appended to `prefix`."""
    return prefix + "".join("/" + escape_token(p) for p in path)


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """The innermost errors: anyOf/oneOf branches say more than "not valid under any schema"."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        # keep the branch that got deepest into the instance: it is the closest to what was meant
        deepest = max(len(e.absolute_path) for e in error.context)
        for sub in error.context:
            if len(sub.absolute_path) == deepest:
                yield from _leaf_errors(sub)
    else:
        yield error


def _finding(error: ValidationError, part: str, level: str, prefix: str) -> Finding:
    path = list(error.absolute_path)
    rule = str(error.validator)
    expected: Any = error.validator_value
    actual: Any = error.instance
    if rule == "required":
        # point at the missing member itself: that is what a reader looks for
        missing = next((name for name in error.validator_value
                        if isinstance(error.instance, dict) and name not in error.instance
                        and error.message == f"{name!r} is a required property"), None)
        if missing is not None:
            path.append(missing)
        expected, actual = missing, None
    elif rule in ("type", "enum", "const"):
        actual = error.instance
    elif isinstance(actual, (dict, list)):
        actual = None  # a whole object is noise in a report; the pointer says where it is
    return Finding(part=part, pointer=pointer(path, prefix), rule=rule, level=level,
                   message=f"{level}: {_json_words(error)}", expected=expected, actual=actual)


def _json_words(error: ValidationError) -> str:
    """jsonschema's message with a JSON scalar named as JSON ("null is not of type 'array'", not "None …")."""
    inst = error.instance
    if (inst is None or isinstance(inst, bool)) and error.message.startswith(repr(inst) + " "):
        return json.dumps(inst) + error.message[len(repr(inst)):]
    return error.message


def _check(kind: str, body: Any, part: str, prefix: str = "") -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for level in LEVELS:
        for error in validator(kind, level).iter_errors(body):
            for leaf in _leaf_errors(error):
                f = _finding(leaf, part, level, prefix)
                if (f.pointer, f.rule) in seen:
                    continue  # already failed at compat: reporting it again at strict adds nothing
                seen.add((f.pointer, f.rule))
                findings.append(f)
    return dedupe(sorted(findings, key=lambda f: (LEVELS.index(f.level), f.pointer)))


def check_request(body: Any) -> list[Finding]:
    """Findings for a chat completion request body (part "request")."""
    return _check("request", body, "request")


def check_response(body: Any) -> list[Finding]:
    """Findings for a non-streaming chat.completion body (part "response")."""
    return _check("response", body, "response")


def check_chunk(chunk: Any, index: int) -> list[Finding]:
    """Findings for one stream chunk (part "stream"); pointers start with /chunks/<index>."""
    return _check("chunk", chunk, "stream", prefix=f"/chunks/{index}")


def check_error(body: Any) -> list[Finding]:
    """Findings for an error body against the OpenAI error envelope (part "response")."""
    return _check("error", body, "response")


def check_model_list(body: Any) -> list[Finding]:
    """Findings for a GET /models body (part "response")."""
    return _check("model_list", body, "response")
