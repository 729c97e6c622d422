"""Many captures as one (open_captures), Parquet datasets (export, open_dataset): the merged view keeps each
capture's rows and state, and the dataset answers exactly what the in-memory path answers."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pytest

import sysnb
from sysnb.capture import open_capture, visible_rows
from sysnb.datasets import aggregates as A
from sysnb.datasets import export, open_captures, open_dataset
from sysnb.datasets.merged import merge_key
from sysnb.datasets.parquet import ADDED
from sysnb.datasets.sources import host_label, natural_key, resolve
from sysnb.errors import UsageError
from tests.conftest import FIXTURES, SHARED

FALCO = sorted((FIXTURES / "falco").glob("*.scap.gz"))
BUNDLED = [*FALCO, FIXTURES / "libs" / "single_ipv6_conn.scap.gz"]
#: shared captures from four hosts (canaris, ubuntu, deleted, ubuntu2204.localdomain, 8cd9d0f14848)
SHARED_SET = ["sf-collector/files.scap", "sf-collector/alpine.scap", "sf-collector/objectstore_download.scap",
              "falco/cat_write.scap.gz", "sysdig-inspect/502Error.scap", "libs/sample.scap"]
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"../shared captures not found at {SHARED} "
                                  "(set SYSNB_SHARED_CAPTURES; CI has them)")
FILTERS = [None, "evt.type=open", "evt.type in (read, write) and fd.type=file", "proc.name=cat",
           "evt.hostname=ubuntu and evt.dir=<", "evt.hostname in (ubuntu, elsewhere)",
           "not evt.failed=true and fd.num>=3",
           "fd.name contains etc", "evt.rawtime > 1500000000000000000", "evt.rawtime <= 1500000000000000000",
           "evt.arg.fd=3", "evt.arg.name contains /etc", "evt.rawarg.res>0", "proc.aname[1]=bash"]


def plain(t: pa.Table) -> pa.Table:
    """Dictionary columns as their values: tables compared by content, not by their dictionaries."""
    return t.cast(pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                             for f in t.schema]))


@pytest.fixture(scope="module")
def merged() -> sysnb.Capture:
    return open_captures(BUNDLED)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "bundled"
    export(BUNDLED, out)
    return out


# -- which files ------------------------------------------------------------------------------------------------


def test_rotated_sets_sort_by_number(tmp_path: Path) -> None:
    for i in (0, 1, 2, 10, 11):
        shutil.copy(FALCO[0], tmp_path / f"trace.scap{i}")
    (tmp_path / "notes.txt").write_text("not a capture")
    names = [os.path.basename(p) for p in resolve(tmp_path)]
    assert names == ["trace.scap0", "trace.scap1", "trace.scap2", "trace.scap10", "trace.scap11"]
    assert [os.path.basename(p) for p in resolve(str(tmp_path / "trace.scap1*"))] == \
        ["trace.scap1", "trace.scap10", "trace.scap11"]
    assert natural_key("a.scap9") < natural_key("a.scap10")


def test_hidden_rows_stamped_at_writing_do_not_move_a_capture_in_the_timeline() -> None:
    """libscap stamps the container events it writes at the head of each file of a ``sysdig -w -C`` set
    with the time of writing: the key follows the printed rows, so the first file stays first."""
    ts = pa.array([9_000, 100, 200, 150, 300], pa.uint64())  # row 0: hidden, stamped "now"; row 3: hidden
    shown = pa.array([False, True, True, False, True])
    assert merge_key(ts, shown).tolist() == [100, 100, 200, 200, 300]
    assert merge_key(ts, shown, 250).tolist() == [250, 250, 250, 250, 300]


@needs_shared
@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig 0.29.3 is not installed (CI installs it)")
def test_a_set_rotated_by_sysdig_reads_back_in_order(tmp_path: Path) -> None:
    import subprocess

    src = SHARED / "sf-collector" / "mpm-event_full_capture.scap"
    subprocess.run(["sysdig", "-r", str(src), "-w", str(tmp_path / "trace.scap"), "-C", "1"], check=True,
                   capture_output=True)
    assert len(resolve(tmp_path)) > 2
    merged = open_captures(tmp_path)
    times = visible_rows(merged.table)["evt.rawtime"].to_numpy()
    first = visible_rows(open_capture(src).table)["evt.rawtime"][0].as_py()
    assert (times[1:] >= times[:-1]).all() and times[0] == first
    out = tmp_path / "ds"
    export(tmp_path, out)
    dates = {p.name for p in out.glob("host=*/date=*")}
    assert dates == {"date=2019-04-11"}, dates  # no partition for the day the files were written


def test_resolution_errors_say_what(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="without capture files"):
        resolve(tmp_path)
    with pytest.raises(UsageError, match="matches no capture"):
        resolve(str(tmp_path / "*.scap"))
    with pytest.raises(UsageError, match="share the name"):
        (tmp_path / "a").mkdir()
        shutil.copy(FALCO[0], tmp_path / "a" / FALCO[0].name)
        open_captures([FALCO[0], tmp_path / "a" / FALCO[0].name])


def test_host_labels_cannot_escape_the_dataset() -> None:
    assert host_label("web-1.example.com") == "web-1.example.com"
    assert host_label("") == "unknown"
    for hostile in ("../../etc", "a/b", "host=x", "..", ".", "a\x1b[31m", "x" * 1000):
        label = host_label(hostile)
        assert "/" not in label and "=" not in label and "\x1b" not in label and label not in (".", "..")
        assert len(label) <= 255


# -- the merged view ---------------------------------------------------------------------------------------------


def test_merged_rows_are_each_captures_rows_in_time_order(merged: sysnb.Capture) -> None:
    caps = {p.name: open_capture(p) for p in BUNDLED}
    assert merged.table.num_rows == sum(c.table.num_rows for c in caps.values())
    assert set(merged.table["capture"].unique().to_pylist()) == set(caps)
    for name, cap in caps.items():
        mine = merged.table.filter(pc.equal(merged.table["capture"].cast(pa.string()), name))
        # state per capture: every column (proc.*, fd.*, user.*) as the capture's own engine built it
        assert plain(mine.drop_columns(["host", "capture"])).equals(plain(cap.table)), name
        assert set(mine["host"].cast(pa.string()).to_pylist()) == {host_label(cap.provenance.hostname)}
    key = merged.table["evt.rawtime"]
    per_capture_key = pc.fill_null(key, 0).to_numpy()
    assert per_capture_key.size == merged.table.num_rows
    # the timeline: the running maximum of each capture's timestamps never goes back
    runs = []
    for name in caps:
        mask = pc.equal(merged.table["capture"].cast(pa.string()), name).to_numpy(zero_copy_only=False)
        shown = merged.table["sysnb.visible"].filter(pa.array(mask))
        runs.append((mask, merge_key(pa.array(per_capture_key[mask]), shown)))
    import numpy as np

    merged_key = np.zeros(merged.table.num_rows, np.uint64)
    for mask, k in runs:
        merged_key[mask] = k
    assert (np.diff(merged_key.astype(np.float64)) >= 0).all()
    assert merged.provenance.events == sum(c.provenance.events for c in caps.values())
    assert [p.sha256 for p in merged.members] == [c.provenance.sha256 for c in
                                                  sorted(caps.values(), key=lambda c: (c.provenance.start_ns or 0,
                                                                                      c.provenance.source))]


@pytest.mark.parametrize("expr", [f for f in FILTERS if f])
def test_merged_filter_is_the_union_of_each_capture(merged: sysnb.Capture, expr: str) -> None:
    """Each row is evaluated in its own capture's context (evt.hostname, evt.reltime from its first event)."""
    got = visible_rows(merged.filter(expr).table)
    names = got["capture"].cast(pa.string()).to_pylist()
    for p in BUNDLED:
        own = visible_rows(open_capture(p).filter(expr).table)
        mine = got.filter(pa.array([n == p.name for n in names], pa.bool_()))
        assert mine["evt.num"].to_pylist() == own["evt.num"].to_pylist(), (expr, p.name)


