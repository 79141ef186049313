"""Same cells at any concurrency (issue 21 item 3), over real sockets.

A server whose random state is shared by concurrent requests (one seed reseeds it on arrival, the words are drawn
later): the suite must judge the seed on samples that had the server to themselves, so `request.seed` is
SUPPORTED at the default concurrency as at --concurrency 1, and every other cell is the same at both.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conformance.features import registry
from conformance.model.targets import Target
from conformance.run.engine import run_pairs
from conformance.run.results import build_results, charge_unseen_findings, now, record_of
from tests.fakeserver import FakeConfig, FakeServer

PROBES = registry.probe_by_id()
LATENCY = 0.15  # the window in which a concurrent request moves the shared state
SAMPLED = ["request.seed.repeat", "request.temperature.zero", "request.temperature.high", "request.top_p.tiny"]
OTHERS = ["request.max_tokens.effect", "request.stop.string", "request.n.choices", "request.logprobs.content",
          "request.presence_penalty.effect", "request.user.accepted", "request.seed.invalid",
          "request.temperature.invalid"]


def _chat(base_url: str, body: dict[str, Any]) -> str:
    req = urllib.request.Request(f"{base_url}/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as answer:
        return json.loads(answer.read())["choices"][0]["message"]["content"]


def test_the_fake_really_shares_its_random_state() -> None:
    """The adversary is real: seed 42 repeats when alone, and a request arriving meanwhile changes its answer."""
    seeded = {"model": "fake-model", "messages": [{"role": "user", "content": "Write a story."}],
              "temperature": 2.0, "seed": 42}
    with FakeServer(FakeConfig(shared_seed_state=True, latency=LATENCY)) as srv:
        alone = [_chat(srv.base_url, seeded) for _ in range(2)]
        crowded: list[str] = []
        worker = threading.Thread(target=lambda: crowded.append(_chat(srv.base_url, seeded)))
        worker.start()
        time.sleep(LATENCY / 3)  # arrives while the seeded request waits to draw
        _chat(srv.base_url, {**seeded, "seed": None})
        worker.join()
    assert alone[0] == alone[1]
    assert crowded[0] != alone[0]


def _cells(config: FakeConfig, tmp_path: Path, concurrency: int) -> dict[str, tuple[Any, ...]]:
    with FakeServer(config) as srv:
        tgt = Target(name="shared-seed", base_url=srv.base_url, model="fake-model", high_temperature=2.0,
                     samples=3, concurrency=concurrency)
        pairs = [(tgt, PROBES[p]) for p in [*SAMPLED, *OTHERS]]
        results, _ = run_pairs(pairs, tmp_path / f"c{concurrency}", "all")
    doc = build_results([record_of(r) for r in results], [tgt], record_mode="all", probes=PROBES,
                        started=now(), finished=now())
    return {f: (c["status"], c["support"], c["conformance"]) for f, per in doc["features"].items()
            for c in per.values()}


def test_a_shared_seed_state_gives_seed_supported_at_the_default_concurrency(tmp_path: Path) -> None:
    """IGNORED when the samples shared the server with the other probes' requests (the engine before issue 21)."""
    crowded = _cells(FakeConfig(shared_seed_state=True, latency=LATENCY), tmp_path, 8)
    assert crowded["request.seed"] == ("OK", "SUPPORTED", "OK"), crowded


@pytest.mark.slow
def test_a_shared_seed_state_gives_the_same_cells_at_any_concurrency(tmp_path: Path) -> None:
    config = FakeConfig(shared_seed_state=True, latency=LATENCY)
    assert _cells(config, tmp_path, 1) == _cells(config, tmp_path, 8)


def test_findings_are_charged_the_same_whatever_order_the_probes_ended_in(tmp_path: Path) -> None:
    """Results arrive in completion order: charging a finding to its owner (or back to the probes that saw it)
    must not depend on that order."""
    streams = ["request.stream.basic", "stream.done_sentinel", "stream.usage_chunk.requested",
               "request.stream_options.include_usage", "stream.reassembly.tool_calls", "request.n.streamed"]
    with FakeServer(FakeConfig(done_sentinel=False, model_created=1.5)) as srv:
        tgt = Target(name="order", base_url=srv.base_url, model="fake-model", high_temperature=2.0)
        results, engine = run_pairs([(tgt, PROBES[p]) for p in streams], tmp_path, "all")
    records = [record_of(r) for r in results]
    owners = [record_of(r) for r in engine.owner_results]
    assert any((r.get("measurements") or {}).get("also_seen") for r in records)  # there is something to charge

    def charged(order: list[dict[str, Any]]) -> dict[str, Any]:
        return {r["probe"]: r for r in charge_unseen_findings(order, owners)}

    expected = charged(records)
    for shift in range(1, len(records)):
        assert charged([*records[shift:], *records[:shift]]) == expected
    assert charged(records[::-1]) == expected
