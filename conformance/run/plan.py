"""One plan per probe: every request a probe may send, built once as data.

The engine executes a `ProbePlan` (run/engine.py) and the pre-run estimate counts the same plans (`estimate`),
every possible re-send included, so the estimate is an upper bound by construction. A plan holds the control,
the variant (with its sample count) and its alternates, the same without the suite's answer cap (sent only when a
client error names the cap), the re-send of a 5xx with its witness control, the follow-up turn, a request built
from the control's answer, and an SDK scenario's requests.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from conformance.features.registry import BASE_REQUEST, CONTROLS, PROBES
from conformance.judge.root_cause import SUSPECTS, Suspect, possible_suspects
from conformance.model import roles
from conformance.model.probes import Control, Probe, merge
from conformance.model.roles import CONTROL, REPEAT, TURN_2, VARIANT, Role, RoleKind
from conformance.model.targets import Target
from conformance.wire.budget import DEFAULT_ANSWER_TOKENS, LIMIT_FIELDS, answer_allowance, request_tokens

CHAT_PATH = "/chat/completions"
WITNESS_CONTROL = "plain_t0"  # the healthy request a 5xx is compared with when the probe has no control
# A probe whose answer's content is never read (an invalid value or a client error: a 2xx is IGNORED whatever it
# says) asks for a short answer, so a server that runs to its length limit costs little.
ANSWER_CAP = 16
SDK_REQUESTS = 2  # an SDK scenario sends at most two requests (a plain answer then a stream; a tool round trip)
# Room for what a request built from an answer adds: a tool result, logit_bias entries, the answer's text.
DERIVED_TOKENS = 200


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


def request_of(probe: Probe) -> dict[str, Any]:
    """The probe's request fragment, with the answer cap when its answer's content is never judged."""
    unread = probe.kind in ("invalid", "error") and probe.client == "http" and probe.raw_body is None
    if unread and probe.method == "POST" and not any(k in probe.request for k in LIMIT_FIELDS):
        return {"max_tokens": ANSWER_CAP, **probe.request}
    return dict(probe.request)


def request_key(method: str, path: str, body: Any, count: int) -> str:
    """Two sends with the same key are the same request (sent `count` times)."""
    return json.dumps([method, path, body, count], sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class PlannedRequest:
    """One request of a plan, sent `count` times. `shareable`: handed to every probe that sends it alike (a
    control always is); `cassette`: the cassette name it is kept in when no other probe sends it."""

    role: Role
    method: str
    path: str
    body: Any
    cassette: str
    count: int = 1
    auth: str = "target"
    shareable: bool = False

    @property
    def key(self) -> str:
        return request_key(self.method, self.path, self.body, self.count)

    def tokens(self) -> int:
        """An upper-ish bound on the tokens of its `count` sends (wire/budget.request_tokens)."""
        return self.count * request_tokens(self.body)


@dataclass(frozen=True)
class Shape:
    """The variant and its alternates, built from one request fragment."""

    fragment: dict[str, Any]
    variant: PlannedRequest
    alternates: tuple[PlannedRequest, ...] = ()

    def requests(self) -> tuple[PlannedRequest, ...]:
        return (self.variant, *self.alternates)


@dataclass(frozen=True)
class ProbePlan:
    """Every request one probe may send to one target, and when each re-send happens."""

    target: Target
    probe: Probe  # as judged (a GET probe learns the model it should be served)
    control: PlannedRequest | None = None
    shape: Shape | None = None  # None for an SDK scenario
    uncapped: Shape | None = None  # re-sent when a client error names the answer cap the suite added
    repeat_on_5xx: bool = False  # a 5xx is re-sent once: a reproducible 5xx is the target's answer
    witness: PlannedRequest | None = None  # sent beside that repeat when the probe has no control of its own
    followup: str | None = None  # a second turn built from the first answer (judge/detection.FOLLOWUPS)
    derive: str | None = None  # part of the variant built from the control's answer (judge/detection.DERIVERS)
    sdk: str | None = None  # an SDK scenario (run/sdk.py): its requests are the SDK's

    def with_fragment(self, fragment: dict[str, Any]) -> ProbePlan:
        """The same plan with the variant (and alternates) built from another fragment (a derived request)."""
        return dataclasses.replace(self, shape=_shape(self.probe, self.target, fragment))

    def _suspects(self) -> list[Suspect]:
        """The suspects a failed variant may be re-sent for: those present in a body it may send (all of them when
        part of the body is built from an answer)."""
        if self.derive:
            return list(SUSPECTS)
        bodies = [s.variant.body for s in (self.shape, self.uncapped) if s is not None]
        return [s for s in SUSPECTS if any(s in possible_suspects(self.probe, b) for b in bodies)]

    def possible_sends(self) -> Iterator[PossibleSend]:
        """Every request this plan may send, with an upper-ish bound on its tokens (for the estimate)."""
        if self.control is not None:
            yield PossibleSend(self.control, self.control.tokens())
        if self.sdk is not None:
            body = build_body({}, self.target, self.probe.feature)
            allowance = request_tokens(body) + 2 * DERIVED_TOKENS  # its tools; a second turn carries the first answer
            for i in range(SDK_REQUESTS):
                request = PlannedRequest(Role(RoleKind.SDK, i + 1), "POST", CHAT_PATH, body, self.probe.id)
                yield PossibleSend(request, allowance * (i + 1), conditional=i > 0)
            repeat = PlannedRequest(REPEAT, "POST", CHAT_PATH, body, self.probe.id)  # a 5xx re-sent (run/sdk.py)
            yield PossibleSend(repeat, allowance * SDK_REQUESTS, conditional=True)
            if self.witness is not None:
                yield PossibleSend(self.witness, self.witness.tokens(), conditional=True)
            return
        assert self.shape is not None
        extra = DERIVED_TOKENS if self.derive else 0
        for req in self.shape.requests():
            yield PossibleSend(req, req.tokens() + extra * req.count)
        for req in self.uncapped.requests() if self.uncapped else ():
            yield PossibleSend(req, req.tokens(), conditional=True)
        worst = max((s.variant for s in (self.shape, self.uncapped) if s is not None),
                    key=lambda r: request_tokens(r.body))
        if self.repeat_on_5xx:
            yield PossibleSend(dataclasses.replace(worst, role=REPEAT, count=1, shareable=False),
                               request_tokens(worst.body) + extra, conditional=True)
            if self.witness is not None:
                yield PossibleSend(self.witness, self.witness.tokens(), conditional=True)
        for suspect in self._suspects():  # root cause before blame: a failed variant re-sent with one part changed
            yield PossibleSend(dataclasses.replace(worst, role=roles.suspect(suspect.name, None),
                                                   count=1, shareable=False),
                               request_tokens(worst.body) + extra, conditional=True)
        if self.followup is not None:  # the first turn, its answer and the tool result, then the answer to that
            turn = dataclasses.replace(worst, role=TURN_2, count=1, shareable=False)
            turn_tokens = (request_tokens(worst.body) + extra + answer_allowance(worst.body) + DERIVED_TOKENS
                           + DEFAULT_ANSWER_TOKENS)
            yield PossibleSend(turn, turn_tokens)
            for suspect in SUSPECTS:  # the same for a failed second turn (built from an answer: any part may be in it)
                yield PossibleSend(dataclasses.replace(turn, role=roles.suspect(suspect.name, TURN_2)), turn_tokens,
                                   conditional=True)


@dataclass(frozen=True)
class PossibleSend:
    """A request a plan may send, the tokens it may cost, and whether only some answers call for it (a re-send)."""

    request: PlannedRequest
    tokens: int
    conditional: bool = False


def control_request(control: Control, target: Target, feature: str) -> PlannedRequest:
    """A control's request (one per target and model: the probe's feature may use another model)."""
    model = target.model_for(feature)
    name = control.name if model == target.model else f"{control.name}@{model}"
    return PlannedRequest(CONTROL, "POST", CHAT_PATH, build_body(control.request, target, feature),
                          f"_controls/{name}", target.samples if control.stochastic else 1, shareable=True)


def _shareable(probe: Probe) -> bool:
    """A request built from the probe's data alone (not from a control's answer, not raw, with the target's key),
    whose answer starts no conversation of the probe's own (a follow-up is built from it)."""
    return (probe.client == "http" and probe.raw_body is None and probe.method == "POST" and probe.derive is None
            and probe.auth == "target" and probe.followup is None)


