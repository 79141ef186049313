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


def _serve(sock: socket.socket, closes: int, seen: list[str]) -> None:
    """Close the first `closes` connections after reading the request, answer the others."""
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), b"0"))
            while len(body) < length:
                body += conn.recv(65536)
            seen.append("closed" if len(seen) < closes else "answered")
            if seen[-1] == "closed":
                continue  # FIN, not one byte of an answer
            out = json.dumps(ANSWER).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(out), out))


def test_a_request_answered_by_a_closed_connection_is_sent_again(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    seen: list[str] = []
    thread = threading.Thread(target=_serve, args=(sock, 1, seen), daemon=True)
    thread.start()
    try:
        target = Target(name="closer", base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/v1", model="m")
        results, _ = run_pairs([(target, registry.probe_by_id()["request.model.echo"])], tmp_path / "c", "all")
    finally:
        sock.close()
    assert seen == ["closed", "answered"]
    assert results[0].verdict.status.value == "OK", results[0].verdict.notes
    assert results[0].observations[-1].retries == 1
