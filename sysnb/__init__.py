"""sysnb: Jupyter-native forensic analysis of Linux system calls (sysdig-compatible).

Public API::

    import sysnb
    cap = sysnb.open_capture("capture.scap")   # Arrow table + provenance
    cap.table                                  # every event, columns named by sysdig fields
    cap.filter("proc.name=cat").save("cat.scap")  # a subset, as a .scap sysdig reads
    live = sysnb.capture(seconds=5)             # root + BTF kernel: record every syscall on the host
    sysnb.case("IR-2026-014", examiner="J. Doe")  # the case: findings, marks, evidence register, custody
    sysnb.finding("Port scan", "proc.name=nmap and evt.type=connect", severity="high")
    sysnb.mark(4711, tags=["c2"], note="forged Host header")
"""

from __future__ import annotations

__version__ = "0.1.0"

from sysnb.cache import cache_dir, clear_cache
from sysnb.capture import Capture, Provenance, open_capture
from sysnb.case.api import case, finding, mark, marks, unmark
from sysnb.data import ground_truth, sample_path
from sysnb.errors import CaptureFormatError, SysnbError, UsageError
from sysnb.filter import CompiledFilter, compile_filter
from sysnb.record import capture


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext sysnb``: registers %sysopen, %sysfilter and %%capture (see sysnb.magics)."""
    from sysnb.magics import load_ipython_extension as load

    load(ipython)


__all__ = [
    "Capture",
    "CaptureFormatError",
    "CompiledFilter",
    "Provenance",
    "SysnbError",
    "UsageError",
    "__version__",
    "cache_dir",
    "capture",
    "case",
    "clear_cache",
    "compile_filter",
    "finding",
    "ground_truth",
    "load_ipython_extension",
    "mark",
    "marks",
    "open_capture",
    "sample_path",
    "unmark",
]
