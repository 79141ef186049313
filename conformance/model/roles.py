"""The role of an observation in a probe: which request of the plan it answers (typed, so that no layer parses
another's text). `str(role)` is the text kept in results and reports ("variant-2", "alt-1", "turn-2",
"suspect:<name>@<role>"); `Role.parse` reads it back from a stored record."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Any


class RoleKind(str, Enum):
    VARIANT = "variant"  # the probe's own request
    CONTROL = "control"  # the same request without the probe's part, to compare with
    ALT = "alt"  # an alternate value of the probe's part (indexed: alt-1, alt-2…)
    REPEAT = "repeat"  # a 5xx re-sent once
    TURN = "turn"  # a later turn of the probe's conversation (indexed: turn-2)
    SHARED = "shared"  # a request sent once for several probes, before it is handed to its askers
    STREAM = "stream"  # the streamed call of an SDK scenario
    SDK = "sdk"  # an SDK scenario's request, in the estimate (indexed: sdk-1…)
    SUSPECT = "suspect"  # a failed request re-sent with one suspect part changed (root cause before blame)


INDEXED = frozenset({RoleKind.ALT, RoleKind.TURN, RoleKind.SDK})  # "-N" after these names which one, not a sample


@dataclass(frozen=True)
class Role:
    kind: RoleKind
    index: int | None = None  # which alternate, turn or SDK request (INDEXED kinds only)
    sample: int | None = None  # which of several answers to the same request
    suspect: str | None = None  # SUSPECT: the suspect's name (judge/root_cause.py)
    of: Role | None = None  # SUSPECT: the role of the failed request it re-sends

    def __str__(self) -> str:
        if self.kind is RoleKind.SUSPECT:
            return f"suspect:{self.suspect}" + (f"@{self.of}" if self.of is not None else "")
        text = self.kind.value
        if self.index is not None:
            text += f"-{self.index}"
        if self.sample is not None:
            text += f"-{self.sample}"
        return text

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):  # a role compared with text is a contract missed: compare Role values
            raise TypeError(f"role {self} compared with the text {other!r}: use Role values")
        if not isinstance(other, Role):
            return NotImplemented
        return (self.kind, self.index, self.sample, self.suspect, self.of) == (
            other.kind, other.index, other.sample, other.suspect, other.of)

    def __hash__(self) -> int:
        return hash((self.kind, self.index, self.sample, self.suspect, self.of))

    def sampled(self, n: int) -> Role:
        """The role of the n-th answer (1-based) to the request in this role."""
        return replace(self, sample=n)

    @property
    def request(self) -> Role:
        """The role of the request, whichever of its answers this is."""
        return replace(self, sample=None)

    @classmethod
    def parse(cls, text: str) -> Role:
        """The role a stored text names (the inverse of `str`); a ValueError for text no role writes."""
        if text.startswith("suspect:"):
            name, at, origin = text[len("suspect:"):].partition("@")
            return cls(RoleKind.SUSPECT, suspect=name, of=cls.parse(origin) if at else None)
        kind_text, *numbers = text.split("-")
        try:
            kind = RoleKind(kind_text)
            values = [int(n) for n in numbers]
        except ValueError:
            raise ValueError(f"not an observation role: {text!r}") from None
        index = values.pop(0) if kind in INDEXED and values else None
        if len(values) > 1:
            raise ValueError(f"not an observation role: {text!r}")
        return cls(kind, index, values[0] if values else None)


def kind_of(text: Any) -> RoleKind | None:
    """The kind of a role kept in a stored record (results.json), or None for text no role writes."""
    try:
        return Role.parse(str(text)).kind
    except ValueError:
        return None


VARIANT = Role(RoleKind.VARIANT)
CONTROL = Role(RoleKind.CONTROL)
REPEAT = Role(RoleKind.REPEAT)
STREAM = Role(RoleKind.STREAM)
SHARED = Role(RoleKind.SHARED)
TURN_2 = Role(RoleKind.TURN, 2)


def alt(index: int) -> Role:
    return Role(RoleKind.ALT, index)


def suspect(name: str, of: Role | None) -> Role:
    return Role(RoleKind.SUSPECT, suspect=name, of=of)
