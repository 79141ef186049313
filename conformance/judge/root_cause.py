"""Root cause before blame: which part of a failed request the server objects to, and whose feature owns it.

A refused or failed request is re-sent with one suspect part changed at a time to a known-good alternative (the
engine sends them: run/suspects.py). The suspects are data: each names the part, the alternative, the feature that
owns the part and how to change a request body. `root_cause` reads the re-sent answers (pure: observations in):

- the first suspect whose re-send works is the cause: the suite's own footprint (the answer cap it added) never
  counts, a request shape (null assistant content, the tool-call id format) is charged to the feature that owns it,
  and the probe is judged on the working answer;
- the request without the probe's own parameter still failing with a 5xx means the server fails whatever the
  parameter (on its own output): a server defect, never a rejection of the parameter.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.judge import answers
from conformance.model import roles
from conformance.model.findings import Finding
from conformance.model.observation import Observation
from conformance.model.probes import Probe
from conformance.model.roles import Role, RoleKind


def suspect_role(suspect: Suspect, failed: Observation) -> Role:
    """The role of the re-send of `failed` that changes `suspect` (it names both)."""
    return roles.suspect(suspect.name, failed.role)

FOOTPRINT, SHAPE, PARAMETER = "footprint", "shape", "parameter"
Change = Callable[[dict[str, Any], Probe], "dict[str, Any] | None"]  # the changed body, or None: not in this body


@dataclass(frozen=True)
class Suspect:
    """A part of a request a server may object to, and the known-good alternative to re-send it with."""

    name: str
    kind: str  # footprint (a field the suite added) | shape (a request shape OpenAI accepts) | parameter
    part: str  # what is suspected, as a cell's note says it
    alternative: str  # what it is changed to
    owner: str | None  # the feature charged when it is the cause (None: the suite's footprint, or the probe's own)
    change: Change
    fields: tuple[str, ...] = ()  # the request fields the part is about: a probe declaring one of them owns it too

    def owned_by(self, probe: Probe) -> bool:
        """Whether this part is the probe's own (its feature owns it, or the probe is about one of its fields)."""
        return self.kind == SHAPE and (self.owner == probe.feature or bool(set(self.fields) & set(probe.params)))


def _null_content_to_empty(body: dict[str, Any], probe: Probe) -> dict[str, Any] | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(
            isinstance(m, dict) and m.get("role") == "assistant" and "content" in m and m["content"] is None
            for m in messages):
        return None
    out = copy.deepcopy(body)
    for m in out["messages"]:
        if isinstance(m, dict) and m.get("role") == "assistant" and "content" in m and m["content"] is None:
            m["content"] = ""
    return out


NINE_ALNUM = re.compile(r"^[A-Za-z0-9]{9}$")


