"""Migration view end to end: an OpenAI-like and a Mistral-like fake server, merged by `conformance report`."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from conformance.report.migration import migration_diff

ROOT = Path(__file__).resolve().parents[1]


def test_report_from_two_results_lists_the_mistral_differences(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("migration_demo", ROOT / "examples" / "migration_demo.py")
    assert spec and spec.loader
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    argv = sys.argv
    sys.argv = ["migration_demo.py", str(tmp_path)]
    try:
        assert demo.main() == 0
    finally:
        sys.argv = argv
    merged = json.loads((tmp_path / "results.json").read_text())
    assert set(merged["targets"]) == {"openai-like", "mistral-like"}
    diff = migration_diff(merged, "openai-like")
    items = {i["feature"]: i for i in diff["targets"]["mistral-like"]["items"]}
    for feature, fix in [("request.seed", "random_seed"), ("request.max_completion_tokens", "max_tokens"),
                         ("tools.followup_turn", "9 letters or digits"), ("stream.tool_call_deltas", "index"),
                         ("conversation.assistant_last", "user message")]:
        assert items[feature]["rank"] == "blocker", feature
        assert fix in items[feature]["fix"], (feature, items[feature]["fix"])
    html = (tmp_path / "compat.html").read_text()
    assert "random_seed" in html and "mistral-like" in html
