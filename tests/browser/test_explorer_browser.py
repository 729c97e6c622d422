"""The explorer in a real browser: JupyterLab headless on 127.0.0.1, Debian's chromium driven by Playwright.

A notebook showing ``cap.explore()`` on the bundled incident capture is run in the page, then the test clicks
through it as a user would (tile -> processes -> drill down -> crumbs, filter box with a mistake and a good
filter, row -> hex viewer -> follow fd, brushing the timeline) and checks the DOM after each step.
Screenshots go to build/screenshots/ (CI keeps them). Skips with the reason when chromium, Playwright or
JupyterLab is missing.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHARED = pathlib.Path(os.environ.get("SYSNB_SHARED_CAPTURES", ROOT.parent / "shared" / "captures" / "public"))
SHARED_502 = SHARED / "sysdig-inspect" / "502Error.scap"
TIMEOUT_MS = 90_000


def _missing() -> str | None:
    if CHROMIUM is None:
        return "chromium is not installed (apt-get install chromium)"
    for module in ("playwright", "jupyterlab", "anywidget"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install 'sysnb[test]')"
    return None


def _notebook(path: pathlib.Path) -> None:
    source = ("import sysnb\n"
              "cap = sysnb.open_capture(sysnb.sample_path())\n"
              "w = cap.explore()\n"
              "w")
    cell = {"cell_type": "code", "execution_count": None, "id": "explorer", "metadata": {}, "outputs": [],
            "source": source}
    shared = {"cell_type": "code", "execution_count": None, "id": "shared", "metadata": {}, "outputs": [],
              "source": f"w2 = sysnb.open_capture({str(SHARED_502)!r}).explore(panes=['crumbs', 'timeline', 'table'])\n"
                        "w2"}
    nb = {"cells": [cell, shared], "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                      "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("lab")
    _notebook(work / "explorer.ipynb")
    port, token = _free_port(), "sysnb-browser-test"
    config = work / "config" / "labconfig"  # no "get news?" pop-up over the screenshots
    config.mkdir(parents=True)
    (config / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(work / "ws"), JUPYTERLAB_SETTINGS_DIR=str(work / "settings"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.open_browser=False",
           "--allow-root", f"--LabApp.workspaces_dir={work / 'ws'}"]
    log = open(work / "lab.log", "wb")  # noqa: SIM115 - kept open for the server's lifetime
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/api/status?token={token}", server, work / "lab.log")
        yield f"{url}/lab/tree/explorer.ipynb?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_http(url: str, server: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within 90 s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def page(lab: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-background-networking"])
        pg = browser.new_page(viewport={"width": 1500, "height": 1400})
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(lab)
        pg.wait_for_selector(".jp-Notebook .jp-Cell")
        try:
            pg.wait_for_selector("#jp-main-statusbar :text('Idle')")
            pg.locator(".jp-Cell .jp-InputArea-editor").first.click()
            pg.keyboard.press("Shift+Enter")
            pg.wait_for_selector(".sysnb-explorer .sysnb-row .sysnb-td")
        except Exception:
            _shot(pg, "failed-start")
            raise
        yield pg
        browser.close()


def _shot(pg: Any, name: str) -> None:
    pg.screenshot(path=str(SHOTS / f"explorer-{name}.png"), full_page=True)


def test_overview_timeline_and_table_render(page: Any) -> None:
    pg = page
    assert pg.locator(".sysnb-tile").count() == 17
    assert pg.locator(".sysnb-tile-title").first.inner_text() == "Processes"
    assert pg.locator(".sysnb-tl-label").count() >= 10  # one lane per busy process
    assert pg.locator(".sysnb-tl-canvas").bounding_box()["height"] > 100
    assert pg.locator(".sysnb-row").count() >= 10  # only the visible rows exist (virtual scrolling)
    assert pg.locator(".sysnb-row").count() < 40
    assert "27,121 events" in pg.locator(".sysnb-grid-foot").inner_text()
    _shot(pg, "overview")


def test_virtual_scrolling_fetches_pages(page: Any) -> None:
    pg = page
    body = pg.locator(".sysnb-grid-body")
    body.evaluate("el => { el.scrollTop = 22 * 20000; el.dispatchEvent(new Event('scroll')); }")
    pg.wait_for_function("() => [...document.querySelectorAll('.sysnb-row .sysnb-td:first-child')]"
                         ".some(td => Number(td.textContent) >= 20000)")
    body.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    pg.wait_for_function("() => document.querySelector('.sysnb-row .sysnb-td').textContent === '1'")


def test_tile_drill_down_and_crumbs(page: Any) -> None:
    pg = page
    pg.locator(".sysnb-tile").first.click()  # Processes -> the processes lens
    pg.wait_for_selector(".sysnb-lens.sysnb-active:text-is('processes')")
    pg.wait_for_selector(".sysnb-th:text-is('proc.pid')")  # the lens's page has arrived
    assert pg.locator(".sysnb-crumb").count() == 2
    first = pg.locator(".sysnb-row .sysnb-td").nth(1).inner_text()
    pg.locator(".sysnb-row").first.dblclick()  # a process -> its files
    pg.wait_for_selector(".sysnb-lens.sysnb-active:text-is('files')")
    pg.wait_for_selector(".sysnb-th:text-is('fd.name')")
    assert first in pg.locator(".sysnb-crumbs").inner_text()
    assert "%sysfilter" in pg.locator(".sysnb-combined").inner_text()
    _shot(pg, "drilldown")
    pg.locator(".sysnb-crumb").first.click()  # back to all events
    pg.wait_for_function("() => document.querySelectorAll('.sysnb-crumb').length === 1")


def test_filter_box_errors_then_hex_viewer_and_follow(page: Any) -> None:
    pg = page
    pg.locator(".sysnb-lens:text-is('syscalls')").click()
    box = pg.locator(".sysnb-filterbox input")
    box.press_sequentially("evt.type=wrte", delay=20)  # live validation: the error shows before Enter
    pg.wait_for_selector(".sysnb-error:has-text(\"unknown event type 'wrte'\")")
    assert pg.locator(".sysnb-grid-foot").inner_text().startswith("27,121")  # nothing applied
    box.fill("proc.nme=sh")
    box.press("Enter")
    pg.wait_for_selector(".sysnb-error:has-text('did you mean proc.name')")
    box.fill("evt.type=write and evt.dir=< and fd.name contains index.html")
    box.press("Enter")
    pg.wait_for_function("() => document.querySelector('.sysnb-grid-foot').textContent.startsWith('5 events')")
    assert not pg.locator(".sysnb-error").is_visible()
    pg.locator(".sysnb-row").first.click()
    pg.wait_for_selector(".sysnb-hex:has-text('SYSNB-IOC-7')")
    assert "0x0000:" in pg.locator(".sysnb-hex").inner_text()  # hex + ASCII with the offset column
    pg.locator(".sysnb-hexmodes button:has-text('printable')").click()
    assert "owned by c2" in pg.locator(".sysnb-hex").inner_text()
    pg.locator(".sysnb-follow").click()
    pg.wait_for_selector(".sysnb-chunk.sysnb-out")
    assert pg.locator(".sysnb-chunk").count() == 5
    _shot(pg, "hex-follow")
    box.fill("")
    box.press("Enter")
    pg.wait_for_function("() => document.querySelector('.sysnb-grid-foot').textContent.startsWith('27,121')")


def test_brushing_the_timeline_narrows_the_table(page: Any) -> None:
    pg = page
    canvas = pg.locator(".sysnb-tl-canvas")
    box = canvas.bounding_box()
    y = box["y"] + 40
    pg.mouse.move(box["x"] + box["width"] * 0.30, y)
    pg.mouse.down()
    pg.mouse.move(box["x"] + box["width"] * 0.45, y, steps=5)
    pg.mouse.up()
    pg.wait_for_selector(".sysnb-tl-info:has-text('selected')")
    pg.wait_for_function("() => !document.querySelector('.sysnb-grid-foot').textContent.startsWith('27,121')")
    selected = int(pg.locator(".sysnb-grid-foot").inner_text().split()[0].replace(",", ""))
    assert 0 < selected < 27121
    pg.locator(".sysnb-toolbar button:has-text('zoom to selection')").click()
    pg.wait_for_function("() => !document.querySelector('.sysnb-tl-info').textContent.startsWith('0 – ')")
    _shot(pg, "brushed")
    pg.locator(".sysnb-toolbar button:has-text('clear selection')").click()
    pg.wait_for_function("() => document.querySelector('.sysnb-grid-foot').textContent.startsWith('27,121')")


def test_mark_an_event_and_add_a_finding(page: Any) -> None:
    """The case actions: mark the selected event (a star on its row), then a finding for the filtered view."""
    pg = page
    explorer = pg.locator(".sysnb-explorer").first
    box = explorer.locator(".sysnb-filterbox input")
    box.fill("evt.type=write and evt.dir=< and fd.name contains index.html")
    box.press("Enter")
    pg.wait_for_function("() => document.querySelector('.sysnb-grid-foot').textContent.startsWith('5 events')")
    explorer.locator(".sysnb-row").first.click()
    explorer.locator(".sysnb-hex:has-text('SYSNB-IOC-7')").wait_for()
    explorer.locator(".sysnb-mark-tags").fill("defacement, ioc")
    explorer.locator(".sysnb-mark-note").fill("first marker write")
    explorer.locator("button.sysnb-mark").click()
    explorer.locator(".sysnb-detail .sysnb-case-status:has-text('marked event')").wait_for()
    assert explorer.locator(".sysnb-row.sysnb-marked").count() == 1
    assert explorer.locator("button.sysnb-mark").inner_text() == "update mark"
    explorer.locator(".sysnb-finding-title").fill("index.html defaced")
    explorer.locator(".sysnb-finding-severity").select_option("high")
    explorer.locator("button.sysnb-add-finding").click()
    explorer.locator(".sysnb-nav .sysnb-case-status:has-text('finding F1: 5 events')").wait_for()
    _shot(pg, "case-mark-finding")
    explorer.locator("button.sysnb-unmark").click()
    pg.wait_for_function("() => document.querySelectorAll('.sysnb-row.sysnb-marked').length === 0")
    box.fill("")
    box.press("Enter")
    pg.wait_for_function("() => document.querySelector('.sysnb-grid-foot').textContent.startsWith('27,121')")


def test_the_case_is_saved_with_the_notebook(page: Any) -> None:
    """JupyterLab's own save keeps the case: the cell that changed it carries it in its output metadata."""
    pg = page
    pg.locator(".jp-Cell .jp-InputArea-editor").first.click()
    pg.keyboard.press("Escape")
    pg.keyboard.press("b")  # a new cell below the explorer
    pg.keyboard.press("Enter")
    pg.keyboard.insert_text("%load_ext sysnb\n%syscase --id IR-LAB --examiner Lab\nsysnb.mark(11947, tags=['lab'])\n"
                            "import os; print('NB=' + os.environ.get('JPY_SESSION_NAME', ''))")
    pg.keyboard.press("Shift+Enter")
    out = pg.locator(".jp-OutputArea-output:has-text('NB=')")
    out.wait_for()
    path = pathlib.Path(out.inner_text().strip()[3:])
    pg.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    cases: list[dict[str, Any]] = []
    while not cases and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            nb = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        cases = [o["metadata"]["sysnb"]["case"] for c in nb["cells"] for o in c.get("outputs", [])
                 if "sysnb" in o.get("metadata", {})]
    assert cases, f"no case stored in {path}"
    assert cases[-1]["info"]["id"] == "IR-LAB" and [m["ref"]["evt_num"] for m in cases[-1]["marks"]] == [11947]
    # remove that cell again. Shift+Enter moved the selection on to the next cell (the shared-capture cell):
    # select ours first, or "d d" deletes the cell the next test runs
    pg.locator(".jp-Cell:has(.jp-InputArea-editor:has-text('%syscase')) .jp-InputPrompt").click()
    pg.wait_for_selector(".jp-Cell.jp-mod-active:has(.jp-InputArea-editor:has-text('%syscase'))")
    _delete_active_cell(pg, "%syscase")


