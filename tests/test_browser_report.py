"""compat.html in a real headless Chromium at 1400×900: the first viewport decides, evidence opens on demand as text,
filters and the sticky header work, the embedded default's page stays under 1.5 MB.

Real runs: the embedded default (`pytest conformance`, replayed) and a live run against the keyed Mistral-like fake
(tests/fakeserver.mistral_like, built from ../shared/quirks/mistral.md) compared with `--baseline openai` (documented)
and with the embedded default's vllm (`conformance report … --baseline results.json`). Screenshots go to
reports/screenshots/ and to tmp_path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.report.report_html import write_compat_html
from conformance.report.results_io import load_results
from tests.fakeserver import FakeServer, mistral_like

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "results"
SHOTS = ROOT / "reports" / "screenshots"
VIEWPORT = {"width": 1400, "height": 900}
MAX_PAGE_BYTES = 1_500_000
KEY = "sk-test-mistral-like"  # the fake's key, set in the child's environment only

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright python package is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser: object, html: Path) -> tuple[object, list[str], object]:
    context = browser.new_context(viewport=VIEWPORT, offline=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("request", lambda r: errors.append(f"network request: {r.url}") if not r.url.startswith(("file:", "blob:",
                                                                                                  "data:")) else None)
    pg.goto(html.as_uri())
    return pg, errors, context


@pytest.fixture
def page(browser: object, tmp_path: Path) -> Iterator[tuple[object, list[str]]]:
    html = tmp_path / "compat.html"
    write_compat_html(load_results(DATA / "openai_mistral.json"), html, baseline="openai",
                      uses={"features": ["request.seed", "tools.tool_choice.required", "stream.*"]})
    pg, errors, context = _open(browser, html)
    yield pg, errors
    context.close()


def _shot(pg: object, name: str, tmp_path: Path, **kw: object) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(tmp_path / name), **kw)
    shutil.copy(tmp_path / name, SHOTS / name)


def _pytest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, check=False, env=env)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded default, as a user first runs it: its report directory."""
    out = tmp_path_factory.mktemp("embedded")
    proc = _pytest("--report-dir", str(out))
    assert proc.returncode == 0, proc.stdout[-2000:]
    return out


