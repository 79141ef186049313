"""Migration diff: what changes for an app that moves from a baseline target to another target.

Ranking of one feature that differs between baseline and target, from the user's side (the worst axis wins):
- blocker: the target REJECTS it, whatever the baseline said (every request carrying it fails); the target
  IGNORES what the baseline SUPPORTS (silently ignored); or the target's answer FAILS conformance.
- warning: UNVERIFIABLE on either side ("check by hand": this run cannot tell, never "go"); the target is
  weaker without breaking (PARTIAL, NON_STRICT); or it could not be verified (ERROR, TIMEOUT, SKIPPED, not
  tested) where the baseline works. A used feature UNVERIFIABLE on both sides is listed too.
- info: the target is better, or both are unsupported, or anything else that differs.

Fixes: a probe's hint only where its hint probe was SUPPORTED on the target; a known fix only where its
evidence (KNOWN_FIXES) was SUPPORTED there, else the item says why no fix is offered.

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

# Known fixes keyed by feature id (globs allowed; exact ids are tried first): (fix, evidence). The evidence is
# the probe or feature that must be SUPPORTED on that target for the fix to be offered ("send X instead" only
# where X was seen working there); None marks a client-side change that holds on any target.
KNOWN_FIXES: dict[str, tuple[str, str | None]] = {
    "request.seed": ("send `random_seed` instead of `seed`", "request.seed.hint_random_seed"),
    "request.max_completion_tokens": ("send `max_tokens` instead of `max_completion_tokens`",
                                      "request.max_completion_tokens.hint_max_tokens"),
    "tools.tool_choice.required": ('map `tool_choice: "required"` to `"any"`', "tools.tool_choice.hint_any"),
    "tools.followup_turn": ("tool-call ids must be 9 letters or digits: map call_… ids before sending them back",
                            "tools.followup_turn.native_ids"),
    "conversation.developer_role": ("send the `system` role instead of `developer`", "conversation.system_message"),
    "request.stream_options": ("drop `stream_options`", None),
    "request.logprobs": ("drop `logprobs`/`top_logprobs`", None),
    "request.top_logprobs": ("drop `top_logprobs`", None),
    "request.logit_bias": ("drop `logit_bias`; steer the output with the prompt instead", None),
    "request.user": ("drop `user` (send it as your own metadata, not in the request body)", None),
    "request.store": ("drop `store`", None),
    "request.temperature": ("send a temperature within the range the target accepts (its error names it)", None),
    "request.top_p": ("send top_p in (0, 1]", None),
    "stream.usage_chunk": ("read usage from whichever chunk carries it; do not assume a final chunk with "
                           "choices: []", None),
    "stream.tool_call_deltas": ("accept whole tool calls in one delta, without `index` or `type`; key them by "
                                "position", None),
    "errors.*": ("parse error bodies in both shapes: {\"error\": {\"message\"}} and flat {\"message\"} "
                 "(message may be an object with `detail`)", None),
    "conversation.assistant_last": ("end the conversation with a user message", None),
    "conversation.user_after_tool": ("insert an assistant turn between a tool result and the next user message",
                                     None),
    "conversation.tool_result_count": ("send exactly one tool result per tool call", None),
    "conversation.user_name": ("drop `name` from user, system and assistant messages (keep it on tool messages)",
                               None),
    "conversation.assistant_echo": ("strip null and unknown fields (refusal, annotations, audio) from echoed "
                                    "assistant messages", None),
    "tools.tool_choice.named": ('send only the named tool in `tools` and `tool_choice: "any"`',
                                "tools.tool_choice.hint_any"),
    "tools.tool_choice.null": ("omit tool_choice instead of sending null", "tools.tool_choice.auto"),
    "tools.call_shape": ('default a missing tool_call `type` to "function"', None),
    "tools.no_parameters": ("always send `function.parameters` (an empty object schema is fine)",
                            "tools.no_parameters.hint_empty_schema"),
    "tools.empty_list": ("omit `tools` when the list is empty", "chat.completion"),
    "stream.padding": ("ignore unknown chunk fields (`p`, `obfuscation`)", None),
    "errors.context_overflow": ("map finish_reason `model_length` to `length` and handle `error`; read the "
                                "context-length error in the target's shape", None),
    "conversation.tool_after_user": ("send tool messages only right after the assistant message with tool_calls",
                                     None),
    "conversation.tool_call_id*": ("tool-call ids must be 9 letters or digits",
                                   "conversation.tool_call_id.hint_nine_alnum"),
    "conversation.assistant_text_and_tool_calls": ('send assistant messages with tool_calls with content `""` or '
                                                   "null, not text", None),
    "conversation.reasoning_content_echo": ("strip `reasoning_content` from assistant messages before sending "
                                            "them back", None),
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


def _pattern_value(table: dict[str, Any], fid: str) -> Any:
    if fid in table:
        return table[fid]
    return next((v for k, v in table.items() if "*" in k and matches_any(fid, [k])), None)


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


def known_fix_entry(fid: str) -> tuple[str, str | None] | None:
    """(fix, evidence) from KNOWN_FIXES for a feature id (exact id first, then the first matching glob)."""
    if fid in KNOWN_FIXES:
        return KNOWN_FIXES[fid]
    for pattern, entry in KNOWN_FIXES.items():
        if "*" in pattern and matches_any(fid, [pattern]):
            return entry
    return None


def known_fix(fid: str) -> str | None:
    """The fix text of KNOWN_FIXES for a feature id, whatever the evidence (see backed_fix)."""
    entry = known_fix_entry(fid)
    return entry[0] if entry else None


def evidence_support(results: dict[str, Any], target: str, evidence: str) -> str | None:
    """The support a probe or feature id got on `target`: a feature cell, or a probe record in the evidence."""
    res = cell(results, evidence, target)
    if res is not None:
        return res.get("support")
    for per_target in results.get("features", {}).values():
        for rec in (per_target.get(target) or {}).get("evidence") or []:
            if rec.get("probe") == evidence:
                return rec.get("support")
    return None


def backed_fix(results: dict[str, Any], fid: str, target: str) -> tuple[str | None, str | None]:
    """(fix, why none): a known fix only where its evidence was SUPPORTED on that target."""
    entry = known_fix_entry(fid)
    if entry is None:
        return None, None
    fix, evidence = entry
    if evidence is None:
        return fix, None
    seen = evidence_support(results, target, evidence)
    if seen == "SUPPORTED":
        return fix, None
    return None, f"cannot tell whether “{fix}” works here: {evidence} is {seen or 'not tested'} on {target}"


def _works(res: dict[str, Any] | None) -> bool:
    return bool(res) and res.get("status") == "OK" and res.get("support") in ("SUPPORTED", None)


def rank_difference(base: dict[str, Any] | None, tgt: dict[str, Any] | None) -> str:
    """Rank one differing feature: "blocker", "warning" or "info" (see the module docstring)."""
    b_ok = base is not None and base.get("status") == "OK"
    t_ok = tgt is not None and tgt.get("status") == "OK"
    if t_ok and tgt.get("support") == "REJECTED" and not (b_ok and base.get("support") == "REJECTED"):
        return "blocker"  # every request the app sends with it fails, whatever the baseline could show
    if b_ok and t_ok and base.get("support") == "SUPPORTED" and tgt.get("support") == "IGNORED":
        return "blocker"  # silently ignored
    if (b_ok and base.get("support") == "UNVERIFIABLE") or (t_ok and tgt.get("support") == "UNVERIFIABLE"):
        return "warning"  # check by hand: this run cannot tell
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


def _unverifiable(base: dict[str, Any] | None, tgt: dict[str, Any] | None) -> bool:
    return any(r is not None and r.get("support") == "UNVERIFIABLE" for r in (base, tgt))


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
    display word), difference, fix (only where its evidence was SUPPORTED on that target; otherwise
    no_fix_reason says why none is offered), fix_source ("hint" | "known" | None), sdk_call (for a blocker:
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
            "blocker": "the target rejects it (whatever the baseline said), ignores what the baseline supports, or "
                       "its answer fails conformance",
            "warning": "weaker on the target (PARTIAL, NON_STRICT), not verified there, or UNVERIFIABLE on either "
                       "side: check by hand",
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
            used = matches_any(fid, patterns) if patterns is not None else None
            if verdict_triple(base) == verdict_triple(tgt) and not (used and _unverifiable(base, tgt)):
                continue
            rank = rank_difference(base, tgt)
            hint = (tgt or {}).get("hint")
            verified = tgt is not None and tgt.get("status") == "OK"
            fix, no_fix = (hint, None) if hint else (
                backed_fix(results, fid, name) if rank != "info" and verified else (None, None))
            items.append({
                "feature": fid,
                "title": feature_title(results, fid),
                "group": feature_group(results, fid),
                "rank": rank,
                "baseline": verdict_triple(base),
                "target": verdict_triple(tgt),
                "baseline_word": verdict_text(base),
                "target_word": verdict_text(tgt),
                "difference": _difference(base, tgt) + (" — check by hand" if _unverifiable(base, tgt) else ""),
                "no_fix_reason": no_fix,
                "fix": fix,
                "fix_source": "hint" if hint else ("known" if fix else None),
                "sdk_call": sdk_call_that_breaks(results, fid, name) if rank == "blocker" else None,
                "used": used,
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