def test_merged_formatting_prints_each_captures_lines(merged: sysnb.Capture) -> None:
    from sysnb.fields import context_for
    from sysnb.format.output import Formatter

    fmt = "*%evt.num %evt.time %evt.reltime %evt.hostname %proc.name %thread.tid %evt.type %fd.name %evt.args"
    shown = visible_rows(merged.table)
    lines = merged.lines(fmt)  # type: ignore[attr-defined]
    origin = shown["capture"].cast(pa.string()).to_pylist()
    for p in BUNDLED:
        cap = open_capture(p)
        own = list(Formatter(fmt, context=context_for(cap)).lines(visible_rows(cap.table)))
        assert [line for line, c in zip(lines, origin, strict=True) if c == p.name] == own, p.name
    plain_fmt = "*%evt.num %evt.time %proc.name %evt.type %fd.name"  # fields without context: one Formatter
    assert list(Formatter(plain_fmt).lines(shown)) == merged.lines(plain_fmt)  # type: ignore[attr-defined]


def test_merged_chisels_sum_over_captures(merged: sysnb.Capture) -> None:
    for name in ("topfiles_bytes", "topprocs_net", "topconns"):
        s = A.spec(name)
        partials = []
        for p in BUNDLED:
            from sysnb.capture import returned_rows

            partials.append(A.partial(returned_rows(open_capture(p).table), s))
        assert merged.chisel(name).table.equals(A.combine(partials, s)), name
        assert merged.chisel(name).table.num_rows > 0


