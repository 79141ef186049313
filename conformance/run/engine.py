"""The engine: runs (target, probe) pairs concurrently, sharing controls, and classifies each."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.features.registry import BASE_REQUEST, CONTROLS, PROBES
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


# A probe whose answer's content is never read (an invalid value or a client error: a 2xx is IGNORED whatever it
# says) asks for a short answer, so a server that runs to its length limit costs little.
ANSWER_CAP = 16
LIMIT_FIELDS = ("max_tokens", "max_completion_tokens")


def request_of(probe: Probe) -> dict[str, Any]:
    """The probe's request fragment, with the answer cap when its answer's content is never judged."""
    unread = probe.kind in ("invalid", "error") and probe.client == "http" and probe.raw_body is None
    if unread and probe.method == "POST" and not any(k in probe.request for k in LIMIT_FIELDS):
        return {"max_tokens": ANSWER_CAP, **probe.request}
    return dict(probe.request)


def _shareable(probe: Probe) -> bool:
    """A request built from the probe's data alone (not from a control's answer, not raw, with the target's key),
    whose answer starts no conversation of the probe's own (a follow-up is built from it)."""
    return (probe.client == "http" and probe.raw_body is None and probe.method == "POST" and probe.derive is None
            and probe.auth == "target" and probe.followup is None)


def request_key(method: str, path: str, body: Any, count: int) -> str:
    """Two sends with the same key are the same request (sent `count` times)."""
    return json.dumps([method, path, body, count], sort_keys=True, ensure_ascii=False)


def control_send(control: Control, target: Target, feature: str) -> tuple[str, dict[str, Any], int]:
    """A control's cassette name, body and sample count (one per target and model)."""
    model = target.model_for(feature)
    name = control.name if model == target.model else f"{control.name}@{model}"
    return f"_controls/{name}", build_body(control.request, target, feature), (
        target.samples if control.stochastic else 1)


def _probe_sends(probe: Probe, target: Target) -> list[tuple[str, str]]:
    """(request key, name) of each request of the probe's that may be shared (its variant, its alternates)."""
    if not _shareable(probe):
        return []
    fragment = request_of(probe)
    count = target.samples if probe.stochastic else 1
    out = [(request_key(probe.method, probe.path, build_body(fragment, target, probe.feature), count), probe.id)]
    for i, alternate in enumerate(probe.alternates):
        body = build_body(merge(fragment, alternate), target, probe.feature)
        out.append((request_key(probe.method, probe.path, body, 1), f"{probe.id}.alt-{i + 1}"))
    return out


def shared_requests(target: Target) -> dict[str, str]:
    """The requests sent once per target and handed to every probe that sends them alike, by key: each control,
    and a request several probes send identically (from the whole registry, so the cassette of a shared request
    does not depend on which probes a run selects). Value: its cassette name (`_controls/<control>`, else
    `_shared/<the first probe that sends it>`)."""
    senders: dict[str, list[str]] = {}
    for probe in PROBES:
        sends = []
        if probe.control:
            name, body, count = control_send(CONTROLS[probe.control], target, probe.feature)
            sends.append((request_key("POST", CHAT_PATH, body, count), name))
        for key, name in [*sends, *_probe_sends(probe, target)]:
            names = senders.setdefault(key, [])
            if name not in names:
                names.append(name)
    out = {}
    for key, names in senders.items():
        controls = [n for n in names if n.startswith("_controls/")]
        if controls or len(names) > 1:
            out[key] = controls[0] if controls else f"_shared/{names[0]}"
    return out


WITNESS_CONTROL = "plain_t0"  # the healthy request a 5xx is compared with when the probe has no control


