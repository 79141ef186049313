"""First contact with a target: its first live requests show whether the run is set up right.

Until a request gets an answer that shows no configuration problem, the target's requests go out one at a time.
A configuration problem — nothing listens, the host does not resolve, the TLS handshake fails, a 401/403 to a
request sent with the target's own key, a 404 on /chat/completions for the target's own model — is confirmed by
sending the same request again (CONFIRMATIONS times). Confirmed, the target is broken: that request ends ERROR
and every later request to the target returns at once, not sent, with the same one line saying what is wrong
and what to try. Answers that say nothing about the configuration (the wrong-key probe's 401, a 404 on GET
/models or for another model) neither open nor break the gate; any other answer, even a 5xx or a reset, opens it.
Pure asyncio, no HTTP: the client reads each attempt into a Reading.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from conformance.model.targets import Target

CONFIRMATIONS = 2  # re-sends of a request that showed a configuration problem before the target counts as broken
CONFIRM_DELAY_S = 0.3  # a server that is just starting gets this long between them
CHAT_PATH = "/chat/completions"
MESSAGE_CHARS = 60  # of the server's own error message, quoted in the one line


@dataclass(frozen=True)
class Reading:
    """What one answer (or failure) says about the target's configuration."""

    problem: str | None = None  # what is wrong and what to try, in one line
    decisive: bool = True  # False: this answer says nothing either way


FINE = Reading()
UNSURE = Reading(decisive=False)


def _host_port(base_url: str) -> tuple[str, str]:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or base_url, str(port)


def connect_problem(target: Target, cause: str, detail: str) -> str:
    """The line for a connection that never opened: `cause` is refused, dns, tls, timeout or failed."""
    host, port = _host_port(target.base_url)
    where = f"{host}:{port}"
    if cause == "refused":
        return f"nothing listens on {where} (connection refused): start the server or check the base URL " \
               f"{target.base_url}"
    if cause == "dns":
        return f"the host {host} does not resolve ({detail}): check the base URL {target.base_url}"
    if cause == "tls":
        plain = target.base_url.replace("https://", "http://", 1)
        hint = f"the server speaks plain HTTP: try {plain}" if "WRONG_VERSION_NUMBER" in detail else \
            "check its certificate and the scheme (http/https) of the base URL"
        return f"TLS handshake with {where} failed ({detail}): {hint}"
    if cause == "timeout":
        return f"no connection to {where} within the connect timeout ({detail}): check the base URL and the network"
    return f"cannot connect to {where} ({detail}): check the base URL {target.base_url}"


def _message(body_text: str) -> str:
    """The server's error message, short (untrusted text: reports escape it)."""
    try:
        body: Any = json.loads(body_text)
    except ValueError:
        return ""
    error = body.get("error", body) if isinstance(body, dict) else None
    message = error.get("message") or error.get("detail") if isinstance(error, dict) else error
    text = " ".join(str(message).split()) if isinstance(message, str) else ""
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def read_answer(target: Target, auth: str, method: str, path: str, body: Any, status: int, body_text: str) -> Reading:
    """What an HTTP answer says about the configuration (a wrong key, a wrong base URL, a wrong model)."""
    said = _message(body_text)
    quoted = f" (the server says {said!r})" if said else ""
    if status in (401, 403):
        if auth != "target":  # the wrong-key probe's 401 is the answer it asks for
            return UNSURE
        if target.api_key_env:
            return Reading(f"{status} on every request: check {target.api_key_env}{quoted}")
        return Reading(f"{status} on every request: this target sends no key; name the variable that holds it "
                       f"(--api-key-env VAR, or api_key_env in targets.toml){quoted}")
    if status != 404:
        return FINE
    model = body.get("model") if isinstance(body, dict) else None
    own = {target.model, *target.models.values()}
    if method != "POST" or path != CHAT_PATH or auth != "target" or model not in own:
        return UNSURE  # GET /models may be missing, and another model may be unknown, on a server that works
    if "model" in body_text.lower() or (model and model in body_text):
        return Reading(f"404 for model {model!r} on every request: check the target's model (--model){quoted}")
    base = target.base_url.rstrip("/")
    if not urlsplit(base).path.endswith("/v1"):
        return Reading(f"404 on {CHAT_PATH}: did you mean {base}/v1?{quoted}")
    return Reading(f"404 on {base}{CHAT_PATH}: check the base URL (the part before {CHAT_PATH}){quoted}")


class FirstContact:
    """The first-contact gate of one target: open once a request showed the setup works, broken once a
    configuration problem was confirmed; until then its requests take turns, one at a time."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.opened = False
        self.broken: str | None = None  # the one line: what is wrong, what to try
        self._checking = False
        self._changed = asyncio.Condition()

    @property
    def settled(self) -> bool:
        return self.opened or self.broken is not None

    @property
    def misconfigured(self) -> str:
        """What the user reads about a broken target (every line that tells it starts so)."""
        return f"target {self.target.name!r} is misconfigured: {self.broken}"

    @property
    def not_sent(self) -> str:
        """The reason a request to a broken target was not sent."""
        return f"not sent: {self.misconfigured}"

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[bool]:
        """Wait while another request checks the target; yield whether this request checks it (first contact)."""
        if self.settled:
            yield False
            return
        async with self._changed:
            await self._changed.wait_for(lambda: self.settled or not self._checking)
            checking = not self.settled
            self._checking = checking
        try:
            yield checking
        finally:
            if checking:
                async with self._changed:
                    self._checking = False
                    self._changed.notify_all()

    def settle(self, reading: Reading, confirmed: bool) -> None:
        """What the first-contact request finally showed: a confirmed problem breaks the target, a fine answer
        opens it; anything else leaves the next request to check."""
        if reading.problem is not None and confirmed:
            self.broken = reading.problem
        elif reading.problem is None and reading.decisive:
            self.opened = True