def test_merged_state_chisels_run_per_capture(merged: sysnb.Capture) -> None:
    got = merged.chisel("spy_users")
    rows = []
    for p in BUNDLED:
        t = open_capture(p).chisel("spy_users").table
        rows += [r | {"capture": p.name} for r in t.to_pylist()] if "indent" in t.column_names else []
    assert Counter(json.dumps(r, sort_keys=True) for r in got.table.to_pylist()) == \
        Counter(json.dumps(r, sort_keys=True) for r in rows)
    assert len(rows) > 0


def test_merged_charts_colour_by_host(merged: sysnb.Capture) -> None:
    pytest.importorskip("altair")
    from sysnb import charts

    chart = charts.syscalls_over_time(merged, by="host")
    hosts = {r["key"] for r in chart.to_dict()["datasets"].popitem()[1]}
    assert hosts == set(merged.table["host"].cast(pa.string()).unique().to_pylist())
    charts.top_processes(merged).to_dict()


def test_merged_views_refuse_save(merged: sysnb.Capture, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="save one member"):
        merged.save(tmp_path / "x.scap")
    one = merged.capture("cat_write.scap.gz")  # type: ignore[attr-defined]
    assert one.save(tmp_path / "x.scap") > 0


# -- Parquet datasets ---------------------------------------------------------------------------------------------


def test_export_round_trips_every_column_and_provenance(dataset_dir: Path) -> None:
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    assert len(manifest["captures"]) == len(BUNDLED)
    data = pads.dataset(dataset_dir, partitioning="hive", format="parquet", exclude_invalid_files=True)
    for p in BUNDLED:
        cap = open_capture(p)
        entry = next(e for e in manifest["captures"] if e["capture"] == p.name)
        prov = entry["provenance"]
        for key in ("sha256", "size", "hostname", "start_ns", "end_ns", "events", "sections", "error", "source"):
            assert prov[key] == getattr(cap.provenance, key), (p.name, key)
        assert prov["extra"]["containers"] == cap.provenance.extra["containers"]
        assert entry["drops"] is None  # not recorded by sysnb: no recorder note
        rows = data.to_table(filter=pads.field("capture") == p.name).sort_by("sysnb.seq")
        back = rows.drop_columns([*ADDED, "host", "date", "hour"])
        assert back.schema.names == cap.table.schema.names
        assert plain(back).equals(plain(cap.table)), p.name
        assert back.schema == cap.table.schema  # types too: dictionaries, unsigned, lists of bytes


