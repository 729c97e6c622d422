"""The explorer's Python side: linked view, lenses (drill-down filters), timeline cells, pages, detail, widget.

The browser side is tested in tests/browser/; here every number the widget would display is checked
against an independent count on the table (a lens row's filter must select exactly that row's events).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import sysnb
from sysnb.chisels.table import is_io
from sysnb.errors import SysnbError, UsageError
from sysnb.filter import compile_filter
from sysnb.format.output import Formatter
from sysnb.views.detail import event_detail, find_event, follow_fd
from sysnb.views.explore import LENSES, View, lens_table, quote
from sysnb.views.grid import event_page, order, page_rows
from sysnb.views.timeline import density

pytest.importorskip("anywidget", reason="the explorer needs the notebook extras (pip install 'sysnb[notebook]')")
from sysnb.views.widget import Explorer

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "captures" / "public"
IOC_WRITES = "evt.type=write and evt.dir=< and fd.name contains index.html"


@pytest.fixture(scope="module")
def cap() -> sysnb.Capture:
    return sysnb.open_capture(sysnb.sample_path())


def _ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def test_view_crumbs_filter_and_window(cap: sysnb.Capture) -> None:
    v = View(cap)
    seen: list[str] = []
    v.on_change(seen.append)
    v.push("curl", "proc.name=curl", "syscalls")
    v.set_filter("evt.type=connect")
    assert v.filter == "(proc.name=curl) and (evt.type=connect)"
    assert v.rows().num_rows == compile_filter(v.filter).apply(v.base).num_rows > 0
    with pytest.raises(UsageError, match=r"did you mean proc\.name"):
        v.set_filter("proc.nme=x")
    assert v.filter_text == "evt.type=connect"  # a mistake keeps what was there
    ts = v.rows()["evt.rawtime"].to_numpy()
    v.set_window(int(ts[0]), int(ts[0]) + 1)
    assert v.rows().num_rows == int((ts == ts[0]).sum())
    v.pop_to(0)
    v.set_window(None)
    v.set_filter("")
    assert v.rows().num_rows == v.base.num_rows
    assert seen == ["crumbs", "filter", "window", "crumbs", "window", "filter"]
    with pytest.raises(UsageError):
        v.push("bad", "proc.nme=x")
    assert v.crumbs == []


@pytest.mark.parametrize("lens", [lens for lens in LENSES if lens not in ("syscalls", "alerts")])  # alerts: test_rules
def test_each_lens_row_filter_selects_its_events(cap: sysnb.Capture, lens: str) -> None:
    rows = View(cap).base
    table, filters, labels = lens_table(rows, lens)
    assert table.num_rows == len(filters) == len(labels) > 0
    for i in range(min(5, table.num_rows)):  # the busiest rows: drill-down must keep exactly these events
        selected = compile_filter(filters[i]).apply(rows)
        if lens == "streams":
            selected = selected.filter(pc.fill_null(is_io(selected), False))
        assert selected.num_rows == table["events"][i].as_py(), (lens, filters[i])


def test_processes_lens_adds_up(cap: sysnb.Capture) -> None:
    rows = View(cap).base
    table, _, labels = lens_table(rows, "processes")
    assert pc.sum(table["events"]).as_py() == pc.sum(pc.is_valid(rows["proc.pid"])).as_py()
    assert table["events"].to_pylist() == sorted(table["events"].to_pylist(), reverse=True)
    assert any(label.startswith("nmap (") for label in labels)


def test_quote_makes_valid_filter_literals() -> None:
    assert quote("/tmp/x.txt") == "/tmp/x.txt"
    assert quote('a "b" c') == '"a \\"b\\" c"'
    assert compile_filter(f"fd.name={quote('a b')}").text


def test_timeline_cells_account_for_every_event(cap: sysnb.Capture) -> None:
    v = View(cap)
    cells, legend = density(v.base, v.start_ns, v.end_ns, 100, set())
    assert pc.sum(cells["events"]).as_py() + legend["hidden"] == v.base.num_rows == legend["events"]
    lanes = legend["lanes"]
    assert [lane["events"] for lane in lanes] == sorted((lane["events"] for lane in lanes), reverse=True)
    assert cells["bin"].to_numpy().max() < 100 and cells["category"].to_numpy().max() < len(legend["categories"])
    pid = lanes[0]["pid"]
    _, legend2 = density(v.base, v.start_ns, v.end_ns, 100, {pid})
    threads = [lane for lane in legend2["lanes"] if lane["pid"] == pid and lane["tid"] is not None]
    assert threads and sum(t["events"] for t in threads) == lanes[0]["events"]  # threads fit in their process
    mid = (v.start_ns + v.end_ns) // 2
    _, zoomed = density(v.base, mid, mid + 1_000_000, 100, set())
    ts = v.base["evt.rawtime"].to_numpy()
    assert zoomed["events"] == int(((ts >= mid) & (ts < mid + 1_000_000)).sum())


def test_event_page_is_what_sysdig_format_prints(cap: sysnb.Capture) -> None:
    rows = View(cap).base
    page = event_page(page_rows(rows, None, 100, 50), ["evt.num", "proc.name", "evt.info"])
    expected = list(Formatter("*%evt.num %proc.name %evt.info").lines(rows.slice(100, 50)))
    got = [f"{r['evt.num']} {r['proc.name']} {r['evt.info']}" for r in page.to_pylist()]
    assert got == expected
    by_latency = page_rows(rows, order(rows, "-evt.latency"), 0, 10)["evt.latency"].to_pylist()
    assert by_latency == sorted(by_latency, reverse=True)
    assert order(rows, "evt.info") is None  # text that has no column to sort on
    assert page_rows(rows, None, rows.num_rows + 5, 10).num_rows == 0


def test_detail_buffer_views_and_follow_fd(cap: sysnb.Capture) -> None:
    v = View(cap)
    writes = compile_filter(IOC_WRITES).apply(v.base)
    detail = event_detail(find_event(v.base, writes["evt.num"][0].as_py()))
    fields = dict(detail["fields"])
    assert fields["proc.name"] == "sh" and fields["fd.name"] == "/tmp/storefront/www/index.html"
    assert detail["buffer"]["hex"].startswith("0x0000: 3c21 2d2d")
    assert "SYSNB-IOC-7f3a9 owned by c2" in detail["buffer"]["ascii"]
    stream = follow_fd(v.base, detail["fd"]["pid"], detail["fd"]["fd"], detail["fd"]["name"])
    assert stream.num_rows == writes.num_rows == 5
    assert set(stream["direction"].to_pylist()) == {"out"}
    assert find_event(v.base, -1).num_rows == 0 and event_detail(find_event(v.base, -1)) == {}


def test_explorer_widget_round_trip(cap: sysnb.Capture) -> None:
    w = cap.explore()
    assert len(w.tiles) == 17 and w.grid_meta["total"] == View(cap).base.num_rows
    assert _ipc(w.grid).num_rows == 200 and _ipc(w.timeline).column_names == ["lane", "bin", "category", "events"]
    w._on_msg(w, {"kind": "tile", "index": 0}, None)
    assert w.lens == "processes" and w.crumbs == [{"label": "Processes", "filter": "proc.pid exists"}]
    w._on_msg(w, {"kind": "drill", "row": 0}, None)
    assert w.lens == "files" and len(w.crumbs) == 2
    w._on_msg(w, {"kind": "filter", "text": "proc.nme=x"}, None)
    assert "did you mean proc.name" in w.error and "^" in w.error
    w._on_msg(w, {"kind": "crumb", "depth": 0}, None)
    w._on_msg(w, {"kind": "lens", "name": "syscalls"}, None)
    w._on_msg(w, {"kind": "filter", "text": IOC_WRITES}, None)
    assert w.error == "" and w.grid_meta["total"] == 5
    w._on_msg(w, {"kind": "select", "evt_num": int(_ipc(w.grid)["_evt.num"][0].as_py())}, None)
    w._on_msg(w, {"kind": "follow"}, None)
    assert _ipc(w.stream).num_rows == 5 and w.stream_meta["chunks"] == 5
    w._on_msg(w, {"kind": "sort", "column": "evt.num"}, None)
    w._on_msg(w, {"kind": "sort", "column": "evt.num"}, None)
    nums = [int(x) for x in _ipc(w.grid)["evt.num"].to_pylist()]
    assert nums == sorted(nums, reverse=True)
    w._on_msg(w, {"kind": "filter", "text": ""}, None)
    w._on_msg(w, {"kind": "window", "t0": 0, "t1": 1_000_000_000}, None)
    assert 0 < w.grid_meta["total"] < View(cap).base.num_rows and w.window == [0.0, 1e9]
    w._on_msg(w, {"kind": "zoom", "t0": 0, "t1": 1_000_000_000}, None)
    assert w.time_range == [0.0, 1e9]
    w._on_msg(w, {"kind": "page", "start": 100}, None)
    assert w.grid_meta["start"] == 100
    bundle = w._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data and "<table>" in data["text/html"]


def test_linked_widgets_follow_one_view(cap: sysnb.Capture) -> None:
    table = cap.explore(panes=["table"])
    timeline = cap.explore(panes=["timeline"], view=table.view)
    table._on_msg(table, {"kind": "filter", "text": "proc.name=nmap"}, None)
    assert timeline.filter_text == "proc.name=nmap"
    assert timeline.timeline_meta["events"] == table.grid_meta["total"]
    assert timeline.tiles == [] and timeline.grid == b""
    with pytest.raises(SysnbError, match="unknown pane"):
        cap.explore(panes=["hex"])


def test_explorer_columns_follow_a_format(cap: sysnb.Capture) -> None:
    w = Explorer(cap, columns="%evt.num %fd.name", panes=["table"])
    assert w.grid_meta["columns"] == ["evt.num", "fd.name"]
    with pytest.raises(UsageError, match="invalid formatting token"):
        Explorer(cap, columns="%fd.nmae")


@pytest.mark.shared
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/captures/public is absent (CI has it)")
@pytest.mark.parametrize("name", ["502Error.scap", "connect_localhost.scap.gz", "curl_google.scap.gz",
                                  "single_ipv6_conn.scap.gz", "mpm-event_full_capture.scap"])
def test_explorer_on_shared_captures(name: str) -> None:
    matches = sorted(SHARED.rglob(name))
    assert matches, f"{name} is not among the shared captures"
    cap = sysnb.open_capture(matches[0])
    w = cap.explore()
    for lens in LENSES:
        w._on_msg(w, {"kind": "lens", "name": lens}, None)
        assert w.error == ""
    with_buffer = np.flatnonzero(pc.is_valid(w.view.base["evt.buffer"]).to_numpy(zero_copy_only=False))
    if len(with_buffer):
        w._on_msg(w, {"kind": "select", "evt_num": int(w.view.base["evt.num"][int(with_buffer[0])].as_py())}, None)
        assert w.detail["buffer"]["length"] > 0


def test_committed_bundle_matches_the_sources() -> None:
    root = pathlib.Path(__file__).resolve().parents[1]
    static = root / "sysnb" / "views" / "static"
    assert ".sysnb-explorer" in (static / "explorer.css").read_text()  # the stylesheet lives here only
    bundle = (static / "explorer.js").read_text()
    assert "sysnb-explorer" in bundle and "export" in bundle and "tableFromIPC" not in bundle  # minified ESM
    assert (static / "explorer.js").stat().st_mtime >= (root / "js" / "src" / "explorer.js").stat().st_mtime - 1 \
        or "sysnb-grid-body" in bundle


def _grid_nums(w: Explorer) -> list[int]:
    return [int(n) for n in _ipc(w.grid)["_evt.num"].to_pylist()]


def test_context_menu_filters_combine_with_the_filter_box(cap: sysnb.Capture) -> None:
    """apply / and / or / not on a value, exclude a process: each count checked against the filter itself."""
    w = Explorer(cap)
    w._do_ctx({"field": "proc.name", "value": "curl", "op": "apply"})
    assert w.view.filter_text == "proc.name=curl"
    w._do_ctx({"field": "evt.type", "value": "connect", "op": "and"})
    assert w.view.filter_text == "(proc.name=curl) and (evt.type=connect)"
    assert w.grid_meta["total"] == compile_filter(w.view.filter_text).apply(w.view.base).num_rows > 0
    w._do_ctx({"field": "evt.dir", "value": ">", "op": "not"})
    assert w.view.filter_text.endswith('and not (evt.dir=">")')
    w._do_ctx({"field": "proc.name", "value": "nginx", "op": "or"})
    assert w.grid_meta["total"] == compile_filter(w.view.filter_text).apply(w.view.base).num_rows
    first = _grid_nums(w)[0]
    w._do_ctx({"field": "evt.time", "value": "whatever", "evt_num": first, "op": "apply"})
    assert w.view.filter_text.startswith("evt.rawtime=") and first in _grid_nums(w)
    w._on_msg(w, {"kind": "ctx", "field": "evt.info", "value": "fd=3", "op": "apply"}, [])
    assert "not one value" in w.error
    w._do_ctx({"field": "fd.name", "value": "<NA>", "op": "apply"})
    assert w.view.filter_text == "not fd.name exists"
    w.view.set_filter("")
    pid = find_event(w.view.base, first)["proc.pid"][0].as_py()
    w._do_exclude({"evt_num": first})
    assert w.view.filter_text == f"not (proc.pid={pid})"
    assert w.grid_meta["total"] == w.view.base.num_rows - int(pc.sum(pc.equal(w.view.base["proc.pid"], pid)).as_py())


def test_a_lens_row_as_a_filter_action(cap: sysnb.Capture) -> None:
    w = Explorer(cap)
    w.view.set_lens("processes")
    _, filters, _ = w._lens()
    w._do_ctx({"row": 0, "op": "not"})
    assert w.view.filter_text == f"not ({filters[0]})"


def test_every_view_change_is_a_new_view_number(cap: sysnb.Capture) -> None:
    """The browser scrolls back to the top when the number changes (drill-down, filter, window, sort)."""
    w = Explorer(cap)
    seen = [w.grid_meta["view"]]
    w.view.set_filter("evt.type=write")
    seen.append(w.grid_meta["view"])
    w._do_sort({"column": "proc.name"})
    seen.append(w.grid_meta["view"])
    w._do_page({"start": 400})
    seen.append(w.grid_meta["view"])
    assert seen[0] < seen[1] < seen[2] == seen[3]


def test_goto_an_event_and_jump_between_marks(cap: sysnb.Capture) -> None:
    w = Explorer(cap)
    w._do_goto({"evt_num": 11947})
    m = w.grid_meta
    assert m["focus"] is not None and _grid_nums(w)[m["focus"] - m["start"]] == 11947
    assert w.detail["evt_num"] == 11947
    w.view.set_filter("evt.num!=11947")
    w._on_msg(w, {"kind": "goto", "evt_num": 11947}, [])
    assert "not in this view" in w.error
    w._on_msg(w, {"kind": "goto", "evt_num": 10**9}, [])
    assert "no event 1000000000" in w.error
    w.view.set_filter("")
    w.marked = [500, 11947]
    assert [n for n, _ in w.mark_times] == [500.0, 11947.0]
    assert all(t >= 0 for _, t in w.mark_times)
    w._do_markjump({"from": 600, "step": 1})
    assert w.detail["evt_num"] == 11947
    w._do_markjump({"from": 11947, "step": 1})  # wraps around
    assert w.detail["evt_num"] == 500


def test_goto_a_time_offset_time_of_day_or_iso(cap: sysnb.Capture) -> None:
    """The go-to box takes a time too: the view's first event at or after it is selected."""
    import datetime as dt

    w = Explorer(cap)
    view = w.view
    shown = view.base.filter(view.shown)
    ts, nums = shown["evt.rawtime"].to_numpy(), shown["evt.num"].to_numpy()
    start = view.start_ns
    target = int(ts[len(ts) // 2])  # an event's own time selects that event (the first one at that time)
    expected = int(nums[np.flatnonzero(ts >= target)[0]])
    offset_us = (target - start) / 1000
    w._on_msg(w, {"kind": "goto", "at": f"+{offset_us:.3f}us"}, [])
    assert not w.error and w.detail["evt_num"] == expected
    local = dt.datetime.fromtimestamp(target / 1e9)
    clock = local.strftime("%H:%M:%S") + f".{target % 1_000_000_000:09d}"
    w._on_msg(w, {"kind": "goto", "at": clock}, [])
    assert not w.error and w.detail["evt_num"] == expected
    iso = dt.datetime.fromtimestamp(target // 1_000_000_000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    w._on_msg(w, {"kind": "goto", "at": iso}, [])
    second = (target // 1_000_000_000) * 1_000_000_000
    assert not w.error and w.detail["evt_num"] == int(nums[np.flatnonzero(ts >= second)[0]])
    w._on_msg(w, {"kind": "goto", "at": "+1h"}, [])
    assert "no event of this view at or after '+1h'" in w.error
    w._on_msg(w, {"kind": "goto", "at": "yesterday"}, [])
    assert "give an evt.num, an offset" in w.error


def test_relative_and_delta_time_columns(cap: sysnb.Capture) -> None:
    w = Explorer(cap)
    w._do_timecol({"mode": "relative", "start": 1})
    page = _ipc(w.grid)
    ts = w.view.base["evt.rawtime"].to_numpy()
    assert w.grid_meta["labels"][w.grid_meta["columns"].index("evt.time")] == "time +s"
    assert page["evt.time"][0].as_py() == f"{(int(ts[1]) - w.view.start_ns) / 1e9:.9f}"
    w._do_timecol({"mode": "delta", "start": 1})
    assert _ipc(w.grid)["evt.time"][0].as_py() == f"+{(int(ts[1]) - int(ts[0])) / 1e9:.9f}"


def test_the_copied_filter_keeps_the_time_window(cap: sysnb.Capture) -> None:
    w = Explorer(cap)
    w.view.set_filter("evt.type=write")
    t0 = w.view.start_ns + 1_000_000_000
    w.view.set_window(t0, t0 + 500_000_000)
    assert w.combined_filter == f"(evt.type=write) and evt.rawtime>={t0} and evt.rawtime<{t0 + 500_000_000}"
    assert cap.filter(w.combined_filter).events.num_rows == w.grid_meta["total"]


def test_follow_tells_captured_from_real_sizes(cap: sysnb.Capture) -> None:
    w = Explorer(cap)
    w.view.set_filter(IOC_WRITES)
    w._do_select({"evt_num": _grid_nums(w)[0]})
    w._do_follow({})
    chunks = _ipc(w.stream)
    assert all(c <= max(b, 0) or b < 0 for c, b in zip(chunks["captured"].to_pylist(), chunks["bytes"].to_pylist(),
                                                        strict=True))


def test_the_captures_panel_lists_bound_captures(cap: sysnb.Capture) -> None:
    """What labextension/'s Captures panel shows: public names bound to captures, with their provenance."""
    import json

    from sysnb.views.panel import RawJson, captures

    rows = captures({"cap": cap, "_hidden": cap, "x": 1})
    assert [r["name"] for r in rows] == ["cap"]
    assert rows[0]["sha256"] == cap.provenance.sha256 and rows[0]["events"] == cap.provenance.events
    assert rows[0]["span_s"] > 0
    text = RawJson(json.dumps(rows))
    assert json.loads(repr(text)) == rows


def test_live_filter_validation_applies_nothing(cap: sysnb.Capture) -> None:
    w = Explorer(cap)
    w._on_msg(w, {"kind": "check", "text": "proc.nme=sh"}, [])
    assert "did you mean proc.name" in w.error and "^" in w.error
    w._on_msg(w, {"kind": "check", "text": "evt.type=wrte"}, [])
    assert "unknown event type 'wrte'" in w.error
    w._on_msg(w, {"kind": "check", "text": "evt.type=write"}, [])
    assert w.error == "" and w.view.filter_text == ""  # checked, not applied
    w._on_msg(w, {"kind": "filter", "text": "evt.type=wrte"}, [])
    assert "unknown event type" in w.error and w.view.filter_text == ""
