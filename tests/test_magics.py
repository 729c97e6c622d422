"""%sysopen / %sysfilter through a real IPython shell."""

from __future__ import annotations

from pathlib import Path

import pytest

IPython = pytest.importorskip("IPython", reason="IPython is not installed (pip install 'sysnb[notebook]')")
from IPython.core.error import UsageError  # noqa: E402
from IPython.testing.globalipapp import start_ipython  # noqa: E402

CAT = Path(__file__).parent / "fixtures" / "falco" / "cat_write.scap.gz"


@pytest.fixture(scope="module")
def ip():  # type: ignore[no-untyped-def]
    start_ipython()  # None when another test module started the session's shell first
    shell = IPython.get_ipython()
    shell.run_line_magic("load_ext", "sysnb")
    return shell


def test_open_filter_show_and_clear(ip) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("sysopen", f"{CAT} -o incident")
    assert len(ip.user_ns["incident"]) == 345
    # the rest of the line is raw filter text: quotes and parentheses reach the filter unchanged
    view = ip.run_line_magic("sysfilter", "proc.name=cat and evt.type in (open, 'read')")
    assert view.events.num_rows == 12 and ip.user_ns["_sysview"] is view  # as sysdig prints: 12 lines
    assert ip.run_line_magic("sysfilter", "") == "proc.name=cat and evt.type in (open, 'read')"
    assert ip.run_line_magic("sysfilter", "--clear") is None
    assert ip.run_line_magic("sysfilter", "") == "(no filter)"


def test_user_mistakes_are_usage_errors(ip) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("sysopen", str(CAT))
    with pytest.raises(UsageError, match=r"did you mean proc\.name"):
        ip.run_line_magic("sysfilter", "proc.nmae=cat")
    with pytest.raises(UsageError, match="no such file"):
        ip.run_line_magic("sysopen", "/nonexistent.scap")
    with pytest.raises(UsageError, match="usage: %sysopen"):
        ip.run_line_magic("sysopen", "")


def test_capture_arguments() -> None:
    from sysnb.magics import _capture_args

    assert _capture_args("5s -o incident --engine bcc -s 0 --filter proc.name=cat") == \
        (5.0, "incident", 0, "proc.name=cat", "bcc", None)
    assert _capture_args("500ms") == (0.5, "_capture", 80, None, "auto", None)
    assert _capture_args("2s --cgroup /sys/fs/cgroup/x").cgroup == "/sys/fs/cgroup/x"
    with pytest.raises(UsageError, match="--engine auto, core or bcc"):
        _capture_args("5s --engine ebpf")
    with pytest.raises(UsageError, match="unexpected '-x'"):
        _capture_args("5s -x")
