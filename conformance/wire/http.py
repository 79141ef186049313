"""The HTTP client: the only module that talks HTTP (httpx). Live or replayed, it returns Observations."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from conformance.model.observation import Observation
from conformance.model.roles import VARIANT, Role
from conformance.model.targets import BUILT_IN_FILES, PACKAGE_DIR, Target
from conformance.model.verdicts import SkipCause
from conformance.wire.budget import Budget
from conformance.wire.concurrency import AdaptiveLimit
from conformance.wire.first_contact import (
    CONFIRM_DELAY_S,
    CONFIRMATIONS,
    FINE,
    FirstContact,
    Reading,
    connect_problem,
    read_answer,
)
from conformance.wire.recording import CassetteBook, CassetteError
from conformance.wire.secrets import public_headers, scrub_text

MAX_BODY_BYTES = 12 * 1024 * 1024  # a bigger answer is cut and reported, never held whole
MAX_BACKOFF_S = 20.0
BAD_KEY = "conformance-probe-invalid-key-0000"


@dataclass
class Send:
    """One request to send: what the engine asks of this module."""

    role: Role
    method: str
    path: str  # e.g. /chat/completions (joined to the target's base URL)
    body: Any  # JSON-able body, or str for a raw (malformed) body
    cassette: Path
    auth: str = "target"  # target | bad | none
    fallback: Path | None = None  # replayed from when `cassette` lacks the request (a request shared since)
    alone: bool = False  # sent with no other request in flight to the target (a sample of a sampled comparison)


@dataclass(frozen=True)
class Deadline:
    """When the whole run stops: a request not sent by then is not sent, one in flight then is cut."""

    at: float  # time.monotonic()
    label: str  # what the user set, e.g. "the run's --deadline of 300 s"

    @classmethod
    def after(cls, seconds: float, label: str) -> Deadline:
        return cls(time.monotonic() + seconds, label)

    def left(self) -> float:
        return self.at - time.monotonic()


def _retry_delay(headers: dict[str, str], attempt: int) -> float:
    """Seconds to wait before retrying a 429/503: Retry-After, x-ratelimit-reset-*, else capped backoff."""
    header = headers.get("retry-after")
    if header:
        try:
            return min(float(header), MAX_BACKOFF_S)
        except ValueError:
            try:
                return min(max(parsedate_to_datetime(header).timestamp() - time.time(), 0.0), MAX_BACKOFF_S)
            except (TypeError, ValueError):
                pass
    for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", "ratelimit-reset"):
        value = headers.get(name)
        if value:
            seconds = _duration(value)
            if seconds is not None:
                return min(seconds, MAX_BACKOFF_S)
    return min(0.5 * 2**attempt + random.random() * 0.1, MAX_BACKOFF_S)


def _duration(value: str) -> float | None:
    """'1s', '250ms', '1m30s', '2' → seconds."""
    total, number, found = 0.0, "", False
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    i = 0
    while i < len(value):
        ch = value[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if value[i:i + 2] == "ms" else ch
        if unit not in units or not number:
            return None
        total += float(number) * units[unit]
        number, found = "", True
        i += len(unit)
    if number:
        total += float(number)
        found = True
    return total if found else None


Answer = tuple[int, str, list[tuple[str, str]], str, "float | None"]  # status, reason, headers, body, ttft


class _Clock:
    """One request's deadline: the total timeout from its first turn (retries, their waits and turns included),
    never past the run's deadline."""

    def __init__(self, total: float, deadline: Deadline | None) -> None:
        self.total = total
        self.deadline = deadline
        self.started = 0.0  # when the request first got its turn

    def start(self) -> None:
        self.started = self.started or time.monotonic()

    def left(self) -> tuple[float, str]:
        """Seconds left, and what sets them (for the message of a request cut short)."""
        own = self.started + self.total - time.monotonic() if self.started else self.total
        if self.deadline is not None and self.deadline.left() < own:
            return self.deadline.left(), self.deadline.label
        return own, f"the total timeout of {self.total:g} s"

    def patience(self) -> float | None:
        """How long the request may wait for a turn: a retry's wait counts, the first turn only the run's."""
        if self.started:
            return max(self.left()[0], 0.0)
        return max(self.deadline.left(), 0.0) if self.deadline is not None else None