def _refuses_the_cap(obs: Observation) -> bool:
    """A client error whose body names the answer cap request_of added."""
    return obs.status is not None and 400 <= obs.status < 500 and "max_tokens" in obs.body_text


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
        self._shared: dict[tuple[str, str], asyncio.Task[list[Observation]]] = {}  # (target, request key)
        self._sharing: dict[str, dict[str, str]] = {}  # per target: shared_requests
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

    def _shared_name(self, target: Target, key: str) -> str | None:
        if target.name not in self._sharing:
            self._sharing[target.name] = shared_requests(target)
        return self._sharing[target.name].get(key)

    async def _once(self, target: Target, name: str, key: str, send: Send, count: int) -> list[Observation]:
        """A shared request: sent once per target (`count` samples) to its own cassette; every asker gets the
        same answers. `send.cassette` is the first asker's own, replayed from when the shared cassette lacks the
        request (cassettes recorded before it was shared)."""
        if (target.name, key) not in self._shared:
            self._shared[(target.name, key)] = asyncio.ensure_future(self._send_shared(target, name, send, count))
        return await self._shared[(target.name, key)]

    async def _send_shared(self, target: Target, name: str, send: Send, count: int) -> list[Observation]:
        shared = dataclasses.replace(send, cassette=self.book.path_for(target.name, name), fallback=send.cassette)
        answers_ = list(await asyncio.gather(*[self._send(target, dataclasses.replace(shared, role=f"shared-{i + 1}"))
                                               for i in range(count)]))
        for i, obs in enumerate(answers_):
            obs.shared = f"{name}#{i + 1}"
        return answers_

    async def _control(self, target: Target, control: Control, feature: str) -> list[Observation]:
        """A shared control, sent once per target and model (the probe's feature may use another model)."""
        name, body, count = control_send(control, target, feature)
        key = request_key("POST", CHAT_PATH, body, count)
        name = self._shared_name(target, key) or name
        send = Send("control", "POST", CHAT_PATH, body, self.book.path_for(target.name, name))
        return _as("control", await self._once(target, name, key, send, count))

    async def _sends(self, target: Target, role: str, send: Send, count: int, own_control: str | None,
                     shareable: bool) -> list[Observation]:
        """A probe's request sent `count` times, or the shared answers when other probes send it alike (never
        the probe's own control: a variant is compared with it)."""
        key = request_key(send.method, send.path, send.body, count)
        name = self._shared_name(target, key) if shareable and key != own_control else None
        if name is not None:
            return _as(role, await self._once(target, name, key, send, count))
        return list(await asyncio.gather(*[
            self._send(target, dataclasses.replace(send, role=role if count == 1 else f"{role}-{i + 1}"))
            for i in range(count)]))

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
        fragment = request_of(probe)
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
        own_control = None
        if probe.control:
            _, control_body, control_count = control_send(CONTROLS[probe.control], target, probe.feature)
            own_control = request_key("POST", CHAT_PATH, control_body, control_count)
        shareable = _shareable(probe) and body is not None
        variant = await self._sends(target, "variant", Send("variant", probe.method, probe.path, body, path,
                                                            probe.auth), count, own_control, shareable)
        if "max_tokens" in fragment and "max_tokens" not in probe.request and _refuses_the_cap(variant[0]):
            # Our answer cap, not the probe's value, was refused (OpenAI's reasoning models want
            # max_completion_tokens): judging this answer would credit the target with rejecting the value.
            fragment = dict(probe.request)
            body = build_body(fragment, target, probe.feature)
            variant = await self._sends(target, "variant", Send("variant", probe.method, probe.path, body, path,
                                                                probe.auth), count, own_control, shareable)
        for i, alternate in enumerate(probe.alternates):  # built from the fragment the variant was judged on
            alt_body = build_body(merge(fragment, alternate), target, probe.feature)
            alt = Send(f"alt-{i + 1}", probe.method, probe.path, alt_body, path, probe.auth)
            variant.extend(await self._sends(target, f"alt-{i + 1}", alt, 1, own_control, shareable))
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
    # a replay sends nothing, so it never reads a key (set, unset or wrong: the same verdicts)
    secrets = [k for t, _ in pairs if (k := t.api_key())] if record_mode != "none" else []
    return Engine(CassetteBook(cassette_dir, record_mode, secrets), budget, concurrency)


def run_pairs(pairs: list[tuple[Target, Probe]], cassette_dir: Path, record_mode: str,
              concurrency: int | None = None, budget: Budget | None = None) -> tuple[list[ProbeResult], Engine]:
    """Run synchronously (from pytest or the command line)."""
    engine = make_engine(pairs, cassette_dir, record_mode, concurrency, budget)
    return asyncio.run(engine.run(pairs)), engine


# A short prompt and a short answer: measured on the reference servers, 80-88 tokens per request (the LiteLLM mock
# 28); the report records the real count.
TOKENS_PER_REQUEST_ESTIMATE = 90


def plan(pairs: list[tuple[Target, Probe]]) -> dict[str, int]:
    """Requests a run sends at most (a control or a shared request once per target) and a token estimate."""
    requests = 0
    sent: set[tuple[str, str]] = set()
    tables: dict[str, dict[str, str]] = {}

    def once(target: Target, key: str, count: int) -> int:
        """`count` the first time a shared request is met on this target, 0 after; `count` when not shared."""
        table = tables.setdefault(target.name, shared_requests(target))
        if key not in table:
            return count
        if (target.name, key) in sent:
            return 0
        sent.add((target.name, key))
        return count

    for target, probe in pairs:
        count = target.samples if probe.stochastic else 1
        own_control = None
        if probe.control:
            _, body, control_count = control_send(CONTROLS[probe.control], target, probe.feature)
            own_control = request_key("POST", CHAT_PATH, body, control_count)
            requests += once(target, own_control, control_count)
        sends = _probe_sends(probe, target)
        if sends:
            for (key, _), n in zip(sends, [count, *[1] * len(probe.alternates)], strict=True):
                requests += n if key == own_control else once(target, key, n)
        else:
            requests += count + len(probe.alternates)
        requests += 1 if probe.followup else 0
        requests += 1 if probe.client == "openai-sdk" else 0  # an SDK scenario sends up to two requests
    return {"requests": requests, "tokens": requests * TOKENS_PER_REQUEST_ESTIMATE}


def _as(role: str, observations: list[Observation]) -> list[Observation]:
    """Copies of shared answers in the asker's role (`role`, or `role-N` for samples)."""
    many = len(observations) > 1
    return [dataclasses.replace(o, role=f"{role}-{i + 1}" if many else role) for i, o in enumerate(observations)]
