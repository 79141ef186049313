"""Migration plan: what breaks for an app that moves from a baseline to another target, ranked by harm.

Rank of one feature that differs between baseline and target (the worst axis wins):
- blocker: the target's answer FAILS conformance where the baseline's does not (client code breaks on it), the
  target REJECTS it whatever the baseline said (every request carrying it fails), or IGNORES what the baseline
  SUPPORTS (silently wrong), or an official SDK call breaks;
- warning: UNVERIFIABLE on either side ("check by hand": this run cannot tell, never "go"); the target is
  weaker without breaking (PARTIAL, NON_STRICT); or it could not be verified (ERROR, TIMEOUT, SKIPPED, not
  tested) where the baseline works. A used feature UNVERIFIABLE on both sides is listed too;
- info: the target is better, or both are unsupported, or anything else that differs.
A deviation both sides share (a MUST or SHOULD broken, a refusal: e.g. flat 422 error bodies on both) is listed
too: a warning when the app uses the feature, else info.
Without a baseline a target is judged on its own answers (see `self_plan`).

Blockers come first, by harm, never in catalogue order: the used ones (with --uses), then client code breaks
(an SDK call raises, a MUST broken) before a request refused before a parameter silently ignored, then those
without a verified fix, then the ones on every request's path (chat, streaming) before rarer parameters.

Each item quotes the exchange that decided the target's cell (report/decisive) and a fix: "verified" when the suite
sent the changed request to that target and it worked (a hint probe, the fix's evidence probe, or for "drop X" the
same request without X, its control), "unverified" when it is a client-side change the suite cannot run, else none.

Decision per pair (only used features count when the app's `uses` are known; otherwise every feature does):
- NO-GO: a blocker without a verified fix;
- GO WITH CHANGES: every blocker has a verified fix, or a warning is left to check by hand;
- GO: no blocker and no warning.
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

from conformance.model.verdicts import FAILING_STATUS_WORDS, Conformance, Status, Support
from conformance.report.decisive import decisive_evidence, decisive_record, evidence_line, is_control
from conformance.report.drift import is_known_deviation
from conformance.report.results_io import (
    cell,
    feature_group,
    feature_title,
    matches_any,
    sorted_features,
    target_names,
    truncate,
    verdict_text,
    verdict_triple,
)

RANKS = ("blocker", "warning", "info")
NO_GO = "no-go"
DECISIONS = {
    "go": "no blocker and no warning",
    "go with changes": "every blocker has a fix the suite verified on that target (it sent the changed request and "
    "it worked), or warnings are left to check by hand",
    NO_GO: "a blocker without a verified fix",
}
# Harm of a blocker, worst first: client code breaks on the answer, the request is refused, the value is ignored.
HARMS = ("client code breaks", "request refused", "silently ignored", "weaker")
# How many of an app's requests pass through a feature: every chat call before rarer parameters and error paths.
_REACH = (("chat.", 0), ("stream.", 0), ("sdk.", 0), ("tools.", 1), ("json.", 1), ("conversation.", 1),
          ("request.", 2))

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
    if res.get("status") != Status.OK.value:
        return None
    sdk_fid = fid if fid.startswith("sdk.") else _pattern_value(SDK_FEATURES, fid)
    sdk = cell(results, sdk_fid, target) if sdk_fid else None
    if sdk and sdk.get("status") == Status.OK and (sdk.get("conformance") == Conformance.FAILED
                                                   or sdk.get("support") == Support.REJECTED):
        rec = next(iter(sdk.get("evidence") or []), {})
        call = (rec.get("measurements") or {}).get("call") or sdk_fid
        note = str((rec.get("notes") or sdk.get("notes") or [""])[0])
        return (note if note.startswith(call) else f"{call}: {note}")[:400]
    if res.get("support") == Support.REJECTED.value and not fid.startswith("sdk."):
        status = next((r.get("measurements", {}).get("http_status") for r in res.get("evidence") or []
                       if r.get("support") == Support.REJECTED.value), None)
        if isinstance(status, int):
            call = "client.chat.completions.stream(...)" if fid.startswith("stream.") else \
                "client.chat.completions.create(...)"
            return f"{call} raises openai.{SDK_ERRORS.get(status, 'APIStatusError')} (HTTP {status})"
    return None


class UsesError(ValueError):
    """A --uses file that cannot be read: the message names the file and the expected shape."""


_SUPPORT_SCORE = {s.value: score for score, s in enumerate(
    (Support.REJECTED, Support.IGNORED, Support.UNVERIFIABLE, Support.PARTIAL, Support.SUPPORTED))}
_CONF_SCORE = {Conformance.OK.value: 2, Conformance.NON_STRICT.value: 1, Conformance.FAILED.value: 0}


def known_fix_entry(fid: str) -> tuple[str, str | None] | None:
    """(fix, evidence) from KNOWN_FIXES for a feature id (exact id first, then the first matching glob)."""
    if fid in KNOWN_FIXES:
        return KNOWN_FIXES[fid]
    for pattern, entry in KNOWN_FIXES.items():
        if "*" in pattern and matches_any(fid, [pattern]):
            return entry
    return None


def known_fix(fid: str) -> str | None:
    """The fix text of KNOWN_FIXES for a feature id, whatever the evidence (see plan_fix)."""
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


def _works(res: dict[str, Any] | None) -> bool:
    return bool(res) and res.get("status") == Status.OK.value and res.get("support") in (Support.SUPPORTED.value, None)


def rank_difference(base: dict[str, Any] | None, tgt: dict[str, Any] | None) -> str:
    """Rank one differing feature: "blocker", "warning" or "info" (see the module docstring)."""
    b_ok = base is not None and base.get("status") == Status.OK.value
    t_ok = tgt is not None and tgt.get("status") == Status.OK.value
    if t_ok and tgt.get("conformance") == Conformance.FAILED and not (
            b_ok and base.get("conformance") == Conformance.FAILED):
        return "blocker"  # a MUST broken: client code reading the answer breaks, whatever support says
    if t_ok and tgt.get("support") == Support.REJECTED and not (b_ok and base.get("support") == Support.REJECTED):
        return "blocker"  # every request the app sends with it fails, whatever the baseline could show
    if b_ok and t_ok and base.get("support") == Support.SUPPORTED.value and tgt.get("support") == Support.IGNORED.value:
        return "blocker"  # silently ignored
    if (b_ok and base.get("support") == Support.UNVERIFIABLE) or (t_ok and tgt.get("support") == Support.UNVERIFIABLE):
        return "warning"  # check by hand: this run cannot tell
    if _works(base) and t_ok and tgt.get("support") in (Support.IGNORED.value, Support.REJECTED.value):
        return "blocker"
    if b_ok and t_ok:
        bs, ts = _SUPPORT_SCORE.get(base.get("support"), 4), _SUPPORT_SCORE.get(tgt.get("support"), 4)
        bc, tc = _CONF_SCORE.get(base.get("conformance"), 2), _CONF_SCORE.get(tgt.get("conformance"), 2)
        if (ts < bs and bs >= 2) or tc < bc:
            return "warning"
        return "info"
    if _works(base) and not t_ok:
        return "warning"  # not verified on the target: a 502 or a skip is never blamed on the feature
    return "info"


def refuses_some_values(res: dict[str, Any] | None) -> bool:
    """A PARTIAL cell whose deciding variant was REJECTED (e.g. temperature 2.0 refused where 0-1.5 work)."""
    if not res or res.get("status") != Status.OK.value or res.get("support") != Support.PARTIAL.value:
        return False
    return (decisive_record(res) or {}).get("support") == Support.REJECTED.value


def _shared_deviation(res: dict[str, Any] | None) -> bool:
    """A deviation from OpenAI both sides show (a MUST or SHOULD broken, a refusal): the app meets it on either."""
    return bool(res) and res.get("status") == Status.OK.value and (
        res.get("conformance") in (Conformance.FAILED, Conformance.NON_STRICT)
        or res.get("support") in (Support.REJECTED, Support.IGNORED))


def _unverifiable(base: dict[str, Any] | None, tgt: dict[str, Any] | None) -> bool:
    return any(r is not None and r.get("support") == Support.UNVERIFIABLE.value for r in (base, tgt))


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
    return "; ".join(parts)


def harm_of(tgt: dict[str, Any] | None, sdk_call: str | None) -> str:
    """What kind of harm a cell does to client code (one of HARMS): a MUST broken or an SDK call that breaks on an
    accepted request is worse than a refused request (loud, at once), which is worse than a silently ignored one."""
    tgt = tgt or {}
    if tgt.get("conformance") == Conformance.FAILED or (sdk_call and tgt.get("support") != Support.REJECTED):
        return "client code breaks"
    if tgt.get("support") == Support.REJECTED.value or refuses_some_values(tgt):
        return "request refused"
    if tgt.get("support") == Support.IGNORED.value:
        return "silently ignored"
    return "weaker"


def _reach(fid: str) -> int:
    return next((n for prefix, n in _REACH if fid.startswith(prefix)), 3)


def what_breaks(tgt: dict[str, Any] | None, sdk_call: str | None, evidence: dict[str, Any] | None,
                fid: str) -> str:
    """For client code: the SDK call that raises, the field that changes, or the effect that is lost."""
    if sdk_call:
        return sdk_call
    if not tgt or tgt.get("status") != Status.OK.value:
        return ""
    if tgt.get("conformance") == Conformance.FAILED.value and evidence and evidence.get("finding"):
        return truncate(f"code reading {evidence['finding']}", 200)
    if tgt.get("support") == Support.IGNORED.value:
        return f"the request succeeds but {fid} has no effect: code relying on it gets the default silently"
    if tgt.get("support") == Support.REJECTED.value:
        return "every request carrying it fails"
    return ""


def _record_of(results: dict[str, Any], target: str, probe: str) -> dict[str, Any] | None:
    for per_target in results.get("features", {}).values():
        for rec in (per_target.get(target) or {}).get("evidence") or []:
            if rec.get("probe") == probe:
                return rec
    return None


def _hint_record(fid: str, res: dict[str, Any]) -> dict[str, Any] | None:
    """The probe record that showed the cell's hint working: the fix's evidence probe, else a SUPPORTED hint probe
    (hint probes are named `<feature>.hint_…`)."""
    records = [r for r in res.get("evidence") or [] if r.get("support") == Support.SUPPORTED.value]
    entry = known_fix_entry(fid)
    wanted = entry[1] if entry else None
    return next((r for r in records if r.get("probe") == wanted), None) or next(
        (r for r in records if ".hint_" in str(r.get("probe"))), None)


def _control_answered(res: dict[str, Any]) -> dict[str, Any] | None:
    """A control exchange (the same request without the feature) the target answered with a 2xx, if any."""
    rec = decisive_record(res)
    for x in (rec or {}).get("exchanges") or []:
        status = (x.get("response") or {}).get("status")
        if is_control(x) and isinstance(status, int) and status < 300:
            return x
    return None


def plan_fix(results: dict[str, Any], fid: str, target: str, tgt: dict[str, Any] | None,
             rank: str) -> dict[str, Any]:
    """{fix, fix_status ("verified" | "unverified" | None), fix_evidence, fix_source, no_fix_reason} of one item."""
    none = {"fix": None, "fix_status": None, "fix_evidence": "", "fix_source": None, "no_fix_reason": None}
    if rank == "info" or tgt is None or tgt.get("status") != Status.OK.value:
        return none
    if tgt.get("hint"):
        rec = _hint_record(fid, tgt)
        return {"fix": tgt["hint"], "fix_status": "verified", "fix_source": "hint", "no_fix_reason": None,
                "fix_evidence": evidence_line(decisive_evidence({**rec, "evidence": [rec]})) if rec else ""}
    entry = known_fix_entry(fid)
    if entry is None:
        return {**none, "no_fix_reason": "no known fix"}
    fix, probe = entry
    if probe is not None:
        seen = evidence_support(results, target, probe)
        if seen == Support.SUPPORTED.value:
            rec = _record_of(results, target, probe) or {}
            line = evidence_line(decisive_evidence({**rec, "evidence": [rec]})) if rec else f"{probe} SUPPORTED"
            return {"fix": fix, "fix_status": "verified", "fix_evidence": line, "fix_source": "known",
                    "no_fix_reason": None}
        return {**none, "no_fix_reason": f"cannot tell whether “{fix}” works here: {probe} is {seen or 'not tested'} "
                                         f"on {target}"}
    control = _control_answered(tgt) if fix.startswith(("drop ", "omit ")) else None
    if control is not None:
        status = (control.get("response") or {}).get("status")
        return {"fix": fix, "fix_status": "verified", "fix_source": "known", "no_fix_reason": None,
                "fix_evidence": f"the same request without it ({control.get('role')}) answered HTTP {status}"}
    return {"fix": fix, "fix_status": "unverified", "fix_source": "known", "no_fix_reason": None,
            "fix_evidence": "a client-side change: the suite cannot run your code to verify it"}


def _item(results: dict[str, Any], fid: str, target: str, base: dict[str, Any] | None,
          tgt: dict[str, Any] | None, rank: str, used: bool | None, difference: str) -> dict[str, Any]:
    sdk_call = sdk_call_that_breaks(results, fid, target) if rank == "blocker" else None
    evidence = decisive_evidence(tgt) if tgt else None
    if evidence:
        evidence = {k: v for k, v in evidence.items() if k != "exchange"}
    return {
        "feature": fid,
        "title": feature_title(results, fid),
        "group": feature_group(results, fid),
        "rank": rank,
        "harm": harm_of(tgt, sdk_call) if rank == "blocker" else None,
        "baseline": verdict_triple(base),
        "target": verdict_triple(tgt),
        "baseline_word": verdict_text(base),
        "target_word": verdict_text(tgt),
        "difference": difference,
        "breaks": what_breaks(tgt, sdk_call, evidence, fid) if rank != "info" else "",
        "evidence": evidence,
        "evidence_line": evidence_line(evidence),
        **plan_fix(results, fid, target, tgt, rank),
        "sdk_call": sdk_call,
        "known_deviation": is_known_deviation(results, target, fid),
        "used": used,
    }


def harm_key(item: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key of plan items: used first, rank, harm, no verified fix first, reach; the id only breaks ties."""
    fix_order = {None: 0, "unverified": 1, "verified": 2}[item.get("fix_status")]
    harm = HARMS.index(item["harm"]) if item.get("harm") in HARMS else len(HARMS)
    return (item.get("used") is False, RANKS.index(item["rank"]), harm, fix_order, _reach(item["feature"]),
            item["feature"])