def _connect_cause(exc: BaseException) -> str:
    """Why a connection never opened: refused, dns, tls, or failed."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "refused"
        if isinstance(seen, socket.gaierror):
            return "dns"
        if isinstance(seen, ssl.SSLError):
            return "tls"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    if "ssl" in text or "certificate" in text:
        return "tls"
    if "name or service not known" in text or "name resolution" in text or "nodename nor servname" in text:
        return "dns"
    return "failed"


def _detail(error: str | None) -> str:
    """'ConnectError: [Errno 111] … (http://…)' → '[Errno 111] …'."""
    text = (error or "").split(": ", 1)[-1]
    return text.rsplit(" (", 1)[0] if text.endswith(")") and " (http" in text else text


class _ConnectionTrace:
    """httpcore's trace hook: did this request open its own connection, did an answer start?"""

    def __init__(self) -> None:
        self.connected = False
        self.answered = False

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        if ".connect_tcp." in event or ".connect_unix_socket." in event:
            self.connected = True


@dataclass
class Attempt:
    """One try of a request: the answer, or the failure and what is known about where it happened."""

    answer: Answer | None = None
    error: str | None = None
    timed_out: bool = False
    transport: bool = False  # a connection-level failure (reset, closed, protocol error)
    reused: bool = False  # sent on a pooled connection
    answered: bool = False  # the response head had arrived when it failed
    connect: str | None = None  # the connection never opened: refused, dns, tls, timeout or failed

    @property
    def status(self) -> int | None:
        return self.answer[0] if self.answer is not None else None

    def load_kind(self) -> str | None:
        """The kind of failure our own load can cause: a dropped connection, a 503, a 429; None for any other
        outcome (an answer, a timeout, a connection that never opened, a stale pooled connection)."""
        if self.transport and self.connect is None and not (self.reused and not self.answered):
            return "drops"
        if self.status in (429, 503):
            return str(self.status)
        return None

    def overload_reason(self) -> str:
        """Why this attempt says the target is overloaded, when its failure shared the target."""
        if self.status == 503:
            return "the server answers 503 under load"
        if self.status == 429:
            return "the server answers 429 (rate limit) under load"
        return f"the server drops concurrent requests ({(self.error or '').split(':')[0]})"


@dataclass
class Step:
    """A retry to make: why (for the evidence) and after how long."""

    reason: str
    delay: float = 0.0


@dataclass
class Retry:
    """The retries of one request so far, and how its next attempt goes out."""

    fresh: bool = False  # on a new connection
    alone: bool = False  # once nothing else is in flight
    stale_retried: bool = False
    alone_retried: bool = False
    status_retries: int = 0

    def next_step(self, attempt: Attempt, crowded: bool, max_status_retries: int) -> Step | None:
        """The retry this attempt calls for, or None when its outcome stands (`crowded`: the failure shared the
        target and may be our own load)."""
        kind = (attempt.error or "").split(":")[0]
        if attempt.transport:
            if attempt.reused and not attempt.answered and not self.stale_retried:
                self.stale_retried = self.fresh = True
                return Step(f"{kind} on a reused connection before any answer: retried on a new connection")
            if crowded and not self.alone_retried:
                self.alone_retried = self.alone = self.fresh = True
                return Step(f"{kind} while other requests were in flight: retried alone once they ended")
            return None
        status = attempt.status
        if status not in (429, 503) or attempt.answer is None:
            return None
        headers = {k.lower(): v for k, v in attempt.answer[2]}
        if crowded and not self.alone_retried:  # our own load: re-run alone, even with `retries` 0
            self.alone_retried = self.alone = True
            self.status_retries += 1
            delay = _retry_delay(headers, 0) if _asks_to_wait(headers) else 0.0  # what the server asks, if it does
            return Step(f"HTTP {status} while other requests were in flight: retried alone once they ended", delay)
        if self.status_retries >= max_status_retries:
            return None
        self.status_retries += 1
        delay = _retry_delay(headers, self.status_retries - 1)
        return Step(f"HTTP {status}: retried after {delay:.1f} s", delay)


def _asks_to_wait(headers: dict[str, str]) -> bool:
    return any(h in headers for h in ("retry-after", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
                                      "ratelimit-reset"))