def _delete_active_cell(pg: Any, text: str) -> None:
    """Delete the active cell (command mode, d d) and wait until no cell holds ``text``."""
    pg.keyboard.press("Escape")
    pg.keyboard.press("d")
    pg.keyboard.press("d")
    pg.wait_for_function("(text) => ![...document.querySelectorAll('.jp-Cell .jp-InputArea-editor')]"
                         ".some(e => e.textContent.includes(text))", arg=text)


def _first(pg: Any) -> Any:
    return pg.locator(".sysnb-explorer").first


def _foot_starts(pg: Any, text: str) -> None:
    pg.wait_for_function("t => document.querySelector('.sysnb-grid-foot').textContent.startsWith(t)", arg=text)


def _filter(pg: Any, text: str, foot: str | None = None) -> None:
    """Type ``text`` into the first explorer's filter box and wait for the table (its foot starts with ``foot``;
    by default: it no longer shows all 27,121 events, or shows them all again for an empty filter)."""
    box = _first(pg).locator(".sysnb-filterbox input")
    box.fill(text)
    box.press("Enter")
    if foot is not None or not text:
        _foot_starts(pg, foot or "27,121")
    else:
        pg.wait_for_function("() => !document.querySelector('.sysnb-grid-foot').textContent.startsWith('27,121')")