def _shape(probe: Probe, target: Target, fragment: dict[str, Any]) -> Shape:
    body: Any = probe.raw_body if probe.raw_body is not None else build_body(fragment, target, probe.feature)
    if probe.method == "GET":  # no body
        body = None
    shareable = _shareable(probe) and body is not None
    count = target.samples if probe.stochastic else 1
    variant = PlannedRequest(VARIANT, probe.method, probe.path, body, probe.id, count, probe.auth, shareable)
    alternates = tuple(
        PlannedRequest(roles.alt(i + 1), probe.method, probe.path, build_body(merge(fragment, alt), target,
                                                                              probe.feature),
                       probe.id, 1, probe.auth, shareable)
        for i, alt in enumerate(probe.alternates))
    return Shape(fragment, variant, alternates)


def plan_probe(probe: Probe, target: Target) -> ProbePlan:
    """The plan of one probe on one target."""
    control = control_request(CONTROLS[probe.control], target, probe.feature) if probe.control else None
    if probe.method == "GET":  # the detector is told which model this target should serve
        probe = dataclasses.replace(probe, args={**probe.args, "model": target.model_for(probe.feature)})
    witness = None if control else control_request(CONTROLS[WITNESS_CONTROL], target, probe.feature)
    if probe.client == "openai-sdk":
        return ProbePlan(target, probe, control, witness=witness, derive=probe.derive,
                         sdk=str(probe.args.get("scenario")))
    fragment = request_of(probe)
    capped = "max_tokens" in fragment and "max_tokens" not in probe.request
    # Our answer cap, not the probe's value, may be refused (OpenAI's reasoning models want max_completion_tokens):
    # then the probe is re-sent without it, and its alternates are built from what the variant is judged on.
    uncapped = _shape(probe, target, dict(probe.request)) if capped else None
    return ProbePlan(target, probe, control, _shape(probe, target, fragment), uncapped, repeat_on_5xx=True,
                     witness=witness, followup=probe.followup, derive=probe.derive)