def _ids_to_nine_alnum(body: dict[str, Any], probe: Probe) -> dict[str, Any] | None:
    """Every tool-call id of the history mapped to 9 letters or digits (the format every target accepts)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    ids = [c.get("id") for m in messages if isinstance(m, dict) for c in m.get("tool_calls") or []
           if isinstance(c, dict)] + [m.get("tool_call_id") for m in messages if isinstance(m, dict)
                                      and m.get("role") == "tool"]
    odd = sorted({i for i in ids if isinstance(i, str) and not NINE_ALNUM.match(i)})
    if not odd:
        return None
    mapping = {old: f"Cid{n:06d}" for n, old in enumerate(odd)}
    out = copy.deepcopy(body)
    for m in out["messages"]:
        if not isinstance(m, dict):
            continue
        for call in m.get("tool_calls") or []:
            if isinstance(call, dict) and call.get("id") in mapping:
                call["id"] = mapping[call["id"]]
        if m.get("tool_call_id") in mapping:
            m["tool_call_id"] = mapping[m["tool_call_id"]]
    return out


def _answer_cap_removed(body: dict[str, Any], probe: Probe) -> dict[str, Any] | None:
    """The answer cap the suite adds to probes whose answer is never read (run/engine.request_of)."""
    if "max_tokens" not in body or "max_tokens" in probe.request:
        return None
    return {k: v for k, v in body.items() if k != "max_tokens"}


def _parameter_removed(body: dict[str, Any], probe: Probe) -> dict[str, Any] | None:
    own = [p for p in probe.blamed_params if p in body and p not in ("messages", "model")]
    if not own:
        return None
    return {k: v for k, v in body.items() if k not in own}


SUSPECTS: tuple[Suspect, ...] = (
    Suspect("answer_cap", FOOTPRINT, "the suite's answer cap (max_tokens)", "without it", None, _answer_cap_removed),
    Suspect("assistant_null_content", SHAPE, "assistant content null (OpenAI's shape for a tool-call turn)",
            'content ""', "conversation.assistant_null_content", _null_content_to_empty, ("content",)),
    Suspect("tool_call_id_format", SHAPE, "the tool-call id format (not 9 letters or digits)",
            "9-alphanumeric ids", "conversation.tool_call_id", _ids_to_nine_alnum, ("tool_call_id", "id")),
    Suspect("parameter", PARAMETER, "the probe's own parameter", "without it", None, _parameter_removed),
)
BY_NAME = {s.name: s for s in SUSPECTS}


def resendable(probe: Probe, failed: Observation) -> bool:
    """Whether a failure is worth re-sending with suspects: a 5xx (not 503) to a JSON request of the suite's own,
    or a 4xx to a parameter probe (only the request shapes are then re-sent: null content, the id format)."""
    if probe.raw_body is not None or probe.method != "POST" or probe.client != "http" or failed.status is None:
        return False
    if failed.status >= 500:
        return failed.status != 503 and not failed.error
    return failed.status >= 400 and probe.kind == "param"  # a shape it carries may be what is refused


def possible_suspects(probe: Probe, body: Any) -> list[Suspect]:
    """The suspects a failure of this request could re-send (whatever the failure): what the plan counts."""
    if not isinstance(body, dict) or probe.raw_body is not None or probe.method != "POST" or probe.client != "http":
        return []
    return [s for s in SUSPECTS if s.change(body, probe) is not None]


def suspects_for(probe: Probe, body: Any, failed: Observation) -> list[tuple[Suspect, dict[str, Any]]]:
    """Each suspect present in this failed request, with the body that changes only it (footprint first, then
    shapes, then the parameter). A 4xx gets only the shapes: the cap and the parameter are judged as they are."""
    if not isinstance(body, dict) or not resendable(probe, failed):
        return []
    assert failed.status is not None
    kinds = (FOOTPRINT, SHAPE, PARAMETER) if failed.status >= 500 else (SHAPE,)
    out = []
    for suspect in SUSPECTS:
        changed = suspect.change(body, probe) if suspect.kind in kinds else None
        if changed is not None:
            out.append((suspect, changed))
    return out


@dataclass
class RootCause:
    """What the re-sends showed: the suspect to blame and the working answer (cause), or a server defect."""

    suspect: Suspect | None  # None: a server defect (the request fails without the parameter too)
    failed: Observation
    answer: Observation  # the working re-send (cause), or the re-send that still failed (server defect)

    @property
    def defect(self) -> bool:
        return self.suspect is None

    def note(self, judged: bool = True) -> str:
        """One line: what was refused, and the alternative that works (`judged`: the probe is judged on it)."""
        reading = _message(self.failed)
        if self.suspect is None:
            return (f"HTTP {self.failed.status} without the probe's own parameter too (HTTP {self.answer.status}): "
                    f"the server fails on this request whatever the parameter, a server defect not charged to "
                    f"it: {reading}")
        owner = f" ({self.suspect.owner})" if self.suspect.owner else ""
        return (f"refused because of {self.suspect.part}{owner}: HTTP {self.failed.status} ({reading}); with "
                f"{self.suspect.alternative} it works (HTTP {self.answer.status})"
                + (": judged on that answer" if judged else ""))

    def finding(self) -> Finding | None:
        """The finding it is: a shape refused (charged to the owner's rule), a server defect; the footprint none."""
        if self.suspect is None:
            return Finding("response", "", "server.defect", "compat",
                           f"HTTP {self.failed.status} on this request with and without the probe's parameter: the "
                           f"server fails on it whatever is sent (its own output): {_message(self.failed)}",
                           "an answer", self.failed.status)
        if self.suspect.kind != SHAPE or self.failed.status is None or self.failed.status < 500:
            return None  # the footprint is never a finding; a 4xx refusal is the owner's REJECTED, not a finding
        return Finding("request", "", f"{self.suspect.owner}", "compat",
                       f"{self.suspect.part} refused with HTTP {self.failed.status} where OpenAI accepts it; with "
                       f"{self.suspect.alternative} it works", self.suspect.alternative, self.failed.status)

    def measurements(self) -> dict[str, Any]:
        return {"root_cause": {"suspect": self.suspect.name if self.suspect else "server_defect",
                               "part": self.suspect.part if self.suspect else None,
                               "owner": self.suspect.owner if self.suspect else None,
                               "failed_status": self.failed.status, "resent_status": self.answer.status}}


def _message(obs: Observation) -> str:
    from conformance.judge.error_body import read_error

    return read_error(obs.body_text).message[:200]


def suspect_answers(observations: list[Observation]) -> dict[Role, list[tuple[Suspect, Observation]]]:
    """The re-sent answers among a probe's observations (those really sent), with their suspects, by the role of
    the observation they re-send (the variant, a second turn)."""
    out: dict[Role, list[tuple[Suspect, Observation]]] = {}
    for obs in observations:
        role = obs.role
        suspect = BY_NAME.get(role.suspect or "") if role.kind is RoleKind.SUSPECT else None
        if suspect is not None and role.of is not None and (obs.status is not None or obs.error):
            out.setdefault(role.of, []).append((suspect, obs))
    return out


def _works(failed: Observation, resent: Observation) -> bool:
    """The re-send gets past the failure: a valid answer, or (after a 5xx) a client error to judge."""
    if resent.status is None or resent.error:
        return False
    if failed.status is not None and failed.status >= 500 and 400 <= resent.status < 500:
        return True
    return answers.invalid_answer(resent) is None


def root_cause(failed: Observation, resent: list[tuple[Suspect, Observation]]) -> RootCause | None:
    """The cause the re-sends show, or None (the parameter itself, or nothing could be told)."""
    for suspect, obs in resent:
        if suspect.kind != PARAMETER and _works(failed, obs):
            return RootCause(suspect, failed, obs)
    for suspect, obs in resent:
        if suspect.kind == PARAMETER and obs.status is not None and obs.status >= 500 and obs.status != 503 \
                and failed.status is not None and failed.status >= 500:
            return RootCause(None, failed, obs)
    return None
