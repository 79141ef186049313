"""Migration diff: what changes for an app that moves from a baseline target to another target.

Ranking of one feature that differs between baseline and target (the worst axis wins):
- blocker: the baseline supports it (status OK, support SUPPORTED or conformance OK) and the target
  REJECTS or IGNORES it, or the target's answer FAILS conformance: the app breaks or silently changes.
- warning: the target is weaker without breaking (PARTIAL, UNVERIFIABLE, NON_STRICT), or could not be
  verified (ERROR, TIMEOUT, SKIPPED, not tested) where the baseline works.
- info: the target is better, or both are unsupported, or anything else that differs.

Decision per target, only when the app's `uses` are known (only used features count):
- "no-go": a used feature is a blocker and no fix is known for it;
- "go with changes": every used blocker has a fix, or a used feature has a warning;
- "go": no used feature is a blocker or a warning.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from conformance.report.results_io import (
    cell,
    feature_group,
    feature_title,
    matches_any,
    sorted_features,
    target_names,
    verdict_text,
    verdict_triple,
)

RANKS = ("blocker", "warning", "info")
DECISIONS = {
    "go": "no feature the app uses is a blocker or a warning",
    "go with changes": "every blocker the app uses has a known fix, or a used feature is weaker (warning)",
    "no-go": "a feature the app uses is a blocker with no known fix",
}

# Known fixes keyed by feature id (globs allowed; exact ids are tried first). Sources: quirks/mistral.md.
KNOWN_FIXES: dict[str, str] = {
    "request.seed": "send `random_seed` instead of `seed`",
    "request.max_completion_tokens": "send `max_tokens`",
    "request.stream_options": "drop stream_options; usage is always sent",
    "request.logprobs": "drop `logprobs`/`top_logprobs`; the target returns no logprobs",
    "request.top_logprobs": "drop `top_logprobs`; the target returns no logprobs",
    "request.logit_bias": "drop `logit_bias`; steer the output with the prompt instead",
    "request.user": "drop `user` (send it as your own metadata, not in the request body)",
    "request.store": "drop `store`",
    "request.temperature": "clamp temperature to the target's range (Mistral: 0–1.5)",
    "request.top_p": "send top_p in (0, 1]",
    "request.response_format.json_schema": "send both `name` and `schema` in json_schema",
    "request.developer_role": "send the `system` role instead of `developer`",
    "tools.tool_choice.required": 'map `tool_choice: "required"` to `"any"`',
    "tools.tool_choice.named": 'send only the named tool in `tools` and `tool_choice: "any"`',
    "tools.tool_choice.none_null": "omit tool_choice instead of sending null",
    "tools.followup_turn": "tool-call ids must be 9 letters or digits",
    "tools.tool_call_id*": "tool-call ids must be 9 letters or digits",
    "tools.*id*": "tool-call ids must be 9 letters or digits",
    "tools.call_shape": 'default a missing tool_call `type` to "function"',
    "tools.parameters_required": "always send `function.parameters` (an empty object schema is fine)",
    "stream.usage_chunk": "stream usage arrives on the finishing chunk; read usage from any chunk, "
    "do not assume choices: []",
    "stream.tool_call_deltas": "accept whole tool calls in one delta, without `index` or `type`; "
    "key them by position",
    "stream.padding": "ignore unknown chunk fields (`p`, `obfuscation`)",
    "stream.finish_reason": "map `model_length` to `length` and handle `error`",
    "errors.*": "parse error bodies in both shapes: {\"error\": {\"message\"}} and flat {\"message\"} "
    "(message may be an object with `detail`)",
    "conversation.trailing_assistant": "end with a user message, or set `prefix: true` on the trailing "
    "assistant message",
    "conversation.user_after_tool": "insert an assistant turn between a tool result and the next user message",
    "conversation.tool_after_user": "send tool messages only right after the assistant message with tool_calls",
    "conversation.tool_result_count": "send exactly one tool result per tool call",
    "conversation.tool_call_id*": "tool-call ids must be 9 letters or digits",
    "conversation.assistant_content_and_tool_calls": "send assistant messages with tool_calls with content "
    '`""` or null, not text',
    "conversation.message_name": "drop `name` from user/system/assistant messages (keep it on tool messages)",
    "conversation.extra_message_keys": "send only role/content/tool_calls on messages: drop `refusal`, "
    "`reasoning_content`, `name`, `metadata`",
    "conversation.developer_role": "send the `system` role instead of `developer`",
    "conversation.*": "follow the target's message-order rules: last message user/tool (or assistant with "
    "prefix), an assistant turn between tool and user, one tool result per call, 9-character tool-call ids",
}

class UsesError(ValueError):
    """A --uses file that cannot be read: the message names the file and the expected shape."""


_SUPPORT_SCORE = {"SUPPORTED": 4, "PARTIAL": 3, "UNVERIFIABLE": 2, "IGNORED": 1, "REJECTED": 0}
_CONF_SCORE = {"OK": 2, "NON_STRICT": 1, "FAILED": 0}


def known_fix(fid: str) -> str | None:
    """The fix from KNOWN_FIXES for a feature id (exact id first, then the first matching glob)."""
    if fid in KNOWN_FIXES:
        return KNOWN_FIXES[fid]
    for pattern, fix in KNOWN_FIXES.items():
        if "*" in pattern and matches_any(fid, [pattern]):
            return fix
    return None


def _works(res: dict[str, Any] | None) -> bool:
    return bool(res) and res.get("status") == "OK" and res.get("support") in ("SUPPORTED", None)


def rank_difference(base: dict[str, Any] | None, tgt: dict[str, Any] | None) -> str:
    """Rank one differing feature: "blocker", "warning" or "info" (see the module docstring)."""
    b_ok = base is not None and base.get("status") == "OK"
    t_ok = tgt is not None and tgt.get("status") == "OK"
    if _works(base) and t_ok:
        if tgt.get("support") in ("IGNORED", "REJECTED"):
            return "blocker"
        if tgt.get("conformance") == "FAILED" and base.get("conformance") != "FAILED":
            return "blocker"
    if b_ok and t_ok:
        bs, ts = _SUPPORT_SCORE.get(base.get("support"), 4), _SUPPORT_SCORE.get(tgt.get("support"), 4)
        bc, tc = _CONF_SCORE.get(base.get("conformance"), 2), _CONF_SCORE.get(tgt.get("conformance"), 2)
        if tc == 0 and bc > 0:
            return "blocker"
        if (ts < bs and bs >= 2) or tc < bc:
            return "warning"
        return "info"
    if _works(base) and not t_ok:
        return "warning"  # not verified on the target: a 502 or a skip is never blamed on the feature
    return "info"


def _difference(base: dict[str, Any] | None, tgt: dict[str, Any] | None) -> str:
    parts = []
    b_status = base.get("status") if base else "not tested"
    t_status = tgt.get("status") if tgt else "not tested"
    axes = ("status",) if b_status != t_status else ("support", "conformance")
    for axis in axes:
        b = (base or {}).get(axis) if base else "not tested"
        t = (tgt or {}).get(axis) if tgt else "not tested"
        if b != t and not (base is None and tgt is None):
            parts.append(f"{axis}: {b or '—'} → {t or '—'}")
    text = "; ".join(parts)
    notes = (tgt or {}).get("notes") or []
    if notes:
        text += f" ({notes[0]})"
    return text


def migration_diff(results: dict[str, Any], baseline: str, uses: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per other target, every feature whose verdicts differ from `baseline`, ranked, with a fix.

    Returns {"baseline", "uses", "ranks", "decisions", "targets": {name: {"items": [...],
    "counts": {rank: n}, "decision", "decision_reason"}}}. Items are sorted blocker, warning, info, then
    in report order; each has feature, title, group, rank, baseline/target verdicts (three axes and a
    display word), difference, fix, fix_source ("hint" | "known" | None) and used (bool | None).
    """
    if baseline not in results.get("targets", {}):
        known = ", ".join(results.get("targets", {})) or "none"
        raise KeyError(f"baseline target {baseline!r} is not in the results (targets: {known})")
    patterns = list((uses or {}).get("features", [])) if uses is not None else None
    out: dict[str, Any] = {
        "baseline": baseline,
        "uses": patterns,
        "ranks": {
            "blocker": "baseline works; the target rejects or ignores it, or its answer fails conformance",
            "warning": "weaker on the target (PARTIAL, UNVERIFIABLE, NON_STRICT) or not verified there",
            "info": "the target is better, both are unsupported, or another difference",
        },
        "decisions": DECISIONS,
        "targets": {},
    }
    features = sorted_features(results)
    for name in target_names(results, baseline)[1:]:
        items = []
        for order, fid in enumerate(features):
            base, tgt = cell(results, fid, baseline), cell(results, fid, name)
            if verdict_triple(base) == verdict_triple(tgt):
                continue
            rank = rank_difference(base, tgt)
            hint = (tgt or {}).get("hint")
            verified = tgt is not None and tgt.get("status") == "OK"
            fix = hint or (known_fix(fid) if rank != "info" and verified else None)
            items.append({
                "feature": fid,
                "title": feature_title(results, fid),
                "group": feature_group(results, fid),
                "rank": rank,
                "baseline": verdict_triple(base),
                "target": verdict_triple(tgt),
                "baseline_word": verdict_text(base),
                "target_word": verdict_text(tgt),
                "difference": _difference(base, tgt),
                "fix": fix,
                "fix_source": "hint" if hint else ("known" if fix else None),
                "used": matches_any(fid, patterns) if patterns is not None else None,
                "_order": order,
            })
        items.sort(key=lambda i: (RANKS.index(i["rank"]), i["_order"]))
        for i in items:
            del i["_order"]
        entry: dict[str, Any] = {
            "items": items,
            "counts": {r: sum(1 for i in items if i["rank"] == r) for r in RANKS},
            "decision": None,
            "decision_reason": None,
        }
        if patterns is not None:
            entry["decision"], entry["decision_reason"] = _decide(items)
            entry["unmatched_uses"] = [p for p in patterns if not any(matches_any(f, [p]) for f in features)]
        out["targets"][name] = entry
    return out


