"""The forensic report of the investigation notebook in a real browser (Debian's chromium via Playwright) and
printed to PDF by headless Chromium, as a reader would open and print it.

Checked: no network request at all when the report opens (every request the page makes is recorded), the
sections are there, nothing runs past the right edge of an A4 page when printed (every element's content
fits its box in print layout at A4's content width), long filters are wrapped whole (pdftotext finds them),
and the PDF's pages render (pdftoppm). Screenshots and page images go to build/screenshots/ for a person to
look at. Skips with the reason when chromium, Playwright or poppler-utils is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"
NOTEBOOK = ROOT / "notebooks" / "02-incident-investigation.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
A4_CONTENT_PX = round((210 - 2 * 14) / 25.4 * 96)  # 210 mm less the report's 14 mm margins, at 96 px/inch
LONG_FILTER = ("((proc.name=nsenter and evt.type=openat and evt.failed=true and fd.name contains /ns/) or "
               "fd.name=/etc/shadow) and evt.dir=<")
#: every element whose content is wider than its box (the print check)
OVERFLOW_JS = """() => [...document.querySelectorAll('body *')].filter(el => {
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.display === 'inline' || el.closest('svg')) return false;
    return el.scrollWidth > el.clientWidth + 1 && s.overflowX === 'visible';
  }).map(el => el.tagName + '.' + el.className + ': ' + (el.textContent || '').slice(0, 80))"""


def _missing() -> str | None:
    if CHROMIUM is None:
        return "chromium is not installed (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'sysnb[test]')"
    return None


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from sysnb.report import export

    out = tmp_path_factory.mktemp("report")
    html, pdf = out / "incident-report.html", out / "incident-report.pdf"
    export(NOTEBOOK, html, pdf=pdf)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield {"html": html, "pdf": pdf}


@pytest.fixture(scope="module")
def browser(report: dict[str, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-background-networking"])
        yield b
        b.close()


def test_report_opens_without_any_network_request(browser: Any, report: dict[str, Path]) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, color_scheme="light")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    url = report["html"].as_uri()
    page.goto(url, wait_until="load")
    page.wait_for_timeout(500)  # late fetches (fonts, lazy images) would show up here
    assert requests == [url], f"the report fetched {requests[1:]}"
    assert blocked == [], blocked  # nothing even tried to load
    for sid in ("summary", "timeline", "evidence", "methods", "findings", "narrative", "limitations", "appendix"):
        assert page.locator(f"section#{sid}").count() == 1, sid
    assert page.locator("section#summary tbody tr").count() == 6  # the notebook's six findings
    assert page.locator("section#appendix article.mark").count() == 3
    assert page.locator("section#narrative .jp-InputArea").count() == 0  # code hidden by default
    assert page.locator("script:not([type='application/json'])").count() == 0
    page.screenshot(path=str(SHOTS / "report-cover.png"))
    page.locator("section#evidence").screenshot(path=str(SHOTS / "report-evidence.png"))
    page.locator("section#appendix article.mark").first.screenshot(path=str(SHOTS / "report-appendix-mark.png"))
    page.close()


def test_report_prints_to_a4_without_clipping(browser: Any, report: dict[str, Path]) -> None:
    page = browser.new_page(viewport={"width": A4_CONTENT_PX, "height": 1100}, color_scheme="light")
    page.emulate_media(media="print")
    page.goto(report["html"].as_uri(), wait_until="load")
    assert page.evaluate("document.documentElement.scrollWidth") <= A4_CONTENT_PX
    overflowing = page.evaluate(OVERFLOW_JS)
    assert overflowing == [], "content wider than its box in print layout:\n" + "\n".join(overflowing[:20])
    page.screenshot(path=str(SHOTS / "report-print-a4.png"), full_page=False)
    page.close()


def test_pdf_pages_render_and_keep_long_filters_whole(report: dict[str, Path]) -> None:
    pdftoppm, pdftotext = shutil.which("pdftoppm"), shutil.which("pdftotext")
    if not pdftoppm or not pdftotext:
        pytest.skip("poppler-utils is not installed (apt-get install poppler-utils)")
    info = subprocess.run(["pdfinfo", str(report["pdf"])], capture_output=True, text=True, check=True).stdout
    assert "A4" in info and int(re.search(r"Pages:\s+(\d+)", info)[1]) >= 5  # type: ignore[index]
    text = subprocess.run([pdftotext, str(report["pdf"]), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", LONG_FILTER) in flat  # wrapped over lines, but every character is on the page
    assert "IR-2026-1127" in text and "Appendix: bookmarked events" in text
    prefix = SHOTS / "report-pdf"
    subprocess.run([pdftoppm, "-r", "60", "-png", "-f", "1", "-l", "4", str(report["pdf"]), str(prefix)], check=True)
    pages = sorted(SHOTS.glob("report-pdf-*.png"))
    assert len(pages) >= 4 and all(p.stat().st_size > 5000 for p in pages)  # rendered, not blank


def test_letter_pdf(report: dict[str, Path], tmp_path: Path) -> None:
    if not shutil.which("pdfinfo"):
        pytest.skip("poppler-utils is not installed (apt-get install poppler-utils)")
    from sysnb.report.pdf import print_pdf

    letter = print_pdf(report["html"], tmp_path / "letter.pdf", "letter")
    info = subprocess.run(["pdfinfo", str(letter)], capture_output=True, text=True, check=True).stdout
    assert "612 x 792 pts (letter)" in info
