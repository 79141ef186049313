"""One finding, one owner: which feature a schema or stream-rule finding is charged to.

A finding present on every response (a missing `refusal`, a stream without `[DONE]`) is the finding of the
feature that owns the rule: `chat.completion` for the response envelope, `request.stream` for the chunk
envelope and the generic stream rules, `stream.done_sentinel`, `stream.usage_chunk`, `stream.tool_call_deltas`
for theirs, `errors.invalid_value` for the shape of error bodies. Every other feature keeps only the findings
about what it added (its parameter's part of the answer) and lists the rest as "also seen (see <owner>)".
"""

from __future__ import annotations

import re

from conformance.model.findings import Finding

RESPONSE_OWNER = "chat.completion"
STREAM_OWNER = "request.stream"
ERROR_BODY_OWNER = "errors.invalid_value"

STREAM_RULE_OWNERS = {
    "stream.done_sentinel": "stream.done_sentinel",
    "stream.usage_placement": "stream.usage_chunk",
    "stream.usage_unrequested": "stream.usage_chunk",
    "stream.tool_call_index": "stream.tool_call_deltas",
    "stream.tool_call_first_fragment": "stream.tool_call_deltas",
    "stream.tool_call_arguments_json": "stream.tool_call_deltas",
}

# The envelope every answer has whatever was sent: its findings belong to the response-shape feature.
_RESPONSE_ENVELOPE = re.compile(
    r"^(/(id|object|created|model|system_fingerprint|service_tier|usage)(/.*)?"
    r"|/choices(/\d+(/(index|finish_reason|logprobs|stop_reason"
    r"|(message|delta)(/(role|content|refusal|annotations|audio|function_call|reasoning|reasoning_content))?))?)?"
    r"|/[^/]+)?$")
_CHUNK_PREFIX = re.compile(r"^/chunks/\d+")


# Rules about one part of the answer that several features' probes see: charged to the feature of that part.
RESPONSE_RULE_OWNERS = {"tools.finish_reason": "request.tools", "tools.distinct_ids": "tools.parallel_calls",
                        "tools.call_as_text": "request.tools"}
_LOGPROBS_PART = re.compile(r"^(/chunks/\d+)?/choices/\d+/logprobs/")
DETECTOR_RULES = ("tools.", "reasoning.", "sdk.")  # findings a feature's detector emits about the part it added
# Every feature `owner_of` may name (the engine runs their probes when a finding needs them; see run/engine).
OWNERS = frozenset({RESPONSE_OWNER, STREAM_OWNER, ERROR_BODY_OWNER, "request.logprobs", "stream.n_interleave",
                    *STREAM_RULE_OWNERS.values(), *RESPONSE_RULE_OWNERS.values()})


def owner_of(finding: Finding) -> str | None:
    """The feature that owns this finding's rule, or None when it stays with the probe that saw it."""
    if finding.rule in STREAM_RULE_OWNERS:
        return STREAM_RULE_OWNERS[finding.rule]
    if finding.rule in RESPONSE_RULE_OWNERS:
        return RESPONSE_RULE_OWNERS[finding.rule]
    if finding.rule == "stream.finish_reason_once":
        # choice 0's finish is every stream's; a later choice's exists only when n > 1 is streamed
        return "stream.n_interleave" if finding.choice else STREAM_OWNER
    if _LOGPROBS_PART.match(finding.pointer):
        return "request.logprobs"
    if finding.rule.startswith("stream."):
        return STREAM_OWNER
    if finding.part == "stream":
        return STREAM_OWNER if _RESPONSE_ENVELOPE.match(_CHUNK_PREFIX.sub("", finding.pointer)) else None
    if finding.part == "response" and finding.rule.startswith(DETECTOR_RULES):
        return None  # rules a detector checks (tool calls, reasoning chunks) are the probes' own
    if finding.part == "response" and _RESPONSE_ENVELOPE.match(finding.pointer):
        return RESPONSE_OWNER
    return None


def split_findings(feature: str, findings: list[Finding]) -> tuple[list[Finding], dict[str, list[Finding]]]:
    """(the findings charged to `feature`, the others by owning feature)."""
    own: list[Finding] = []
    others: dict[str, list[Finding]] = {}
    for f in findings:
        owner = owner_of(f)
        if owner is None or owner == feature:
            own.append(f)
        else:
            others.setdefault(owner, []).append(f)
    return own, others


def also_seen_head(owner: str) -> str:
    """How the note naming what a probe also saw for `owner` begins (run/results.py drops it once charged back)."""
    return f"also seen (see {owner})"


def also_seen_notes(others: dict[str, list[Finding]]) -> list[str]:
    """One note per owning feature: what was also seen in this probe's answers, and where it is charged."""
    notes = []
    for owner, found in sorted(others.items()):
        rules = sorted({f"{f.rule} at {f.pointer or '/'}" for f in found})
        more = f" (+{len(rules) - 3} more)" if len(rules) > 3 else ""
        notes.append(f"{also_seen_head(owner)}: {'; '.join(rules[:3])}{more}")
    return notes