def _menu(pg: Any, cell: Any, item: str) -> None:
    """Right-click ``cell`` and choose ``item`` from the explorer's menu (never JupyterLab's own)."""
    cell.click(button="right")
    menu = _first(pg).locator(".sysnb-menu")
    menu.wait_for(state="visible")
    assert not pg.locator(".lm-Menu").is_visible()  # the notebook's context menu stayed closed
    menu.locator(".sysnb-menu-item", has_text=item).first.click()


def test_the_table_scrolls_back_to_the_top_on_every_view_change(page: Any) -> None:
    pg = page
    x = _first(pg)
    body = x.locator(".sysnb-grid-body")
    body.evaluate("el => { el.scrollTop = 22 * 5000; el.dispatchEvent(new Event('scroll')); }")
    pg.wait_for_function("() => Number(document.querySelector('.sysnb-row .sysnb-td').textContent) >= 4000")
    _filter(pg, "evt.type=write")
    pg.wait_for_function("() => document.querySelector('.sysnb-grid-body').scrollTop === 0")
    body.evaluate("el => { el.scrollTop = 22 * 300; el.dispatchEvent(new Event('scroll')); }")
    pg.wait_for_function("() => document.querySelector('.sysnb-grid-body').scrollTop > 0")
    x.locator(".sysnb-th:text-is('proc.name')").click()  # sort: a new order starts at its top too
    x.locator(".sysnb-th:text-is('proc.name ▲')").wait_for()
    pg.wait_for_function("() => document.querySelector('.sysnb-grid-body').scrollTop === 0")
    x.locator(".sysnb-th:has-text('proc.name')").click()
    x.locator(".sysnb-th:text-is('proc.name ▼')").wait_for()
    x.locator(".sysnb-th:has-text('proc.name')").click()
    x.locator(".sysnb-th:text-is('proc.name')").wait_for()
    _filter(pg, "")


