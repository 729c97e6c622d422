"""`%%capture 2s` in an IPython shell (what a JupyterLab cell runs): the cell's workload is recorded, the
capture is bound to the -o name, and the ground-truth facts are in our table and in what sysdig 0.29.3
prints from the file the magic wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import IPython
import pytest
from IPython.testing.globalipapp import start_ipython

import sysnb
from live.conftest import require_engine

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("can_record")]
WORKLOAD = Path(__file__).with_name("workload.py")
CELL = ("import subprocess, sys\n"
        "out = subprocess.run([sys.executable, WORKLOAD], capture_output=True, text=True, check=True).stdout\n")


@pytest.mark.parametrize("engine", ["core", "bcc"])
def test_capture_cell_records_the_cells_workload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], engine: str) -> None:
    require_engine(engine)
    monkeypatch.setenv("SYSNB_CACHE_DIR", str(tmp_path))  # where the magic writes its evidence file
    start_ipython()
    shell = IPython.get_ipython()
    shell.run_line_magic("load_ext", "sysnb")
    shell.user_ns["WORKLOAD"] = str(WORKLOAD)
    shell.run_cell_magic("capture", f"2s -o live_cap --engine {engine}", CELL)
    cap = shell.user_ns["live_cap"]
    facts = json.loads(shell.user_ns["out"])
    assert isinstance(cap, sysnb.Capture) and cap.provenance.extra["recorder"]["drops"] == 0
    assert cap.provenance.extra["recorder"]["engine"] == engine
    assert "syscalls recorded" in capsys.readouterr().out

    marker = f"evt.type=write and fd.name={facts['file']} and evt.buffer contains {facts['marker']}"
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
