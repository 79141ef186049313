"""Migration diff: ranking, fixes, go / no-go from --uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.features.registry import PROBES
from conformance.report.migration import (
    KNOWN_FIXES,
    SDK_FEATURES,
    UsesError,
    known_fix,
    load_uses,
    migration_diff,
    rank_difference,
    self_plan,
)
from conformance.report.results_io import load_results, matches_any
from conformance.report.summary_md import render_summary_md

DATA = Path(__file__).parent / "data" / "results"


@pytest.fixture
def both() -> dict:
    return load_results(DATA / "openai_mistral.json")


def _items(diff: dict, target: str = "mistral") -> dict[str, dict]:
    return {i["feature"]: i for i in diff["targets"][target]["items"]}


def _v(status: str = "OK", support: str | None = "SUPPORTED", conformance: str | None = "OK") -> dict:
    return {"status": status, "support": support, "conformance": conformance}


@pytest.mark.parametrize(("base", "tgt", "rank"), [
    (_v(), _v(support="REJECTED"), "blocker"),
    (_v(), _v(support="IGNORED"), "blocker"),
    (_v(), _v(conformance="FAILED"), "blocker"),
    (_v(), _v(support="PARTIAL"), "warning"),
    (_v(), _v(support="UNVERIFIABLE"), "warning"),
    (_v(), _v(conformance="NON_STRICT"), "warning"),
    (_v(), _v("TIMEOUT", None, None), "warning"),
    (_v(), None, "warning"),
    (_v(support="REJECTED"), _v(), "info"),
    (_v(support="IGNORED"), _v(support="REJECTED"), "blocker"),  # rejected on the target: every request fails
    (None, _v(support="REJECTED"), "blocker"),
    (None, _v(), "info"),
    (_v(support="UNVERIFIABLE"), _v(support="REJECTED"), "blocker"),
    (_v(support="UNVERIFIABLE"), _v(support="IGNORED"), "warning"),  # check by hand
    (_v(support="UNVERIFIABLE"), _v(), "warning"),  # check by hand, never "go"
    (_v(support="PARTIAL"), _v(support="IGNORED"), "warning"),
    (_v(support="UNVERIFIABLE"), _v(support="PARTIAL", conformance="FAILED"), "blocker"),  # a MUST broken first
])
def test_rank_table(base: dict | None, tgt: dict | None, rank: str) -> None:
    assert rank_difference(base, tgt) == rank


def test_expected_differences_openai_to_mistral(both: dict) -> None:
    items = _items(migration_diff(both, "openai"))
    assert items["request.seed"]["rank"] == "blocker"
    assert items["request.seed"]["fix"] == "send `random_seed` instead of `seed`"
    assert items["request.seed"]["fix_source"] == "hint"
    assert items["request.seed"]["evidence"]["status"] == 422  # the exchange that decided the cell, quoted
    assert items["request.seed"]["evidence"]["sent"].startswith("seed=42")
    assert "Extra inputs are not permitted" in items["request.seed"]["evidence"]["message"]
    assert items["request.seed"]["fix_status"] == "verified"  # the random_seed probe worked on that target
    assert items["tools.tool_choice.required"]["fix"] == 'map `tool_choice: "required"` to `"any"`'
    assert items["tools.tool_choice.required"]["fix_source"] == "hint"  # the `any` probe was SUPPORTED there
    assert items["request.max_completion_tokens"]["fix"] == "send `max_tokens` instead of `max_completion_tokens`"
    assert items["tools.followup_turn"]["fix"].startswith("tool-call ids must be 9 letters or digits")
    assert items["stream.usage_chunk"]["rank"] == "warning"
    assert items["stream.usage_chunk"]["fix"].startswith("read usage from whichever chunk carries it")
    assert items["errors.unknown_model"]["rank"] == "warning"
    assert "both shapes" in items["errors.unknown_model"]["fix"]
    assert items["request.stream_options"]["fix"] == "drop `stream_options`"
    assert items["request.web_search_options"]["rank"] == "info"
    assert items["request.top_p"]["fix"] is None  # a timeout is not blamed on the parameter
    assert "request.n" not in items and "request.temperature" not in items  # same verdicts


def test_items_are_ranked_worst_first(both: dict) -> None:
    ranks = [i["rank"] for i in migration_diff(both, "openai")["targets"]["mistral"]["items"]]
    order = {"blocker": 0, "warning": 1, "info": 2}
    assert ranks == sorted(ranks, key=order.__getitem__)


def test_reverse_direction(both: dict) -> None:
    items = _items(migration_diff(both, "mistral"), "openai")
    assert items["request.web_search_options"]["rank"] == "blocker"
    assert items["request.seed"]["rank"] == "info"


def test_known_fix_globs() -> None:
    assert known_fix("errors.bad_key").startswith("parse error bodies in both shapes")
    assert "assistant turn" in known_fix("conversation.user_after_tool")
    assert known_fix("conversation.something_new") is None  # no target-specific advice without evidence
    assert known_fix("request.unheard_of") is None


def test_decisions(both: dict) -> None:
    diff = migration_diff(both, "openai", {"features": ["request.seed", "tools.tool_choice.required"]})
    entry = diff["targets"]["mistral"]
    assert entry["decision"] == "go with changes"  # both used blockers have a fix the suite saw working there
    assert entry["rule"].startswith("GO WITH CHANGES: 2 blocker(s) on used paths, each with a verified fix")
    assert "request.seed" in entry["decision_reason"]
    # stream.tool_call_deltas is a blocker whose fix is a client-side change the suite cannot try: no-go
    streams = migration_diff(both, "openai", {"features": ["request.seed", "stream.*"]})["targets"]["mistral"]
    assert _items({"targets": {"mistral": streams}})["stream.tool_call_deltas"]["fix_status"] == "unverified"
    assert streams["decision"] == "no-go" and "stream.tool_call_deltas" in streams["decision_reason"]
    assert streams["rule"] == "NO-GO: 1 blocker(s) on used paths without a verified fix"
    assert _items(diff)["request.seed"]["used"] is True
    assert _items(diff)["request.logprobs"]["used"] is False
    assert migration_diff(both, "openai", {"features": ["request.n"]})["targets"]["mistral"]["decision"] == "go"
    both["features"]["request.n"]["mistral"]["support"] = "IGNORED"  # no known fix for request.n
    entry = migration_diff(both, "openai", {"features": ["request.n"]})["targets"]["mistral"]
    assert entry["decision"] == "no-go" and "request.n" in entry["decision_reason"]
    whole = migration_diff(both, "openai")["targets"]["mistral"]  # without --uses every feature counts
    assert whole["decision"] == "no-go" and "every feature counts" in whole["rule"]


def test_blockers_are_ranked_by_harm_never_by_catalogue_order(both: dict) -> None:
    items = [i for i in migration_diff(both, "openai")["targets"]["mistral"]["items"] if i["rank"] == "blocker"]
    harms = [i["harm"] for i in items]
    assert harms == sorted(harms, key=["client code breaks", "request refused", "silently ignored"].index)
    assert items[0]["feature"] == "stream.tool_call_deltas"  # client code breaks on the answer: first
    refused = [i for i in items if i["harm"] == "request refused"]
    fixes = [i["fix_status"] == "verified" for i in refused]
    assert fixes == sorted(fixes)  # without a verified fix before with one
    assert [i["feature"] for i in items] != sorted(i["feature"] for i in items)
    uses = migration_diff(both, "openai", {"features": ["request.seed"]})["targets"]["mistral"]["items"]
    assert uses[0]["feature"] == "request.seed"  # the app's own features come first


def test_a_partial_cell_whose_deciding_variant_was_refused_is_a_blocker_quoting_that_answer() -> None:
    """temperature 0-1.5 work, 2.0 gets a 422: the row quotes the 422, not a note about another variant."""
    def rec(probe: str, support: str, value: float, status: int, body: dict) -> dict:
        return {"probe": probe, "status": "OK", "support": support, "conformance": "OK", "notes": [],
                "measurements": {}, "findings": [], "exchanges": [
                    {"role": "control-1", "request": {"body": {"model": "m", "temperature": 0}},
                     "response": {"status": 200, "body": {}}},
                    {"role": "variant-1", "request": {"body": {"model": "m", "temperature": value}},
                     "response": {"status": status, "body": body}}]}
    refused = {"object": "error", "message": {"detail": [{"loc": ["body", "temperature"],
                                                          "msg": "Input should be less than or equal to 1.5"}]}}
    invalid = rec("request.temperature.invalid", "REJECTED", 5, 422, refused)
    invalid["notes"] = ["rejects the invalid value, as OpenAI does (names temperature)"]
    cell = _cell("PARTIAL", notes=["variants differ: request.temperature.zero: SUPPORTED, "
                                   "request.temperature.top_of_range: REJECTED"],
                 evidence=[rec("request.temperature.zero", "SUPPORTED", 0, 200, {}), invalid,
                           rec("request.temperature.top_of_range", "REJECTED", 2.0, 422, refused)])
    results = {"targets": {"openai": {}, "mistral": {}},
               "features": {"request.temperature": {"openai": _cell("SUPPORTED"), "mistral": cell}}}
    item = _items(migration_diff(results, "openai"))["request.temperature"]
    assert item["rank"] == "blocker" and item["harm"] == "request refused"
    assert item["evidence"]["probe"] == "request.temperature.top_of_range"
    assert item["evidence"]["sent"] == "temperature=2.0" and item["evidence"]["status"] == 422
    assert item["evidence"]["message"] == "temperature: Input should be less than or equal to 1.5"


def test_a_known_deviation_is_marked_and_counted_apart() -> None:
    results = {"run": {"known_deviations": [{"target": "mistral", "feature": "stream.tool_call_deltas"}]},
               "targets": {"openai": {}, "mistral": {}}, "features": {
                   "stream.tool_call_deltas": {"openai": _cell("SUPPORTED"), "mistral": _cell("SUPPORTED", "FAILED")}}}
    entry = migration_diff(results, "openai")["targets"]["mistral"]
    assert entry["items"][0]["known_deviation"] is True
    assert ", 1 of them known deviations" in entry["rule"]


def test_without_a_baseline_each_target_is_judged_on_its_own(both: dict) -> None:
    alone = self_plan(both)
    mistral = _items(alone)
    assert mistral["stream.tool_call_deltas"]["rank"] == "blocker"  # a MUST broken, whatever any baseline does
    # REJECTED holds against a target only for an app that sends it; the 422 (a SHOULD broken) is a warning
    assert mistral["request.seed"]["rank"] == "warning"
    used = _items(self_plan(both, {"features": ["request.seed"]}))
    assert used["request.seed"]["rank"] == "blocker" and used["request.seed"]["used"] is True
    assert "no baseline" in alone["rule"]


def test_unknown_baseline(both: dict) -> None:
    with pytest.raises(KeyError, match="targets: openai, mistral"):
        migration_diff(both, "vllm")


def test_load_uses_toml_json_and_parameter_names(tmp_path: Path) -> None:
    toml = tmp_path / "uses.toml"
    toml.write_text('features = ["request.seed", "stream.*"]\nparameters = ["max_completion_tokens"]\n')
    assert load_uses(toml)["features"] == ["request.seed", "stream.*", "request.max_completion_tokens"]
    js = tmp_path / "uses.json"
    js.write_text(json.dumps(["seed", "tools.tool_choice.required"]))
    assert load_uses(js)["features"] == ["request.seed", "tools.tool_choice.required"]
    bad = tmp_path / "bad.toml"
    bad.write_text("features = [")
    with pytest.raises(UsesError, match="bad.toml"):
        load_uses(bad)
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    with pytest.raises(UsesError, match="non-empty list"):
        load_uses(empty)


def test_summary_markdown_has_migration(both: dict) -> None:
    md = render_summary_md(both, "openai", {"features": ["request.seed"]})
    assert "## Migration plan from openai" in md
    assert "verified: send `random_seed` instead of `seed`" in md
    assert "openai → mistral — **GO WITH CHANGES: 1 blocker(s) on used paths, each with a verified fix" in md
    assert md.index("## Decision") < md.index("## Top findings")


def _reachable(pattern: str, ids: set[str]) -> bool:
    return any(matches_any(i, [pattern]) for i in ids)


@pytest.mark.parametrize("table", ["KNOWN_FIXES", "SDK_FEATURES"])
def test_every_entry_is_reachable_by_a_probe(table: str) -> None:
    """A fix (or an SDK mapping) keyed on a feature no probe produces can never be shown."""
    features = {p.feature for p in PROBES}
    entries = {"KNOWN_FIXES": KNOWN_FIXES, "SDK_FEATURES": SDK_FEATURES}[table]
    unreachable = [k for k in entries if not _reachable(k, features)]
    assert not unreachable, f"{table} entries no probe can trigger: {unreachable}"
    if table == "SDK_FEATURES":
        assert set(SDK_FEATURES.values()) <= features


def test_the_reachability_check_catches_an_orphan() -> None:
    assert not _reachable("tools.parameters_required", {p.feature for p in PROBES})  # the old, orphaned key


def _cell(support: str, conformance: str = "OK", evidence: list[dict] | None = None, notes: list[str] | None = None
          ) -> dict:
    return {"status": "OK", "support": support, "conformance": conformance, "notes": notes or [],
            "evidence": evidence or []}


def test_a_blocker_names_the_sdk_call_that_breaks_and_a_fix_only_when_shown() -> None:
    raised = {"probe": "sdk.openai.stream_tools", "status": "OK", "support": "UNVERIFIABLE", "conformance": "FAILED",
              "measurements": {"call": "client.chat.completions.stream(..., tools=[...]).get_final_completion()"},
              "notes": ["... raised TypeError on a 2xx answer: list indices must be integers or slices, not NoneType"]}
    rejected = {"probe": "request.seed.repeat", "status": "OK", "support": "REJECTED", "conformance": "NON_STRICT",
                "measurements": {"http_status": 422}, "notes": []}
    results = {"targets": {"openai": {}, "mistral": {}}, "features": {
        "stream.tool_call_deltas": {"openai": _cell("SUPPORTED"), "mistral": _cell("SUPPORTED", "FAILED", [
            {"probe": "stream.reassembly.tool_calls", "status": "OK", "support": "SUPPORTED"}])},
        "sdk.openai.stream_tools": {"openai": _cell("SUPPORTED"), "mistral": _cell("UNVERIFIABLE", "FAILED", [raised])},
        "request.seed": {"openai": _cell("SUPPORTED"), "mistral": _cell("REJECTED", "NON_STRICT", [rejected])},
    }}
    items = _items(migration_diff(results, "openai"))
    deltas = items["stream.tool_call_deltas"]
    assert deltas["rank"] == "blocker"
    assert deltas["sdk_call"].startswith("client.chat.completions.stream(..., tools=[...])")
    assert "TypeError" in deltas["sdk_call"]
    assert deltas["fix"] and deltas["fix_status"] == "unverified"  # a client-side change the suite cannot try
    seed = items["request.seed"]
    assert seed["sdk_call"] == "client.chat.completions.create(...) raises openai.UnprocessableEntityError (HTTP 422)"
    assert seed["fix"] is None and "random_seed" in seed["no_fix_reason"]  # no hint probe ran on the target
    results["features"]["request.seed"]["mistral"]["evidence"].append(
        {"probe": "request.seed.hint_random_seed", "status": "OK", "support": "SUPPORTED"})
    seed = _items(migration_diff(results, "openai"))["request.seed"]
    assert seed["fix"] == "send `random_seed` instead of `seed`" and seed["fix_status"] == "verified"


def test_fixtures_and_fixes_name_only_features_the_registry_produces() -> None:
    """A migration fixture or a known fix about a feature id the suite never produces tests nothing."""
    produced = {p.feature for p in PROBES}
    probe_ids = {p.id for p in PROBES}
    for name in ("openai_mistral.json", "openai.json", "mistral.json"):
        assert sorted(set(load_results(DATA / name)["features"]) - produced) == [], name
    for pattern, (_fix, evidence) in KNOWN_FIXES.items():
        assert any(matches_any(f, [pattern]) for f in produced), pattern
        assert evidence is None or evidence in produced or evidence in probe_ids, (pattern, evidence)


def test_a_fix_is_offered_only_where_its_evidence_was_supported(both: dict) -> None:
    """"Send X instead" needs X SUPPORTED on that target; otherwise the item says why there is no fix."""
    cell = both["features"]["request.seed"]["mistral"]
    cell["hint"] = None
    for rec in cell["evidence"]:
        if rec["probe"] == "request.seed.hint_random_seed":
            rec["support"] = "IGNORED"
    item = _items(migration_diff(both, "openai"))["request.seed"]
    assert item["fix"] is None
    assert "cannot tell" in item["no_fix_reason"] and "IGNORED" in item["no_fix_reason"]


def test_unverifiable_used_feature_is_check_by_hand_never_go(both: dict) -> None:
    both["features"]["request.n"]["openai"]["support"] = "UNVERIFIABLE"
    both["features"]["request.n"]["mistral"]["support"] = "UNVERIFIABLE"
    entry = migration_diff(both, "openai", {"features": ["request.n"]})["targets"]["mistral"]
    assert entry["decision"] != "go"
    assert "check by hand" in _items(migration_diff(both, "openai", {"features": ["request.n"]}))["request.n"][
        "difference"]


def test_a_deviation_the_baseline_shares_is_listed_never_hidden() -> None:
    """Flat 422 error bodies on the baseline too: the app meets them either way, so the row says so."""
    flat = _cell("SUPPORTED", "NON_STRICT")
    results = {"targets": {"vllm": {}, "mistral": {}}, "features": {
        "errors.invalid_value": {"vllm": flat, "mistral": dict(flat)},
        "request.n": {"vllm": _cell("SUPPORTED"), "mistral": _cell("SUPPORTED")}}}
    item = _items(migration_diff(results, "vllm"))["errors.invalid_value"]
    assert item["rank"] == "info" and item["difference"] == "the same on vllm: SUPPORTED · NON_STRICT"
    used = _items(migration_diff(results, "vllm", {"features": ["errors.*"]}))["errors.invalid_value"]
    assert used["rank"] == "warning"
    assert "request.n" not in _items(migration_diff(results, "vllm"))  # clean on both: nothing to say