@pytest.fixture(scope="module")
def mistral_live(tmp_path_factory: pytest.TempPathFactory, embedded: Path) -> dict[str, Path]:
    """A live run against the keyed Mistral-like fake with --baseline openai (documented), and the same results
    compared with the embedded default's vllm."""
    out = tmp_path_factory.mktemp("mistral")
    uses = out / "uses.toml"
    uses.write_text('features = ["request.temperature", "request.seed", "stream.*", "tools.*", "request.tools"]\n')
    with FakeServer(mistral_like(api_key=KEY)) as srv:
        (out / "targets.toml").write_text(f'[targets.mistral]\nbase_url = "{srv.base_url}"\nmodel = "fake-model"\n'
                                          "high_temperature = 1.5\n")
        proc = _pytest("--targets-file", str(out / "targets.toml"), "--target", "mistral", "--record-mode", "all",
                       "--cassette-dir", str(out / "cassettes"), "--report-dir", str(out / "openai"),
                       "--baseline", "openai", "--uses", str(uses), env={**os.environ, "MISTRAL_API_KEY": KEY})
    assert proc.returncode == 1, proc.stdout[-3000:]  # the Mistral-like fake breaks MUSTs: the run fails, and says so
    assert "migration decision (from openai (documented, not measured)" in proc.stdout
    report = subprocess.run([sys.executable, "-m", "conformance", "report", str(out / "openai" / "results.json"), "-o",
                             str(out / "vllm"), "--baseline", str(embedded / "results.json"), "--uses", str(uses)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert report.returncode == 0, report.stderr
    assert "vllm → mistral: NO-GO" in report.stdout
    return {"openai": out / "openai" / "compat.html", "vllm": out / "vllm" / "compat.html"}


def _first_viewport(pg: object) -> dict[str, object]:
    """What is visible before any scrolling: the decision cards and alerts wholly inside the first 900 px."""
    return pg.evaluate("""() => {
      const inView = el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight &&
                             r.width > 0 && getComputedStyle(el).visibility !== 'hidden'; };
      const cards = [...document.querySelectorAll('#decision .card')].map(c => ({
        visible: inView(c), pair: c.querySelector('.pairname').innerText,
        verdict: c.querySelector('.verdict').innerText,
        rule: c.querySelector('.rule').innerText, blockers: c.querySelector('.n-blockers').innerText,
        warnings: c.querySelector('.n-warnings').innerText, unexpected: c.querySelector('.n-unexpected').innerText,
        known: c.querySelector('.n-known').innerText}));
      return {scrollY: scrollY, cards: cards, alerts: [...document.querySelectorAll('#decision .alert')]
                .filter(inView).map(a => a.innerText),
              counts: inView(document.getElementById('fail-counts')) ? document.getElementById('fail-counts').innerText
                      : null};
    }""")


def _assert_decides(view: dict[str, object]) -> None:
    assert view["scrollY"] == 0
    assert view["cards"], "no decision on the first screen"
    for card in view["cards"]:
        assert card["visible"], card
        assert card["verdict"] in ("GO", "GO WITH CHANGES", "NO-GO"), card
        assert card["rule"].startswith(card["verdict"] + ":"), card  # the rule that made it, in words
        for key in ("blockers", "warnings", "unexpected", "known"):
            assert card[key].isdigit(), (key, card)
    assert "unexpected failures:" in view["counts"] and "known deviations (expected, confirmed):" in view["counts"]


def test_embedded_default_first_screen_decides_and_the_page_is_small(browser: object, embedded: Path,
                                                                      tmp_path: Path) -> None:
    html = embedded / "compat.html"
    assert html.stat().st_size < MAX_PAGE_BYTES, html.stat().st_size
    pg, errors, context = _open(browser, html)
    _shot(pg, "first-screen-embedded.png", tmp_path)
    view = _first_viewport(pg)
    _assert_decides(view)
    assert {c["pair"] for c in view["cards"]} == set(load_results(embedded / "results.json")["targets"])
    assert view["alerts"] == []  # complete and green: no alarm
    assert "unexpected failures: 0" in view["counts"] and "known deviations (expected, confirmed): 0" not in view[
        "counts"]  # the shipped known deviations are confirmed, apart from failures
    known = pg.locator("tr.frow .chip.c-known")
    assert known.count() >= 1 and "KNOWN DEVIATION" in known.first.inner_text()
    assert pg.locator("tr.frow .chip.c-failed").count() == 0  # no confirmed deviation looks like a plain failure
    assert errors == []
    context.close()


def test_live_mistral_like_against_documented_openai_first_screen(browser: object, mistral_live: dict[str, Path],
                                                                  tmp_path: Path) -> None:
    pg, errors, context = _open(browser, mistral_live["openai"])
    _shot(pg, "first-screen-mistral-openai.png", tmp_path)
    view = _first_viewport(pg)
    _assert_decides(view)
    [card] = view["cards"]
    assert card["pair"] == "openai (documented, not measured) → mistral" and card["verdict"] == "NO-GO"
    assert "on used paths without a verified fix" in card["rule"] and int(card["unexpected"]) >= 1
    assert any(a.startswith("THE RUN EXITED 1") for a in view["alerts"]), view["alerts"]
    assert "documented, not measured" in pg.inner_text("#decision")
    assert errors == []
    context.close()


def test_live_mistral_like_against_vllm_plan_quotes_the_deciding_exchange(browser: object,
                                                                          mistral_live: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    pg, errors, context = _open(browser, mistral_live["vllm"])
    _shot(pg, "first-screen-mistral-vllm.png", tmp_path)
    view = _first_viewport(pg)
    _assert_decides(view)
    assert "vllm → mistral" in [c["pair"] for c in view["cards"]]
    temperature = pg.locator("#plan tr.mrow[data-target='mistral'][data-feature='request.temperature']").inner_text()
    assert "temperature=2.0" in temperature and "HTTP 422" in temperature and "less than or equal to 1.5" in temperature
    plan = pg.locator("#plan tr.mrow[data-target='mistral']")
    ranks = [(r.get_attribute("data-used"), r.get_attribute("data-rank")) for r in plan.all()]
    order = [("yes", "blocker"), ("yes", "warning"), ("no", "blocker"), ("no", "warning")]
    assert ranks and ranks == sorted(ranks, key=order.index)  # the app's own features first, blockers first
    first = plan.first.inner_text()
    assert "client code breaks" in first  # harm decides the order, never the catalogue
    pg.locator("#plan button.evbtn").first.click()
    pg.wait_for_selector("dialog#viewer[data-ready]")
    assert "probe" in pg.inner_text("dialog#viewer")
    _shot(pg, "plan-evidence.png", tmp_path)
    assert errors == []
    context.close()


def test_matrix_loads_without_errors(page: tuple, tmp_path: Path) -> None:
    pg, errors = page
    pg.evaluate("document.getElementById('matrix').scrollIntoView()")
    _shot(pg, "matrix.png", tmp_path)
    assert errors == []
    assert pg.locator("tr.frow").count() == 23
    assert pg.evaluate("window.__pwned") is None


def test_click_cell_shows_evidence_as_text(page: tuple, tmp_path: Path) -> None:
    pg, errors = page
    pg.uncheck("#f-diff")
    pg.locator("tr.frow[data-search^='chat.completion'] a.cellbtn").first.click()
    dialog = pg.locator("dialog#viewer")
    pg.wait_for_selector("dialog#viewer[data-ready]")
    text = dialog.inner_text()
    assert "chat.completion on openai" in text
    assert "<script>window.__pwned=1</script>" in text
    assert 'onerror=\\"window.__pwned=2\\"' in text
    assert dialog.locator("script, img").count() == 0
    assert pg.locator("body img").count() == 0
    _shot(pg, "evidence.png", tmp_path)
    assert pg.evaluate("typeof window.__pwned") == "undefined"
    pg.keyboard.press("Escape")
    assert not dialog.is_visible()
    pg.locator("tr.frow[data-search^='request.seed'] a.cellbtn").nth(1).click()
    pg.wait_for_selector("dialog#viewer[data-ready='request.seed|mistral']")
    text = dialog.inner_text()
    assert "REJECTED" in text and "send `random_seed` instead of `seed`" in text and "/message" in text
    assert errors == []


def test_filters_search_and_opening_on_differences(page: tuple) -> None:
    pg, errors = page
    visible = "document.querySelectorAll('tr.frow:not([hidden])').length"
    assert pg.is_checked("#f-diff")  # with a baseline the matrix opens on what differs or failed
    diff = pg.evaluate(visible)
    assert 0 < diff < 23
    pg.uncheck("#f-diff")
    assert pg.evaluate(visible) == 23
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


def test_matrix_header_stays_visible_while_scrolling(page: tuple, tmp_path: Path) -> None:
    pg, errors = page
    pg.uncheck("#f-diff")
    pg.evaluate("document.querySelector('table.matrix tbody:last-of-type tr.frow:last-child').scrollIntoView()")
    head = pg.evaluate("(r => [r.top, r.bottom])(document.querySelector('table.matrix thead th')"
                       ".getBoundingClientRect())")
    table_top = pg.evaluate("document.querySelector('table.matrix').getBoundingClientRect().top")
    # the table scrolled away, its header row did not (a collapsed border may shift it by a few pixels)
    assert table_top < -200 and -8 < head[0] <= 2 and head[1] > 20, (table_top, head)
    _shot(pg, "sticky-header.png", tmp_path)
    assert errors == []


def test_plan_lists_expected_differences_with_fixes(page: tuple, tmp_path: Path) -> None:
    pg, errors = page
    section = pg.locator("#plan")
    pg.evaluate("document.getElementById('plan').scrollIntoView()")
    _shot(pg, "migration.png", tmp_path)
    used = section.locator("tr.mrow").all_inner_texts()
    assert used and all("yes" in row for row in used)  # with --uses the table holds the app's own features
    pg.evaluate("document.querySelectorAll('#plan details').forEach(d => { d.open = true; })")
    text = section.inner_text()
    assert "openai → mistral" in text and "NO-GO" in text
    for expected in ("send `random_seed` instead of `seed`", 'map `tool_choice: "required"` to `"any"`',
                     "send `max_tokens`", "tool-call ids must be 9 letters or digits",
                     "read usage from whichever chunk carries it", "parse error bodies in both shapes"):
        assert expected in text, expected
    blockers = [r.inner_text() for r in section.locator("tr.mrow[data-rank='blocker']").all()]
    assert any("request.seed" in b and "VERIFIED" in b for b in blockers)
    assert errors == []


def test_print_keeps_decision_and_plan_and_hides_controls(page: tuple) -> None:
    pg, errors = page
    pg.emulate_media(media="print")
    assert pg.locator("#decision").is_visible() and pg.locator("#plan").is_visible()
    assert not pg.locator(".filters").is_visible() and not pg.locator("#evidence").is_visible()
    assert errors == []
