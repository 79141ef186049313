"""The HTTP client: the only module that talks HTTP (httpx). Live or replayed, it returns Observations."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from conformance.model.observation import Observation
from conformance.model.targets import Target
from conformance.wire.recording import CassetteBook, CassetteError
from conformance.wire.secrets import public_headers, scrub_text

MAX_BODY_BYTES = 12 * 1024 * 1024  # a bigger answer is cut and reported, never held whole
MAX_BACKOFF_S = 20.0
BAD_KEY = "conformance-probe-invalid-key-0000"


@dataclass
class Send:
    """One request to send: what the engine asks of this module."""

    role: str
    method: str
    path: str  # e.g. /chat/completions (joined to the target's base URL)
    body: Any  # JSON-able body, or str for a raw (malformed) body
    cassette: Path
    auth: str = "target"  # target | bad | none


NO_RESPONSE = "Server disconnected without sending a response"  # httpx: not one byte of an answer came back


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


class Client:
    """Sends requests to one target, through the run's cassettes. Safe to share between tasks."""

    def __init__(self, target: Target, book: CassetteBook, budget: Budget | None = None) -> None:
        self.target = target
        self.book = book
        self.budget = budget
        t = target.timeouts
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.total),
            limits=httpx.Limits(max_connections=max(target.concurrency, 1) * 2),
            follow_redirects=False,
        )
        self.live_requests = 0
        self.replayed_requests = 0

    async def aclose(self) -> None:
        await self._http.aclose()

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
            obs.skipped_reason = self._not_recorded_reason(req)
            return obs
        if req.auth == "target" and self.target.missing_key_reason():
            obs.skipped_reason = self.target.missing_key_reason()
            return obs
        if self.budget is not None:
            refusal = self.budget.take(self.target.name)
            if refusal:
                obs.skipped_reason = refusal
                return obs
        await self._send_live(req, url, raw, obs)
        return obs

    def _not_recorded_reason(self, req: Send) -> str:
        how = f"pytest conformance --target {self.target.name} --record-mode=new_episodes"
        if self.book.record_mode == "none":
            how = f"pytest conformance --target {self.target.name} --record-mode=once"
            return f"no recording of this request in {req.cassette} (replay only); record it with: {how}"
        return f"{req.cassette} has no recording of this request and record mode {self.book.record_mode} may not " \
               f"add one; re-record with: {how}"

    async def _send_live(self, req: Send, url: str, raw: bytes, obs: Observation) -> None:
        headers = self._headers(req.auth)
        started = time.monotonic()
        for attempt in range(self.target.retries + 1):
            self.live_requests += 1
            try:
                status, reason, resp_headers, text, ttft = await asyncio.wait_for(
                    self._exchange(req.method, url, raw, headers, started), timeout=self.target.timeouts.total)
            except asyncio.TimeoutError:
                obs.timed_out = True
                obs.error = f"no complete answer within the total timeout of {self.target.timeouts.total:g} s"
                break
            except httpx.TimeoutException as exc:
                obs.timed_out = True
                obs.error = f"{type(exc).__name__}: {self._safe(str(exc)) or 'timed out'}"
                break
            except httpx.RemoteProtocolError as exc:
                if NO_RESPONSE in str(exc) and attempt < self.target.retries:
                    # a pooled keep-alive connection the server had closed (llama-server closes after 100 requests
                    # and after every error): the request never reached it; send it again on a fresh connection
                    obs.retries = attempt + 1
                    continue
                obs.error = f"{type(exc).__name__}: {self._safe(str(exc)) or 'transport failure'} ({url})"
                break
            except httpx.HTTPError as exc:
                obs.error = f"{type(exc).__name__}: {self._safe(str(exc)) or 'transport failure'} ({url})"
                break
            if status in (429, 503) and attempt < self.target.retries:
                obs.retries = attempt + 1
                await asyncio.sleep(_retry_delay({k.lower(): v for k, v in resp_headers}, attempt))
                continue
            secrets = [k for k in (self.target.api_key(),) if k]
            # what is kept in memory (and so in every report) never holds a credential
            obs.status, obs.body_text, obs.ttft_ms = status, scrub_text(text, secrets), ttft
            obs.headers = public_headers({k.lower(): v for k, v in resp_headers}, secrets)
            if status != 429:  # a rate-limit answer is not worth a replay
                self.book.record(req.cassette, req.method, url, raw, headers, status, reason, resp_headers, text)
            break
        obs.elapsed_ms = round((time.monotonic() - started) * 1000, 1)

    async def _exchange(self, method: str, url: str, raw: bytes, headers: dict[str, str], started: float
                        ) -> tuple[int, str, list[tuple[str, str]], str, float | None]:
        if not raw:
            headers = {k: v for k, v in headers.items() if k != "content-type"}
        request = self._http.build_request(method, url, content=raw or None, headers=headers)
        response = await self._http.send(request, stream=True)
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

    def _safe(self, message: str) -> str:
        return scrub_text(message, [k for k in (self.target.api_key(),) if k])


class Budget:
    """Request budget of a live run: refuses requests past --max-requests (tokens are checked by the engine)."""

    def __init__(self, max_requests: int | None, max_tokens: int | None) -> None:
        self.max_requests = max_requests
        self.max_tokens = max_tokens
        self.requests = 0
        self.tokens = 0

    def take(self, target: str) -> str | None:
        if self.max_requests is not None and self.requests >= self.max_requests:
            return f"budget: --max-requests {self.max_requests} reached; not sent"
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            return f"budget: --max-tokens {self.max_tokens} reached; not sent"
        self.requests += 1
        return None


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
        self.role = "variant"
        self.seen: list[Observation] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw = await request.aread()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        url = str(request.url).split("?", 1)[0]
        path = url[len(self._base):] if url.startswith(self._base) else request.url.path
        role = self.role if not any(o.role == self.role for o in self.seen) else f"{self.role}-{len(self.seen) + 1}"
        obs = await self._send(Send(role, request.method, path, body, self._cassette, self._auth))
        self.seen.append(obs)
        if obs.timed_out:
            raise httpx.ReadTimeout(obs.error or "timed out", request=request)
        if obs.status is None:  # not sent (no cassette, budget, no key) or a transport failure
            raise httpx.ConnectError(obs.skipped_reason or obs.error or "not sent", request=request)
        headers = [(k, v) for k, v in obs.headers.items() if k not in ("content-length", "content-encoding")]
        return httpx.Response(obs.status, headers=headers, content=obs.body_text.encode(), request=request)


def library_http_client(transport: LibraryTransport) -> httpx.AsyncClient:
    """The httpx client to hand to a client library (e.g. `AsyncOpenAI(http_client=...)`)."""
    return httpx.AsyncClient(transport=transport, timeout=None)