def test_export_twice_replaces_files_and_entries(dataset_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    export(BUNDLED[:2], out)
    files = sorted(out.rglob("*.parquet"))
    export(BUNDLED[:2], out)
    assert sorted(out.rglob("*.parquet")) == files
    assert len(json.loads((out / "manifest.json").read_text())["captures"]) == 2


def test_another_file_of_the_same_name_replaces_the_capture(tmp_path: Path) -> None:
    out = tmp_path / "named"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(FALCO[0], tmp_path / "a" / "trace.scap.gz")
    shutil.copy(FALCO[1], tmp_path / "b" / "trace.scap.gz")
    export([tmp_path / "a" / "trace.scap.gz"], out)
    export([tmp_path / "b" / "trace.scap.gz"], out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["provenance"]["sha256"] for e in manifest["captures"]] == [open_capture(FALCO[1]).provenance.sha256]
    assert open_dataset(out).count() == visible_rows(open_capture(FALCO[1]).table).num_rows
    with pytest.raises(UsageError, match="share the name"):
        export([tmp_path / "a" / "trace.scap.gz", tmp_path / "b" / "trace.scap.gz"], out)


def test_to_parquet_exports_captures_not_views(tmp_path: Path) -> None:
    cap = open_capture(FALCO[0])
    cap.to_parquet(tmp_path / "one")
    assert open_dataset(tmp_path / "one").count() == visible_rows(cap.table).num_rows
    with pytest.raises(UsageError, match="filtered view"):
        cap.filter("evt.type=open").to_parquet(tmp_path / "two")


@pytest.mark.parametrize("expr", FILTERS)
def test_dataset_answers_as_the_merged_view(merged: sysnb.Capture, dataset_dir: Path, expr: str | None) -> None:
    ds = open_dataset(dataset_dir)
    view = merged.filter(expr) if expr else merged
    shown = visible_rows(view.table)
    assert ds.count(expr) == shown.num_rows
    cols = ["evt.num", "evt.rawtime", "host", "capture", "proc.name", "fd.name", "evt.args", "sysnb.params"]
    got = ds.filter(expr, cols)
    assert plain(got).equals(plain(shown.select(cols))), expr
    assert sum(b.num_rows for b in ds.batches(expr, ["evt.num"])) == shown.num_rows


@pytest.mark.parametrize("name", sorted(A.TOP))
def test_dataset_chisels_equal_the_in_memory_chisels(merged: sysnb.Capture, dataset_dir: Path, name: str) -> None:
    ds = open_dataset(dataset_dir)
    assert ds.chisel(name).table.equals(merged.chisel(name).table)
    assert str(ds.chisel(name)) == str(merged.chisel(name))
    for expr in ("proc.name=cat", "evt.rawarg.res>0", "evt.hostname=ubuntu"):
        assert ds.chisel(name, expr).table.equals(merged.chisel(name, filter=expr).table), expr


def test_dataset_spy_users_per_capture(merged: sysnb.Capture, dataset_dir: Path) -> None:
    ds = open_dataset(dataset_dir)
    assert ds.spy_users().table.equals(merged.chisel("spy_users").table)
    assert str(ds.spy_users()) == str(merged.chisel("spy_users"))


def test_time_and_host_terms_prune_partitions(dataset_dir: Path, tmp_path: Path) -> None:
    """A partition the filter excludes is never read: with its files made unreadable, the answer stands."""
    out = tmp_path / "pruned"
    shutil.copytree(dataset_dir, out)
    ds = open_dataset(out)
    t = 1500000000000000000
    late_filter, early_filter = f"evt.rawtime >= {t} and evt.type=open", f"evt.rawtime < {t - 10**12}"
    expected = ds.count(late_filter)
    assert expected > 0 and ds.count(early_filter) > 0
    late = [p for p in out.rglob("*.parquet") if p.parent.parent.name > "date=2017-07-14"]
    early = [p for p in out.rglob("*.parquet") if p.parent.parent.name < "date=2017-07-14"]
    assert late and early
    for p in early:
        p.write_bytes(b"not parquet")
    assert ds.count(late_filter) == expected
    assert ds.chisel("topfiles_bytes", late_filter).table.num_rows >= 0
    with pytest.raises(Exception, match=r"(?i)parquet"):
        ds.count(early_filter)
    for p in late:
        p.write_bytes(b"not parquet")
    assert ds.count("evt.hostname=elsewhere and evt.type=open") == 0  # no host partition: nothing read
    assert ds.filter("evt.hostname in (elsewhere, nowhere)", ["evt.num"]).num_rows == 0


def test_dataset_usage_errors(dataset_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a sysnb dataset"):
        open_dataset(tmp_path)
    ds = open_dataset(dataset_dir)
    with pytest.raises(UsageError, match="no such dataset column"):
        ds.filter("evt.type=open", ["nope"])
    with pytest.raises(UsageError, match="no dataset form"):
        ds.chisel("echo_fds")
    assert "captures" in repr(ds)


def test_export_command_line(tmp_path: Path) -> None:
    from sysnb.cli import main

    out = tmp_path / "cli"
    assert main(["export", *map(str, BUNDLED[:2]), "--parquet", str(out)]) == 0
    assert len(json.loads((out / "manifest.json").read_text())["captures"]) == 2
    assert main(["export", str(BUNDLED[0])]) == 2  # where to? a usage error


# -- shared captures from different hosts --------------------------------------------------------------------------


@needs_shared
def test_shared_captures_from_many_hosts(tmp_path: Path) -> None:
    paths = [SHARED / p for p in SHARED_SET]
    merged = open_captures(paths)
    assert len(set(merged.table["host"].cast(pa.string()).unique().to_pylist())) >= 4
    for p in paths:  # per-capture state: each member's rows are its own table
        cap = open_capture(p)
        mine = merged.capture(p.name)  # type: ignore[attr-defined]
        assert plain(mine.table.drop_columns(["host", "capture"])).equals(plain(cap.table)), p.name
    export(paths, tmp_path / "shared")
    ds = open_dataset(tmp_path / "shared")
    for expr in (None, "evt.type=open and fd.name contains /etc", "evt.hostname=canaris and evt.is_io=true",
                 "proc.name=httpd or proc.name=curl",
                 "evt.hostname in (canaris, deleted) and evt.type=read"):
        assert ds.count(expr) == visible_rows((merged.filter(expr) if expr else merged).table).num_rows, expr
    for name in ("topfiles_bytes", "topprocs_net", "topconns"):
        assert ds.chisel(name).table.equals(merged.chisel(name).table), name
    assert ds.spy_users().table.equals(merged.chisel("spy_users").table)


def test_command_line_reads_several_captures(capsys: pytest.CaptureFixture[str]) -> None:
    from sysnb.cli import main

    fmt = "*%evt.num %evt.hostname %proc.name %evt.type %fd.name"
    merged = open_captures(FALCO)
    assert main(["-r", str(FALCO[0]), *[a for p in FALCO[1:] for a in ("-r", str(p))], "-p", fmt,
                 "evt.type=open"]) == 0
    assert capsys.readouterr().out.splitlines() == merged.filter("evt.type=open").lines(fmt)  # type: ignore[attr-defined]
    assert main(["-r", str(FIXTURES / "falco"), "-c", "topfiles_bytes"]) == 0  # a directory
    assert capsys.readouterr().out.splitlines() == str(merged.chisel("topfiles_bytes")).splitlines()
    assert main(["-r", str(FIXTURES / "falco" / "*.gz"), "-c", "spy_users"]) == 0  # a glob; per capture
    assert capsys.readouterr().out.splitlines() == str(merged.chisel("spy_users")).splitlines()
    assert main(["-r", str(FALCO[0]), "-r", str(FALCO[1]), "-S"]) == 1
    assert "not supported yet" in capsys.readouterr().err


def test_the_explorer_filters_a_merged_view_in_each_captures_context() -> None:
    """The explorer's filter box answers what ``merged.filter`` answers (``evt.hostname`` is per capture)."""
    from sysnb.views.explore import View

    merged = open_captures(BUNDLED)
    for text in ("evt.hostname=ubuntu", "evt.type=open and evt.dir=<"):
        view = View(merged)
        view.set_filter(text)
        assert len(view.filtered_indices()) == merged.filter(text).events.num_rows, text


def test_timeline_lanes_are_grouped_per_host() -> None:
    """A merged view of several hosts: lanes per (host, pid), grouped by host, the same pid on two hosts in two
    lanes; expanding one lane shows that host's threads only."""
    from sysnb.views.timeline import assign_lanes

    rows = pa.table({"proc.pid": [7, 7, 7, 9, 7, 7], "thread.tid": [7, 8, 7, 9, 7, 70],
                     "proc.name": ["a", "a", "a", "b", "x", "x"],
                     "host": pa.array(["web", "web", "web", "web", "db", "db"]).dictionary_encode()})
    lanes = assign_lanes(rows, set())
    assert [(lane["host"], lane["proc_pid"], lane["events"]) for lane in lanes.labels] == \
        [("web", 7, 3), ("web", 9, 1), ("db", 7, 2)]
    assert lanes.labels[0]["label"] == "web · a (7)" and lanes.index.tolist() == [0, 0, 0, 1, 2, 2]
    db7 = int(lanes.labels[2]["pid"])  # the lane's key, what the browser sends to expand it
    expanded = assign_lanes(rows, {db7})
    assert [lane["label"] for lane in expanded.labels][2:] == ["db · x (7)", "thread 7", "thread 70"]
    single = assign_lanes(rows.filter(pa.array([True] * 4 + [False] * 2)), set())
    assert "host" not in single.labels[0] and single.labels[0]["pid"] == 7  # one host: lanes per pid as before


@needs_shared
def test_the_explorer_timeline_of_a_multi_host_merge_has_a_lane_group_per_host() -> None:
    from sysnb.views.widget import Explorer

    merged = open_captures([SHARED / name for name in SHARED_SET[:3]])
    hosts = [lane.get("host") for lane in Explorer(merged).timeline_meta["lanes"]]  # type: ignore[union-attr]
    assert None not in hosts and len(set(hosts)) >= 2
    groups = [h for i, h in enumerate(hosts) if i == 0 or hosts[i - 1] != h]
    assert len(groups) == len(set(groups))  # each host's lanes together


def test_goto_an_event_number_on_a_merged_view() -> None:
    """evt.num repeats across the captures of a merged view: going to one selects the first in time (it
    answered "there is no event" before, from a binary search over numbers that do not ascend)."""
    from sysnb.views.widget import Explorer

    merged = open_captures(BUNDLED)
    counts = Counter(merged.events["evt.num"].to_pylist())
    repeated = next(n for n, c in counts.items() if c > 1)
    w = Explorer(merged)
    w._on_msg(w, {"kind": "goto", "evt_num": repeated}, [])
    assert not w.error and w.detail["evt_num"] == repeated
