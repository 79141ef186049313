"""Our own load is never a verdict: retries of what never reached the server's logic, adaptive concurrency, and the
same verdicts at any concurrency against fakes (over real sockets) that behave like servers the suite met:

(a) closes the connection after a 5xx (uvicorn), (b) serves one request at a time and resets the others
(single-slot llama.cpp-like), (c) answers 503 under load, (d) 300 ms of latency.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.features import registry
from conformance.model.roles import VARIANT
from conformance.model.targets import Target, Timeouts
from conformance.report.report_html import embedded_evidence
from conformance.report.results_io import validate_results
from conformance.run.engine import ProbeResult, run_pairs
from conformance.run.results import build_results, now, record_of
from conformance.wire.concurrency import GROWTH_SUCCESSES, MAX_PATIENCE, AdaptiveLimit
from conformance.wire.http import Answer, Attempt, Budget, Client, Retry, Send
from conformance.wire.recording import CassetteBook
from tests.fakeserver import FakeConfig, FakeServer

# --------------------------------------------------------------------------------------------------------
# The limiter alone (plain coroutines)
# --------------------------------------------------------------------------------------------------------


def test_an_overload_halves_the_limit_once_per_generation_down_to_one() -> None:
    async def scenario() -> list[int]:
        limit = AdaptiveLimit(8)
        seen = []
        async with limit.slot() as first, limit.slot() as second:
            assert first.crowded() and second.crowded()
            assert limit.overloaded(first, "drops") and limit.limit == 4
            assert not limit.overloaded(second, "drops")  # sent under the old limit: already accounted for
            seen.append(limit.limit)
        for _ in range(3):
            async with limit.slot() as turn:
                limit.overloaded(turn, "drops")
                seen.append(limit.limit)
        return seen

    assert asyncio.run(scenario()) == [4, 2, 1, 1]


def test_the_limit_grows_back_slowly_up_to_the_configured_value() -> None:
    async def scenario() -> tuple[int, int, int, int]:
        limit = AdaptiveLimit(2)
        async with limit.slot() as turn:
            limit.overloaded(turn, "the server answers 503 under load")
        needed = limit.successes_to_grow
        for _ in range(needed - 1):
            limit.succeeded()
        before = limit.limit
        limit.succeeded()
        grown = limit.limit
        for _ in range(10 * MAX_PATIENCE):
            limit.succeeded()
        return needed, before, grown, limit.limit

    # one overload doubles the patience: 2 × GROWTH_SUCCESSES answers at limit 1, then never above the configured 2
    assert asyncio.run(scenario()) == (2 * GROWTH_SUCCESSES, 1, 2, 2)


def test_each_overload_makes_the_next_growth_wait_longer() -> None:
    async def scenario() -> list[int]:
        limit, needed = AdaptiveLimit(2), []
        for _ in range(5):
            async with limit.slot() as turn:
                limit.overloaded(turn, "drops")  # 2 → 1
            needed.append(limit.successes_to_grow)
            for _ in range(limit.successes_to_grow):
                limit.succeeded()  # back to 2
        return needed

    assert asyncio.run(scenario()) == [2 * GROWTH_SUCCESSES, 4 * GROWTH_SUCCESSES, MAX_PATIENCE, MAX_PATIENCE,
                                       MAX_PATIENCE]


def test_alone_waits_for_the_others_to_drain_and_holds_back_newcomers() -> None:
    async def scenario() -> list[str]:
        limit = AdaptiveLimit(4)
        events: list[str] = []

        async def request(name: str, hold: float, alone: bool = False, delay: float = 0.0) -> None:
            await asyncio.sleep(delay)
            async with limit.slot(alone=alone) as turn:
                events.append(f"{name} starts with {turn.others_at_start} others")
                await asyncio.sleep(hold)
            events.append(f"{name} ends")

        await asyncio.gather(request("busy", 0.05), request("alone", 0.05, alone=True, delay=0.01),
                             request("late", 0.0, delay=0.02))
        return events

    assert asyncio.run(scenario()) == [
        "busy starts with 0 others", "busy ends", "alone starts with 0 others", "alone ends",
        "late starts with 0 others", "late ends",
    ]


@settings(max_examples=40, deadline=None)
@given(configured=st.integers(1, 6),
       requests=st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(0, 3)), min_size=1, max_size=25))
def test_no_more_in_flight_than_the_limit_and_alone_means_alone(configured: int,
                                                               requests: list[tuple[bool, bool, int]]) -> None:
    """Whatever overloads happen: in flight never exceeds the limit at entry, an alone turn shares nothing."""
    async def scenario() -> None:
        limit = AdaptiveLimit(configured)
        running: list[bool] = []  # alone flags of the turns now in flight

        async def request(alone: bool, overload: bool, hold_ms: int) -> None:
            async with limit.slot(alone=alone) as turn:
                assert not any(running), "a turn started beside an alone one"
                assert not (alone and running), "an alone turn started beside others"
                assert len(running) < max(limit.limit, 1) or alone
                running.append(alone)
                await asyncio.sleep(hold_ms / 1000)
                if overload:
                    limit.overloaded(turn, "drops")
                else:
                    limit.succeeded()
                running.remove(alone)
            assert 1 <= limit.limit <= configured and limit.lowest <= limit.limit

        await asyncio.wait_for(asyncio.gather(*[request(*r) for r in requests]), timeout=10)
        assert limit.in_flight == 0

    asyncio.run(scenario())


def test_the_summary_says_what_was_reached_and_why() -> None:
    async def scenario() -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        limit = AdaptiveLimit(4)
        unused = limit.summary()
        for _ in range(2):
            async with limit.slot() as turn, limit.slot():
                limit.overloaded(turn, "the server drops concurrent requests (ReadError)")
        return unused, limit.summary()

    unused, summary = asyncio.run(scenario())
    assert unused is None  # nothing went out live: no claim about the server
    assert summary == {"configured": 4, "reached": 1,
                       "reason": "1 of 4: the server drops concurrent requests (ReadError)"}


def test_a_failure_the_server_also_gives_alone_is_not_our_load() -> None:
    """A server that resets some requests whatever the load is not taken one request at a time for the rest of the
    run: once the same kind of failure came twice with nothing else in flight, the limit goes back up."""
    async def scenario() -> list[Any]:
        limit, seen = AdaptiveLimit(4), []
        for _ in range(2):
            async with limit.slot() as turn, limit.slot():
                limit.overloaded(turn, "the server drops concurrent requests (ReadError)", "drops")
        seen.append(limit.limit)
        limit.seen_alone("drops")
        seen.append((limit.limit, limit.blames("drops")))
        limit.seen_alone("drops")
        seen.append((limit.limit, limit.blames("drops"), limit.blames("503")))
        return [*seen, limit.summary()]

    one, once, twice, summary = asyncio.run(scenario())
    assert one == 1 and once == (1, True)  # one failure alone may be chance
    assert twice == (4, False, True)  # two: drops are not load any more; a 503 still may be
    assert summary == {"configured": 4, "reached": 1, "reason": (
        "1 of 4: the server drops concurrent requests (ReadError); the same failures then came with nothing else in "
        "flight (not our load): back to 4")}


def test_a_turn_not_given_in_time_raises_and_leaves_the_limit_clean() -> None:
    async def scenario() -> tuple[bool, int]:
        limit = AdaptiveLimit(1)
        async with limit.slot():
            try:
                async with limit.slot(within=0.05):
                    pass
            except asyncio.TimeoutError:
                timed_out = True
            else:
                timed_out = False
        async with limit.slot(alone=True, within=0.05):  # the abandoned wait holds nothing back
            pass
        return timed_out, limit.in_flight

    assert asyncio.run(scenario()) == (True, 0)


# --------------------------------------------------------------------------------------------------------
# Retries on the wire
# --------------------------------------------------------------------------------------------------------

CHAT = "/chat/completions"


def answer(status: int, **headers: str) -> Answer:
    return status, "", list(headers.items()), "{}", None


RESET = Attempt(error="ReadError: [Errno 104] Connection reset by peer", transport=True)
STALE = Attempt(error="RemoteProtocolError: Server disconnected", transport=True, reused=True)
REFUSED = Attempt(error="ConnectError: All connection attempts failed", transport=True, connect="refused")


@pytest.mark.parametrize("attempt, kind", [(RESET, "drops"), (STALE, None), (REFUSED, None),
                                           (Attempt(error="ReadTimeout: timed out", timed_out=True), None),
                                           (Attempt(answer=answer(503)), "503"), (Attempt(answer=answer(429)), "429"),
                                           (Attempt(answer=answer(500)), None)])
def test_only_drops_503_and_429_may_be_our_load(attempt: Attempt, kind: str | None) -> None:
    """A connection that never opened, a timeout or a stale pooled connection never lowers the concurrency."""
    assert attempt.load_kind() == kind


@pytest.mark.parametrize("attempts, crowded, expected", [
    # (attempts in order, whether each shared the server) → the retries made, then None
    ([STALE, STALE], [False, False], ["on a reused connection before any answer: retried on a new connection"]),
    ([STALE, STALE], [False, True], ["on a reused connection", "while other requests were in flight: retried alone"]),
    ([RESET], [False], []),  # a fresh connection reset with nothing else in flight: the server's doing
    ([RESET, RESET], [True, True], ["while other requests were in flight: retried alone"]),
    ([Attempt(error="ReadTimeout: timed out", timed_out=True)], [True], []),  # a timeout is an answer of sorts
    ([Attempt(answer=answer(500))], [True], []),  # a 5xx is an answer, not a failure to deliver
    ([Attempt(answer=answer(503))] * 2, [True, False], ["HTTP 503 while other requests were in flight",
                                                        "HTTP 503: retried after"]),
    ([Attempt(answer=answer(429))] * 3, [False] * 3, ["HTTP 429: retried after", "HTTP 429: retried after"]),
])
def test_what_is_retried_and_why(attempts: list[Attempt], crowded: list[bool], expected: list[str]) -> None:
    retry, made = Retry(), []
    for attempt, shared in zip(attempts, crowded, strict=True):
        step = retry.next_step(attempt, shared, max_status_retries=2)
        if step is None:
            break
        made.append(step.reason)
    assert len(made) == len(expected) and all(e in m for e, m in zip(expected, made, strict=True)), made


def test_a_request_and_its_retries_end_within_its_total_timeout(tmp_path: Path) -> None:
    """429s asking to wait 1 s, 3 retries allowed, a total timeout of 1.5 s: one retry fits, the answer stands."""
    with FakeServer(FakeConfig(fault="rate_limit", rate_limit_count=1000)) as srv:
        target = Target("fake", srv.base_url, "fake-model", retries=3, timeouts=Timeouts(connect=1, read=1, total=1.5))

        async def go() -> Any:
            client = Client(target, CassetteBook(tmp_path, "all"))
            try:
                return await client.send(Send(VARIANT, "POST", CHAT, chat(), tmp_path / "fake" / "r.yaml"))
            finally:
                await client.aclose()

        obs = asyncio.run(go())
    assert obs.status == 429 and obs.retries == 1, obs.retry_reasons


def test_a_retry_under_load_waits_only_as_long_as_the_server_asks() -> None:
    quiet, asks = Retry(), Retry()
    assert quiet.next_step(Attempt(answer=answer(503)), True, 3).delay == 0.0  # the drain is the wait
    step = asks.next_step(Attempt(answer=answer(429, **{"Retry-After": "2"})), True, 3)
    assert step is not None and step.delay == 2.0 and asks.alone




def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "fake-model", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, **extra}


def send_all(srv: FakeServer, tmp: Path, bodies: list[dict[str, Any]], *, together: bool = False,
             budget: Budget | None = None, retries: int = 3) -> tuple[list[Any], Client]:
    """Send the bodies through one Client (in order, or all at once) and return the observations."""
    target = Target("fake", srv.base_url, "fake-model", concurrency=4, retries=retries)

    async def go() -> tuple[list[Any], Client]:
        client = Client(target, CassetteBook(tmp, "all"), budget)
        sends = [Send(VARIANT.sampled(i + 1), "POST", CHAT, body, tmp / "fake" / f"r{i}.yaml")
                 for i, body in enumerate(bodies)]
        try:
            if together:
                return list(await asyncio.gather(*[client.send(s) for s in sends])), client
            return [await client.send(s) for s in sends], client
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_request_reset_on_the_connection_a_5xx_left_is_retried_on_a_new_one(tmp_path: Path) -> None:
    with FakeServer(FakeConfig(server_error={"logprobs"}, reset_after_5xx=True)) as srv:
        (crash, after), _ = send_all(srv, tmp_path, [chat(logprobs=True), chat()])
        chats = [r for r in srv.requests if r["path"].endswith(CHAT)]
    assert crash.status == 500 and crash.retries == 0  # a 5xx answer is an answer: not ours to retry
    assert after.status == 200 and after.error is None
    assert after.retries == 1 and "on a reused connection before any answer" in after.retry_reasons[0]
    assert len(chats) == 3  # the 5xx, the reset request, its retry


def test_retries_count_against_max_requests(tmp_path: Path) -> None:
    with FakeServer(FakeConfig(server_error={"logprobs"}, reset_after_5xx=True)) as srv:
        budget = Budget(max_requests=2, max_tokens=None)
        (_, after), _ = send_all(srv, tmp_path, [chat(logprobs=True), chat()], budget=budget)
    assert budget.requests == 2
    assert after.status is None and after.retries == 0
    assert after.error is not None and "not retried: budget: --max-requests 2 reached" in after.error


def test_a_reset_on_a_new_connection_with_nothing_else_in_flight_stands(tmp_path: Path) -> None:
    with FakeServer(FakeConfig(fault="reset")) as srv:
        (obs,), client = send_all(srv, tmp_path, [chat()])
    assert obs.error is not None and obs.retries == 0
    assert client.limit.summary() == {"configured": 4, "reached": 4,
                                      "reason": "4 of 4: no sign of overload at this concurrency"}


def test_a_request_dropped_while_others_were_in_flight_is_retried_alone(tmp_path: Path) -> None:
    with FakeServer(FakeConfig(max_in_flight=1, latency=0.2)) as srv:
        observations, client = send_all(srv, tmp_path, [chat(), chat(), chat()], together=True)
        refused = srv.refused
    assert [o.status for o in observations] == [200, 200, 200]
    retried = [o for o in observations if o.retries]
    assert refused >= 1 and len(retried) == refused
    assert all("while other requests were in flight: retried alone" in o.retry_reasons[0] for o in retried)
    # both drops came from requests sent under the same limit: one halving, 4 → 2
    assert client.limit.limit == 2 and (client.limit.reason or "").startswith("the server drops concurrent requests (")


@pytest.mark.parametrize("retries", [3, 0])  # re-running what our own load failed is not the target's `retries`
def test_a_503_under_load_lowers_the_concurrency_and_is_retried_alone(tmp_path: Path, retries: int) -> None:
    with FakeServer(FakeConfig(max_in_flight=1, over_capacity="503", latency=0.2)) as srv:
        observations, client = send_all(srv, tmp_path, [chat(), chat(), chat()], together=True, retries=retries)
    assert [o.status for o in observations] == [200, 200, 200]
    assert any("HTTP 503 while other requests were in flight" in r for o in observations for r in o.retry_reasons)
    assert client.limit.summary() == {"configured": 4, "reached": 2,
                                      "reason": "2 of 4: the server answers 503 under load"}


# --------------------------------------------------------------------------------------------------------
# Same verdicts at any concurrency: every probe of the registry, at --concurrency 1 and at the default
# --------------------------------------------------------------------------------------------------------

BEHAVIOURS: dict[str, FakeConfig] = {
    "a_closes_after_5xx": FakeConfig(server_error={"logprobs"}, reset_after_5xx=True),
    "b_one_at_a_time": FakeConfig(max_in_flight=1, latency=0.02),
    "c_503_under_load": FakeConfig(max_in_flight=1, over_capacity="503", latency=0.02),
    "d_300ms_latency": FakeConfig(latency=0.3),
}
LEVELS = (1, None)  # --concurrency 1, and the default (the target's, 4)
Table = dict[str, tuple[str, str | None, str | None]]


def run_registry(config: FakeConfig, concurrency: int | None, tmp: Path) -> tuple[Table, list[ProbeResult],
                                                                                 dict[str, Any]]:
    """Every probe against a fresh fake: the feature table (status, support, conformance) and the results."""
    with FakeServer(config) as srv:
        target = Target("fake", srv.base_url, "fake-model", high_temperature=2.0)
        results, _ = run_pairs([(target, p) for p in registry.PROBES], tmp, "all", concurrency)
    doc = build_results([record_of(r) for r in results], [target], record_mode="all",
                        probes=registry.probe_by_id(), started=now(), finished=now())
    table = {f: (v["fake"]["status"], v["fake"]["support"], v["fake"]["conformance"])
             for f, v in doc["features"].items()}
    return table, results, doc["targets"]["fake"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, int | None], Any]]:
    """The eight runs at once, in threads (each its own fake and event loop): (d) at concurrency 1 takes ~50 s."""
    jobs = {(name, level): (cfg, level) for name, cfg in BEHAVIOURS.items() for level in LEVELS}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {key: pool.submit(run_registry, cfg, level, tmp_path_factory.mktemp(f"{key[0]}-{key[1]}"))
                   for key, (cfg, level) in jobs.items()}
        yield {key: f.result() for key, f in futures.items()}


@pytest.mark.slow  # the eight runs of `runs` take about a minute: (d) at concurrency 1 waits 300 ms a request
@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_concurrency_1_and_the_default_give_the_same_verdicts(runs: dict[Any, Any], behaviour: str) -> None:
    one, _, _ = runs[(behaviour, 1)]
    default, _, _ = runs[(behaviour, None)]
    assert set(one) == {p.feature for p in registry.PROBES}
    differ = {f: (one[f], default.get(f)) for f in one if one[f] != default.get(f)}
    assert not differ, differ


def retry_reasons(results: list[ProbeResult]) -> list[str]:
    return [r for res in results for o in res.observations for r in o.retry_reasons]


@pytest.mark.slow  # reads `runs`
def test_a_the_connection_a_5xx_left_costs_no_verdict(runs: dict[Any, Any]) -> None:
    for level in LEVELS:
        table, results, target = runs[("a_closes_after_5xx", level)]
        reasons = retry_reasons(results)
        assert reasons and all("on a reused connection before any answer" in r for r in reasons), reasons
        # only the features whose own request is the 5xx end ERROR; everything else ran
        errored = {f for f, (status, _, _) in table.items() if status != "OK"}
        assert errored <= {"request.logprobs", "request.top_logprobs", "request.logit_bias"}, errored
        assert target["concurrency"]["reached"] == target["concurrency"]["configured"]  # a stale connection is no load


@pytest.mark.slow  # reads `runs`
@pytest.mark.parametrize("behaviour, why", [("b_one_at_a_time", "the server drops concurrent requests"),
                                            ("c_503_under_load", "the server answers 503 under load")])
def test_the_default_run_learns_the_server_takes_one_request_at_a_time(runs: dict[Any, Any], behaviour: str,
                                                                       why: str) -> None:
    table, results, target = runs[(behaviour, None)]
    assert all(status == "OK" for status, _, _ in table.values())
    assert target["concurrency"]["configured"] == 4 and target["concurrency"]["reached"] == 1
    assert target["concurrency"]["reason"].startswith(f"1 of 4: {why}")
    assert any("while other requests were in flight: retried alone" in r for r in retry_reasons(results))
    retried = [res for res in results if any(o.retries for o in res.observations)]
    assert retried and all(any(n.startswith("re-sent: ") for n in res.verdict.notes) for res in retried)
    _, serial, serial_target = runs[(behaviour, 1)]
    assert not retry_reasons(serial) and serial_target["concurrency"]["reached"] == 1


@pytest.mark.slow  # reads `runs`
def test_d_latency_alone_lowers_nothing(runs: dict[Any, Any]) -> None:
    _, results, target = runs[("d_300ms_latency", None)]
    assert not retry_reasons(results)
    assert target["concurrency"] == {"configured": 4, "reached": 4,
                                     "reason": "4 of 4: no sign of overload at this concurrency"}


# --------------------------------------------------------------------------------------------------------
# What the user sees: the terminal and results.json
# --------------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_the_run_says_what_concurrency_the_server_took(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with FakeServer(BEHAVIOURS["b_one_at_a_time"]) as srv:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "conformance", "--base-url", srv.base_url, "--model", "fake-model",
             "--target-name", "single", "--record-mode=all", "--cassette-dir", str(tmp_path / "cassettes"),
             "--report-dir", str(reports), "-p", "no:cacheprovider", "-q", "--probe", "request.temperature",
             "--probe", "request.stream"],
            check=False, cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        received = len([r for r in srv.requests if r["path"].endswith(CHAT)])
    output = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, output
    results = json.loads((reports / "results.json").read_text())
    assert validate_results(results) == []
    assert results["targets"]["single"]["requests"] == received  # every re-send is counted as a request
    concurrency = results["targets"]["single"]["concurrency"]
    assert concurrency["configured"] == 4 and concurrency["reached"] < 4, concurrency
    assert "single (" in proc.stdout and f"concurrency {concurrency['reason']}" in proc.stdout, output
    retried = [ex for cells in results["features"].values() for ev in cells["single"]["evidence"]
               for ex in ev["exchanges"] if ex["retries"]]
    assert retried and all(len(ex["retry_reasons"]) == ex["retries"] for ex in retried)
    compat = (reports / "compat.html").read_text()
    assert f"concurrency {concurrency['reason']}" in compat
    assert "re-sent 1×: " in json.dumps(embedded_evidence(compat), ensure_ascii=False)  # opened on demand
