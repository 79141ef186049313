"""Progress of a run as it goes: probes done of total, requests and tokens spent, the slowest target; and a line
the moment a target turns out misconfigured (its first contact, wire/first_contact.py).

`watch` runs beside the engine's probes (`Engine.run(pairs, watch=...)`) and hands lines to the caller, which
knows the terminal: on a terminal one line rewritten in place every TERMINAL_EVERY_S, in a log (CI) a plain line
every LOG_EVERY_S. No pytest here; the plugin prints.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.run.engine import Engine

TERMINAL_EVERY_S = 1.0
LOG_EVERY_S = 15.0
TICK_S = 0.25  # how soon a misconfigured target is told


@dataclass
class Progress:
    """Where a run stands."""

    done: int
    total: int
    requests: int  # live requests sent (each retry counts)
    tokens: int
    elapsed_s: float
    slowest: tuple[str, int, int] | None = None  # the target with the largest share left: name, done, total

    def line(self) -> str:
        text = (f"conformance: {self.done}/{self.total} probes done, {self.requests} requests, {self.tokens:,} "
                f"tokens, {self.elapsed_s:.0f} s")
        if self.slowest is not None:
            name, done, total = self.slowest
            text += f"; slowest target: {name} ({done}/{total})"
        return text


def progress(engine: Engine, totals: dict[str, int], started: float) -> Progress:
    """The engine's progress now; `totals`: probes per target."""
    done = Counter(r.target for r in engine.done)
    left = {name: total - done[name] for name, total in totals.items() if done[name] < total}
    slowest = max(left, key=lambda name: (left[name] / totals[name], name)) if len(totals) > 1 and left else None
    tokens = engine.budget.tokens if engine.budget is not None else 0  # what the answers reported
    return Progress(sum(done.values()), sum(totals.values()), sum(c.live_requests for c in engine.clients.values()),
                    tokens, time.monotonic() - started,
                    (slowest, done[slowest], totals[slowest]) if slowest is not None else None)


def broken_lines(engine: Engine, told: set[str]) -> list[str]:
    """A line for each target found misconfigured since the last call (`told` keeps the ones already said)."""
    out = []
    for name, client in engine.clients.items():
        if client.contact.broken and name not in told:
            told.add(name)
            out.append(f"conformance: {client.contact.misconfigured} (its other requests are not sent)")
    return out


async def watch(engine: Engine, totals: dict[str, int], say: Callable[[str], None],
                rewrite: Callable[[str], None] | None = None, every: float | None = None) -> None:
    """Until cancelled: say() each misconfigured target at once, and the progress line every `every` seconds —
    through `rewrite` (one line in place, a terminal) when given, else through `say` (a log)."""
    every = every if every is not None else (TERMINAL_EVERY_S if rewrite is not None else LOG_EVERY_S)
    started = last = time.monotonic()
    told: set[str] = set()
    try:
        while True:
            await asyncio.sleep(TICK_S)
            for line in broken_lines(engine, told):
                say(line)
            if time.monotonic() - last >= every:
                last = time.monotonic()
                (rewrite or say)(progress(engine, totals, started).line())
    finally:  # a target found misconfigured just before the run ended is told too
        for line in broken_lines(engine, told):
            say(line)


def watch_with(totals: dict[str, int], say: Callable[[str], None], rewrite: Callable[[str], None] | None = None,
               every: float | None = None) -> Callable[[Engine], Awaitable[None]]:
    """`watch` with its settings, as `Engine.run(pairs, watch=...)` takes it."""
    return lambda engine: watch(engine, totals, say, rewrite, every)
