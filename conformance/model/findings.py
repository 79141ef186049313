"""Findings: what a schema or a stream rule says about one value in the traffic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# A "compat" finding breaks what clients rely on (a MUST: conformance FAILED);
# a "strict" finding breaks only the spec as written (a SHOULD: NON_STRICT).
LEVELS = ("compat", "strict")
PARTS = ("request", "response", "stream")


@dataclass(frozen=True)
class Finding:
    part: str  # request | response | stream
    pointer: str  # JSON pointer of the offending value ("" = whole document)
    rule: str  # schema keyword ("required", "enum", "type"…) or stream rule id
    level: str  # compat | strict: the lowest level at which this finding fails
    message: str
    expected: Any = None
    actual: Any = None
    choice: int | None = field(default=None, compare=False)  # a rule about one choice: which (judge/ownership)

    def to_dict(self) -> dict[str, Any]:
        """The stored form (the choice has placed the finding by then: judge/ownership, before it is stored)."""
        out = asdict(self)
        del out["choice"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**{k: data.get(k) for k in ("part", "pointer", "rule", "level", "message", "expected", "actual")})

    def fails_at(self, level: str) -> bool:
        """True when this finding fails a check run at `level` (strict sees everything)."""
        return level == "strict" or self.level == "compat"


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """Drop repeated findings (same part, pointer, rule and message), keeping the first order."""
    seen: set[tuple[str, str, str, str, str]] = set()
    out: list[Finding] = []
    for f in findings:
        key = (f.part, f.pointer, f.rule, f.level, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
