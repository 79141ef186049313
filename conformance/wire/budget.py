"""The cost ceilings of a live run: --max-requests, --max-tokens and each target's max_requests / max_tokens.

A request is sent only when it cannot cross a ceiling: its tokens are estimated from its body before it goes out
(`request_tokens`, an upper-ish bound), reserved while it is in flight, and replaced by what the answer reports
once it is back. A request that could cross a ceiling is refused with a reason that names the ceiling; the
engine turns it into a SKIPPED probe.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conformance.model.targets import Target

REFUSED = "budget:"  # every refusal starts with it (the reader's cue; the caller marks it SkipCause.BUDGET)

# Measured on the reference servers: a prompt costs at most one token per two characters of its JSON body (digits
# and punctuation tokenize finely; "item number 12," is 6 tokens) plus the chat template's own tokens.
CHARS_PER_TOKEN = 2
TEMPLATE_TOKENS = 64
# An answer without max_tokens is allowed this many tokens (the longest answer of the reference recordings: 127).
DEFAULT_ANSWER_TOKENS = 256
LIMIT_FIELDS = ("max_tokens", "max_completion_tokens")


def _body_chars(body: Any) -> int:
    if body is None:
        return 0
    if isinstance(body, str):
        return len(body)
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def answer_allowance(body: Any) -> int:
    """Tokens the answer to `body` may take: its own cap when it sets a usable one, else the default, per choice."""
    if not isinstance(body, dict):
        return DEFAULT_ANSWER_TOKENS if isinstance(body, str) else 0
    caps = [v for k in LIMIT_FIELDS if isinstance(v := body.get(k), int) and not isinstance(v, bool) and v > 0]
    choices = body.get("n") if isinstance(body.get("n"), int) and not isinstance(body.get("n"), bool) else 1
    return min(caps, default=DEFAULT_ANSWER_TOKENS) * max(choices, 1)


def request_tokens(body: Any) -> int:
    """An upper-ish bound on the tokens one request costs: its prompt (from the body's size) and its answer."""
    if body is None:  # a GET (the model list) costs no tokens
        return 0
    return -(-_body_chars(body) // CHARS_PER_TOKEN) + TEMPLATE_TOKENS + answer_allowance(body)


@dataclass
class Ceiling:
    """One limit on one count (requests or tokens), run-wide or for one target; `name` is what the user set."""

    name: str
    limit: int


@dataclass
class Budget:
    """Requests and tokens of a live run against the run's and each target's ceilings, shared by the run's asyncio
    tasks. A request is counted when it may go out (before it waits for its turn to be sent)."""

    max_requests: int | None = None
    max_tokens: int | None = None
    requests: int = 0  # every request sent live, retries included
    tokens: int = 0  # what the answers reported (the estimate when an answer reports nothing)
    reserved: int = 0  # estimated tokens of the requests in flight
    unreported: int = 0  # answers that reported no usage (counted in `tokens` at their estimate)
    by_target: Counter[str] = field(default_factory=Counter)  # requests per target
    tokens_by_target: Counter[str] = field(default_factory=Counter)  # spent + reserved per target
    _held: dict[tuple[str, int], int] = field(default_factory=dict)  # reservations by (target, id(send))
    _settled: asyncio.Event | None = None  # set whenever a reservation is released

    async def take(self, target: Target | str, send: Any = None) -> str | None:
        """Count one request to `target` and reserve the tokens its body (`send.body`) may cost, or say which
        ceiling it could cross. A request that fits once the requests in flight are back waits for them; one that
        cannot fit is refused. A retry passes no send: its request's tokens are reserved already."""
        name = target if isinstance(target, str) else target.name
        cost = request_tokens(getattr(send, "body", None))
        while (refusal := self._refusal(target, cost)) is not None:
            reason, in_flight_decides = refusal
            if not in_flight_decides or self.reserved == 0:
                return reason
            self._settled = self._settled or asyncio.Event()
            self._settled.clear()
            await self._settled.wait()
        self.requests += 1
        self.by_target[name] += 1
        if cost:
            self.reserved += cost
            self.tokens_by_target[name] += cost
            self._held[(name, id(send))] = cost
        return None

    def _refusal(self, target: Target | str, cost: int) -> tuple[str, bool] | None:
        """Why a request costing `cost` tokens may not go out now, and whether the requests in flight decide it
        (their answers may cost less than reserved), or None."""
        for ceiling, used in self._request_ceilings(target):
            if used + 1 > ceiling.limit:
                return f"{REFUSED} {ceiling.name} {ceiling.limit} reached; not sent ({used} requests sent)", False
        for ceiling, used in self._token_ceilings(target):
            if cost and used + cost > ceiling.limit:
                return (f"{REFUSED} {ceiling.name} {ceiling.limit} could be crossed; not sent (this request may cost "
                        f"about {cost} tokens; {used} spent or in flight)"), True
        return None

    def settle(self, target: str, send: Any, reported: int | None) -> None:
        """The answer to a request taken for `send` is back (or it failed): its reservation becomes what the answer
        reported (the estimate when it reports no usage)."""
        cost = self._held.pop((target, id(send)), None)
        if cost is None:
            return
        spent = cost if reported is None else reported
        self.unreported += reported is None
        self.reserved -= cost
        self.tokens += spent
        self.tokens_by_target[target] += spent - cost
        if self._settled is not None:
            self._settled.set()

    def _request_ceilings(self, target: Target | str) -> list[tuple[Ceiling, int]]:
        out = [(Ceiling("--max-requests", self.max_requests), self.requests)] if self.max_requests else []
        if isinstance(target, Target) and target.max_requests:
            out.append((Ceiling(f"max_requests of target {target.name!r}", target.max_requests),
                        self.by_target[target.name]))
        return out

    def _token_ceilings(self, target: Target | str) -> list[tuple[Ceiling, int]]:
        out = [(Ceiling("--max-tokens", self.max_tokens), self.tokens + self.reserved)] if self.max_tokens else []
        if isinstance(target, Target) and target.max_tokens:
            out.append((Ceiling(f"max_tokens of target {target.name!r}", target.max_tokens),
                        self.tokens_by_target[target.name]))
        return out

    def spent(self) -> dict[str, int]:
        """What the run spent live so far: requests (retries included) and tokens (an answer that reports no usage
        counted at its estimate: `unreported` of them)."""
        return {"requests": self.requests, "tokens": self.tokens, "unreported": self.unreported}


def budget_limits(budget: Budget, targets: list[Target]) -> str:
    """The ceilings a run honours, as the user set them ("--max-requests 50, max_tokens of target 'x' 9000")."""
    limits = [f"--max-requests {budget.max_requests}" if budget.max_requests else "",
              f"--max-tokens {budget.max_tokens}" if budget.max_tokens else ""]
    for t in targets:
        limits += [f"max_requests of target {t.name!r} {t.max_requests}" if t.max_requests else "",
                   f"max_tokens of target {t.name!r} {t.max_tokens}" if t.max_tokens else ""]
    return ", ".join(x for x in limits if x) or "none (--max-requests, --max-tokens)"
