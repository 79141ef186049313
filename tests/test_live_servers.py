"""The suite live against real third-party servers on 127.0.0.1 (vLLM CPU, LiteLLM mock, llama-server, LiteLLM in
front of vLLM: every reference target), and the bundled replay.

The servers are installed by tests/setup.sh (servers/install.sh) and started here when not running.
Expected verdicts were checked by hand with curl (servers/BEHAVIOUR.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.report.results_io import validate_results
from tests import live

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.live

# feature → expected support, checked by hand against each server (see servers/BEHAVIOUR.md)
HAND_CHECKED = {
    "vllm": {
        "chat.completion": "SUPPORTED",
        "request.max_tokens": "SUPPORTED",
        "request.stop": "SUPPORTED",
        "request.temperature": "SUPPORTED",
        "request.unknown_parameter": "IGNORED",
        "request.stream": "SUPPORTED",
        "errors.unknown_model": "SUPPORTED",
        "errors.invalid_value": "SUPPORTED",
        "tools.empty_list": "REJECTED",  # 400 "`tools` must not be an empty array"
        "tools.tool_choice.null": "PARTIAL",  # null: content null, no call; omitted: a get_weather call
        "models.list": "SUPPORTED",
        "errors.context_overflow": "SUPPORTED",  # 400 "maximum context length is 4096 tokens"
    },
    "litellm": {
        "chat.completion": "SUPPORTED",
        "request.max_tokens": "IGNORED",
        "request.stop": "IGNORED",
        "request.temperature": "UNVERIFIABLE",
        "request.unknown_parameter": "IGNORED",
        "request.stream": "SUPPORTED",
        "errors.unknown_model": "SUPPORTED",
        "errors.invalid_value": "IGNORED",
        "models.list": "SUPPORTED",
        "errors.context_overflow": "IGNORED",  # a mock model: 200 to a prompt of 8192 words
    },
    "llama": {  # truth/tables/llama.json
        "chat.completion": "SUPPORTED",
        "request.max_tokens": "SUPPORTED",
        "request.stop": "SUPPORTED",  # 'Hello! I am a ' (stop text removed)
        "request.logit_bias": "SUPPORTED",  # logprobs carry token ids: banning 'Hello' (406) gives the JSON answer
        "request.unknown_parameter": "IGNORED",
        "errors.unknown_model": "IGNORED",  # 200, answered by 'tiny'
        "errors.invalid_value": "IGNORED",  # temperature 5 is accepted
        "errors.malformed_body": "SUPPORTED",  # refused with a 500 every time (conformance FAILED)
        "tools.tool_choice.named": "IGNORED",  # an object tool_choice falls back to auto
        "tools.strict": "UNVERIFIABLE",  # the grammar constrains arguments with or without strict
        "models.list": "SUPPORTED",
    },
    "litellm-vllm": {  # truth/tables/litellm-vllm.json
        "chat.completion": "SUPPORTED",
        "request.max_tokens": "SUPPORTED",
        "request.verbosity": "REJECTED",  # the proxy's UnsupportedParamsError
        "tools.empty_list": "REJECTED",  # vLLM's 400 passed through
        "tools.tool_choice.null": "SUPPORTED",  # the proxy drops null: answered as without it (vLLM alone: PARTIAL)
        "errors.unknown_model": "SUPPORTED",  # 400 from the proxy
        "errors.invalid_value": "SUPPORTED",
        "models.list": "SUPPORTED",
    },
}


@pytest.fixture(scope="module", params=sorted(live.TARGETS))
def server(request: pytest.FixtureRequest) -> Iterator[live.LiveServer]:
    got = live.start(request.param)
    if isinstance(got, str):
        pytest.skip(got)
    yield got
    live.stop(got)


def run_suite(*args: str, report_dir: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "conformance"), "-q", "-p", "no:cacheprovider",
           "--report-dir", str(report_dir), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False)


@pytest.fixture(scope="module")
def live_results(server: live.LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp(f"live-{server.name}")
    proc = run_suite("--target", server.name, "--record-mode=all", "--cassette-dir", str(tmp / "cassettes"),
                     report_dir=tmp / "reports")
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((tmp / "reports" / "results.json").read_text())
    assert validate_results(data) == []
    return data


def test_every_probe_runs_ok_live(server: live.LiveServer, live_results: dict) -> None:
    bad = {f: r["status"] for f, per in live_results["features"].items() for t, r in per.items() if r["status"] != "OK"}
    assert bad == {}
    assert live_results["run"]["live_requests"] > 100
    assert live_results["targets"][server.name]["latency_ms"]["n"] > 100


def test_live_cost_is_within_the_product_rule(server: live.LiveServer, live_results: dict) -> None:
    """A live run of a reference target: under 200 requests and 25k tokens, and within its pre-run plan."""
    cost = live_results["targets"][server.name]
    assert cost["requests"] < 200 and cost["tokens"]["total"] < 25_000, (cost["requests"], cost["tokens"])


def test_concurrency_1_gives_the_same_verdicts_as_the_default(server: live.LiveServer, live_results: dict,
                                                              tmp_path: Path) -> None:
    """Our own load is never a verdict: the live run at the default concurrency, again one request at a time."""
    proc = run_suite("--target", server.name, "--record-mode=all", "--concurrency", "1", "--cassette-dir",
                     str(tmp_path / "cassettes"), report_dir=tmp_path / "reports")
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    serial = json.loads((tmp_path / "reports" / "results.json").read_text())

    def table(doc: dict) -> dict:
        return {f: (per[server.name]["status"], per[server.name]["support"], per[server.name]["conformance"])
                for f, per in doc["features"].items()}

    one, default = table(serial), table(live_results)
    expected = json.loads((ROOT / "conformance" / "data" / "expected" / "embedded-default.json").read_text())
    flaky = set(expected["targets"].get(server.name, {}).get("flaky", []))  # timing-dependent (truth tables)
    assert {f: (one[f], default.get(f)) for f in one if one[f] != default.get(f) and f not in flaky} == {}
    assert serial["targets"][server.name]["concurrency"]["configured"] == 1
    assert live_results["targets"][server.name]["concurrency"]["configured"] == 4


def test_live_verdicts_match_the_hand_checked_behaviour(server: live.LiveServer, live_results: dict) -> None:
    got = {f: live_results["features"][f][server.name]["support"] for f in HAND_CHECKED[server.name]}
    assert got == HAND_CHECKED[server.name]


def test_bundled_replay_agrees_with_the_live_run(server: live.LiveServer, live_results: dict,
                                                 tmp_path: Path) -> None:
    """Drift check: the committed cassettes still describe the server as it behaves today."""
    proc = run_suite("--target", server.name, report_dir=tmp_path)
    assert proc.returncode in (0, 1), proc.stdout[-3000:]
    replay = json.loads((tmp_path / "results.json").read_text())
    expected = json.loads((ROOT / "conformance" / "data" / "expected" / "embedded-default.json").read_text())
    flaky = set(expected["targets"].get(server.name, {}).get("flaky", []))  # two verdicts at random (truth tables)
    differ = {f: (per[server.name]["support"], live_results["features"][f][server.name]["support"])
              for f, per in replay["features"].items()
              if per[server.name]["support"] != live_results["features"][f][server.name]["support"] and f not in flaky}
    assert differ == {}