def shared_requests(target: Target, probes: Iterable[Probe] | None = None) -> dict[str, str]:
    """The requests sent once per target and handed to every probe that sends them alike, by key: each control,
    and a request several probes send identically (from the whole registry, so the cassette of a shared request
    does not depend on which probes a run selects). Value: its cassette name (`_controls/<control>`, else
    `_shared/<the first probe that sends it>`). `probes`: another registry (truth/add_probe: the one before a
    probe was added)."""
    senders: dict[str, list[str]] = {}
    for probe in PROBES if probes is None else probes:
        plan = plan_probe(probe, target)
        sends = [plan.control] if plan.control else []
        if plan.shape is not None and plan.shape.variant.shareable:
            sends += [plan.shape.variant, *plan.shape.alternates]
        for req in sends:
            name = req.cassette if req.role in (CONTROL, VARIANT) else f"{req.cassette}.{req.role}"
            names = senders.setdefault(req.key, [])
            if name not in names:
                names.append(name)
    out = {}
    for key, names in senders.items():
        controls = [n for n in names if n.startswith("_controls/")]
        if controls or len(names) > 1:
            out[key] = controls[0] if controls else f"_shared/{names[0]}"
    return out


@dataclass(frozen=True)
class Estimate:
    """At most `requests` requests and `tokens` tokens, every re-send counted (retries of a 429/503 or of a dropped
    connection are not: each still counts against the request ceilings); `planned` requests unless an answer calls
    for more (a re-send, a second turn) or fewer (a sampled request stops when two samples differ)."""

    requests: int = 0
    tokens: int = 0
    planned: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "tokens": self.tokens, "planned": self.planned}


def estimate(plans: Iterable[ProbePlan], optional: Iterable[ProbePlan] = ()) -> Estimate:
    """What the plans may send at most: a shared request (a control, a request several probes send alike) once
    per target, every other request each time a plan may send it. `optional` plans are sent only when an answer
    calls for them (they count in the upper bound, not in `planned`)."""
    requests = tokens = planned = 0
    tables: dict[str, dict[str, str]] = {}
    counted: set[tuple[str, str]] = set()  # shared requests counted in the upper bound, and in `planned`
    counted_planned: set[tuple[str, str]] = set()
    for plan, maybe in [*((p, False) for p in plans), *((p, True) for p in optional)]:
        table = tables.setdefault(plan.target.name, shared_requests(plan.target))
        own_control = plan.control.key if plan.control else None
        for send in plan.possible_sends():
            req, surely = send.request, not (send.conditional or maybe)
            shared = req.shareable and req.key in table and (req.role == CONTROL or req.key != own_control)
            once = (plan.target.name, req.key)
            if not shared or once not in counted:
                requests += req.count
                tokens += send.tokens
            if surely and (not shared or once not in counted_planned):
                planned += req.count
            if shared:
                counted.add(once)
                if surely:
                    counted_planned.add(once)
    return Estimate(requests, tokens, planned)
