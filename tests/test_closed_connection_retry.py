"""A request that gets no answer at all because the server closed the connection first is sent again.

llama-server closes a keep-alive connection after 100 requests and after every error status; httpx then reports
"Server disconnected without sending a response" for the request it had just written. Nothing reached the
server's logic, so the verdict must not be ERROR (checked live: tests/test_truth_tables.py, target llama).
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

from conformance.features import registry
from conformance.model.targets import Target
from conformance.run.engine import run_pairs

ANSWER = {"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "m",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": None},
                       "logprobs": None, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


def _read_request(conn: socket.socket) -> bytes | None:
    """One HTTP request from the connection (None when the client closed it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length")), b"0"))
    while len(body) < length:
        body += conn.recv(65536)
    return head


def _serve(sock: socket.socket, seen: list[str]) -> None:
    """Answer the first request of the first connection and keep it alive, then close that connection on its
    second request without one byte of an answer (as llama-server does after 100 requests); answer the rest."""
    first = True
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            while _read_request(conn) is not None:
                if first and len(seen) == 1:
                    seen.append("closed")
                    first = False
                    break  # FIN on a reused connection: the request never reached the server's logic
                seen.append("answered")
                out = json.dumps(ANSWER).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(out), out))


def test_a_request_answered_by_a_closed_connection_is_sent_again(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    seen: list[str] = []
    thread = threading.Thread(target=_serve, args=(sock, seen), daemon=True)
    thread.start()
    probes = registry.probe_by_id()
    try:
        target = Target(name="closer", base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/v1", model="m")
        # two different requests (chat.completion would share request.model.echo's: identical requests go once)
        pairs = [(target, probes["request.model.echo"]), (target, probes["conversation.assistant_last"])]
        results, _ = run_pairs(pairs, tmp_path / "c", "all", concurrency=1)
    finally:
        sock.close()
    assert seen == ["answered", "closed", "answered"]
    assert [r.verdict.status.value for r in results] == ["OK", "OK"], [r.verdict.notes for r in results]
    retried = [o for r in results for o in r.observations if o.retries]
    assert len(retried) == 1 and retried[0].retries == 1
    assert "reused connection" in retried[0].retry_reasons[0]


def test_a_5xx_on_a_get_is_sent_again_as_the_same_get(tmp_path: Path) -> None:
    """The reproducible-5xx re-send repeats the probe's own request (GET /models), not a chat completion."""
    import http.server

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            seen.append(f"{self.command} {self.path}")
            out = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(500, {"error": {"message": "models are down", "type": "server_error"}})

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._answer(200, ANSWER)

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        target = Target(name="m500", base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1", model="m")
        run_pairs([(target, registry.probe_by_id()["models.list"])], tmp_path / "c", "all")
    finally:
        srv.shutdown()
    assert [s for s in seen if s.startswith("GET")] == ["GET /v1/models", "GET /v1/models"]
