"""The engine: runs (target, probe) pairs concurrently, sharing controls, and classifies each."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.features.registry import BASE_REQUEST, CONTROLS
from conformance.judge import answers
from conformance.judge.classify import classify
from conformance.judge.detection import DERIVERS, FOLLOWUPS
from conformance.model.observation import Observation
from conformance.model.probes import Control, Probe, merge
from conformance.model.targets import Target
from conformance.model.verdicts import Status, Support, Verdict
from conformance.run.sdk import run_sdk_probe, sdk_verdict
from conformance.wire.concurrency import AdaptiveLimit
from conformance.wire.http import Budget, Client, Send
from conformance.wire.recording import CassetteBook

CHAT_PATH = "/chat/completions"


@dataclass
class ProbeResult:
    target: str
    probe: Probe
    verdict: Verdict
    observations: list[Observation]
    elapsed_ms: float = 0.0
    concurrency: dict[str, Any] | None = None  # the target's adaptive concurrency when this probe ended


@dataclass
class TargetStats:
    requests: int = 0
    live_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ttfts_ms: list[float] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0


def _substitute(value: Any, target: Target) -> Any:
    if value == "$high_temperature":
        return target.high_temperature
    if value == "$overflow":  # a prompt over the context window: twice as many words as it holds tokens
        return " ".join(["echo"] * (2 * target.context_window))
    if isinstance(value, dict):
        return {k: _substitute(v, target) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, target) for v in value]
    return value


def build_body(fragment: dict[str, Any], target: Target, feature: str) -> dict[str, Any]:
    """The request body: the baseline, the target's model for the feature, then the probe's fragment."""
    body = merge({"model": target.model_for(feature), **BASE_REQUEST}, fragment)
    return _substitute(body, target)


WITNESS_CONTROL = "plain_t0"  # the healthy request a 5xx is compared with when the probe has no control


def _server_error(obs: Observation) -> bool:
    """A 5xx answer other than 503 (overload, which the client already retries)."""
    return obs.status is not None and obs.status >= 500 and obs.status != 503 and not obs.error


class Engine:
    """Runs probes for several targets: bounded concurrency per target, targets in parallel."""

    def __init__(self, book: CassetteBook, budget: Budget | None = None, concurrency: int | None = None) -> None:
        self.book = book
        self.budget = budget
        self.concurrency = concurrency
        self.clients: dict[str, Client] = {}
        self.stats: dict[str, TargetStats] = {}
        self._controls: dict[tuple[str, str, str], asyncio.Task[list[Observation]]] = {}
        self.done: list[ProbeResult] = []  # results as they complete (kept when a run is interrupted)
        self.save_problems: list[str] = []  # cassettes that could not be written at the end

    def _client(self, target: Target) -> Client:
        if target.name not in self.clients:
            # live requests in flight adapt to what the target takes (wire/concurrency.py)
            limit = AdaptiveLimit(self.concurrency or target.concurrency)
            self.clients[target.name] = Client(target, self.book, self.budget, limit)
            self.stats[target.name] = TargetStats(started=time.time())
        return self.clients[target.name]

    async def _send(self, target: Target, req: Send) -> Observation:
        obs = await self._client(target).send(req)
        self._account(target, obs)
        return obs

    def _account(self, target: Target, obs: Observation) -> None:
        stats = self.stats[target.name]
        if obs.status is None and not obs.error:
            return
        stats.requests += 1
        prompt, completion = answers.tokens(obs, "prompt") or 0, answers.tokens(obs, "completion") or 0
        if obs.status is not None and obs.status < 300:
            stats.prompt_tokens += prompt
            stats.completion_tokens += completion
        if not obs.replayed:
            stats.live_requests += 1
            if self.budget is not None:
                self.budget.tokens += prompt + completion
            if obs.elapsed_ms is not None:
                stats.latencies_ms.append(obs.elapsed_ms)
            if obs.ttft_ms is not None and obs.is_sse:
                stats.ttfts_ms.append(obs.ttft_ms)
        stats.finished = time.time()

    async def _control(self, target: Target, control: Control, feature: str) -> list[Observation]:
        """A shared control, sent once per target and model (the probe's feature may use another model)."""
        model = target.model_for(feature)
        key = (target.name, control.name, model)
        if key not in self._controls:
            self._controls[key] = asyncio.ensure_future(self._send_control(target, control, feature, model))
        return await self._controls[key]

    async def _send_control(self, target: Target, control: Control, feature: str, model: str) -> list[Observation]:
        body = build_body(control.request, target, feature)
        name = control.name if model == target.model else f"{control.name}@{model}"
        path = self.book.path_for(target.name, f"_controls/{name}")
        count = target.samples if control.stochastic else 1
        return list(await asyncio.gather(*[
            self._send(target, Send(f"control-{i + 1}" if count > 1 else "control", "POST", CHAT_PATH, body, path))
            for i in range(count)
        ]))

    async def run_probe(self, target: Target, probe: Probe) -> ProbeResult:
        started = time.monotonic()
        try:
            verdict, observations = await self._run_probe(target, probe)
        except Exception as exc:  # noqa: BLE001  # a bug or an unexpected answer must not stop the other probes
            verdict = Verdict(Status.ERROR, notes=[f"the suite failed on this probe: {type(exc).__name__}: {exc}"])
            observations = []
        result = ProbeResult(target.name, probe, verdict, observations, round((time.monotonic() - started) * 1000, 1),
                             self._client(target).limit.summary())
        self.done.append(result)
        return result

    async def _run_probe(self, target: Target, probe: Probe) -> tuple[Verdict, list[Observation]]:
        self._client(target)
        control = await self._control(target, CONTROLS[probe.control], probe.feature) if probe.control else []
        fragment = dict(probe.request)
        if probe.derive:
            usable = [o for o in control if o.status is not None and o.status < 300]
            derived = DERIVERS[probe.derive](probe, usable) if usable else {}
            if usable and not derived:
                return Verdict(Status.OK, Support.UNVERIFIABLE, None,
                               ["the control answer gives nothing to build this probe's request from"]), control
            fragment = merge(fragment, derived)
        path = self.book.path_for(target.name, probe.id)
        if probe.client == "openai-sdk":
            unjudged, seen = await run_sdk_probe(probe, target, lambda req: self._send(target, req), path)
            if unjudged is not None:
                return unjudged, seen
            return sdk_verdict(classify(probe, seen, control), seen), [*control, *seen]
        body: Any = probe.raw_body if probe.raw_body is not None else build_body(fragment, target, probe.feature)
        if probe.method == "GET":  # no body; the detector is told which model this target should serve
            body = None
            probe = dataclasses.replace(probe, args={**probe.args, "model": target.model_for(probe.feature)})
        count = target.samples if probe.stochastic else 1
        variant = list(await asyncio.gather(*[
            self._send(target, Send("variant" if count == 1 else f"variant-{i + 1}", probe.method, probe.path, body,
                                    path, probe.auth))
            for i in range(count)
        ]))
        for i, alternate in enumerate(probe.alternates):
            alt_body = build_body(merge(fragment, alternate), target, probe.feature)
            alt = Send(f"alt-{i + 1}", probe.method, probe.path, alt_body, path, probe.auth)
            variant.append(await self._send(target, alt))
        if _server_error(variant[0]):
            # A 5xx may be this target's answer to the parameter (or to the mistake of an errors.* probe): re-send
            # once, beside a control that must pass.
            variant.append(await self._send(target, Send("repeat", probe.method, probe.path, body, path, probe.auth)))
            if not control:
                control = await self._control(target, CONTROLS[WITNESS_CONTROL], probe.feature)
        if probe.followup and variant[0].status is not None and variant[0].status < 300:
            nxt = FOLLOWUPS[probe.followup](probe, body, variant[0])
            if nxt is not None:
                variant.append(await self._send(target, Send("turn-2", "POST", CHAT_PATH, nxt, path)))
        return classify(probe, variant, control), [*control, *variant]

    async def run(self, pairs: list[tuple[Target, Probe]]) -> list[ProbeResult]:
        """Every pair's result, in the order given."""
        try:
            return list(await asyncio.gather(*[self.run_probe(t, p) for t, p in pairs]))
        finally:
            self.save_problems = self.book.save_all()
            for client in self.clients.values():
                await client.aclose()


def make_engine(pairs: list[tuple[Target, Probe]], cassette_dir: Path, record_mode: str,
                concurrency: int | None = None, budget: Budget | None = None) -> Engine:
    secrets = [k for t, _ in pairs if (k := t.api_key())]
    return Engine(CassetteBook(cassette_dir, record_mode, secrets), budget, concurrency)


def run_pairs(pairs: list[tuple[Target, Probe]], cassette_dir: Path, record_mode: str,
              concurrency: int | None = None, budget: Budget | None = None) -> tuple[list[ProbeResult], Engine]:
    """Run synchronously (from pytest or the command line)."""
    engine = make_engine(pairs, cassette_dir, record_mode, concurrency, budget)
    return asyncio.run(engine.run(pairs)), engine


TOKENS_PER_REQUEST_ESTIMATE = 60  # a short prompt and a short answer; the report records the real count


def plan(pairs: list[tuple[Target, Probe]]) -> dict[str, int]:
    """Requests a run sends at most (controls once per target and model) and a token estimate."""
    requests = 0
    controls: set[tuple[str, str, str]] = set()
    for target, probe in pairs:
        requests += (target.samples if probe.stochastic else 1) + len(probe.alternates) + (1 if probe.followup else 0)
        requests += 1 if probe.client == "openai-sdk" else 0  # an SDK scenario sends up to two requests
        if probe.control:
            key = (target.name, probe.control, target.model_for(probe.feature))
            if key not in controls:
                controls.add(key)
                requests += target.samples if CONTROLS[probe.control].stochastic else 1
    return {"requests": requests, "tokens": requests * TOKENS_PER_REQUEST_ESTIMATE}
