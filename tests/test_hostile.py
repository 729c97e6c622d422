"""Hostile capture content through every display path: the matrix of issue #15 (path x payload).

``tests/hostile/hostile.scap`` (made by ``make_hostile.py`` beside it) holds one process per payload
of ``PAYLOADS``: HTML/script injection, terminal escape sequences (OSC title, CSI clear screen, the C1 CSI
byte, BEL/CR/BS/DEL), a bidi override, bytes that are not UTF-8, a newline that forges a line, and a JSON /
CDATA / comment breaker, in its process name, executable, arguments, working directory, file name and the
bytes it writes. Every path that shows capture content must show each payload (its marker text is there)
without executing it: on a terminal no raw control character of the payload reaches the screen; in HTML no
element, attribute or comment comes from capture content and no control character is in the document.

``test_matrix[PATH-PAYLOAD]`` is one cell of the matrix; ``pytest -v tests/test_hostile.py -k matrix`` prints it.
"""

from __future__ import annotations

import base64
import functools
import html
import importlib.util
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import termios
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

import sysnb
from sysnb.format.escape import label, visible

HERE = Path(__file__).parent / "hostile"
HOSTILE = HERE / "hostile.scap"
_spec = importlib.util.spec_from_file_location("make_hostile", HERE / "make_hostile.py")
assert _spec is not None and _spec.loader is not None
make_hostile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_hostile)
PAYLOADS: dict[str, bytes] = dict(make_hostile.PAYLOADS)

#: text every path must show for each payload (so a path that hides content fails too)
MARKERS = {"script": "document.domain", "attr": "alert(1)", "osc-title": "pwned", "csi": "31mred", "c1-csi": "31mc1",
           "bell-cr": "fake", "bidi": "txt.sh", "not-utf8": "bytes", "newline": "fake line", "json": "]]>"}
#: paths that show only some payloads: the overview shows the host name (script and osc-title payloads)
SHOWS = {"overview-html": {"script", "osc-title"}}
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\udc80-\udcff]")
CHISEL_COLOURS = re.compile("\x1b\\[(?:0|1|3[0-7])m")  # sysdig's chisels colour their own lines on a terminal
CHISELS = ("topfiles_bytes", "topprocs_file", "echo_fds", "spy_file", "lsof", "fdbytes_by fd.name")
P_FORMAT = "*%proc.name|%proc.exe|%proc.args|%proc.cmdline|%proc.cwd|%fd.name|%evt.arg.name|%evt.buffer|%evt.args"
ALL_PIDS = "thread.tid in (1000,1001,1002,1003,1005,1008,1009)"  # the payloads sysdig 0.29.3 prints like sysnb


def unsafe_chars(payload: bytes) -> set[str]:
    return set(UNSAFE.findall(payload.decode("utf-8", "surrogateescape"))) - {"\n"}


# -- the display paths -----------------------------------------------------------------------------------------
@dataclass
class Parsed(HTMLParser):
    """Elements, attributes, comments and text of an HTML document (html.parser: what a browser would build)."""

    tags: list[tuple[str, list[tuple[str, str | None]]]] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    _last: str = ""

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._last = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.ends.append(tag)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._last == "b" and data == "bold":
            self.tags.append(("b:bold", []))  # the <b>bold</b> of the written buffers became an element
        self._last = ""


@dataclass
class Output:
    kind: str  # terminal | html | data
    text: str
    parsed: Parsed | None = None


def as_html(document: str) -> Output:
    p = Parsed()
    p.feed(document)
    p.close()
    return Output("html", document, p)