def test_context_menu_applies_a_filter_and_follows_an_fd(page: Any) -> None:
    pg = page
    x = _first(pg)
    name = x.locator(".sysnb-row").first.locator(".sysnb-td").nth(3)  # proc.name of the first event
    value = name.inner_text()
    _menu(pg, name, "apply as filter")
    pg.wait_for_function("v => document.querySelector('.sysnb-filterbox input').value === 'proc.name=' + v",
                         arg=value)
    pg.wait_for_function("() => !document.querySelector('.sysnb-grid-foot').textContent.startsWith('27,121')")
    assert all(t == value for t in x.locator(".sysnb-row .sysnb-td:nth-child(4)").all_inner_texts())
    _menu(pg, x.locator(".sysnb-row").first.locator(".sysnb-td").nth(6), "and not")  # and not evt.type=...
    pg.wait_for_function("() => document.querySelector('.sysnb-filterbox input').value.includes('and not (evt.type=')")
    _filter(pg, "evt.type=write and evt.dir=< and fd.name contains index.html", "5 events")
    _menu(pg, x.locator(".sysnb-row").first.locator(".sysnb-td").nth(0), "follow fd")
    x.locator(".sysnb-chunk.sysnb-out").first.wait_for()
    assert x.locator(".sysnb-chunk").count() == 5
    _shot(pg, "context-follow")
    _filter(pg, "")


def test_mark_from_the_menu_then_go_to_an_event_and_back_to_the_mark(page: Any) -> None:
    pg = page
    x = _first(pg)
    row = x.locator(".sysnb-row").nth(4)
    num = row.locator(".sysnb-td").first.inner_text()
    _menu(pg, row.locator(".sysnb-td").nth(2), "mark event")
    x.locator(".sysnb-row.sysnb-marked").first.wait_for()
    goto = x.locator(".sysnb-goto")
    goto.fill("20000")
    goto.press("Enter")
    x.locator(".sysnb-row.sysnb-selected .sysnb-td:first-child:text-is('20000')").wait_for()
    x.locator(".sysnb-detail-title:text-is('event 20000')").wait_for()
    goto.fill("1")
    goto.press("Enter")
    x.locator(".sysnb-row.sysnb-selected .sysnb-td:first-child:text-is('1')").wait_for()
    x.locator("button.sysnb-next-mark").click()  # the next of the case's marks after event 1: ours
    x.locator(f".sysnb-row.sysnb-selected.sysnb-marked .sysnb-td:first-child:text-is('{num}')").wait_for()
    _shot(pg, "mark-goto")
    _menu(pg, x.locator(".sysnb-row.sysnb-marked .sysnb-td").nth(2), "unmark event")
    pg.wait_for_function("() => document.querySelectorAll('.sysnb-row.sysnb-marked').length === 0")


