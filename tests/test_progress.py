"""Progress while a live run goes (issue 19, item 6): the engine's watcher hands periodic lines to the caller —
probes done of total, requests and tokens spent, the slowest target — and tells a misconfigured target at once."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from conformance.features import registry
from conformance.model.targets import Target
from conformance.run import progress
from conformance.run.engine import make_engine
from tests.fakeserver import FakeConfig, FakeServer

PROBES = registry.probe_by_id()


def test_a_slow_run_says_where_it_stands_as_it_goes(tmp_path: Path) -> None:
    lines: list[str] = []
    with FakeServer(FakeConfig(latency=0.3)) as slow, FakeServer(FakeConfig()) as quick:
        targets = [Target("slow", slow.base_url, "fake-model", concurrency=1),
                   Target("quick", quick.base_url, "fake-model")]
        pairs = [(t, PROBES[p]) for t in targets for p in ("chat.completion", "request.temperature.invalid",
                                                            "request.seed.invalid", "request.stop.invalid")]
        engine = make_engine(pairs, tmp_path, "all")
        watch = progress.watch_with(totals={"slow": 4, "quick": 4}, say=lines.append, every=0.2)
        asyncio.run(engine.run(pairs, watch))
    shown = [re.fullmatch(r"conformance: (\d+)/8 probes done, (\d+) requests, [\d,]+ tokens, \d+ s(; slowest target: "
                          r"(\w+) \((\d)/4\))?", line) for line in lines]
    assert lines and all(shown), lines
    done = [int(m.group(1)) for m in shown if m]
    assert done == sorted(done) and done[0] < 8  # told while probes were still running
    assert any(m.group(4) == "slow" for m in shown if m), lines  # the one at one request at a time


def test_a_misconfigured_target_is_told_at_once_and_once(tmp_path: Path) -> None:
    lines: list[str] = []
    with FakeServer(FakeConfig(api_key="right")) as keyed:
        target = Target("keyed", keyed.base_url, "fake-model")
        pairs = [(target, PROBES[p]) for p in ("chat.completion", "request.temperature.invalid")]
        engine = make_engine(pairs, tmp_path, "all")
        asyncio.run(engine.run(pairs, progress.watch_with(totals={"keyed": 2}, say=lines.append, every=60)))
    assert lines == ["conformance: target 'keyed' is misconfigured: 401 on every request: this target sends no key; "
                     "name the variable that holds it (--api-key-env VAR, or api_key_env in targets.toml) (the server "
                     "says \"You didn't provide an API key. You need to provide your API…\") (its other requests are "
                     "not sent)"]