def run_tty(*args: str) -> str:
    """``sysnb ARGS`` with stdout on a terminal (a pty without output translation), decoded as it was sent."""
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # the pty would turn \n into \r\n
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen([sys.executable, "-m", "sysnb", *args], stdout=slave, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    os.close(slave)
    out = bytearray()
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    assert proc.wait(timeout=600) == 0, err
    return out.decode("utf-8", "surrogateescape")


def run_pipe(*args: str) -> bytes:
    return subprocess.run([sys.executable, "-m", "sysnb", *args], capture_output=True, check=True, timeout=600).stdout


@functools.cache
def capture() -> sysnb.Capture:
    return sysnb.open_capture(HOSTILE, cache=False)


def _chisel_html() -> Output:
    return as_html("".join(capture().chisel(*name.split())._repr_html_() for name in CHISELS))


def _explorer_data() -> Output:
    """Every string the explorer widget sends to the browser while a user goes through every pane."""
    import pyarrow as pa

    from sysnb.views.explore import LENSES
    from sysnb.views.widget import Explorer

    w = Explorer(capture())
    sent: list[Any] = [w.source, w.tiles]

    def snapshot() -> None:
        sent.extend([w.crumbs, w.timeline_meta, w.detail, w.stream_meta, w.error])
        for blob in (w.grid, w.stream):
            if blob:
                sent.append(pa.ipc.open_stream(blob).read_all().to_pylist())

    for num in range(1, capture().events.num_rows + 1):
        w._on_msg(w, {"kind": "select", "evt_num": num}, None)
        w._on_msg(w, {"kind": "follow"}, None)
        snapshot()
    for pid in range(1000, 1000 + len(PAYLOADS)):
        w._on_msg(w, {"kind": "expand", "pid": pid}, None)
    for lens in LENSES:
        w._on_msg(w, {"kind": "lens", "name": lens}, None)
        snapshot()
        if lens != "syscalls" and w.grid_meta["total"]:
            w._on_msg(w, {"kind": "drill", "row": 0}, None)  # a crumb labelled with a capture string
            snapshot()
            w._on_msg(w, {"kind": "crumb", "depth": 0}, None)
    return Output("data", json.dumps(sent, ensure_ascii=False, default=str))


def _explorer_static() -> Output:
    """The explorer's static snapshot (exported notebooks), one per payload process, with a crumb each."""
    from sysnb.views.widget import Explorer

    pages = []
    for pid in range(1000, 1000 + len(PAYLOADS)):
        w = Explorer(capture(), columns=P_FORMAT.lstrip("*").replace("|", " "))
        w._on_msg(w, {"kind": "lens", "name": "processes"}, None)
        w.view.push(f"crumb {pid}", f"proc.pid={pid}")
        w._on_msg(w, {"kind": "lens", "name": "syscalls"}, None)
        pages.append(w.static_html())
    return as_html("".join(pages))


SVG_SCRIPT = """
import sys
import sysnb
from sysnb import charts
cap = sysnb.open_capture(sys.argv[1], cache=False)
for chart in (charts.io_by(cap), charts.top_processes(cap), charts.syscalls_over_time(cap, by="proc.name"),
              charts.connections(cap), charts.latency_histogram(cap), charts.errors_over_time(cap)):
    print(charts.to_svg(chart.configure_axis(labelLimit=0).configure_legend(labelLimit=0)), end="\\0")
"""


def _chart_svg() -> Output:
    """Every chart as SVG, rendered in a child process: a vl-convert panic (ESC in a label) aborts the process."""
    run = subprocess.run([sys.executable, "-c", SVG_SCRIPT, str(HOSTILE)], capture_output=True, timeout=600)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    svgs = run.stdout.decode().split("\0")[:-1]
    texts, tags = [], []
    for svg in svgs:
        root = ElementTree.fromstring(svg)  # well-formed XML: no raw control character, no broken markup
        for el in root.iter():
            tags.append((el.tag.rsplit("}", 1)[-1], list(el.attrib.items())))
            texts.append(el.text or "")
    parsed = Parsed(tags=tags, text=texts)
    return Output("html", "".join(svgs), parsed)


def _chart_html() -> Output:
    """Charts through Altair's default (HTML) renderer, as a notebook stores them and nbconvert exports them."""
    from sysnb import charts

    charts.io_by(capture())  # installs sysnb's renderers
    import altair as alt

    with alt.renderers.enable("default"):
        bundles = [c._repr_mimebundle_() for c in (charts.io_by(capture()),
                                                     charts.syscalls_over_time(capture(), by="proc.name"))]
    return as_html("".join((b[0] if isinstance(b, tuple) else b)["text/html"] for b in bundles))


def _report() -> Output:
    return as_html(exported_report().read_text(encoding="utf-8"))


PATHS = {
    "cli-default": lambda: Output("terminal", run_tty("-r", str(HOSTILE))),
    "cli-p": lambda: Output("terminal", run_tty("-r", str(HOSTILE), "-p", P_FORMAT)),
    "cli-A": lambda: Output("terminal", run_tty("-r", str(HOSTILE), "-A")),
    "cli-X": lambda: Output("terminal", run_tty("-r", str(HOSTILE), "-X")),
    "cli-j": lambda: Output("terminal", run_tty("-r", str(HOSTILE), "-j")),
    "cli-chisels": lambda: Output("chisel", "".join(run_tty("-r", str(HOSTILE), "-c", *c.split()) for c in CHISELS)),
    "chisel-html": _chisel_html,
    "overview-html": lambda: as_html(capture()._repr_html_()),
    "explorer-data": _explorer_data,
    "explorer-static-html": _explorer_static,
    "chart-svg": _chart_svg,
    "chart-html": _chart_html,
    "report": _report,
}


@functools.cache
def output(path: str) -> Output:
    return PATHS[path]()


@functools.cache
def exported_report() -> Path:
    """A notebook showing the hostile capture every way, exported with ``python -m sysnb.report --execute``."""
    nbformat = pytest.importorskip("nbformat")
    work = Path(os.environ.get("SYSNB_CACHE_DIR", "/tmp")) / "hostile-report"
    work.mkdir(parents=True, exist_ok=True)
    cells = [
        f"import sysnb\nfrom sysnb import charts\ncap = sysnb.open_capture({str(HOSTILE)!r})",
        "cap",
        "charts.io_by(cap)",
        "charts.syscalls_over_time(cap, by='proc.name')",
        "cap.chisel('topfiles_bytes')",
        "cap.chisel('spy_file')",
        "cap.explore()",
        f"%load_ext sysnb\n%sysopen {HOSTILE}",
        "%sysprint -A",
        "%chisel echo_fds",
        "charts.use_static_rendering()\ncharts.top_processes(cap)",
        "charts.io_by(cap)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, out = work / "hostile.ipynb", work / "hostile.html"
    nbformat.write(nb, src)
    run = subprocess.run([sys.executable, "-m", "sysnb.report", str(src), "-o", str(out), "--execute"],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0 and out.exists(), (run.stdout + run.stderr)[-3000:]
    return out


# -- the matrix ------------------------------------------------------------------------------------------------
def check_terminal(out: Output, name: str, payload: bytes) -> None:
    text = CHISEL_COLOURS.sub("", out.text) if out.kind == "chisel" else out.text
    raw = unsafe_chars(payload) & set(text)
    assert not raw, f"raw {sorted(map(repr, raw))} of payload {name} reached the terminal"


def check_svg(svg: str, name: str, payload: bytes) -> None:
    """An SVG image: well-formed, nothing that runs, no raw control character of the payload."""
    raw = unsafe_chars(payload) & set(svg)
    assert not raw, f"raw {sorted(map(repr, raw))} of payload {name} in an SVG"
    for el in ElementTree.fromstring(svg).iter():
        assert el.tag.rsplit("}", 1)[-1] not in ("script", "foreignObject"), f"<{el.tag}> in an SVG"
        assert not any(k.startswith("on") for k in el.attrib), f"live attribute on <{el.tag}> in an SVG"


def check_html(out: Output, name: str, payload: bytes) -> None:
    p = out.parsed
    assert p is not None
    raw = unsafe_chars(payload) & set(out.text)
    assert not raw, f"raw {sorted(map(repr, raw))} of payload {name} in the document"
    for tag, attrs in p.tags:
        assert tag != "b:bold", "the <b>bold</b> written by the payload processes became an element"
        for key, value in attrs:
            assert not key.startswith("on"), f"live attribute {key}={value!r} on <{tag}>"
            if key in ("src", "href", "xlink:href", "action", "formaction"):
                assert MARKERS[name] not in (value or ""), f"<{tag} {key}={value!r}>: a link from capture content"
        if tag == "img":
            src = dict(attrs).get("src") or ""
            assert src.startswith("data:image/"), f"<img src={src!r}>: an image that is not sysnb's own"
            if src.startswith("data:image/svg+xml;base64,"):  # sparklines, charts in the report
                check_svg(base64.b64decode(src.split(",", 1)[1]).decode("utf-8"), name, PAYLOADS[name])
    assert not any(MARKERS[name] in c for c in p.comments), f"a comment opened by payload {name} hides content"
    scripts = sum(t == "script" for t, _ in p.tags)
    assert p.ends.count("script") == scripts, "a </script> in capture content ended a script early"


@pytest.mark.parametrize("name", list(PAYLOADS))
@pytest.mark.parametrize("path", list(PATHS))
def test_matrix(path: str, name: str) -> None:
    if path in ("chart-svg", "chart-html", "report"):
        pytest.importorskip("altair", reason="the notebook extras are not installed")
    out = output(path)
    shown = html.unescape("".join(out.parsed.text)) if out.parsed else out.text
    if name in SHOWS.get(path, PAYLOADS):
        assert MARKERS[name] in shown, f"{path} does not show payload {name} at all"
    if out.kind in ("terminal", "chisel"):
        check_terminal(out, name, PAYLOADS[name])
    elif out.kind == "data":
        raw = unsafe_chars(PAYLOADS[name]) & set(json.loads(out.text) and out.text)
        assert not raw, f"the explorer sends raw {sorted(map(repr, raw))} of payload {name} to the browser"
    else:
        check_html(out, name, PAYLOADS[name])


# -- around the matrix -----------------------------------------------------------------------------------------
def test_fixture_is_what_its_generator_writes(tmp_path: Path) -> None:
    assert make_hostile.write(tmp_path / "h.scap").read_bytes() == HOSTILE.read_bytes()


def test_terminal_shows_escapes_where_sysdig_prints_raw_bytes() -> None:
    tty = output("cli-default").text
    assert "^[]0;pwned^Gtitle" in tty and "ok^G^Mfake^H^?" in tty and "exe<U+202E>txt.sh" in tty
    assert "M-BM-^[31mc1" in tty and "a^Jb 1 fake line" in tty
    piped = run_pipe("-r", str(HOSTILE))
    assert b"\x1b]0;pwned\x07title" in piped and b"ok\x07\rfake\x08\x7f" in piped  # sysdig's bytes on a pipe
    assert run_tty("-r", str(HOSTILE), "--raw").encode("utf-8", "surrogateescape") == piped


def test_json_on_a_terminal_parses_to_the_same_values() -> None:
    tty = [json.loads(line) for line in output("cli-j").text.splitlines()]
    piped = [json.loads(line) for line in run_pipe("-r", str(HOSTILE), "-j").decode("utf-8", "surrogateescape")
             .splitlines()]
    assert tty == piped and len(tty) == 100


@pytest.mark.sysdig
@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig 0.29.3 is not installed")
@pytest.mark.parametrize("mode", [[], ["-A"], ["-X"], ["-j"], ["-c", "spy_file"]])  # top* chisels: ties in any order
def test_piped_output_is_sysdigs_bytes(mode: list[str]) -> None:
    """Off a terminal nothing is escaped: byte for byte what sysdig 0.29.3 prints (the payloads it renders as
    sysnb does; names with C1, bidi or non-UTF-8 bytes differ in how paths are sanitised, as they did before)."""
    want = subprocess.run(["sysdig", "-r", str(HOSTILE), *mode, ALL_PIDS], capture_output=True, check=True).stdout
    assert run_pipe("-r", str(HOSTILE), *mode, ALL_PIDS) == want


def test_sysprint_and_chisel_magics_escape_notebook_output(capsys: pytest.CaptureFixture[str]) -> None:
    IPython = pytest.importorskip("IPython")
    from IPython.testing.globalipapp import start_ipython

    start_ipython()
    shell = IPython.get_ipython()
    shell.run_line_magic("load_ext", "sysnb")
    shell.run_line_magic("sysopen", f"{HOSTILE} -o hostile")
    shell.run_line_magic("sysprint", "-A")
    printed = capsys.readouterr().out
    assert "^[]0;pwned^Gtitle" in printed and "\x1b" not in printed
    result = shell.run_line_magic("chisel", "echo_fds")
    text = result._repr_mimebundle_()["text/plain"]
    assert "^[]0;pwned^Gtitle" in text and "\x1b]" not in text


def test_explorer_js_escapes_like_python() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the JS half is checked where it is)")
    bundle = Path(sysnb.__file__).parent / "views" / "static" / "explorer.js"
    samples = [p.decode("utf-8", "replace") for p in PAYLOADS.values()] + ["tab\there", "a\r\nb"]
    script = (f"import {{ visible }} from {json.dumps(bundle.as_uri())};"
              f"const s = {json.dumps(samples)};"
              "console.log(JSON.stringify([s.map((x) => visible(x)), s.map((x) => visible(x, true))]));")
    run = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    one_line, multi_line = json.loads(run.stdout)
    assert one_line == [visible(s) for s in samples]
    assert multi_line == [visible(s, newlines=True) for s in samples]


def test_labels_escape_every_control_character() -> None:
    assert label("a\tb\nc\x1b") == "a^Ib^Jc^[" and visible("a\tb\nc") == "a\tb^Jc"
    assert visible("a\nb\rc", newlines=True) == "a\nb^Mc"


def test_repr_and_verbose_output_escape_the_host_name(capsys: pytest.CaptureFixture[str]) -> None:
    """The recorded host chose its own name (machine info block): repr in a terminal REPL, -v on stderr."""
    from sysnb.cli import main

    assert "from h</script><img src=x onerror=alert(document.domain)>^[]0;pwned^G," in repr(capture())
    assert main(["-r", str(HOSTILE), "-v", "-c", "spy_users"]) == 0  # -v names the host where it opens one
    err = capsys.readouterr().err
    assert "host=h</script><img src=x onerror=alert(document.domain)>^[]0;pwned^G " in err and "\x1b" not in err