def _decide(items: list[dict[str, Any]]) -> tuple[str, str]:
    used = [i for i in items if i["used"]]
    blockers = [i for i in used if i["rank"] == "blocker"]
    unfixed = [i["feature"] for i in blockers if not i["fix"]]
    if unfixed:
        return "no-go", "blocker without a known fix: " + ", ".join(unfixed)
    warnings = [i["feature"] for i in used if i["rank"] == "warning"]
    if blockers or warnings:
        parts = []
        if blockers:
            parts.append("fix " + ", ".join(i["feature"] for i in blockers))
        if warnings:
            parts.append("check " + ", ".join(warnings))
        return "go with changes", "; ".join(parts)
    return "go", "no used feature differs for the worse"


def normalize_use(entry: str) -> str:
    """A use entry as a feature id pattern: a bare parameter name like "seed" means "request.seed"."""
    entry = entry.strip()
    if "." not in entry and "*" not in entry:
        return f"request.{entry}"
    return entry


def load_uses(path: str | Path) -> dict[str, Any]:
    """Read a --uses file (TOML or JSON) listing the features / parameters an app relies on.

    Accepted shapes: `features = [...]` and/or `parameters = [...]` (TOML or a JSON object), or a JSON
    list. Globs are allowed ("stream.*"); a bare name ("seed") means "request.seed".
    Returns {"features": [patterns], "source": str(path)}; raises UsesError (a ValueError) with the fix on bad input.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    data: Any
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsesError(f"{p}: cannot parse the uses file ({exc}); expected features = [\"request.seed\", …]") from exc
    if isinstance(data, list):
        data = {"features": data}
    if not isinstance(data, dict):
        raise UsesError(f"{p}: expected a table with `features = [...]`")
    entries = [data.get("features", []), data.get("parameters", [])]
    entries = [e for part in entries if isinstance(part, list) for e in part] if all(
        isinstance(part, list) for part in entries) else []
    if not entries or not all(isinstance(e, str) for e in entries):
        raise UsesError(f"{p}: `features` must be a non-empty list of feature ids or parameter names")
    return {"features": [normalize_use(e) for e in entries], "source": str(p)}
