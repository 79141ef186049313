"""The engine: runs (target, probe) pairs concurrently, sharing controls, and classifies each.

Each probe's requests are planned once (run/plan.py); the engine executes the plan."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.features.registry import PROBES
from conformance.features.sampling import sampling_settled
from conformance.judge import answers
from conformance.judge.classify import classify, resendable_5xx
from conformance.judge.detection import DERIVERS, FOLLOWUPS
from conformance.judge.ownership import OWNERS
from conformance.model.observation import Observation
from conformance.model.probes import Probe, merge
from conformance.model.roles import CONTROL, REPEAT, SHARED, TURN_2, Role
from conformance.model.targets import Target
from conformance.model.verdicts import INTERNAL_ERROR, SkipCause, Status, Support, Verdict
from conformance.run.plan import (
    ANSWER_CAP,
    CHAT_PATH,
    Estimate,
    PlannedRequest,
    ProbePlan,
    build_body,
    estimate,
    plan_probe,
    request_of,
    shared_requests,
)
from conformance.run.sdk import run_sdk_probe, sdk_verdict
from conformance.run.suspects import suspect_resends
from conformance.wire.budget import Budget
from conformance.wire.concurrency import AdaptiveLimit
from conformance.wire.http import Client, Deadline, Send
from conformance.wire.recording import CassetteBook

__all__ = ["ANSWER_CAP", "Engine", "ProbeResult", "build_body", "make_engine", "plan", "request_of", "run_pairs"]


@dataclass
class ProbeResult:
    target: str
    probe: Probe
    verdict: Verdict
    observations: list[Observation]
    elapsed_ms: float = 0.0
    concurrency: dict[str, Any] | None = None  # the target's adaptive concurrency when this probe ended


def _refuses_the_cap(obs: Observation) -> bool:
    """A client error whose body names the answer cap request_of added."""
    return obs.status is not None and 400 <= obs.status < 500 and "max_tokens" in obs.body_text


def _budget_refusal(observations: list[Observation]) -> str | None:
    """The reason a request of the probe was not sent because it could cross a cost ceiling, if one was not."""
    return next((o.skipped_reason for o in observations if o.skip_cause is SkipCause.BUDGET), None)


class Engine:
    """Runs probes for several targets: bounded concurrency per target, targets in parallel."""

    def __init__(self, book: CassetteBook, budget: Budget | None = None, concurrency: int | None = None,
                 deadline: Deadline | None = None) -> None:
        self.book = book
        self.budget = budget
        self.concurrency = concurrency
        self.deadline = deadline  # the whole run's (--deadline): nothing is sent after it
        self.clients: dict[str, Client] = {}
        self._shared: dict[tuple[str, str], asyncio.Task[list[Observation]]] = {}  # (target, request key)
        self._sharing: dict[str, dict[str, str]] = {}  # per target: shared_requests
        self.done: list[ProbeResult] = []  # results as they complete (kept when a run is interrupted)
        self.owner_results: list[ProbeResult] = []  # owners' probes run only to place a finding (not cells)
        self.save_problems: list[str] = []  # cassettes that could not be written at the end

    def _client(self, target: Target) -> Client:
        if target.name not in self.clients:
            # live requests in flight adapt to what the target takes (wire/concurrency.py)
            limit = AdaptiveLimit(self.concurrency or target.concurrency)
            self.clients[target.name] = Client(target, self.book, self.budget, limit, self.deadline)
        return self.clients[target.name]

    async def _send(self, target: Target, req: Send) -> Observation:
        try:
            obs = await self._client(target).send(req)
        except BaseException:
            if self.budget is not None:  # a failed or cancelled request keeps no reservation others wait for
                self.budget.settle(target.name, req, None)
            raise
        if self.budget is not None:  # the reservation (if it was sent live) becomes what the answer reports
            self.budget.settle(target.name, req, _reported_tokens(obs))
        return obs

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
        if count > 1:
            answers_ = await self._samples(target, shared, SHARED, count)
        else:
            answers_ = [await self._send(target, dataclasses.replace(shared, role=SHARED.sampled(1)))]
        for i, obs in enumerate(answers_):
            obs.shared = f"{name}#{i + 1}"
        return answers_

    async def _ask(self, target: Target, req: PlannedRequest, own_control: str | None = None,
                   alone: bool = False) -> list[Observation]:
        """A planned request's answers: sent `count` times to the probe's cassette, or the shared answers when it
        is a control or other probes send it alike (never the probe's own control: a variant is compared with
        it). `alone`: with no other request in flight to the target (samples always are: `_samples`)."""
        key = req.key
        name = None
        if req.role == CONTROL:  # kept in the shared cassette (a control sent alike under another name shares it)
            name = self._shared_name(target, key) or req.cassette
        elif req.shareable and key != own_control:
            name = self._shared_name(target, key)
        own = name if req.role == CONTROL else req.cassette  # replayed from when the shared cassette lacks it
        send = Send(req.role, req.method, req.path, req.body, self.book.path_for(target.name, own), req.auth,
                    alone=alone)
        if name is not None:
            return _as(req.role, await self._once(target, name, key, send, req.count))
        if req.count > 1:
            return await self._samples(target, send, req.role, req.count)
        return [await self._send(target, send)]

    async def _samples(self, target: Target, send: Send, role: Role, most: int) -> list[Observation]:
        """A sampled request's answers (`role-1`, `role-2`, ...): sent one after another, each with no other
        request in flight to the target (a random state shared by concurrent requests must not decide a verdict),
        until the decision is clear (features/sampling.sampling_settled) or `most` were sent. A replay takes the
        recorded samples in order and stops where the recording ends."""
        got: list[Observation] = []
        for i in range(most):
            obs = await self._send(target, dataclasses.replace(send, role=role.sampled(i + 1), alone=True))
            if got and obs.skip_cause is SkipCause.NO_RECORDING:  # recorded with fewer samples: judged on those
                break
            got.append(obs)
            if sampling_settled(got):
                break
        return got

    async def run_probe(self, target: Target, probe: Probe) -> ProbeResult:
        result = await self._run(target, probe)
        self.done.append(result)
        return result

    async def _run(self, target: Target, probe: Probe) -> ProbeResult:
        started = time.monotonic()
        try:
            verdict, observations = await self.execute(plan_probe(probe, target))
        except Exception as exc:  # noqa: BLE001  # a bug of ours must not stop the other probes, nor be the target's
            verdict, observations = internal_verdict(exc, self.book.scrubber.text), []
        return ProbeResult(target.name, probe, verdict, observations, round((time.monotonic() - started) * 1000, 1),
                           self._client(target).limit.summary())

    async def execute(self, plan: ProbePlan) -> tuple[Verdict, list[Observation]]:
        """Send what the plan says, in its order, and judge the answers."""
        verdict, observations = await self._execute(plan)
        refusal = _budget_refusal(observations)
        if refusal is not None:  # a request that could cross a cost ceiling was not sent: nothing is judged
            verdict = Verdict(Status.SKIPPED, notes=[refusal], skip_cause=SkipCause.BUDGET)
        return verdict, observations

    async def _execute(self, plan: ProbePlan) -> tuple[Verdict, list[Observation]]:
        target, probe = plan.target, plan.probe
        self._client(target)
        control = await self._ask(target, plan.control) if plan.control else []
        if plan.derive:
            usable = [o for o in control if o.status is not None and o.status < 300 and not o.error
                      and (o.is_sse or o.json() is not None)]  # a body cut or not JSON gives nothing to build on
            derived = DERIVERS[plan.derive](probe, usable) if usable else {}
            if usable and not derived:
                return Verdict(Status.OK, Support.UNVERIFIABLE, None,
                               ["the control answer gives nothing to build this probe's request from"]), control
            if plan.shape is not None:
                plan = plan.with_fragment(merge(plan.shape.fragment, derived))
        if plan.sdk is not None:
            path = self.book.path_for(target.name, probe.id)
            unjudged, seen = await run_sdk_probe(probe, target, lambda req: self._send(target, req), path)
            if unjudged is not None:
                return unjudged, seen
            if any(o.role == REPEAT for o in seen) and not control and plan.witness is not None:
                control = await self._ask(target, plan.witness)  # a re-sent 5xx is judged beside a control
            return sdk_verdict(classify(probe, seen, control), seen), [*control, *seen]
        variant, control = await self._variant(plan, control)
        return classify(probe, variant, control), [*control, *variant]

    async def _variant(self, plan: ProbePlan, control: list[Observation]) -> tuple[list[Observation],
                                                                                      list[Observation]]:
        """The answers to the variant, its alternates and the re-sends they call for; and the control to judge
        them with (the witness control when a 5xx was re-sent and the probe has none)."""
        target = plan.target
        assert plan.shape is not None
        own_control = plan.control.key if plan.control else None
        shape = plan.shape
        variant = await self._ask(target, shape.variant, own_control)
        if plan.uncapped is not None and _refuses_the_cap(variant[0]):
            # Our answer cap, not the probe's value, was refused (OpenAI's reasoning models want
            # max_completion_tokens): judging this answer would credit the target with rejecting the value.
            shape = plan.uncapped
            variant = await self._ask(target, shape.variant, own_control)
        for alternate in shape.alternates:  # built from the fragment the variant is judged on
            # a sampled probe's alternates (other seeds) are compared with its samples: alone like them
            variant.extend(await self._ask(target, alternate, own_control, alone=plan.probe.stochastic))
        if plan.repeat_on_5xx and resendable_5xx(variant[0]):
            # A 5xx may be this target's answer to the parameter (or to the mistake of an errors.* probe): re-send
            # once, beside a control that must pass.
            again = dataclasses.replace(shape.variant, role=REPEAT, count=1, shareable=False)
            repeat = await self._ask(target, again)
            variant.extend(repeat)
            if not control and plan.witness is not None:
                control = await self._ask(target, plan.witness)
            if repeat and repeat[0].status != variant[0].status:
                # a 5xx that does not come back is the server varying, judged as such: no part of the request is
                # to blame, so the suspects are not re-sent (a flaky or faulty server would get 4 more requests)
                return variant, control
        variant.extend(await self._suspects(target, plan.probe, shape.variant.body, variant[0]))
        if plan.followup and variant[0].status is not None and variant[0].status < 300:
            nxt = FOLLOWUPS[plan.followup](plan.probe, shape.variant.body, variant[0])
            if nxt is not None:
                variant.extend(await self._ask(target, PlannedRequest(TURN_2, "POST", CHAT_PATH, nxt,
                                                                      plan.probe.id)))
                variant.extend(await self._suspects(target, plan.probe, nxt, variant[-1]))
        return variant, control

    async def _suspects(self, target: Target, probe: Probe, body: Any, failed: Observation) -> list[Observation]:
        """Root cause before blame: the failed request re-sent with one suspect part changed at a time
        (run/suspects.py), to the probe's own cassette; a re-send with no recording in replay is no evidence."""
        resent = []
        for role, changed in suspect_resends(probe, body, failed):
            req = PlannedRequest(role, failed.method, failed.path, changed, probe.id, 1, probe.auth)
            resent.extend(await self._ask(target, req))
        return [o for o in resent if o.status is not None or o.error]

    async def run(self, pairs: list[tuple[Target, Probe]],
                  watch: Callable[[Engine], Awaitable[None]] | None = None) -> list[ProbeResult]:
        """Every pair's result, in the order given; then the owners' probes a finding needs (see `owners_needed`).
        `watch` runs beside the probes (progress) until they end."""
        watcher = asyncio.ensure_future(watch(self)) if watch is not None else None
        try:
            results = list(await asyncio.gather(*[self.run_probe(t, p) for t, p in pairs]))
            owners = owners_needed(pairs, results)
            self.owner_results = list(await asyncio.gather(*[self._run(t, p) for t, p in owners]))
            for result in results:  # an answer that came before a target was found misconfigured proves nothing
                contact = self.clients[result.target].contact if result.target in self.clients else None
                if contact is not None and contact.broken and result.verdict.status is Status.OK:
                    result.verdict = Verdict(Status.ERROR,
                                             notes=[f"{contact.misconfigured}: this answer is not judged"])
            return results
        finally:
            if watcher is not None:
                watcher.cancel()
            self.save_problems = self.book.save_all()
            for client in self.clients.values():
                await client.aclose()