def _entry(items: list[dict[str, Any]], patterns: list[str] | None, features: list[str]) -> dict[str, Any]:
    items.sort(key=harm_key)
    entry: dict[str, Any] = {"items": items, "counts": {r: sum(1 for i in items if i["rank"] == r) for r in RANKS}}
    entry.update(decide(items, patterns is not None))
    if patterns is not None:
        entry["unmatched_uses"] = [p for p in patterns if not any(matches_any(f, [p]) for f in features)]
    return entry


def migration_diff(results: dict[str, Any], baseline: str, uses: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per other target, every feature whose verdicts differ from `baseline`, ranked by harm, with a fix.

    Returns {"baseline", "uses", "ranks", "decisions", "targets": {name: {"items": [...], "counts": {rank: n},
    "decision", "decision_reason", "rule", "scope_counts"}}}. Items are sorted by `harm_key`; each has feature,
    title, group, rank, harm, baseline/target verdicts (three axes and a display word), difference, breaks (what
    client code sees), evidence (the exchange that decided the target's cell, see report/decisive) and
    evidence_line, fix with fix_status / fix_evidence / fix_source / no_fix_reason, sdk_call, known_deviation and
    used (bool | None).
    """
    if baseline not in results.get("targets", {}):
        known = ", ".join(results.get("targets", {})) or "none"
        raise KeyError(f"baseline target {baseline!r} is not in the results (targets: {known})")
    patterns = list((uses or {}).get("features", [])) if uses is not None else None
    out: dict[str, Any] = {
        "baseline": baseline,
        "uses": patterns,
        "ranks": {
            "blocker": "the target's answer fails conformance (client code breaks), it rejects the feature (whatever "
                       "the baseline said), or ignores what the baseline supports",
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
        for fid in features:
            base, tgt = cell(results, fid, baseline), cell(results, fid, name)
            used = matches_any(fid, patterns) if patterns is not None else None
            if verdict_triple(base) == verdict_triple(tgt):
                if _shared_deviation(tgt):  # the baseline does it too: listed, never hidden
                    items.append(_item(results, fid, name, base, tgt, "warning" if used else "info", used,
                                       f"the same on {baseline}: {verdict_text(tgt)}"))
                elif used and _unverifiable(base, tgt):
                    items.append(_item(results, fid, name, base, tgt, "warning", used,
                                       "UNVERIFIABLE on both — check by hand"))
                continue
            rank = rank_difference(base, tgt)
            if rank == "warning" and refuses_some_values(tgt):
                rank = "blocker"  # the app may send the refused value: its request fails
            difference = _difference(base, tgt) + (" — check by hand" if _unverifiable(base, tgt) else "")
            items.append(_item(results, fid, name, base, tgt, rank, used, difference))
        out["targets"][name] = _entry(items, patterns, features)
    return out


def rank_alone(res: dict[str, Any], used: bool | None) -> str | None:
    """Rank of a target's cell judged on its own (no baseline): a MUST broken is a blocker; a SHOULD broken or a
    probe that could not answer a warning; with --uses, a used feature REJECTED or IGNORED is a blocker and PARTIAL
    or UNVERIFIABLE a warning. None: not an item (nothing to hold against the target without a baseline)."""
    if res.get("status") in FAILING_STATUS_WORDS:
        return "warning"
    if res.get("status") != Status.OK.value:
        return "warning" if used else None
    if res.get("conformance") == Conformance.FAILED.value:
        return "blocker"
    if used and (res.get("support") in (Support.REJECTED.value, Support.IGNORED.value) or refuses_some_values(res)):
        return "blocker"
    if res.get("conformance") == Conformance.NON_STRICT or (
            used and res.get("support") in (Support.PARTIAL, Support.UNVERIFIABLE)):
        return "warning"
    return None


SELF_RANKS = {
    "blocker": "a MUST broken (conformance FAILED) or an SDK call that breaks; with --uses, a used feature REJECTED or "
               "IGNORED",
    "warning": "a SHOULD broken (NON_STRICT), ERROR or TIMEOUT; with --uses, a used feature PARTIAL or UNVERIFIABLE",
}
SELF_RULE = ("no baseline: each target is judged on its own answers; a MUST broken (conformance FAILED) is a "
             "blocker, a SHOULD broken (NON_STRICT) or ERROR/TIMEOUT a warning; with --uses a used feature "
             "REJECTED or IGNORED is a blocker too. Pass --baseline openai to compare with OpenAI")


def self_plan(results: dict[str, Any], uses: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per target, the cells that hold against it without a baseline (`rank_alone`), ranked like a migration plan."""
    patterns = list((uses or {}).get("features", [])) if uses is not None else None
    features = sorted_features(results)
    out: dict[str, Any] = {"baseline": None, "uses": patterns, "rule": SELF_RULE, "decisions": DECISIONS,
                           "ranks": SELF_RANKS, "targets": {}}
    for name in target_names(results):
        items = []
        for fid in features:
            res = cell(results, fid, name)
            used = matches_any(fid, patterns) if patterns is not None else None
            rank = rank_alone(res, used) if res else None
            if rank is not None and (patterns is None or used or rank == "blocker"):
                items.append(_item(results, fid, name, None, res, rank, used, verdict_text(res)))
        out["targets"][name] = _entry(items, patterns, features)
    return out


def decide(items: list[dict[str, Any]], uses_known: bool) -> dict[str, Any]:
    """{decision, rule, decision_reason, scope_counts} of one pair (see DECISIONS); the rule is the sentence shown."""
    scope = [i for i in items if i["used"]] if uses_known else items
    where = " on used paths" if uses_known else ""
    tail = "" if uses_known else " (every feature counts: --uses FILE narrows it to your app's)"
    blockers = [i for i in scope if i["rank"] == "blocker"]
    warnings = [i for i in scope if i["rank"] == "warning"]
    unfixed = [i for i in blockers if i.get("fix_status") != "verified"]
    known = sum(1 for i in blockers if i.get("known_deviation"))
    known_text = f", {known} of them known deviations" if known else ""
    if unfixed:
        decision = NO_GO
        rule = f"NO-GO: {len(unfixed)} blocker(s){where} without a verified fix{known_text}{tail}"
        reason = "blocker without a verified fix: " + ", ".join(i["feature"] for i in unfixed)
    elif blockers or warnings:
        decision = "go with changes"
        parts = [f"{len(blockers)} blocker(s){where}, each with a verified fix"] if blockers else []
        if warnings:
            parts.append(f"{len(warnings)} warning(s){'' if blockers else where} to check by hand")
        rule = "GO WITH CHANGES: " + "; ".join(parts) + tail
        reason = "; ".join(filter(None, ["fix " + ", ".join(i["feature"] for i in blockers) if blockers else "",
                                         "check " + ", ".join(i["feature"] for i in warnings) if warnings else ""]))
    else:
        decision, rule, reason = "go", f"GO: no blocker and no warning{where}{tail}", "nothing differs for the worse"
    return {"decision": decision, "rule": rule, "decision_reason": reason,
            "scope_counts": {"blocker": len(blockers), "warning": len(warnings), "unfixed": len(unfixed),
                             "known_deviation": known}}


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
