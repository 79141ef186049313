"""compat.html / report.html: escaping, determinism (golden check), self-containment, content."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from conformance.report.report_html import (
    LEGEND,
    embedded_evidence,
    render_compat_html,
    render_report_html,
    write_compat_html,
)
from conformance.report.results_io import feature_group, load_results

DATA = Path(__file__).parent / "data" / "results"
FILES = sorted(DATA.glob("*.json"))
RAW_SCRIPT = "<script>window.__pwned=1</script>"
RAW_IMG = '<img src=x onerror="window.__pwned=2">'


@pytest.fixture
def both() -> dict:
    return load_results(DATA / "openai_mistral.json")


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_rendering_is_deterministic_and_has_key_strings(path: Path) -> None:
    results = load_results(path)
    baseline = next(iter(results["targets"]))
    first = render_compat_html(results, baseline)
    assert first == render_compat_html(copy.deepcopy(results), baseline)
    assert render_report_html(results) == render_report_html(results)
    for key in ("OpenAI compatibility report", "Legend", "Evidence", "request.seed", "stream.usage_chunk",
                "SUPPORTED", *results["targets"]):
        assert key in first, key


def test_model_output_is_escaped(both: dict) -> None:
    for html in (render_compat_html(both, "openai"), render_report_html(both)):
        assert RAW_SCRIPT not in html
        assert "<img src=x" not in html
        # the page's own inline script, and in compat.html the evidence data (base64: never markup)
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts in ([], ["<script>"],
                           ['<script type="application/octet-stream" id="evidence-data">', "<script>"])
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in render_report_html(both)
    evidence = json.dumps(embedded_evidence(render_compat_html(both, "openai")))
    assert "window.__pwned=1" in evidence  # kept as data; the page renders it with textContent


def test_untrusted_text_in_names_and_notes_is_escaped(both: dict) -> None:
    evil = '"><script>alert(1)</script>'
    both["targets"][evil] = {"base_url": "http://x/v1", "model": evil}
    both["features"]["request.seed"][evil] = {
        "status": "OK", "support": "IGNORED", "conformance": "OK", "notes": [evil], "hint": evil, "evidence": []}
    html = render_compat_html(both, "openai")
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html


def test_self_contained_no_network(both: dict) -> None:
    html = render_compat_html(both, "openai")
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", html)
    assert "@import" not in html and "url(" not in html
    assert "<style>" in html and "<svg" in html


def test_legend_defines_every_verdict_word(both: dict) -> None:
    html = render_compat_html(both)
    words = {w for axis in LEGEND for w, _ in axis["values"]}
    assert {"OK", "ERROR", "TIMEOUT", "INTERNAL", "SKIPPED", "SUPPORTED", "PARTIAL", "IGNORED", "REJECTED",
            "UNVERIFIABLE", "NOT TESTED", "NON_STRICT", "FAILED"} <= words
    for axis in LEGEND:
        for word, rule in axis["values"]:
            assert rule in html and word in html


def test_cells_show_words_and_conformance(both: dict) -> None:
    html = render_compat_html(both)
    row = html.split('data-search="request.seed', 1)[1].split("</tr>", 1)[0]
    assert ">REJECTED</a>" in row and ">NON_STRICT</span>" in row and ">SUPPORTED</a>" in row
    top = html.split('data-search="request.top_p', 1)[1].split("</tr>", 1)[0]
    assert ">TIMEOUT</a>" in top
    effort = html.split('data-search="request.reasoning_effort', 1)[1].split("</tr>", 1)[0]
    assert "NOT TESTED" in effort


def test_group_falls_back_to_prefix(both: dict) -> None:
    assert feature_group(both, "request.n") == "parameters"
    assert feature_group(both, "conversation.user_after_tool") == "conversations"
    assert feature_group(both, "misc.thing") == "basics"
    both["feature_info"]["request.n"] = {"group": "json"}
    assert feature_group(both, "request.n") == "json"


def test_pictures_only_when_timings_present(both: dict) -> None:
    html = render_compat_html(both)
    assert "Latency per request" in html and "Time to first token" in html
    for t in both["targets"].values():
        t.pop("latency_ms"), t.pop("ttft_ms")
    html = render_compat_html(both)
    assert "Latency per request" not in html and "Time to first token" not in html
    assert "Support verdicts per target" in html


def test_incomplete_run_is_flagged(both: dict) -> None:
    both["run"]["complete"] = False
    both["run"]["interrupted_reason"] = "budget exhausted"
    html = render_compat_html(both)
    assert "INCOMPLETE RUN" in html and "budget exhausted" in html


def test_migration_view_only_with_baseline(both: dict, tmp_path: Path) -> None:
    alone = render_compat_html(both)
    assert "Migration plan" not in alone and "What holds against each target (no baseline)" in alone
    write_compat_html(both, tmp_path / "c.html", "openai", {"features": ["request.seed"]})
    html = (tmp_path / "c.html").read_text()
    assert 'id="plan"' in html and "openai → mistral" in html
    assert "send `random_seed` instead of `seed`" in html
    assert "GO WITH CHANGES" in html


def test_the_decision_comes_before_the_matrix_with_its_rule(both: dict) -> None:
    html = render_compat_html(both, "openai", {"features": ["request.seed", "stream.*"]})
    assert html.index('id="decision"') < html.index('id="plan"') < html.index('id="matrix"')
    card = html.split('class="card', 1)[1].split("</ol>", 1)[0]
    assert "NO-GO" in card and "NO-GO: 1 blocker(s) on used paths without a verified fix" in card
    assert 'class="n-blockers">' in card and "unexpected failures" in card


def test_a_known_deviation_has_its_own_word_and_style(both: dict) -> None:
    both["run"]["known_deviations"] = [{"target": "mistral", "feature": "stream.tool_call_deltas"}]
    html = render_compat_html(both)
    row = html.split('data-search="stream.tool_call_deltas', 1)[1].split("</tr>", 1)[0]
    assert "KNOWN DEVIATION" in row and "c-known" in row and 'c-failed' not in row
    assert 'id="n-known">1<' in html and 'id="n-unexpected">1<' in html  # the other one: request.top_p TIMEOUT


def test_evidence_shows_findings_sse_and_cassette(both: dict) -> None:
    html = render_compat_html(both)
    text = json.dumps(embedded_evidence(html), ensure_ascii=False)
    assert "/events/3/choices" in text  # finding pointer
    assert "[DONE]" in text  # the SSE events
    assert "mistral/request.seed.yaml" in text
    assert "ReadTimeout: timed out after 30.0 s" in text
    assert 'data-why="' in html  # "why it matters", shown with the evidence