class Client:
    """Sends requests to one target, through the run's cassettes. Safe to share between tasks."""

    def __init__(self, target: Target, book: CassetteBook, budget: Budget | None = None,
                 limit: AdaptiveLimit | None = None, deadline: Deadline | None = None) -> None:
        self.target = target
        self.book = book
        self.budget = budget
        self.limit = limit or AdaptiveLimit(target.concurrency)
        self.deadline = deadline
        self.contact = FirstContact(target)
        t = target.timeouts
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.total),
            limits=httpx.Limits(max_connections=self.limit.configured * 2),
            follow_redirects=False,
        )
        self._fresh: httpx.AsyncClient | None = None
        self.live_requests = 0
        self.replayed_requests = 0

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._fresh is not None:
            await self._fresh.aclose()

    def _url(self, path: str) -> str:
        return self.target.base_url.rstrip("/") + path

    def _headers(self, auth: str) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        headers.update(self.target.headers)
        key = self.target.api_key()
        if auth == "bad":
            headers["authorization"] = f"Bearer {BAD_KEY}"
        elif auth == "target" and key:
            headers["authorization"] = f"Bearer {key}"
        return headers

    @staticmethod
    def _body_bytes(body: Any) -> bytes:
        if body is None:  # a GET
            return b""
        if isinstance(body, str):
            return body.encode()
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    async def send(self, req: Send) -> Observation:
        """Replay the request from its cassette, or send it live when the record mode allows."""
        url = self._url(req.path)
        raw = self._body_bytes(req.body)
        obs = Observation(role=req.role, method=req.method, path=req.path, request_body=req.body,
                          cassette=str(req.cassette))
        try:
            recorded = self.book.play(req.cassette, req.method, url, raw)
            if recorded is None and req.fallback is not None and self.book.record_mode != "all":
                recorded = self.book.play(req.fallback, req.method, url, raw)
                obs.cassette = str(req.fallback) if recorded is not None else obs.cassette
            may_record = recorded is None and self.book.may_record(req.cassette)
        except CassetteError as exc:
            obs.error = str(exc)
            return obs
        if recorded is not None:
            self.replayed_requests += 1
            obs.status, obs.headers, obs.body_text, obs.replayed = (
                recorded.status, recorded.headers, recorded.body_text, True)
            return obs
        if not may_record:
            obs.skip(SkipCause.NO_RECORDING, self._not_recorded_reason(req))
            return obs
        missing_key = self.target.missing_key_reason()
        if missing_key:  # even a wrong-key probe: the user has not set this target up
            obs.skip(SkipCause.NO_KEY, missing_key)
            return obs
        async with self.contact.turn() as first:  # the target's first requests check its setup, one at a time
            held = await self._not_sent_reason(req)
            if held is not None:
                obs.skip(*held)
            else:
                await self._send_live(req, url, raw, obs, first)
        return obs

    async def _not_sent_reason(self, req: Send) -> tuple[SkipCause, str] | None:
        """Why a live request is not sent now: the target is misconfigured, the run's deadline passed, the budget."""
        if self.contact.broken:
            return SkipCause.MISCONFIGURED, self.contact.not_sent
        if self.deadline is not None and self.deadline.left() <= 0:
            return SkipCause.DEADLINE, f"not sent: {self.deadline.label} had passed"
        refusal = await self.budget.take(self.target, req) if self.budget is not None else None
        return (SkipCause.BUDGET, refusal) if refusal else None

    def _not_recorded_reason(self, req: Send) -> str:
        t = self.target
        if t.source == "command line":  # an ad-hoc target exists only through its options
            names = f"--base-url {t.base_url} --model {t.model}" + (f" --api-key-env {t.api_key_env}"
                                                                    if t.api_key_env else "")
            names += f" --target-name {t.name}" if t.name != "custom" else ""
        else:
            declared = Path(t.source)  # a targets file other than ./targets.toml must be named again
            names = f"--target {t.name}" + ("" if declared in BUILT_IN_FILES or declared.resolve() ==
                                            Path("targets.toml").resolve() else f" --targets-file {t.source}")
        root = self.book.root.resolve()  # recordings never go into the package: then the default ./cassettes
        inside = root == PACKAGE_DIR or PACKAGE_DIR in root.parents
        where = "" if inside or self.book.root == Path("cassettes") else f" --cassette-dir {self.book.root}"
        if self.book.record_mode == "none":
            how = f"pytest conformance {names}{where} --record-mode=once"
            return f"no recording of this request in {req.cassette} (replay only); record it with: {how}"
        how = f"pytest conformance {names}{where} --record-mode=new_episodes"
        return f"{req.cassette} has no recording of this request and record mode {self.book.record_mode} may not " \
               f"add one; re-record with: {how}"

    async def _send_live(self, req: Send, url: str, raw: bytes, obs: Observation, first: bool) -> None:
        """Send with retries; a first-contact request also confirms a configuration problem and settles the gate."""
        headers = self._headers(req.auth)
        clock = _Clock(self.target.timeouts.total, self.deadline)
        attempt = await self._tries(req, url, raw, headers, obs, clock)
        problem = None
        if first:
            reading, confirmations = self._reading(req, attempt), 0
            while reading.problem and confirmations < CONFIRMATIONS and clock.left()[0] > CONFIRM_DELAY_S:
                refusal = await self.budget.take(self.target) if self.budget is not None else None
                if refusal:
                    break
                confirmations += 1
                obs.retries += 1
                obs.retry_reasons.append("first contact: a configuration problem, sent again to confirm it")
                await asyncio.sleep(CONFIRM_DELAY_S)
                attempt = await self._tries(req, url, raw, headers, obs, clock)
                reading = self._reading(req, attempt)
            self.contact.settle(reading, confirmations == CONFIRMATIONS)
            problem = self.contact.broken
        self._keep(req, url, raw, headers, attempt, obs, problem)
        obs.elapsed_ms = round((time.monotonic() - (clock.started or time.monotonic())) * 1000, 1)

    def _reading(self, req: Send, attempt: Attempt) -> Reading:
        """What this attempt says about the target's configuration."""
        if attempt.connect is not None:
            return Reading(connect_problem(self.target, attempt.connect, _detail(attempt.error)))
        if attempt.answer is None:
            return FINE  # a reset or a timeout: something answers there
        status, _, _, text, _ = attempt.answer
        return read_answer(self.target, req.auth, req.method, req.path, req.body, status, self._safe(text))

    async def _tries(self, req: Send, url: str, raw: bytes, headers: dict[str, str], obs: Observation,
                     clock: _Clock) -> Attempt:
        """The request and its retries (429/503, stale connections, our own load), within the request's deadline
        (counted from its first turn: the wait for that turn is the queue, not the request)."""
        retry = Retry(alone=req.alone)
        attempt = Attempt()
        while True:
            try:
                async with self.limit.slot(alone=retry.alone, within=clock.patience()) as turn:
                    clock.start()
                    attempt = await self._attempt(req.method, url, raw, headers, clock, retry.fresh)
                    crowded = turn.crowded()
                    kind = attempt.load_kind()
                    ours = kind is not None and crowded and self.limit.blames(kind)
                    if ours:
                        self.limit.overloaded(turn, attempt.overload_reason(), kind)
                    elif kind is not None and not crowded:
                        self.limit.seen_alone(kind)
                    elif kind is None and attempt.error is None:
                        self.limit.succeeded()
            except asyncio.TimeoutError:  # no turn came in time (the wait of an alone retry, or the run's end)
                what = clock.left()[1]
                if not clock.started:
                    return Attempt(error=f"{what} passed while it waited for its turn (never sent)", timed_out=True)
                return Attempt(error=f"{attempt.error or 'no answer'}; no turn for its retry within {what}",
                               timed_out=True)
            step = retry.next_step(attempt, ours, self.target.retries)
            if step is None or clock.left()[0] <= step.delay:  # no time left for another try
                return attempt
            refusal = await self.budget.take(self.target) if self.budget is not None else None
            if refusal:  # retries count against --max-requests like any request
                attempt.error = attempt.error and f"{attempt.error}; not retried: {refusal}"
                return attempt
            obs.retries += 1
            obs.retry_reasons.append(step.reason)
            if step.delay:
                await asyncio.sleep(step.delay)

    async def _attempt(self, method: str, url: str, raw: bytes, headers: dict[str, str], clock: _Clock,
                       fresh: bool) -> Attempt:
        """One try of a request; a failure is kept as data (with whether it reused a connection)."""
        trace = _ConnectionTrace()
        self.live_requests += 1
        seconds, what = clock.left()
        try:
            answer = await asyncio.wait_for(
                self._exchange(method, url, raw, headers, clock.started, trace, fresh), timeout=max(seconds, 0.0))
        except asyncio.TimeoutError:
            return Attempt(error=f"no complete answer within {what}", timed_out=True)
        except httpx.ConnectTimeout as exc:
            return Attempt(error=f"ConnectTimeout: {self._safe(str(exc)) or 'timed out'} ({url})", timed_out=True,
                           connect="timeout")
        except httpx.TimeoutException as exc:
            return Attempt(error=f"{type(exc).__name__}: {self._safe(str(exc)) or 'timed out'}", timed_out=True)
        except httpx.HTTPError as exc:
            return Attempt(error=f"{type(exc).__name__}: {self._safe(str(exc)) or 'transport failure'} ({url})",
                           transport=isinstance(exc, httpx.TransportError), reused=not trace.connected,
                           answered=trace.answered,
                           connect=_connect_cause(exc) if isinstance(exc, httpx.ConnectError) else None)
        return Attempt(answer=answer)

    def _keep(self, req: Send, url: str, raw: bytes, headers: dict[str, str], attempt: Attempt,
              obs: Observation, problem: str | None = None) -> None:
        """The last attempt becomes the observation (scrubbed) and, unless it is a 429 or shows a configuration
        `problem` (then the observation's error), the recording."""
        if problem is not None:
            obs.error = f"{problem} (configuration problem: the target's other requests are not sent)"
        if attempt.answer is None:
            obs.error, obs.timed_out = obs.error or attempt.error, attempt.timed_out and problem is None
            return
        status, reason, resp_headers, text, ttft = attempt.answer
        secrets = [k for k in (self.target.api_key(),) if k]
        # what is kept in memory (and so in every report) never holds a credential
        obs.status, obs.body_text, obs.ttft_ms = status, scrub_text(text, secrets), ttft
        obs.headers = public_headers({k.lower(): v for k, v in resp_headers}, secrets)
        if status != 429 and problem is None:  # a rate-limit answer is not worth a replay
            self.book.record(req.cassette, req.method, url, raw, headers, status, reason, resp_headers, text)

    async def _exchange(self, method: str, url: str, raw: bytes, headers: dict[str, str], started: float,
                        trace: _ConnectionTrace, fresh: bool) -> Answer:
        http = self._fresh_http() if fresh else self._http
        if not raw:  # a GET (models.list) carries no body and no content type
            headers = {k: v for k, v in headers.items() if k != "content-type"}
        request = http.build_request(method, url, content=raw or None, headers=headers, extensions={"trace": trace})
        response = await http.send(request, stream=True)
        trace.answered = True
        try:
            chunks: list[bytes] = []
            size = 0
            ttft: float | None = None
            async for chunk in response.aiter_bytes():  # decoded: the cassette stores plain text
                if ttft is None and chunk:
                    ttft = round((time.monotonic() - started) * 1000, 1)
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    chunks.append(b"\n[conformance: body cut at %d bytes]" % MAX_BODY_BYTES)
                    break
        finally:
            await response.aclose()
        body = b"".join(chunks)
        dropped = ("content-encoding", "content-length")  # the stored body is decoded
        headers_out = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in dropped]
        return response.status_code, response.reason_phrase, headers_out, body.decode("utf-8", "replace"), ttft

    def _fresh_http(self) -> httpx.AsyncClient:
        """A client that keeps no connection alive: every request it sends opens a new one."""
        if self._fresh is None:
            self._fresh = httpx.AsyncClient(timeout=self._http.timeout, follow_redirects=False,
                                            limits=httpx.Limits(max_keepalive_connections=0))
        return self._fresh

    def _safe(self, message: str) -> str:
        return scrub_text(message, [k for k in (self.target.api_key(),) if k])


