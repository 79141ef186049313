"""Load recorded traffic (vcrpy cassettes of the common layouts, raw JSON bodies, raw SSE text)."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

CHAT_PATH = "/chat/completions"
TRAFFIC_SUFFIXES = (".yaml", ".yml", ".json", ".txt")


class TrafficError(Exception):
    """A file that cannot be read as recorded traffic; says which file and why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class Interaction:
    file: str
    index: int
    request_method: str | None
    request_url: str | None
    request_body: Any
    status: int | None
    content_type: str | None
    response_text: str
    kind: str  # json | sse | data_lines
    skip_reason: str | None = None

    @property
    def provider(self) -> str | None:
        """The provider named by the request URL host (openai, mistral, …), None when not recorded."""
        host = urlsplit(self.request_url or "").hostname or ""
        parts = host.split(".")
        return parts[-2] if len(parts) >= 2 else (host or None)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present: ~10x faster
    """SafeLoader that keeps !!binary scalars as bytes (vcrpy stores gzip'd bodies that way)."""


_Loader.add_constructor("tag:yaml.org,2002:binary",
                        lambda loader, node: base64.b64decode("".join(loader.construct_scalar(node).split())))


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if str(key).lower() == name:
            if isinstance(value, list):
                return ", ".join(str(v) for v in value) if value else None
            return str(value)
    return None


def _decode(body: Any, encoding: str | None) -> str:
    """Body as text: bytes are gunzipped when the header or the gzip magic says so."""
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if isinstance(body, (dict, list)):
        return json.dumps(body)
    raw = bytes(body)
    if (encoding and "gzip" in encoding.lower()) or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except OSError:
            pass  # labelled gzip but not gzip: fall through and show the bytes as they are
    return raw.decode("utf-8", errors="replace")


def _body_of(part: dict[str, Any], encoding: str | None) -> str:
    """The body of a cassette request or response in any of the vcrpy/httpx layouts."""
    if "parsed_body" in part:
        return _decode(part["parsed_body"], None)
    body = part.get("body", part.get("content"))
    if isinstance(body, dict):
        if "string" in body:
            return _decode(body["string"], encoding)
        if "base64_string" in body:
            return _decode(base64.b64decode(body["base64_string"]), encoding)
    return _decode(body, encoding)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def _status(response: dict[str, Any]) -> int | None:
    status = response.get("status", response.get("status_code"))
    if isinstance(status, dict):
        status = status.get("code")
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def _kind(content_type: str | None, text: str) -> str:
    if content_type and "event-stream" in content_type.lower():
        return "sse"
    if not content_type and text.lstrip().startswith(("data:", "event:", ":")):
        return "sse"
    return "json"


def _skip_reason(method: str | None, url: str | None) -> str | None:
    path = urlsplit(url or "").path
    if method and method.upper() == "POST" and path.rstrip("/").endswith(CHAT_PATH):
        return None
    return f"not a chat completion: {(method or '?').upper()} {path or url}"


def _from_cassette(path: Path, doc: dict[str, Any]) -> list[Interaction]:
    items = doc.get("interactions")
    if not isinstance(items, list):
        raise TrafficError(path, "YAML without an `interactions` list: not a vcrpy cassette")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict) \
                or not isinstance(item.get("response"), dict):
            raise TrafficError(path, f"interaction {i} has no request/response mapping")
        req, resp = item["request"], item["response"]
        method, url = req.get("method"), req.get("uri", req.get("url"))
        req_text = _body_of(req, _header(req.get("headers"), "content-encoding"))
        ctype = _header(resp.get("headers"), "content-type")
        text = _body_of(resp, _header(resp.get("headers"), "content-encoding"))
        out.append(Interaction(file=str(path), index=i, request_method=method, request_url=url,
                               request_body=_json_or_none(req_text), status=_status(resp),
                               content_type=ctype, response_text=text, kind=_kind(ctype, text),
                               skip_reason=_skip_reason(method, url)))
    return out


def _raw(path: Path, text: str, kind: str, content_type: str | None) -> list[Interaction]:
    return [Interaction(file=str(path), index=0, request_method=None, request_url=None, request_body=None,
                        status=None, content_type=content_type, response_text=text, kind=kind)]


def load_interactions(path: Path) -> list[Interaction]:
    """All interactions recorded in one file; raises TrafficError for unusable input."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TrafficError(path, f"cannot read: {exc.strerror or exc}") from exc
    text = _decode(raw, None).lstrip("\ufeff")
    name = path.name.lower()
    if name.endswith((".yaml", ".yml")):
        try:
            doc = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            raise TrafficError(path, f"malformed YAML: {exc}") from exc
        if not isinstance(doc, dict):
            raise TrafficError(path, "YAML is not a mapping: not a vcrpy cassette")
        return _from_cassette(path, doc)
    if name.endswith(".chunks.txt"):
        return _raw(path, text, "data_lines", None)
    if name.endswith(".txt"):
        if not text.lstrip().startswith(("data:", "event:", ":")):
            raise TrafficError(path, "text file without SSE `data:` lines (unknown layout)")
        return _raw(path, text, "sse", "text/event-stream")
    if name.endswith(".json"):
        if _json_or_none(text) is None:
            raise TrafficError(path, "not valid JSON")
        return _raw(path, text, "json", "application/json")
    raise TrafficError(path, f"unknown layout: expected one of {', '.join(TRAFFIC_SUFFIXES)}")
