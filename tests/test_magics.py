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


MAGICS = ("sysopen", "sysfilter", "sysprint", "chisel", "sysexplore", "sysrules", "syscase", "finding", "mark",
          "sysreport", "capture", "syscapture")


@pytest.mark.parametrize("name", MAGICS)
def test_every_magic_has_help_with_examples(ip, name: str) -> None:  # type: ignore[no-untyped-def]
    """``%name?`` shows a usage and examples (magics are named functions, not lambdas)."""
    magics = ip.magics_manager.magics
    fn = magics["line"].get(name) or magics["cell"][name]
    assert fn.__name__ == name
    assert "Usage::" in fn.__doc__ and "Examples::" in fn.__doc__, fn.__doc__
    info = ip.object_inspect_text(f"%{name}")
    assert "Examples" in info and "<no docstring>" not in info


def test_ipythons_own_capture_help_is_kept(ip) -> None:  # type: ignore[no-untyped-def]
    doc = ip.magics_manager.magics["cell"]["capture"].__doc__
    assert "DURATION" in doc and "--no-stderr" in doc  # ours, then IPython's stdout capture


def test_ipythons_own_capture_still_captures(ip) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell_magic("capture", "out", "print('hello')")
    assert ip.user_ns["out"].stdout == "hello\n"


@pytest.mark.parametrize(("line", "expected"), [
    ("%sysfilter proc.na", "proc.name"),
    ("%sysfilter evt.type=wr", "writev"),
    ("%sysfilter proc.name=cat and evt.type in (open, rea", "read"),
    ("%chisel topfiles_b", "topfiles_bytes"),
    ("%chisel fdbytes_by proc.na", "proc.name"),
    ('%sysprint -p "%evt.num %fd.na', "fd.name"),
    ("%%capture 5s --filter fd.na", "fd.name"),
    ("%finding -s high scan -- fd.sp", "fd.sport"),
])
def test_completion_inside_the_magics(ip, line: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    """What Tab (terminal) and Jupyter's complete_request both get: IPython's completer, our matcher."""
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        found = list(ip.Completer.completions(line, len(line)))
    hit = [c for c in found if c.text == expected]
    assert hit and expected.startswith(line[hit[0].start:]) and hit[0].end == len(line)  # replaces the typed word


def test_no_sysnb_completion_outside_the_magics(ip) -> None:  # type: ignore[no-untyped-def]
    from sysnb.completer import completions

    assert completions("x = proc.na") == ("", [])


@pytest.mark.parametrize(("code", "expected"), [
    ("%sysfilter proc.name", "proc.name (CHARBUF) the name (excluding the path)"),
    ('x = 1\n%sysprint -p "%evt.num %fd.name"', "fd.name (CHARBUF) FD full name"),
    ("%%capture 5s --filter fd.sport", "fd.sport (PORT)"),
])
def test_inspecting_a_field_inside_the_magics_describes_it(code: str, expected: str) -> None:
    """Shift-Tab (and JupyterLab's completion documentation, which inspects the chosen completion): the
    kernel's inspect request answers with ``sysnb -l FIELD`` for a field name inside the magics."""
    from sysnb.completer import _install_inspector

    class Kernel:
        def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0, omit_sections: object = ()) -> dict:
            return {"status": "ok", "found": False, "data": {}, "metadata": {}}

    kernel = Kernel()
    _install_inspector(kernel)
    _install_inspector(kernel)  # once, however often the extension is loaded
    cursor = len(code) - (1 if code.endswith('"') else 0)
    reply = kernel.do_inspect(code, cursor)
    assert reply["found"] and reply["data"]["text/plain"].startswith(expected)
    assert not kernel.do_inspect("print(proc.name)", 12)["found"]  # Python code: IPython's inspector


def test_an_unknown_event_type_is_an_error_with_a_caret(ip) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("sysopen", str(CAT))
    caret = r"(?s)unknown event type 'wrte'; did you mean write.*\n  evt.type=wrte\n {11}\^"
    with pytest.raises(UsageError, match=caret):
        ip.run_line_magic("sysfilter", "evt.type=wrte")
    with pytest.raises(UsageError, match="No closing quotation"):
        ip.run_line_magic("sysopen", '"unbalanced')


def test_a_chisel_run_by_magic_is_a_method_of_the_case(ip) -> None:  # type: ignore[no-untyped-def]
    """The report's Methods list every chisel run, whether by ``cap.chisel`` or by ``%chisel``."""
    import sysnb
    from sysnb.case.session import active, reset

    reset()
    sysnb.case("IR-MAGIC-1")
    ip.run_line_magic("sysopen", str(CAT))
    ip.run_line_magic("chisel", "topfiles_bytes -- evt.type=write")
    assert any(m.kind == "chisel" and m.text == "topfiles_bytes -- evt.type=write" for m in active().doc.methods)
    reset()