def internal_verdict(exc: BaseException, scrub: Callable[[str], str]) -> Verdict:
    """A suite bug (an exception no layer turned into an observation): INTERNAL, with its traceback (known secrets
    scrubbed) in the evidence, so that it is fixed in the suite, not read as the target's behaviour."""
    trace = scrub("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return Verdict(Status.INTERNAL, notes=[scrub(f"{INTERNAL_ERROR}: {type(exc).__name__}: {exc}")],
                   measurements={"traceback": trace})


def _reported_tokens(obs: Observation) -> int | None:
    """The tokens an answer reports (prompt + completion), or None when it reports none."""
    prompt, completion = answers.tokens(obs, "prompt"), answers.tokens(obs, "completion")
    if prompt is None and completion is None:  # an error answer costs nothing; an answer cut short is not known
        return 0 if obs.status is not None and obs.status >= 400 else None
    return (prompt or 0) + (completion or 0)


def owners_of(pairs: list[tuple[Target, Probe]]) -> list[tuple[Target, Probe]]:
    """The probes of every owning feature (judge/ownership.OWNERS) on the pairs' targets that the pairs leave out:
    the most a run may add to place a finding."""
    chosen = {(t.name, p.id) for t, p in pairs}
    targets = list({t.name: t for t, _ in pairs}.values())
    return [(t, p) for t in targets for p in PROBES if p.feature in OWNERS and (t.name, p.id) not in chosen]


