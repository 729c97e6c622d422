"""`%%capture 2s` in an IPython shell (what a JupyterLab cell runs): the cell's workload is recorded, the
capture is bound to the -o name, and the ground-truth facts are in our table and in what sysdig 0.29.3
prints from the file the magic wrote. The cell runs its workload in a cgroup of its own and the magic
records that cgroup (``--cgroup``), so a busy host stays out of the file (live/harness.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import IPython
import pytest
from IPython.testing.globalipapp import start_ipython

import sysnb
from live.conftest import require_engine
from live.harness import recorded_until, stats_from_note, task_scope
from sysnb.record.recorder import RecordStats

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("can_record")]
WORKLOAD = Path(__file__).with_name("workload.py")
CELL = "import subprocess\nout = subprocess.run(ARGV, capture_output=True, text=True, check=True).stdout\n"


def _run_cell(tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, RecordStats]:
    """%%capture around the workload (run in a cgroup of its own, which the magic records): (capture, facts)."""
    for old in (tmp_path / "captures").glob("live-*.scap.gz"):
        old.unlink()  # a first attempt's file
    shell = IPython.get_ipython()
    with task_scope() as scope:
        shell.user_ns["ARGV"] = scope.wrap([sys.executable, str(WORKLOAD)])
        cgroup = f" --cgroup {scope.cgroup}" if scope.cgroup else ""
        shell.run_cell_magic("capture", f"2s -o live_cap --engine {engine}{cgroup}", CELL)
    cap = shell.user_ns["live_cap"]
    assert "syscalls recorded" in capsys.readouterr().out
    return (cap, json.loads(shell.user_ns["out"])), stats_from_note(cap.provenance.source,
                                                                    cap.provenance.extra["recorder"])


def _marker(facts: dict[str, Any]) -> str:
    return f"evt.type=write and fd.name={facts['file']} and evt.buffer contains {facts['marker']}"


@pytest.mark.parametrize("engine", ["core", "bcc"])
def test_capture_cell_records_the_cells_workload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], engine: str) -> None:
    require_engine(engine)
    monkeypatch.setenv("SYSNB_CACHE_DIR", str(tmp_path))  # where the magic writes its evidence file
    start_ipython()
    shell = IPython.get_ipython()
    shell.run_line_magic("load_ext", "sysnb")
    (cap, facts), _ = recorded_until(
        lambda: _run_cell(tmp_path, engine, capsys),
        lambda found: None if len(found[0].filter(_marker(found[1]))) else "the marker write is missing",
        f"%%capture with the {engine} engine")
    assert isinstance(cap, sysnb.Capture) and cap.provenance.extra["recorder"]["engine"] == engine
    marker = _marker(facts)
    assert len(cap.filter(marker)) == 1
    f = facts["tcp4"]
    tcp = f"{f['host']}:{f['client_port']}->{f['host']}:{f['server_port']}"
    assert tcp in cap.filter(f"evt.type=connect and evt.dir=< and proc.pid={facts['pid']}").events["fd.name"]\
        .to_pylist()

    files = list((tmp_path / "captures").glob("live-*.scap.gz"))
    assert len(files) == 1
    sysdig = shutil.which("sysdig")
    if sysdig is None:
        pytest.skip("sysdig 0.29.3 is not installed (apt-get install sysdig): our table was checked")
    out = subprocess.run([sysdig, "-r", str(files[0]), "-p", "%fd.name", marker], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [facts["file"]]
    out = subprocess.run([sysdig, "-r", str(files[0]), "-p", "%fd.name",
                          f"evt.type=connect and evt.dir=< and proc.pid={facts['pid']}"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert tcp in out
