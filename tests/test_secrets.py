"""Secrets never leave memory: a server that echoes the key (in the body and in headers) leaks nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conformance.features import registry
from conformance.model.targets import Target
from conformance.run.engine import run_pairs
from conformance.run.results import build_results, now, record_of
from conformance.wire.secrets import is_sensitive, public_headers, scrub_text

KEY = "sk-echo-" + "3b9d0f2a7c4e6b8d1f3a" * 2


class EchoKey(BaseHTTPRequestHandler):
    """Answers every chat completion with the caller's Authorization header inside the body and a cookie."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        auth = self.headers.get("authorization", "")
        body = json.dumps({"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": f"you sent {auth}"}, "finish_reason": "stop",
             "logprobs": None}], "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("set-cookie", f"session={KEY}")
        self.send_header("x-echo", auth)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoKey)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_an_echoed_key_reaches_no_cassette_and_no_results(echo_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_TEST_KEY", KEY)
    target = Target("echo", echo_url, "m", api_key_env="ECHO_TEST_KEY")
    probe = registry.probe_by_id()["chat.completion"]
    results, _ = run_pairs([(target, probe)], tmp_path / "cassettes", "all")
    obs = results[0].observations[0]
    assert "REDACTED" in obs.body_text and KEY not in obs.body_text
    assert "set-cookie" not in obs.headers and KEY not in json.dumps(obs.headers)
    doc = build_results([record_of(r) for r in results], [target], record_mode="all",
                        probes=registry.probe_by_id(), started=now(), finished=now())
    assert KEY not in json.dumps(doc)
    for path in (tmp_path / "cassettes").rglob("*.yaml"):
        text = path.read_text()
        assert KEY not in text and "authorization" not in text.lower()


def test_secret_helpers() -> None:
    assert is_sensitive("Authorization") and is_sensitive("x-api-key") and is_sensitive("OpenAI-Organization")
    assert not is_sensitive("content-type")
    assert scrub_text(f"a {KEY} b", [KEY]) == "a REDACTED b"
    assert public_headers({"set-cookie": "a", "x-other": KEY}, [KEY]) == {"x-other": "REDACTED"}
