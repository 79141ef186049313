"""The probe model: one request (or a short conversation) plus what to look at in the answer.

Probes are data. They live in their feature group's module (`conformance/features/<group>.py`), beside that
group's detectors; `conformance/features/registry.py` assembles them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

DROP = "__drop__"  # a fragment value that removes the key from the baseline request

GROUPS = {
    "request": "parameters",
    "stream": "streaming",
    "tools": "tools",
    "json": "json",
    "conversation": "conversations",
    "errors": "errors",
    "chat": "basics",
    "models": "models",
    "sdk": "sdk",
}

# What kind of probe decides how a 2xx / 4xx answer is read (see classify.py).
KINDS = (
    "param",  # a parameter OpenAI accepts: 4xx = REJECTED, 2xx = the detector decides
    "invalid",  # a value OpenAI rejects: 4xx = REJECTED (as OpenAI), 2xx = IGNORED (accepted silently)
    "error",  # a client error OpenAI answers with a 4xx: 4xx = SUPPORTED, 2xx = IGNORED
)
CLIENTS = ("http", "openai-sdk")  # who sends the probe's requests
ROLES = (
    "support",  # decides the feature's support verdict
    "check",  # adds notes and conformance only (e.g. invalid values)
    "hint",  # tries a known alternative; its outcome is reported with the feature
)


@dataclass(frozen=True)
class Control:
    """A shared control request: sent once per target per run and reused by every probe naming it."""

    name: str
    request: dict[str, Any]
    stochastic: bool = False  # sent k times (the target's `samples`)
    why: str = ""


@dataclass(frozen=True)
class Probe:
    id: str  # stable test id suffix: target::<id>
    feature: str  # dotted feature id, e.g. request.max_tokens
    why: str  # one line the report shows: why it matters to a migrating team
    request: dict[str, Any] = field(default_factory=dict)  # merged over BASE_REQUEST
    detector: str = "accepted"  # a name in judge.detection.DETECTORS (registered by a features module)
    args: dict[str, Any] = field(default_factory=dict)  # detector arguments
    control: str | None = None  # a name in features.common.CONTROLS
    stochastic: bool = False  # the variant is sent k times
    kind: str = "param"
    role: str = "support"
    params: tuple[str, ...] = ()  # request fields this probe is about (to tell who a 4xx blames)
    derive: str | None = None  # a name in judge.detection.DERIVERS: builds part of the request from the control
    followup: str | None = None  # a name in judge.detection.FOLLOWUPS: builds a second turn from the first answer
    alternates: tuple[dict[str, Any], ...] = ()  # fragments sent once each (role alt-N), e.g. another seed
    raw_body: str | None = None  # send this text instead of JSON (malformed-body probes)
    auth: str = "target"  # target | bad (a wrong key)
    expect_status: int | None = None  # the status OpenAI answers (error probes)
    hint: str | None = None  # what to change when the target rejects or ignores this
    method: str = "POST"
    path: str = "/chat/completions"  # joined to the target's base URL
    client: str = "http"  # http (the suite's own requests) | openai-sdk (a scenario of run/sdk.py, named by args)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"probe {self.id}: kind {self.kind!r} not in {KINDS}")
        if self.role not in ROLES:
            raise ValueError(f"probe {self.id}: role {self.role!r} not in {ROLES}")
        if self.feature.split(".")[0] not in GROUPS:
            raise ValueError(f"probe {self.id}: feature {self.feature!r} must start with one of {list(GROUPS)}")
        if self.client not in CLIENTS:
            raise ValueError(f"probe {self.id}: client {self.client!r} not in {CLIENTS}")

    @property
    def group(self) -> str:
        return GROUPS[self.feature.split(".")[0]]

    @property
    def blamed_params(self) -> tuple[str, ...]:
        """Top-level fields whose 4xx counts as a rejection of this probe."""
        if self.params:
            return self.params
        return tuple(k for k, v in self.request.items() if v != DROP and k not in ("messages", "model"))


def merge(base: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `fragment` over `base` (dicts merge, other values replace, DROP removes)."""
    out = copy.deepcopy(base)
    for key, value in fragment.items():
        if value == DROP:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
