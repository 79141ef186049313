"""Adaptive concurrency of one target (AIMD): how many live requests may be in flight at once.

It starts at the configured concurrency. An overload seen while other requests were in flight (a dropped
connection, a 503, a 429) halves the limit, down to 1; answers in a row add one back, up to the configured
value: after `GROWTH_SUCCESSES × limit` of them, twice as many after each overload (a server that really
takes one request at a time is not probed every few requests). A kind of failure the server also gives with
nothing else in flight (NOT_LOAD_EVIDENCE times) is not our load: it stops lowering the limit, and a limit it
lowered goes back to the configured value (a server that resets or rate-limits some requests whatever the load
is not taken one request at a time for the rest of the run). A request may also ask to run alone: it waits
until the others drain and nothing new starts meanwhile (a retry under our own load; every sample of a sampled
comparison, whose verdict must not depend on what else the server was doing). Pure asyncio, no HTTP: testable
with plain coroutines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

GROWTH_SUCCESSES = 8  # answers in a row, per unit of the current limit, before the limit grows by one
MAX_PATIENCE = 64  # the most GROWTH_SUCCESSES may double to
NOT_LOAD_EVIDENCE = 2  # failures of a kind with nothing else in flight before that kind is no sign of our load


@dataclass
class Slot:
    """One request's turn: what it needs to tell, when it fails, whether it shared the server."""

    limit: AdaptiveLimit
    others_at_start: int
    sequence: int  # how many requests had started when this one did
    generation: int  # the limit's generation when this one started (one decrease per generation)

    def crowded(self) -> bool:
        """Whether another request was in flight at some moment of this one (in flight at its start, or begun since)."""
        return self.others_at_start > 0 or self.limit.started != self.sequence


class AdaptiveLimit:
    """The in-flight limit of one target, lowered by overloads and raised slowly by successes."""

    def __init__(self, configured: int) -> None:
        self.configured = max(1, configured)
        self.limit = self.configured
        self.lowest = self.configured
        self.in_flight = 0
        self.started = 0
        self.reason: str | None = None  # why the lowest limit was reached
        self.not_load: set[str] = set()  # kinds of failure seen with nothing else in flight: not our load
        self.restored = False  # the limit went back up once its lowering proved not to be about load
        self._alone_failures: dict[str, int] = {}
        self._lowered_for: set[str] = set()
        self._generation = 0
        self._successes = 0
        self._patience = GROWTH_SUCCESSES
        self._alone_waiting = 0
        self._alone_running = False
        self._changed = asyncio.Condition()

    def _may_start(self, alone: bool) -> bool:
        if self._alone_running:
            return False
        if alone:
            return self.in_flight == 0
        return self._alone_waiting == 0 and self.in_flight < self.limit

    @asynccontextmanager
    async def slot(self, alone: bool = False, within: float | None = None) -> AsyncIterator[Slot]:
        """Wait for a turn (alone: until nothing else is in flight, holding back new requests meanwhile); raise
        asyncio.TimeoutError when none came `within` seconds."""
        async with self._changed:
            self._alone_waiting += alone
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: self._may_start(alone)), within)
            finally:
                self._alone_waiting -= alone
            self._alone_running = alone
            self.in_flight += 1
            self.started += 1
            turn = Slot(self, self.in_flight - 1, self.started, self._generation)
        try:
            yield turn
        finally:
            async with self._changed:
                self.in_flight -= 1
                if alone:
                    self._alone_running = False
                self._changed.notify_all()

    @property
    def successes_to_grow(self) -> int:
        """Answers in a row it takes to allow one more request in flight."""
        return self._patience * self.limit

    def succeeded(self) -> None:
        """An answer came back: after enough of them in a row, allow one more request in flight."""
        self._successes += 1
        if self.limit < self.configured and self._successes >= self.successes_to_grow:
            self.limit += 1
            self._successes = 0  # waiters are woken when the current slot ends

    def blames(self, kind: str) -> bool:
        """Whether a failure of this kind, sharing the server, may be our own load."""
        return kind not in self.not_load

    def seen_alone(self, kind: str) -> None:
        """The server failed this way with nothing else in flight; seen often enough, this kind is no sign of our
        load, and a limit lowered only for such kinds goes back to the configured value."""
        self._alone_failures[kind] = self._alone_failures.get(kind, 0) + 1
        if self._alone_failures[kind] < NOT_LOAD_EVIDENCE or kind in self.not_load:
            return
        self.not_load.add(kind)
        if self._lowered_for and self._lowered_for <= self.not_load and self.limit < self.configured:
            self.limit, self.restored = self.configured, True
            self._patience, self._successes = GROWTH_SUCCESSES, 0
            self._generation += 1  # requests started under the low limit no longer lower it

    def overloaded(self, turn: Slot, reason: str, kind: str | None = None) -> bool:
        """The server failed a request that shared it: halve the limit (once per generation); True when lowered."""
        self._successes = 0
        if turn.generation != self._generation or self.limit == 1:
            return False  # already lowered since this request started, or nothing left to lower
        self._lowered_for.add(kind or reason)
        self._generation += 1
        self.limit = (self.limit + 1) // 2
        self._patience = min(self._patience * 2, MAX_PATIENCE)
        if self.limit <= self.lowest:
            self.lowest, self.reason = self.limit, reason
        return True

    def summary(self) -> dict[str, Any] | None:
        """configured / reached / reason, for results.json; None when no live request went through."""
        if not self.started:
            return None
        why = self.reason or "no sign of overload at this concurrency"
        if self.restored:
            why += (f"; the same failures then came with nothing else in flight (not our load): back to "
                    f"{self.configured}")
        return {"configured": self.configured, "reached": self.lowest,
                "reason": f"{self.lowest} of {self.configured}: {why}"}
