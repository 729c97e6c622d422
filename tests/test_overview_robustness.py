"""The overview (and the CLI) on odd captures: a time span of a few nanoseconds, a damaged timestamp near
2**64, a capture with no events; and one definition of "events" wherever a capture is summarised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import FIXTURES

import sysnb
from sysnb.capture import Capture
from sysnb.views.overview import BINS, event_count, overview_html, overview_text, tile_values, time_bins

CAT = FIXTURES / "falco" / "cat_write.scap.gz"
EMPTY = FIXTURES / "falco" / "empty_2019.scap.gz"


@pytest.fixture(scope="module")
def cap() -> Capture:
    return sysnb.open_capture(CAT, cache=False)


def with_times(cap: Capture, ts: np.ndarray) -> Capture:
    i = cap.table.schema.get_field_index("evt.rawtime")
    return Capture(cap.table.set_column(i, "evt.rawtime", pa.array(ts, pa.uint64())), cap.provenance)


def _start(cap: Capture) -> int:
    return int(cap.table["evt.rawtime"][0].as_py())


@pytest.mark.parametrize("step", [0, 1, 10, 250])
def test_spans_of_a_few_nanoseconds(cap: Capture, step: int) -> None:
    """np.histogram's float edges collapse at today's epoch for spans under ~10 us ("Too many bins")."""
    odd = with_times(cap, _start(cap) + np.arange(cap.table.num_rows, dtype=np.uint64) * np.uint64(step))
    for tile, total, spark in tile_values(odd):
        assert len(spark) == BINS
        if tile.measure == "count":
            assert spark.sum() == total
    assert "System calls" in overview_html(odd) and overview_text(odd)


@pytest.mark.parametrize("bad", [2**64 - 5, 2**63 + 5, 0])
def test_a_damaged_timestamp(cap: Capture, bad: int) -> None:
    ts = cap.table["evt.rawtime"].to_numpy().copy()
    ts[5] = bad
    odd = with_times(cap, ts)
    values = {t.title: (total, spark) for t, total, spark in tile_values(odd)}
    total, spark = values["System calls"]
    assert spark.sum() == total  # every event is in some bin, the damaged one too
    assert "System calls" in overview_html(odd) and overview_text(odd)


def test_time_bins_are_exact_integer_bins() -> None:
    lo = 1_700_000_000_000_000_000
    ts = np.array([lo, lo + 1, lo + 2, lo + 3], np.uint64)
    assert time_bins(ts, lo, lo + 3, 4).tolist() == [1, 1, 1, 1]
    assert time_bins(ts, lo, lo + 3, 2, weights=np.array([1.0, 2, 3, 4])).tolist() == [3, 7]
    assert time_bins(np.array([], np.uint64), 0, 0, 3).tolist() == [0, 0, 0]
    assert time_bins(np.array([0, 2**64 - 1], np.uint64), 0, 2**64 - 1, 2).tolist() == [1, 1]


def test_events_mean_what_sysdig_prints_everywhere(cap: Capture) -> None:
    """The overview said "events 49,152" (every row) where repr said 12,953 (visible events)."""
    shown = cap.events.num_rows
    assert f": {shown} events " in repr(cap)
    assert event_count(cap).startswith(f"{shown:,} as sysdig prints them")
    html = overview_html(cap)
    assert f"{shown:,} as sysdig prints them" in html and f"{cap.provenance.events:,}</code>" not in html
    hidden = cap.table.num_rows - shown
    if hidden:
        assert f"+ {hidden:,} state and internal records" in event_count(cap)
    view = cap.filter("proc.name=cat")
    n = int(pc.sum(view.table["sysnb.visible"]).as_py())
    assert f": {n} events " in repr(view) and event_count(view).startswith(f"{n:,} as sysdig prints them")
    assert f"events: {n:,} as sysdig prints them" in overview_text(view)


def _header_only(tmp_path: Path, cap: Capture) -> Path:
    import gzip

    data = gzip.decompress(CAT.read_bytes())
    f = tmp_path / "header-only.scap"
    f.write_bytes(data[:int(cap.table["sysnb.offset"][0].as_py())])
    return f


def test_a_capture_without_events_says_so(tmp_path: Path, cap: Capture, capsys: pytest.CaptureFixture[str]) -> None:
    from sysnb.cli import main

    f = _header_only(tmp_path, cap)
    empty = sysnb.open_capture(f, cache=False)
    assert empty.table.num_rows == 0 and empty.provenance.error is None
    assert "the capture holds no events" in overview_html(empty) and "holds no events" in overview_text(empty)
    assert main(["-r", str(f)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "the capture holds no events, only its header and state tables" in err
    assert main(["-r", str(EMPTY)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no events sysdig prints, only 143 state and internal records" in err
    assert main(["-r", str(CAT), "-n", "1"]) == 0 and "holds no" not in capsys.readouterr().err
