"""Live smoke test of servers/llama.sh: llama.cpp's llama-server serving the committed tiny model.

Skips with the reason when llama-server is not built in the cache (`bash servers/install.sh llama`).
Otherwise starts its own llama-server on a free 127.0.0.1 port with a private run dir (so a server
started by hand on 8013 is neither reused nor disturbed), sends one real chat completion over HTTP,
checks the answer's shape, and stops it with servers/stop.sh.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / "servers"


def llama_paths() -> tuple[Path, Path]:
    """(llama-server binary, its cache dir) exactly as servers/_common.sh computes them."""
    out = subprocess.run(["bash", "-c", '. "$1/_common.sh" && echo "$LLAMA_SERVER_BIN" && echo "$LLAMA_HOME"',
                          "_", str(SERVERS)], capture_output=True, text=True, check=True, timeout=30).stdout
    binary, home = out.splitlines()
    return Path(binary), Path(home)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name", ["llama.sh", "_common.sh", "install.sh", "stop.sh"])
def test_llama_scripts_parse(name: str) -> None:
    subprocess.run(["bash", "-n", str(SERVERS / name)], check=True)


@pytest.fixture(scope="module")
def llama_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary, home = llama_paths()
    if not ((home / ".installed").is_file() and os.access(binary, os.X_OK)):
        pytest.skip(f"llama-server is not built in {home}: run `bash servers/install.sh llama` (tests/setup.sh does)")
    port = free_port()
    env = {**os.environ, "CONFORMANCE_RUN_DIR": str(tmp_path_factory.mktemp("llama-run"))}
    try:
        # the first start after a fixture change also converts the model to GGUF (a few minutes at most)
        proc = subprocess.run(["bash", str(SERVERS / "llama.sh"), str(port)], env=env, capture_output=True,
                              text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"servers/llama.sh {port} failed:\n{proc.stderr[-3000:]}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        subprocess.run(["bash", str(SERVERS / "stop.sh"), "llama"], env=env, capture_output=True, timeout=120,
                       check=False)


@pytest.mark.live
def test_llama_server_answers_a_chat_completion(llama_base: str) -> None:
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Hello"}], "temperature": 0, "max_tokens": 32}
    req = urllib.request.Request(f"{llama_base}/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200
        assert r.headers.get_content_type() == "application/json"
        answer = json.loads(r.read())

    assert answer["object"] == "chat.completion"
    assert isinstance(answer["id"], str) and answer["id"]
    assert isinstance(answer["created"], int)
    assert answer["model"] == "tiny"
    [choice] = answer["choices"]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    # the tiny model's greedy answer to a plain prompt (tests/fixtures/tiny-model, servers/README.md):
    # it also proves the GGUF conversion kept the weights, tokenizer and chat template intact
    assert choice["message"]["content"] == "Hello! I am a tiny test model."
    assert choice["finish_reason"] == "stop"
    usage = answer["usage"]
    assert all(isinstance(usage[k], int) and usage[k] > 0 for k in ("prompt_tokens", "completion_tokens"))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
