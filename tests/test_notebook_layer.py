"""Overview, charts, report and the %chisel/%sysprint magics on the bundled incident capture."""

from __future__ import annotations

from pathlib import Path

import pytest

import sysnb

alt = pytest.importorskip("altair", reason="the notebook extras are not installed (pip install 'sysnb[notebook]')")
IPython = pytest.importorskip("IPython")
from IPython.core.error import UsageError  # noqa: E402
from IPython.testing.globalipapp import start_ipython  # noqa: E402

from sysnb import charts  # noqa: E402
from sysnb.views.overview import TILES, tile_values  # noqa: E402


@pytest.fixture(scope="module")
def cap() -> sysnb.Capture:
    return sysnb.open_capture(sysnb.sample_path())


def test_overview_tiles_are_their_filters(cap: sysnb.Capture) -> None:
    values = {t.title: total for t, total, _ in tile_values(cap)}
    assert len(values) == len(TILES)
    execs = cap.filter("evt.type=execve and evt.dir=< and evt.failed=false")
    assert values["Executed commands"] == execs.events.num_rows
    html = cap._repr_html_()
    assert "storefront_incident.scap.gz" in html and cap.provenance.sha256 in html and "image/svg+xml" in html
    assert "<script" not in html  # static: survives export and needs no network


@pytest.mark.parametrize("make", [charts.syscalls_over_time, charts.top_processes, charts.io_by, charts.connections,
                                  charts.latency_histogram, charts.errors_over_time])
def test_charts_aggregate_before_drawing_and_render_to_svg(cap: sysnb.Capture, make) -> None:  # type: ignore[no-untyped-def]
    chart = make(cap)
    spec = chart.to_dict()
    rows = next(iter(spec["datasets"].values())) if "datasets" in spec else []
    assert 0 < len(rows) <= 2000  # aggregated: never one mark per event
    assert all("." not in k for k in rows[0])  # vega-lite reads dots as nested fields
    assert charts.to_svg(chart).lstrip().startswith("<svg")


@pytest.fixture(scope="module")
def ip():  # type: ignore[no-untyped-def]
    start_ipython()  # returns None when test_magics already started the session's shell
    shell = IPython.get_ipython()
    shell.run_line_magic("load_ext", "sysnb")
    shell.run_line_magic("sysopen", f"{sysnb.sample_path()} -o incident")
    return shell


def test_chisel_magic_on_the_current_view(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("sysfilter", "--clear")
    result = ip.run_line_magic("chisel", "fdbytes_by proc.name -- fd.type=file")
    assert ip.user_ns["_chisel"] is result and "proc.name" in result.table.column_names
    with pytest.raises(UsageError, match="did you mean topfiles_bytes"):
        ip.run_line_magic("chisel", "topfile_bytes")


def test_sysprint_keeps_the_filter_text_raw(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("sysfilter", "--clear")
    ip.run_line_magic("sysprint", "-A -p \"%proc.name %evt.buffer\" proc.name=cat and evt.type=read and "
                                  "evt.buffer contains 'SYSNB-IOC-7f3a9 owned'")
    out = capsys.readouterr().out
    assert out.startswith("cat ") and "SYSNB-IOC-7f3a9 owned by c2" in out


def test_capture_magic_hands_other_arguments_to_ipython(ip) -> None:  # type: ignore[no-untyped-def]
    sysnb.load_ipython_extension(ip)  # loading twice must not make %%capture delegate to itself
    ip.run_cell_magic("capture", "out", "print('to ipython')")
    assert ip.user_ns["out"].stdout == "to ipython\n"
    with pytest.raises(UsageError, match="usage: %%capture DURATION"):
        ip.run_line_magic("capture", "soon")


def test_report_is_self_contained(tmp_path: Path) -> None:
    pytest.importorskip("nbconvert")
    from sysnb.report import export

    nb = Path(__file__).parent.parent / "notebooks" / "02-incident-investigation.ipynb"
    html = export(nb, tmp_path / "r.html").read_text()
    assert "sysnb forensic report" in html and "image/svg+xml" in html  # charts inline, as data URIs
    assert 'src="http' not in html  # no script or image fetched from the network
