"""Recording and replay with vcrpy cassettes: the only module that knows vcrpy.

One cassette file per probe (`<cassette-dir>/<target>/<probe-id>.yaml`), one per shared control
(`<cassette-dir>/<target>/_controls_<name>.yaml`) and one per request several probes send alike
(`_shared_<first probe-id>.yaml`); the engine names them, `CassetteBook.path_for` makes each name a file name.
Requests match on method, path and JSON body. Credentials are scrubbed from request and response headers and
bodies before anything is written. Each cassette file is read and parsed once (libyaml when PyYAML has it); a
file that exists but is no usable cassette is a `CassetteError` naming it, never an empty cassette.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from vcr.cassette import Cassette
from vcr.errors import UnhandledHTTPRequestError
from vcr.persisters.filesystem import CassetteNotFoundError, FilesystemPersister
from vcr.record_mode import RecordMode
from vcr.request import Request
from vcr.serialize import deserialize

from conformance.wire.secrets import is_sensitive, scrub_text

RECORD_MODES = ("none", "once", "new_episodes", "all")


# libyaml's emitter writes the same bytes ~100x faster (saving a 10 MB answer: 0.1 s instead of 15 s)
class _LiteralDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Multi-line strings (SSE bodies) as literal blocks, so a cassette shows the stream as it came."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if "\n" in value and all(ch == "\n" or ch == "\t" or ch.isprintable() for ch in value) \
            and not any(line != line.rstrip() for line in value.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_LiteralDumper.add_representer(str, _str_representer)


# libyaml parses the bundled cassettes about ten times faster than the pure-Python loader, to the same data
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CassetteError(ValueError):
    """A cassette file exists but cannot be used; the message names the file."""


class LiteralYamlSerializer:
    """vcrpy serializer: the standard cassette layout, readable bodies; reading checks the layout."""

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        return yaml.dump(cassette_dict, Dumper=_LiteralDumper, allow_unicode=True, sort_keys=False, width=120)

    @staticmethod
    def deserialize(cassette_string: str) -> dict[str, Any]:
        try:
            data = yaml.load(cassette_string, Loader=_YamlLoader)  # a safe loader, C or Python
        except yaml.YAMLError as exc:
            raise CassetteError(f"not valid YAML ({str(exc).splitlines()[0]})") from None
        _check_layout(data)
        return data


def _check_layout(data: Any) -> None:
    """What replay reads of a cassette is there, so a damaged file is an error rather than a crash or no recording."""
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise CassetteError("expected a vcrpy cassette with an `interactions` list")
    for i, item in enumerate(data["interactions"]):
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict) \
                or not isinstance(item.get("response"), dict):
            raise CassetteError(f"interaction {i} lacks a request or a response")
        missing = [f"request.{k}" for k in ("method", "uri", "body", "headers") if k not in item["request"]]
        response = item["response"]
        missing += [f"response.{k}" for k in ("status", "headers", "body") if k not in response]
        if not missing and not (isinstance(response["status"], dict) and "code" in response["status"]):
            missing.append("response.status.code")
        if not missing and not (isinstance(response["body"], dict) and "string" in response["body"]):
            missing.append("response.body.string")
        if missing:
            raise CassetteError(f"interaction {i} lacks {', '.join(missing)}")


class CheckedPersister(FilesystemPersister):
    """vcrpy persister: a missing file is a new cassette; a file that is there is parsed once (by the
    serializer, which checks the layout) and any problem with it is a `CassetteError` naming the file —
    where vcrpy would treat an unreadable or empty file as an empty cassette ("no recording")."""

    @classmethod
    def load_cassette(cls, cassette_path: str | Path, serializer: Any) -> tuple[Any, ...]:
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CassetteError(f"cassette {path}: not UTF-8 text ({exc.reason})") from None
        except OSError as exc:
            raise CassetteError(f"cassette {path}: cannot be read ({exc.strerror or exc})") from None
        try:
            return tuple(deserialize(text, serializer))
        except CassetteError as exc:
            raise CassetteError(f"cassette {path}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:  # vcrpy's own conversion refused what it read
            raise CassetteError(f"cassette {path}: not a usable vcrpy cassette ({exc})") from None


@dataclass
class Recorded:
    status: int
    headers: dict[str, str]
    body_text: str


def _canonical_body(body: Any) -> Any:
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        return body


def _match_body(r1: Request, r2: Request) -> None:
    if _canonical_body(r1.body) != _canonical_body(r2.body):
        raise AssertionError("bodies differ")


def _match_method(r1: Request, r2: Request) -> None:
    if r1.method != r2.method:
        raise AssertionError("methods differ")


def _match_path(r1: Request, r2: Request) -> None:
    # The base path may differ between the recording host and the replay host: compare the endpoint.
    if r1.path.rstrip("/").split("/v1")[-1] != r2.path.rstrip("/").split("/v1")[-1]:
        raise AssertionError("paths differ")


class Scrubber:
    """Removes credentials (headers, and any known secret value anywhere) from what gets written.

    vcrpy also runs these hooks on every interaction it loads and on every request it matches, where bodies are
    bytes (a loaded cassette's are converted to bytes): each body keeps its type.
    """

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = list(secrets)

    def text(self, value: str) -> str:
        return scrub_text(value, self.secrets)

    def body(self, value: Any) -> Any:
        """A request or response body (str or bytes) without secrets, of the type it came in."""
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace")).encode() if self.secrets else value
        return self.text(value) if isinstance(value, str) else value

    def request(self, request: Request) -> Request:
        for name in list(request.headers):
            if is_sensitive(name):
                del request.headers[name]
        request.body = self.body(request.body)
        request.uri = self.text(request.uri)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        response["headers"] = {
            k: [self.text(str(v)) for v in vs]
            for k, vs in response["headers"].items()
            if not is_sensitive(k)
        }
        response["body"]["string"] = self.body(response["body"]["string"])
        return response


class CassetteBook:
    """The cassettes of one run: opened lazily, saved on `save_all()` (also after each recording)."""

    def __init__(self, root: Path, record_mode: str, secrets: list[str] | None = None) -> None:
        if record_mode not in RECORD_MODES:
            raise ValueError(f"--record-mode {record_mode!r}: expected one of {', '.join(RECORD_MODES)}")
        self.root = root
        self.record_mode = record_mode
        self.scrubber = Scrubber(secrets or [])
        self._open: dict[Path, Cassette] = {}
        self._lock = threading.Lock()

    def path_for(self, target: str, name: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        return self.root / re.sub(r"[^A-Za-z0-9_.-]", "_", target) / f"{safe}.yaml"

    def _cassette(self, path: Path) -> Cassette:
        with self._lock:
            if path not in self._open:
                self._open[path] = Cassette.load(
                    path=str(path),
                    record_mode=RecordMode(self.record_mode),
                    serializer=LiteralYamlSerializer,
                    persister=CheckedPersister,
                    match_on=(_match_method, _match_path, _match_body),
                    before_record_request=self.scrubber.request,
                    before_record_response=self.scrubber.response,
                )
            return self._open[path]

    def play(self, path: Path, method: str, url: str, body: bytes) -> Recorded | None:
        """The recorded answer to this request, once per recording; None when there is none to play."""
        cassette = self._cassette(path)
        request = Request(method, url, body, {})
        with self._lock:
            if not cassette.can_play_response_for(request):
                return None
            try:
                response = cassette.play_response(request)
            except UnhandledHTTPRequestError:  # every match was already played
                return None
        headers = {k.lower(): (v[0] if isinstance(v, list) else str(v)) for k, v in response["headers"].items()}
        body_value = response["body"]["string"]
        text = body_value.decode("utf-8", "replace") if isinstance(body_value, bytes) else str(body_value)
        return Recorded(int(response["status"]["code"]), headers, text)

    def may_record(self, path: Path) -> bool:
        """Whether this cassette may take new recordings in the current mode."""
        return not self._cassette(path).write_protected

    def record(self, path: Path, method: str, url: str, body: bytes, req_headers: dict[str, str],
               status: int, reason: str, headers: list[tuple[str, str]], body_text: str) -> None:
        cassette = self._cassette(path)
        grouped: dict[str, list[str]] = {}
        for k, v in headers:
            grouped.setdefault(k, []).append(v)
        response = {"status": {"code": status, "message": reason}, "headers": grouped, "body": {"string": body_text}}
        with self._lock:  # saved once at the end of the run (save_all), also when it is interrupted
            cassette.append(Request(method, url, body, dict(req_headers)), response)

    def save_all(self) -> list[str]:
        """Save every cassette that took recordings; one problem line per cassette that could not be saved."""
        problems: list[str] = []
        with self._lock:
            for path, cassette in self._open.items():
                if cassette.dirty:
                    try:
                        path.parent.mkdir(parents=True, exist_ok=True)
                        cassette._save()
                    except OSError as exc:  # the run's verdicts stay; the lost recording is reported
                        problems.append(f"cassette {path} could not be saved: {exc.strerror or exc}")
        return problems


def endpoint_path(url: str) -> str:
    return urlsplit(url).path
