"""Filters an attacker (or a generated rule set) can write: very long or-lists and pmatch lists, deep nesting,
invalid regular expressions, bytes that are not UTF-8, numbers out of range. Each is either evaluated
correctly or refused with a UsageError naming the column; nothing crashes the process.

The long filters run in a child process: before the fix they segfaulted (a one-sided chain of 20,000 Arrow
expressions overflowed the stack), which would have taken the whole test run down with them.
"""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sysnb
from sysnb.errors import UsageError
from sysnb.filter import compile_filter
from sysnb.filter.compile import MERGE_AT
from sysnb.filter.parser import MAX_DEPTH, BoolOp, Check

CAT = FIXTURES / "falco" / "cat_write.scap.gz"


@pytest.fixture(scope="module")
def cap() -> sysnb.Capture:
    return sysnb.open_capture(CAT, cache=False)


LONG = {
    "20000 or terms": "' or '.join(f'proc.pid={i}' for i in range(20000))",
    "20000 or terms, mixed fields": "' or '.join(f'proc.pid={i} or fd.num={i}' for i in range(10000))",
    "20000 and terms": "' and '.join(f'proc.pid!={i}' for i in range(20000))",
    "10000 pmatch prefixes": "'fd.name pmatch (' + ', '.join(f'/p{i}' for i in range(10000)) + ', /etc)'",
    "20000 in values": "'proc.name in (' + ', '.join(f'n{i}' for i in range(20000)) + ', cat)'",
}


@pytest.mark.parametrize("expr", list(LONG.values()), ids=list(LONG))
def test_long_filters_evaluate_without_crashing(expr: str) -> None:
    script = (f"import pyarrow.compute as pc\nimport sysnb\nfrom sysnb.filter import compile_filter\ntext = {expr}\n"
              f"cap = sysnb.open_capture({str(CAT)!r}, cache=False)\nf = compile_filter(text)\n"
              "print(f.apply(cap.table).num_rows, int(pc.sum(f.mask(cap.table)).as_py() or 0))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    rows, mask = map(int, run.stdout.split())
    assert rows == mask


def test_long_or_lists_select_what_short_ones_select(cap: sysnb.Capture) -> None:
    pids = sorted(set(cap.table["proc.pid"].drop_null().to_pylist()))
    long = " or ".join(f"proc.pid={p}" for p in [*pids[:3], *range(900_000, 900_000 + MERGE_AT)])
    short = " or ".join(f"proc.pid={p}" for p in pids[:3])
    assert compile_filter(long).apply(cap.table).equals(compile_filter(short).apply(cap.table))
    merged = compile_filter(long).node
    assert isinstance(merged, Check) and merged.op == "in"  # one set lookup
    mixed = compile_filter(" or ".join(["fd.num=3", *(f"proc.name=x{i}" for i in range(MERGE_AT)), "proc.name=cat"]))
    assert isinstance(mixed.node, BoolOp) and len(mixed.node.operands) == 2
    assert mixed.apply(cap.table).num_rows == compile_filter("fd.num=3 or proc.name=cat").apply(cap.table).num_rows


def test_pmatch_is_the_path_or_below_it(cap: sysnb.Capture) -> None:
    names = pc.unique(cap.table["fd.name"].cast(pa.string())).drop_null().to_pylist()

    def reference(prefixes: list[str]) -> set[str]:
        keep = set()
        for n in names:
            for p in prefixes:
                p = p.rstrip("/") or "/"
                if n == p or n.startswith(p.rstrip("/") + "/"):
                    keep.add(n)
        return keep

    for prefixes in (["/etc"], ["/etc/"], ["/"], ["/lib/x86_64-linux-gnu", "/usr"], ["/et"],
                     ["/a.b", "/x[y]", "/(z)", "/dev/null"], [f"/p{i}" for i in range(2500)] + ["/usr/lib"]):
        quoted = ", ".join(f'"{p}"' for p in prefixes)
        got = compile_filter(f"fd.name pmatch ({quoted})").apply(cap.table)["fd.name"].cast(pa.string())
        assert set(got.drop_null().to_pylist()) == reference(prefixes), prefixes


def test_nesting_is_bounded_with_the_column() -> None:
    ok = "(" * MAX_DEPTH + "proc.name=cat" + ")" * MAX_DEPTH
    node = compile_filter(ok).node
    assert isinstance(node, Check) and (node.field, node.value, node.pos) == ("proc.name", "cat", MAX_DEPTH)
    for deep in ("(" * (MAX_DEPTH + 1) + "proc.name=cat" + ")" * (MAX_DEPTH + 1),
                 "not " * (MAX_DEPTH + 50) + "proc.name=cat", "(" * 100_000):
        with pytest.raises(UsageError, match=rf"nests deeper than {MAX_DEPTH} levels .* at column \d+"):
            compile_filter(deep)


@pytest.mark.parametrize(("text", "message"), [
    ("proc.name regex '('", r"invalid regular expression '\(': missing \).* at column 1"),
    ("proc.name regex 'a{2,1}'", r"invalid regular expression .* at column 1"),
    ("evt.type=open and fd.name glob '[z-a]'", r"invalid glob pattern '\[z-a\]'.* at column 19"),
    ("proc.name=caf\udcff", r"not UTF-8 \(0xFF\).* at column 14"),
    ("proc.pid=99999999999999999999999", r"out of range.* at column 1"),
    ("proc.pid in (1, 2, -99999999999999999999)", r"out of range.* at column 1"),
])
def test_bad_values_are_usage_errors_naming_the_column(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        compile_filter(text)


def test_cli_reports_bad_filters_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    from sysnb.cli import main

    assert main(["-r", str(CAT), "proc.name regex '('"]) == 1
    assert main(["-r", str(CAT), "(" * 1000 + "proc.name=cat" + ")" * 1000]) == 1
    err = capsys.readouterr().err
    assert "invalid regular expression" in err and "nests deeper" in err and "Traceback" not in err


_WORDS = st.sampled_from(["proc.name", "fd.name", "proc.pid", "evt.type", "evt.buffer", "fd.ip", "fd.net",
                          "evt.arg.fd", "proc.aname[2]", "evt.around[1]", "=", "!=", "<", "contains", "regex",
                          "glob", "pmatch", "in", "exists", "and", "or", "not", "(", ")", ",", "'", '"', "cat",
                          "/etc", "10.0.0.0/8", "-1", "99999999999999999999", "[", "]", "\\", "\udcff", "\x00",
                          "tolower(", "val(", "*", "?", "\\x1b"])


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(_WORDS, max_size=12))
def test_any_filter_text_compiles_and_runs_or_is_a_usage_error(cap: sysnb.Capture, words: list[str]) -> None:
    text = " ".join(words)
    try:
        f = compile_filter(text)
    except UsageError:
        return
    f.apply(cap.table.slice(0, 50))
    f.mask(cap.table.slice(0, 50))