def test_relative_time_column_and_keyboard_paging(page: Any) -> None:
    pg = page
    x = _first(pg)
    x.locator(".sysnb-timemode").select_option("relative")
    x.locator(".sysnb-th:text-is('time +s')").wait_for()
    assert x.locator(".sysnb-row").first.locator(".sysnb-td").nth(1).inner_text() == "0.000000000"
    body = x.locator(".sysnb-grid-body")
    body.focus()
    pg.keyboard.press("End")
    pg.wait_for_function("() => [...document.querySelectorAll('.sysnb-row .sysnb-td:first-child')]"
                         ".some(td => td.textContent.trim().endsWith('27121') || Number(td.textContent) > 27000)")
    pg.keyboard.press("Home")
    pg.wait_for_function("() => document.querySelector('.sysnb-row .sysnb-td').textContent === '1'")
    pg.keyboard.press("PageDown")
    pg.wait_for_function("() => Number(document.querySelector('.sysnb-row .sysnb-td').textContent) > 5")
    x.locator(".sysnb-timemode").select_option("absolute")
    x.locator(".sysnb-th:text-is('evt.time')").wait_for()
    pg.keyboard.press("Home")


def test_light_and_dark_themes(page: Any) -> None:
    """Screenshots in both themes; in the dark one the explorer's text is light on a dark background."""
    pg = page
    x = _first(pg)
    x.scroll_into_view_if_needed()
    x.screenshot(path=str(SHOTS / "explorer-theme-light.png"))
    for theme in ("JupyterLab Dark", "JupyterLab Light"):
        pg.locator(".lm-MenuBar-itemLabel:text-is('Settings')").click()
        pg.locator(".lm-Menu-itemLabel:text-is('Theme')").click()
        pg.locator(f".lm-Menu-itemLabel:text-is('{theme}')").click()
        dark = theme.endswith("Dark")
        pg.wait_for_selector(f"body[data-jp-theme-light='{str(not dark).lower()}']", state="attached")
        lum = x.evaluate("""el => ['color', 'backgroundColor'].map(p => {
            const [r, g, b] = getComputedStyle(el)[p].match(/\\d+/g).map(Number);
            return 0.299 * r + 0.587 * g + 0.114 * b; })""")
        pg.wait_for_timeout(500)  # the theme's stylesheet has applied (asserted above); let the canvas redraw
        if dark:
            assert lum[0] > 150 > lum[1], lum
            x.screenshot(path=str(SHOTS / "explorer-theme-dark.png"))
        else:
            assert lum[0] < 100 < lum[1], lum


