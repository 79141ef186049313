"""The exchange that decided a cell: the request value, the status and the server's own message.

A cell's verdict comes from one probe and, inside it, from one answer: the 4xx that rejected the value, the
stream chunk that broke a MUST, the 2xx that showed no effect against its control. Reviewers believe a row of the
migration plan only when it quotes that answer, never a note about another variant ("outputs never vary" next to a
422 on temperature 2.0). The judge records the deciding exchange's role as `measurements.decisive` where it makes the
verdict; for records without it, the same rule is applied here (the first non-control answer with the status the
verdict names).
"""

from __future__ import annotations

from typing import Any

from conformance.model.roles import RoleKind, kind_of
from conformance.model.verdicts import Conformance, Status, Support

_SUPPORT_HARM = {s.value: harm for harm, s in enumerate(
    (Support.REJECTED, Support.IGNORED, Support.PARTIAL, Support.UNVERIFIABLE, Support.SUPPORTED))}
# Request fields every probe sends: never "the value" of a probe.
_FRAME = {"model", "messages"}
MESSAGE_LIMIT = 300
VARIANTS_NOTE = "variants differ: "  # run/results.aggregate_feature's note on a mixed cell
INVALID_CHECK_NOTE = "rejects the invalid value"  # judge/classify's note on a check probe OpenAI rejects too


def server_message(body: Any) -> str:
    """The server's own error text from a body of any common shape (OpenAI, flat, FastAPI/pydantic detail), on one
    line."""
    return " ".join(_server_message(body).split())[:MESSAGE_LIMIT]


def _server_message(body: Any) -> str:
    if isinstance(body, str):
        return body.strip()[:MESSAGE_LIMIT]
    if not isinstance(body, dict):
        return ""
    err = body.get("error", body)
    if isinstance(err, str):
        return err[:MESSAGE_LIMIT]
    if not isinstance(err, dict):
        return ""
    msg = err.get("message", err.get("detail"))
    if isinstance(msg, dict):
        msg = msg.get("detail", msg)
    if isinstance(msg, list) and msg and isinstance(msg[0], dict):
        first = msg[0]
        loc = ".".join(str(p) for p in first.get("loc") or [] if p != "body")
        text = str(first.get("msg") or first)
        return (f"{loc}: {text}" if loc else text)[:MESSAGE_LIMIT]
    return str(msg if msg is not None else "")[:MESSAGE_LIMIT]


def decisive_record(res: dict[str, Any]) -> dict[str, Any] | None:
    """The probe record behind a cell's verdict: the first FAILED one when the cell failed conformance, else the first
    with the cell's support (for PARTIAL: the worst variant), else the first."""
    records = [r for r in res.get("evidence") or [] if isinstance(r, dict)]
    if not records:
        return None
    if res.get("status") not in (None, Status.OK.value):
        return next((r for r in records if r.get("status") == res.get("status")), records[0])
    if res.get("conformance") == Conformance.FAILED.value:
        return next((r for r in records if r.get("conformance") == Conformance.FAILED.value), records[0])
    support = res.get("support")
    named = _support_probes(res)  # a PARTIAL cell names the variants it was made of; checks are not among them
    candidates = [r for r in records if r.get("probe") in named] or [r for r in records if not _is_check(r)] or records
    if support == Support.PARTIAL.value:
        return min(candidates, key=lambda r: _SUPPORT_HARM.get(r.get("support") or "", 5))
    return next((r for r in candidates if r.get("support") == support), candidates[0])


def _support_probes(res: dict[str, Any]) -> set[str]:
    """The probes a mixed cell names in its "variants differ: probe: WORD, …" note."""
    for note in res.get("notes") or []:
        if str(note).startswith(VARIANTS_NOTE):
            return {part.rsplit(":", 1)[0].strip() for part in str(note)[len(VARIANTS_NOTE):].split(", ")}
    return set()


def _is_check(record: dict[str, Any]) -> bool:
    """An invalid-value check (OpenAI rejects the value too): its rejection never explains the cell."""
    return str((record.get("notes") or [""])[0]).startswith(INVALID_CHECK_NOTE)


def is_control(x: dict[str, Any]) -> bool:
    """A stored exchange that answered a control (any of its samples)."""
    return kind_of(x.get("role")) is RoleKind.CONTROL


