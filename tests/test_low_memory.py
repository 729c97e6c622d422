"""Low memory: under ``ulimit -v`` opening a capture says "not enough memory (needs ~N MB)" and exits 1,
instead of rebuilding the table for minutes, aborting in native code or printing a traceback; a memory
error anywhere below the CLI and the magics becomes that message; SIGTERM ends a long read at once."""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from sysnb import memory
from sysnb.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "falco" / "cat_write.scap.gz"
LIMIT = 700 << 20  # enough to start Python with pyarrow, numpy and duckdb (about 520 MB), not for 64 MB more


@pytest.fixture(scope="module")
def big_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 64 MB capture (one fixture concatenated, as sysdig reads concatenated files): ~256 MB of table."""
    one = gzip.decompress(FIXTURE.read_bytes())
    out = tmp_path_factory.mktemp("big") / "big.scap"
    with out.open("wb") as f:
        for _ in range((64 << 20) // len(one) + 1):
            f.write(one)
    return out


def _limited(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def test_cli_under_ulimit_says_not_enough_memory(big_capture: Path) -> None:
    """A chisel that is not a sum per key works on the whole table in memory (table chisels stream, #16)."""
    proc = subprocess.run([sys.executable, "-m", "sysnb", "-r", str(big_capture), "-c", "topprocs_cpu"],
                          capture_output=True, text=True, timeout=600, preexec_fn=_limited(LIMIT))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert "not enough memory to open" in proc.stderr and "needs ~" in proc.stderr
    assert f"{LIMIT >> 20:,} MB of address space" in proc.stderr and "ulimit -v" in proc.stderr
    need = int(proc.stderr.split("needs ~")[1].split(" MB")[0].replace(",", ""))
    assert need > LIMIT >> 20 and need >= 4 * 64  # the table alone is ~4x the capture


def test_a_streamed_read_of_the_big_capture_fits_under_the_same_limit(big_capture: Path) -> None:
    """-S, filters and printing stream the capture batch by batch: memory does not grow with it."""
    proc = subprocess.run([sys.executable, "-m", "sysnb", "-r", str(big_capture), "-S", "-q", "evt.type=open"],
                          capture_output=True, text=True, timeout=600, preexec_fn=_limited(LIMIT))
    assert proc.returncode == 0, proc.stderr
    assert "> open" in proc.stdout and "Traceback" not in proc.stderr


def test_a_table_chisel_streams_the_big_capture_under_the_same_limit(big_capture: Path) -> None:
    """topfiles_bytes is a sum per key: it runs batch by batch and merges, in constant memory."""
    proc = subprocess.run([sys.executable, "-m", "sysnb", "-r", str(big_capture), "-c", "topfiles_bytes"],
                          capture_output=True, text=True, timeout=600, preexec_fn=_limited(LIMIT))
    assert proc.returncode == 0, proc.stderr
    assert "/etc/ld.so.cache" in proc.stdout or "Bytes" in proc.stdout


def test_a_small_capture_opens_under_the_same_limit() -> None:
    proc = subprocess.run([sys.executable, "-m", "sysnb", "-r", str(FIXTURE), "-S", "-q"], capture_output=True,
                          text=True, timeout=600, preexec_fn=_limited(LIMIT))
    assert proc.returncode == 0, proc.stderr
    assert "> procinfo        260" in proc.stdout


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def _enomem_in_arrow() -> None:
    try:
        raise OSError("Memory mapping file failed: Cannot allocate memory")
    except OSError:
        raise pa.ArrowInvalid("Invalid operation on closed file") from None  # as cache.StreamWriter.__exit__


@pytest.mark.parametrize("failure", [
    pa.ArrowMemoryError("realloc of size 1880960 failed"),
    MemoryError(),
    OSError(errno.ENOMEM, "Cannot allocate memory"),
    "chained",
], ids=["arrow", "python", "enomem", "chained"])
def test_a_memory_error_below_the_cli_is_the_message(monkeypatch: pytest.MonkeyPatch, failure: object) -> None:
    import sysnb.cli
    import sysnb.scan

    def fail(*args: object, **kw: object) -> None:
        if failure == "chained":
            try:
                _enomem_in_arrow()
            except pa.ArrowInvalid as e:
                e.__context__ = OSError("Memory mapping file failed: Cannot allocate memory")
                raise
        raise failure  # type: ignore[misc]

    monkeypatch.setattr(sysnb.cli, "open_capture", fail)
    monkeypatch.setattr(sysnb.scan, "Scan", fail)
    code, err = _cli(["-r", str(FIXTURE)])
    assert code == 1 and err.startswith("sysnb: not enough memory to open") and "Traceback" not in err


def test_other_errors_are_not_taken_for_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import sysnb.cli
    import sysnb.scan

    def fail(*args: object, **kw: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(sysnb.cli, "open_capture", fail)
    monkeypatch.setattr(sysnb.scan, "Scan", fail)
    with pytest.raises(OSError, match="Input/output"):
        _cli(["-r", str(FIXTURE)])


def test_the_estimate_believes_a_gzip_trailer_only_within_reason(tmp_path: Path) -> None:
    raw = gzip.decompress(FIXTURE.read_bytes())
    assert memory.capture_bytes(str(FIXTURE)) == len(raw)
    liar = tmp_path / "liar.scap.gz"
    liar.write_bytes(FIXTURE.read_bytes()[:-4] + (0xFFFFFFFF).to_bytes(4, "little"))
    assert memory.capture_bytes(str(liar)) == 8 * liar.stat().st_size


def test_magics_turn_memory_errors_into_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.error import UsageError

    import sysnb.magics as magics

    def fail(*args: object, **kw: object) -> None:
        raise pa.ArrowMemoryError("malloc of size 64 failed")

    monkeypatch.setattr(magics, "open_capture", fail)
    with pytest.raises(UsageError, match="%sysopen: not enough memory to open"):
        magics.sysopen(str(FIXTURE), shell=None)

    class Shell:
        user_ns: dict[str, object] = {}  # noqa: RUF012

    guarded = magics._memory_guard(lambda line, shell: fail(), "sysfilter", Shell())
    with pytest.raises(UsageError, match="%sysfilter: not enough memory"):
        guarded("proc.name=cat")


def test_sigterm_ends_a_long_read_at_once(big_capture: Path, tmp_path: Path) -> None:
    """SIGTERM is not turned into a Python exception while reading (that waits for the native call in
    progress to return, which under memory pressure may be never): the process ends by the signal. The
    output pipe is left unread, so sysnb is stopped mid-capture, blocked on its output."""
    proc = subprocess.Popen([sys.executable, "-m", "sysnb", "-r", str(big_capture)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    assert proc.stdout.read(1), "sysnb ended before it printed"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == -signal.SIGTERM
