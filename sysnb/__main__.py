"""``sysnb`` / ``python -m sysnb``: the command line's entry point."""

from __future__ import annotations

import os
import sys
import types
import warnings


def _single_threaded_blas() -> None:
    """numpy's OpenBLAS starts one spinning worker thread per CPU at import; the command line never does
    linear algebra, and those threads cost about a tenth of a second of CPU per command (measured with perf
    on big50: 11 % of the samples in ``blas_thread_server``). A user's own setting wins."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def _without_pandas() -> None:
    """pyarrow probes for pandas whenever it converts Python objects, importing it (a third of a second or
    more of start-up); the sysdig-style commands never use pandas. A stand-in module with a version pyarrow
    does not support makes pyarrow skip its pandas integration for this process."""
    if "pandas" in sys.modules:
        return
    stand_in = types.ModuleType("pandas", "stand-in: the sysnb command line does not use pandas")
    stand_in.__version__ = "0"  # type: ignore[attr-defined]
    sys.modules["pandas"] = stand_in
    import pyarrow as pa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "pyarrow requires pandas >= ...": the point of the stand-in
        pa.array([0])


def entry() -> int:
    """Run the command line (subcommands such as ``sysnb report`` keep pandas)."""
    args = sys.argv[1:]
    if args == ["--version"]:  # answered before anything heavy is imported
        from sysnb import __version__

        print(f"sysnb version {__version__}")
        return 0
    if (not args or args[0].startswith("-")) and args not in (["-h"], ["--help"]):
        _single_threaded_blas()
        _without_pandas()
    from sysnb.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(entry())
