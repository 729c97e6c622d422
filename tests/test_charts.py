"""Chart defects found in the browser (#20): the axis starts at 0, legends are not cut, categories differ."""

from __future__ import annotations

import pytest

import sysnb

alt = pytest.importorskip("altair", reason="charts need the notebook extras (pip install 'sysnb[notebook]')")


def test_over_time_axis_legend_and_palette() -> None:
    from sysnb import charts

    cap = sysnb.open_capture(sysnb.sample_path())
    spec = charts.syscalls_over_time(cap).to_dict()
    x, color = spec["encoding"]["x"], spec["encoding"]["color"]
    assert x["scale"]["domain"][0] == 0 and x["scale"]["nice"] is False  # not padded to -0.5 s
    assert color["legend"]["titleLimit"] >= 400  # "evt.category", not "evt.categor"
    categories = {row["key"] for row in spec["datasets"][spec["data"]["name"]]}
    assert 10 < len(categories) <= 20 and color["scale"]["scheme"] == "tableau20"  # one colour each
