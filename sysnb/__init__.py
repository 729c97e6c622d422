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
    cap.alerts(rules="falco_rules.yaml")        # Falco's rules on the capture (sysnb.rules)

The names are imported when first used (PEP 562), so ``sysnb --version`` and other quick commands do not
pay for pyarrow, the filter compiler or the notebook layer.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "Capture": "sysnb.capture", "Provenance": "sysnb.capture", "open_capture": "sysnb.capture",
    "cache_dir": "sysnb.cache", "clear_cache": "sysnb.cache",
    "case": "sysnb.case.api", "finding": "sysnb.case.api", "mark": "sysnb.case.api", "marks": "sysnb.case.api",
    "unmark": "sysnb.case.api",
    "ground_truth": "sysnb.data", "sample_path": "sysnb.data",
    "CaptureFormatError": "sysnb.errors", "SysnbError": "sysnb.errors", "UsageError": "sysnb.errors",
    "CompiledFilter": "sysnb.filter", "compile_filter": "sysnb.filter",
    "capture": "sysnb.record",
    "open_captures": "sysnb.datasets", "open_dataset": "sysnb.datasets",
    "alerts_table": "sysnb.rules", "load_rules": "sysnb.rules",
}

if TYPE_CHECKING:
    from sysnb.cache import cache_dir, clear_cache
    from sysnb.capture import Capture, Provenance, open_capture
    from sysnb.case.api import case, finding, mark, marks, unmark
    from sysnb.data import ground_truth, sample_path
    from sysnb.datasets import open_captures, open_dataset
    from sysnb.errors import CaptureFormatError, SysnbError, UsageError
    from sysnb.filter import CompiledFilter, compile_filter
    from sysnb.record import capture
    from sysnb.rules import alerts_table, load_rules


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sysnb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """``sysnb.capture`` and ``sysnb.case`` are functions of the API that share their names with submodules
    (the Capture class, the case package): the import system must not replace the functions with the
    submodules when those are first imported."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
    "alerts_table",
    "cache_dir",
    "capture",
    "case",
    "clear_cache",
    "compile_filter",
    "finding",
    "ground_truth",
    "load_ipython_extension",
    "load_rules",
    "mark",
    "marks",
    "open_capture",
    "open_captures",
    "open_dataset",
    "sample_path",
    "unmark",
]
