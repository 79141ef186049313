"""compat.html in a real headless Chromium: no console errors, evidence opens, model output stays text.

Screenshots (matrix, an open cell, the migration view) go to reports/screenshots/ and to tmp_path.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.report.report_html import write_compat_html
from conformance.report.results_io import load_results

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "results"
SHOTS = ROOT / "reports" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright python package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: object, tmp_path: Path) -> Iterator[tuple[object, list[str]]]:
    html = tmp_path / "compat.html"
    write_compat_html(load_results(DATA / "openai_mistral.json"), html, baseline="openai",
                      uses={"features": ["request.seed", "tools.tool_choice.required", "stream.*"]})
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("request", lambda r: errors.append(f"network request: {r.url}") if not r.url.startswith("file:") else None)
    pg.goto(html.as_uri())
    yield pg, errors
    context.close()


def _shot(pg: object, name: str, tmp_path: Path, **kw: object) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(tmp_path / name), **kw)
    shutil.copy(tmp_path / name, SHOTS / name)


def test_matrix_loads_without_errors(page: tuple, tmp_path: Path) -> None:
    pg, errors = page
    pg.locator("#matrix").scroll_into_view_if_needed()
    pg.evaluate("document.getElementById('matrix').scrollIntoView()")
    _shot(pg, "matrix.png", tmp_path)
    assert errors == []
    assert pg.locator("tr.frow").count() == 23
    assert pg.evaluate("window.__pwned") is None


def test_click_cell_shows_evidence_as_text(page: tuple, tmp_path: Path) -> None:
    pg, errors = page
    pg.locator("tr.frow[data-search^='chat.completion'] a.cellbtn").first.click()
    dialog = pg.locator("dialog#viewer")
    assert dialog.is_visible()
    text = dialog.inner_text()
    assert "chat.completion on openai" in text
    assert "<script>window.__pwned=1</script>" in text
    assert 'onerror=\\"window.__pwned=2\\"' in text
    assert dialog.locator("script, img").count() == 0
    assert pg.locator("body img").count() == 0
    _shot(pg, "open-cell.png", tmp_path)
    assert pg.evaluate("typeof window.__pwned") == "undefined"
    pg.keyboard.press("Escape")
    assert not dialog.is_visible()
    pg.locator("tr.frow[data-search^='request.seed'] a.cellbtn").nth(1).click()
    text = dialog.inner_text()
    assert "REJECTED" in text and "send `random_seed` instead of `seed`" in text and "/message" in text
    assert errors == []


def test_filters_and_search(page: tuple) -> None:
    pg, errors = page
    visible = "document.querySelectorAll('tr.frow:not([hidden])').length"
    pg.check("#f-diff")
    diff = pg.evaluate(visible)
    assert 0 < diff < 23
    pg.uncheck("#f-diff")
    pg.select_option("#f-group", "tools")
    assert pg.evaluate(visible) == 3
    pg.select_option("#f-group", "")
    pg.select_option("#f-word", "REJECTED")
    assert pg.evaluate(visible) == 10
    pg.select_option("#f-word", "")
    pg.fill("#f-text", "extra_forbidden")
    assert pg.evaluate(visible) == 5
    assert "5 of 23" in pg.inner_text("#f-count")
    assert errors == []


def test_migration_view_lists_expected_differences(page: tuple, tmp_path: Path) -> None:
    pg, errors = page
    section = pg.locator("#migration")
    section.scroll_into_view_if_needed()
    pg.evaluate("document.getElementById('migration').scrollIntoView()")
    _shot(pg, "migration.png", tmp_path)
    text = section.inner_text()
    assert "openai → mistral" in text and "GO WITH CHANGES" in text
    for expected in ("send `random_seed` instead of `seed`", 'map `tool_choice: "required"` to `"any"`',
                     "send `max_tokens`", "tool-call ids must be 9 letters or digits",
                     "read usage from whichever chunk carries it", "parse error bodies in both shapes"):
        assert expected in text, expected
    blockers = [r.inner_text() for r in section.locator("tr.mrow[data-rank='blocker']").all()]
    assert any("request.seed" in b for b in blockers)
    assert errors == []


def test_print_expands_evidence(page: tuple) -> None:
    pg, errors = page
    pg.emulate_media(media="print")
    pg.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert pg.evaluate("Array.from(document.querySelectorAll('details.ev')).every(d => d.open)")
    assert not pg.locator(".filters").is_visible()
    assert errors == []