class NotAnswered(httpx.ConnectError):
    """What LibraryTransport raises for a request with no answer (not sent, transport failure): the library sees a
    connection error, and the suite tells this deliberate signal from a bug of its own."""


class NoAnswerInTime(httpx.ReadTimeout):
    """What LibraryTransport raises for a request that timed out."""


class LibraryTransport(httpx.AsyncBaseTransport):
    """An httpx transport for a client library (the openai SDK): every request it makes goes through the
    suite's own `send` (cassettes, budget, retries, concurrency), so a library probe replays offline like any
    other probe. The library's own headers (its placeholder key) are dropped: the suite's Client adds the
    target's. `seen` keeps each exchange as an Observation, in order; `role` names the next one.
    """

    def __init__(self, send: Callable[[Send], Awaitable[Observation]], base_url: str, cassette: Path,
                 auth: str = "target") -> None:
        self._send = send
        self._base = base_url.rstrip("/")
        self._cassette = cassette
        self._auth = auth
        self.role = VARIANT
        self.seen: list[Observation] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw = await request.aread()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        url = str(request.url).split("?", 1)[0]
        path = url[len(self._base):] if url.startswith(self._base) else request.url.path
        role = self.role if not any(o.role == self.role for o in self.seen) else self.role.sampled(len(self.seen) + 1)
        obs = await self._send(Send(role, request.method, path, body, self._cassette, self._auth))
        self.seen.append(obs)
        if obs.timed_out:
            raise NoAnswerInTime(obs.error or "timed out", request=request)
        if obs.status is None:  # not sent (no cassette, budget, no key) or a transport failure
            raise NotAnswered(obs.skipped_reason or obs.error or "not sent", request=request)
        headers = [(k, v) for k, v in obs.headers.items() if k not in ("content-length", "content-encoding")]
        return httpx.Response(obs.status, headers=headers, content=obs.body_text.encode(), request=request)


def library_http_client(transport: LibraryTransport) -> httpx.AsyncClient:
    """The httpx client to hand to a client library (e.g. `AsyncOpenAI(http_client=...)`)."""
    return httpx.AsyncClient(transport=transport, timeout=None)