def _status(x: dict[str, Any]) -> int | None:
    status = (x.get("response") or {}).get("status")
    return status if isinstance(status, int) else None


def decisive_exchange(record: dict[str, Any]) -> dict[str, Any] | None:
    """The exchange of a probe record that decided its verdict (see the module docstring)."""
    exchanges = [x for x in record.get("exchanges") or [] if isinstance(x, dict)]
    if not exchanges:
        return None
    role = (record.get("measurements") or {}).get("decisive")
    if role:
        found = next((x for x in exchanges if x.get("role") == role), None)
        if found is not None:
            return found
    asked = [x for x in exchanges if not is_control(x)] or exchanges
    if record.get("support") == Support.REJECTED.value or record.get("status") == Status.ERROR.value:
        failed = [x for x in asked if (_status(x) or 0) >= 400 or (x.get("response") or {}).get("error")]
        if failed:
            return failed[0]
    if record.get("conformance") == Conformance.FAILED.value:
        part = next((f.get("part") for f in record.get("findings") or [] if f.get("level") == "compat"), None)
        if part == "stream":
            streamed = [x for x in asked if (x.get("response") or {}).get("sse")]
            if streamed:
                return streamed[0]
    return asked[0]


def _changed_fields(body: Any, control: Any) -> dict[str, Any]:
    """The top-level request fields that make this request differ from its control (or from a bare request)."""
    if not isinstance(body, dict):
        return {}
    base = control if isinstance(control, dict) else {}
    return {k: v for k, v in body.items() if k not in _FRAME and (k not in base or base[k] != v)}


def _compact(value: Any, limit: int = 60) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[:limit] + "…"


def decisive_evidence(res: dict[str, Any] | None) -> dict[str, Any] | None:
    """What decided a cell, as data: {probe, role, sent (the fields that differ from the control, as text), status,
    message (the server's own words), finding ("pointer: message" of the MUST that broke), note, exchange}."""
    if not res:
        return None
    record = decisive_record(res)
    if record is None:
        return {"probe": None, "role": None, "sent": "", "status": None, "message": "", "finding": "",
                "note": str((res.get("notes") or [""])[0]), "exchange": None}
    x = decisive_exchange(record)
    exchanges = record.get("exchanges") or []
    control = next((c for c in exchanges if isinstance(c, dict) and is_control(c)), None)
    body = ((x or {}).get("request") or {}).get("body")
    fields = _changed_fields(body, ((control or {}).get("request") or {}).get("body") if control else None)
    resp = (x or {}).get("response") or {}
    status = _status(x or {})
    message = server_message(resp.get("body")) if status is not None and status >= 400 else ""
    if resp.get("error"):
        message = str(resp["error"])[:MESSAGE_LIMIT]
    finding = next((f for f in record.get("findings") or [] if f.get("level") == "compat"), None)
    if finding is None:
        charged = (record.get("measurements") or {}).get("charged_back") or []
        finding = next((f for f in charged if isinstance(f, dict) and f.get("level") == "compat"), None)
    note = next((str(n) for n in record.get("notes") or [] if not str(n).startswith("also seen")), "")
    return {
        "probe": record.get("probe"),
        "role": (x or {}).get("role"),
        "sent": ", ".join(f"{k}={_compact(v)}" for k, v in fields.items()),
        "status": status,
        "message": message,
        "finding": f"{finding.get('part', '')}{finding.get('pointer') or '/'}: {finding.get('message')}"[:400]
        if finding and res.get("conformance") == Conformance.FAILED.value else "",
        "note": note[:MESSAGE_LIMIT],
        "exchange": x,
    }


def evidence_line(ev: dict[str, Any] | None) -> str:
    """One line for terminals and Markdown: `probe: sent → HTTP status "message"` (or the finding, or the note)."""
    if not ev:
        return ""
    parts = []
    if ev.get("sent"):
        parts.append(f"sent {ev['sent']}")
    if ev.get("status") is not None:
        parts.append(f"HTTP {ev['status']}" + (f' "{ev["message"]}"' if ev.get("message") else ""))
    if ev.get("finding"):
        parts.append(ev["finding"])
    elif not ev.get("message") and ev.get("note"):
        parts.append(ev["note"])
    head = f"[{ev['probe']}] " if ev.get("probe") else ""
    return " ".join((head + " → ".join(parts)).split())  # one line, whatever the server or the SDK wrote
