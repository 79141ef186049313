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
    "go with changes": "every blocker the app uses has a fix a probe showed to work on that target, or a used "
    "feature is weaker (warning)",
    "no-go": "a feature the app uses is a blocker with no fix shown to work on that target",
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
    "tools.tool_choice.required": 'map `tool_choice: "required"` to `"any"`',
    "tools.tool_choice.named": 'send only the named tool in `tools` and `tool_choice: "any"`',
    "tools.tool_choice.null": "omit tool_choice instead of sending null",
    "tools.followup_turn": "tool-call ids must be 9 letters or digits",
    "tools.call_shape": 'default a missing tool_call `type` to "function"',
    "tools.no_parameters": "always send `function.parameters` (an empty object schema is fine)",
    "tools.empty_list": "omit `tools` when the list is empty",
    "stream.usage_chunk": "stream usage arrives on the finishing chunk; read usage from any chunk, "
    "do not assume choices: []",
    "stream.tool_call_deltas": "accept whole tool calls in one delta, without `index` or `type`; "
    "key them by position",
    "stream.padding": "ignore unknown chunk fields (`p`, `obfuscation`)",
    "errors.context_overflow": "map finish_reason `model_length` to `length` and handle `error`; read the "
    "context-length error in the target's shape",
    "errors.*": "parse error bodies in both shapes: {\"error\": {\"message\"}} and flat {\"message\"} "
    "(message may be an object with `detail`)",
    "conversation.assistant_last": "end with a user message, or set `prefix: true` on the trailing "
    "assistant message",
    "conversation.user_after_tool": "insert an assistant turn between a tool result and the next user message",
    "conversation.tool_after_user": "send tool messages only right after the assistant message with tool_calls",
    "conversation.tool_result_count": "send exactly one tool result per tool call",
    "conversation.tool_call_id*": "tool-call ids must be 9 letters or digits",
    "conversation.assistant_text_and_tool_calls": "send assistant messages with tool_calls with content "
    '`""` or null, not text',
    "conversation.user_name": "drop `name` from user/system/assistant messages (keep it on tool messages)",
    "conversation.assistant_echo": "send only role/content/tool_calls on messages: drop `refusal`, "
    "`annotations`, `reasoning_content`, `name`, `metadata`",
    "conversation.reasoning_content_echo": "strip `reasoning_content` from assistant messages before sending "
    "them back",
    "conversation.developer_role": "send the `system` role instead of `developer`",
    "conversation.*": "follow the target's message-order rules: last message user/tool (or assistant with "
    "prefix), an assistant turn between tool and user, one tool result per call, 9-character tool-call ids",
}

# A fix is shown only where a probe on that target shows it works (issue 13). A feature's own `hint` probes do
# that (their note "alternative works"); these features are shown by another probe on the same target:
# feature → (probe id, the supports of that probe that show the fix works). "self" is the feature's own probes,
# for fixes that are a way of reading the target's answer: the suite read it that way, so the reading works.
FIX_CHECKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "request.top_p": ("request.top_p.tiny", ("SUPPORTED",)),
    "tools.empty_list": ("chat.completion", ("SUPPORTED",)),
    "tools.tool_choice.null": ("tools.tool_choice.auto", ("SUPPORTED", "UNVERIFIABLE")),
    "stream.tool_call_deltas": ("stream.reassembly.tool_calls", ("SUPPORTED",)),
    "stream.usage_chunk": ("self", ("SUPPORTED", "PARTIAL")),
    "stream.padding": ("self", ("PARTIAL",)),
    "tools.call_shape": ("self", ("PARTIAL",)),
    "errors.*": ("self", ("SUPPORTED",)),
}