def owners_needed(pairs: list[tuple[Target, Probe]], results: list[ProbeResult]) -> list[tuple[Target, Probe]]:
    """A finding another feature owns is that feature's when the owner's own probes show it, else the finding of
    the probe that saw it (run/results.charge_unseen_findings). So that this never depends on which probes a run
    selected, the owner's probes the selection left out are run too (they are not cells of the run)."""
    needed = {(r.target, f["owner"]) for r in results if r.verdict.status == Status.OK
              for f in r.verdict.measurements.get("also_seen") or []}
    return [(t, p) for t, p in owners_of(pairs) if (t.name, p.feature) in needed]


def make_engine(pairs: list[tuple[Target, Probe]], cassette_dir: Path, record_mode: str,
                concurrency: int | None = None, budget: Budget | None = None,
                deadline: Deadline | None = None) -> Engine:
    # a replay sends nothing, so it never reads a key (set, unset or wrong: the same verdicts)
    secrets = [k for t, _ in pairs if (k := t.api_key())] if record_mode != "none" else []
    return Engine(CassetteBook(cassette_dir, record_mode, secrets), budget, concurrency, deadline)


def run_pairs(pairs: list[tuple[Target, Probe]], cassette_dir: Path, record_mode: str,
              concurrency: int | None = None, budget: Budget | None = None) -> tuple[list[ProbeResult], Engine]:
    """Run synchronously (from pytest or the command line)."""
    engine = make_engine(pairs, cassette_dir, record_mode, concurrency, budget)
    return asyncio.run(engine.run(pairs)), engine


def plan(pairs: list[tuple[Target, Probe]]) -> Estimate:
    """At most the requests and tokens a run of these pairs sends: their plans, every re-send counted, and the
    owners' probes a finding may need (`owners_needed`)."""
    return estimate([plan_probe(p, t) for t, p in pairs], [plan_probe(p, t) for t, p in owners_of(pairs)])


def _as(role: Role, observations: list[Observation]) -> list[Observation]:
    """Copies of shared answers in the asker's role (`role`, or `role-N` for samples)."""
    many = len(observations) > 1
    return [dataclasses.replace(o, role=role.sampled(i + 1) if many else role) for i, o in enumerate(observations)]