def test_compact_layout_fits_900_px(page: Any) -> None:
    """A 1440x900 screen, the file browser closed, overview collapsed, an event selected: crumbs, timeline,
    table and detail (beside the table) fit the screen's height."""
    pg = page
    x = _first(pg)
    pg.set_viewport_size({"width": 1440, "height": 900})
    pg.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()  # collapse the file browser
    pg.wait_for_selector(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current", state="detached")
    x.locator("button.sysnb-collapse").click()
    x.locator(".sysnb-overview.sysnb-collapsed").wait_for()
    x.locator(".sysnb-row").first.click()
    x.locator(".sysnb-detail-title").first.wait_for()
    x.scroll_into_view_if_needed()
    x.screenshot(path=str(SHOTS / "explorer-compact-1440x900.png"))
    assert x.bounding_box()["height"] <= 900
    grid, detail = x.locator(".sysnb-grid").bounding_box(), x.locator(".sysnb-detail").bounding_box()
    assert detail["x"] > grid["x"] + grid["width"] - 1  # side by side
    x.locator("button.sysnb-collapse").click()
    pg.set_viewport_size({"width": 1500, "height": 1400})
    x.locator(".sysnb-overview:not(.sysnb-collapsed)").wait_for()


@pytest.mark.skipif(not SHARED_502.exists(), reason="../shared/captures/public is absent (CI has it)")
def test_a_shared_capture_in_a_second_linked_layout(page: Any) -> None:
    """Sysdig Inspect's own sample (502Error.scap) in a second explorer with only crumbs, timeline and table."""
    pg = page
    pg.locator(".jp-Cell .jp-InputArea-editor:has-text('w2 = sysnb.open_capture')").click()
    pg.keyboard.press("Shift+Enter")
    second = pg.locator(".jp-Cell:has(.jp-InputArea-editor:has-text('w2 = sysnb')) .sysnb-explorer")
    second.locator(".sysnb-row .sysnb-td").first.wait_for()
    assert second.locator(".sysnb-tile").count() == 0 and second.locator(".sysnb-detail").count() == 0
    assert second.locator(".sysnb-tl-label").count() >= 5  # haproxy, python, curl, ...
    assert "events" in second.locator(".sysnb-grid-foot").inner_text()
    second.locator(".sysnb-lens:text-is('connections')").click()
    second.locator(".sysnb-th:text-is('fd.l4proto')").wait_for()
    second.scroll_into_view_if_needed()
    _shot(pg, "shared-502")


def test_lab_extension_highlights_completes_and_lists_captures(page: Any) -> None:
    """labextension/: a %sysfilter line is highlighted as a filter, Tab completes event types from the kernel,
    and the Captures panel lists ``cap`` and inserts its %sysopen line."""
    pg = page
    pg.locator(".jp-Cell .jp-InputArea-editor").first.click()
    pg.keyboard.press("Escape")
    pg.keyboard.press("b")
    pg.keyboard.press("Enter")
    pg.keyboard.insert_text("%load_ext sysnb")
    pg.keyboard.press("Control+Enter")  # run in place: the kernel's completer knows the magics from now on
    cell = pg.locator(".jp-Cell:has(.jp-InputArea-editor:has-text('%load_ext sysnb'))")
    cell.locator(".jp-InputPrompt").filter(has_text=re.compile(r"\[\d+\]")).wait_for()  # it has run
    cell.locator(".jp-InputArea-editor").click()
    pg.keyboard.press("Control+End")
    pg.keyboard.insert_text("\n%sysfilter proc.name=\"nginx\" and evt.type=wr")
    cell.locator(".sysnb-tok-magic").first.wait_for()
    assert cell.locator(".sysnb-tok-magic").all_inner_texts() == ["%sysfilter"]
    assert cell.locator(".sysnb-tok-field").all_inner_texts() == ["proc.name", "evt.type"]
    assert cell.locator(".sysnb-tok-keyword").all_inner_texts() == ["and"]
    assert cell.locator(".sysnb-tok-string").all_inner_texts() == ['"nginx"']
    pg.keyboard.press("Tab")  # the kernel's completer (sysnb.completer) through JupyterLab's
    items = pg.locator(".jp-Completer .jp-Completer-item")
    items.first.wait_for()
    assert {"write", "writev"} <= set(pg.locator(".jp-Completer .jp-Completer-match").all_inner_texts())
    pg.screenshot(path=str(SHOTS / "labextension-highlight-completion.png"))
    pg.keyboard.press("Escape")
    pg.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab[title*='captures']").click()
    panel = pg.locator("#sysnb-captures")
    entry = panel.locator(".sysnb-capture:has(.sysnb-capture-name:text-is('cap'))")
    entry.wait_for()
    assert "sha256 " in entry.inner_text() and "events" in entry.inner_text()
    pg.screenshot(path=str(SHOTS / "labextension-captures.png"))
    cell.locator(".jp-InputArea-editor").click()
    pg.keyboard.press("Control+End")
    pg.keyboard.press("Enter")
    entry.click()
    cell.locator(".jp-InputArea-editor:has-text('%sysopen')").wait_for()
    assert "storefront_incident.scap.gz -o cap" in cell.locator(".jp-InputArea-editor").inner_text()
    _delete_active_cell(pg, "%sysfilter proc.name")


def test_after_a_kernel_restart_the_explorer_says_so(page: Any) -> None:
    """Last: restarting the kernel leaves the widgets disconnected; the explorer says to re-run the cell."""
    pg = page
    pg.locator(".lm-MenuBar-itemLabel:text-is('Kernel')").click()
    pg.locator(".lm-Menu-itemLabel:text-matches('^Restart Kernel')").first.click()
    pg.locator(".jp-Dialog button:has-text('Restart')").click()
    banner = _first(pg).locator(".sysnb-dead")
    try:
        banner.wait_for(state="visible")
    except Exception:
        _shot(pg, "kernel-restart-failed")
        raise
    assert "Re-run the cell" in banner.inner_text()
    _shot(pg, "kernel-restarted")