# The official SDK call a feature's requests are made with, and the sdk.* feature that runs that call.
SDK_FEATURES: dict[str, str] = {
    "stream.tool_call_deltas": "sdk.openai.stream_tools",
    "tools.followup_turn": "sdk.openai.tools",
    "conversation.tool_call_id": "sdk.openai.tools",
    "request.response_format.json_schema": "sdk.openai.parse",
    "json.json_schema*": "sdk.openai.parse",
    "stream.*": "sdk.openai.stream",
    "request.stream*": "sdk.openai.stream",
    "chat.completion": "sdk.openai.chat",
}
# What openai-python raises for a status (its documented mapping): a rejected parameter breaks the call like this.
SDK_ERRORS = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError", 404: "NotFoundError",
              409: "ConflictError", 422: "UnprocessableEntityError", 429: "RateLimitError"}


def _probe_records(results: dict[str, Any], target: str) -> dict[str, dict[str, Any]]:
    """Every probe record of `target`, by probe id."""
    out: dict[str, dict[str, Any]] = {}
    for per_target in results.get("features", {}).values():
        for rec in (per_target.get(target) or {}).get("evidence") or []:
            out[rec.get("probe")] = rec
    return out


def _pattern_value(table: dict[str, Any], fid: str) -> Any:
    if fid in table:
        return table[fid]
    return next((v for k, v in table.items() if "*" in k and matches_any(fid, [k])), None)


def fix_shown(results: dict[str, Any], fid: str, target: str) -> str | None:
    """Which probe on `target` shows that the fix for `fid` works, or None when none does."""
    res = cell(results, fid, target) or {}
    if any(str(n).startswith("alternative works") for n in res.get("notes") or []):
        return "a hint probe of this feature"
    check = _pattern_value(FIX_CHECKS, fid)
    if check is None:
        return None
    probe, supports = check
    if probe == "self":
        return "this feature's probes (the suite read the answer that way)" if res.get("status") == "OK" and (
            res.get("support") in supports) else None
    rec = _probe_records(results, target).get(probe)
    return probe if rec and rec.get("status") == "OK" and rec.get("support") in supports else None


def sdk_call_that_breaks(results: dict[str, Any], fid: str, target: str) -> str | None:
    """The official SDK call that breaks for this feature on `target`, when the run shows one."""
    res = cell(results, fid, target) or {}
    if res.get("status") != "OK":
        return None
    sdk_fid = fid if fid.startswith("sdk.") else _pattern_value(SDK_FEATURES, fid)
    sdk = cell(results, sdk_fid, target) if sdk_fid else None
    if sdk and sdk.get("status") == "OK" and (sdk.get("conformance") == "FAILED" or sdk.get("support") == "REJECTED"):
        rec = next(iter(sdk.get("evidence") or []), {})
        call = (rec.get("measurements") or {}).get("call") or sdk_fid
        note = str((rec.get("notes") or sdk.get("notes") or [""])[0])
        return (note if note.startswith(call) else f"{call}: {note}")[:400]
    if res.get("support") == "REJECTED" and not fid.startswith("sdk."):
        status = next((r.get("measurements", {}).get("http_status") for r in res.get("evidence") or []
                       if r.get("support") == "REJECTED"), None)
        if isinstance(status, int):
            call = "client.chat.completions.stream(...)" if fid.startswith("stream.") else \
                "client.chat.completions.create(...)"
            return f"{call} raises openai.{SDK_ERRORS.get(status, 'APIStatusError')} (HTTP {status})"
    return None


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
    display word), difference, fix (only when a probe on that target shows it works: fix_shown_by names it;
    otherwise fix_untested holds the suggestion), fix_source ("hint" | "known" | None), sdk_call (for a blocker:
    the official SDK call that breaks, when the run shows one) and used (bool | None).
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
            suggested = hint or (known_fix(fid) if rank != "info" and verified else None)
            shown_by = fix_shown(results, fid, name) if suggested else None
            fix = suggested if shown_by else None
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
                "fix_source": ("hint" if hint else "known") if fix else None,
                "fix_shown_by": shown_by,
                "fix_untested": None if fix else suggested,
                "sdk_call": sdk_call_that_breaks(results, fid, name) if rank == "blocker" else None,
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
