"""The filter language: accept/reject tables, sysdig 0.29.3's answers on every capture, extensions."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pyarrow.compute as pc
import pytest
from conftest import capture_params
from goldens import GOLDEN, golden_name

import sysnb
from sysnb.capture import returned_rows
from sysnb.errors import UsageError
from sysnb.fields import context_for, resolve
from sysnb.filter import CompiledFilter, compile_filter
from sysnb.filter.parser import BoolOp, Check, FieldRef, Node, Not, parse

ACCEPTED = [
    ("proc.name=cat", Check("proc.name", "=", "cat", 0)),
    ("proc.name==cat", Check("proc.name", "=", "cat", 0)),
    ("evt.num >= 10", Check("evt.num", ">=", "10", 0)),
    ("fd.name glob /usr/lib/*", Check("fd.name", "glob", "/usr/lib/*", 0)),
    ("evt.dir=<", Check("evt.dir", "=", "<", 0)),
    ("proc.name in (cat, 'a b', \"c\\\"d\")", Check("proc.name", "in", ("cat", "a b", 'c"d'), 0)),
    ("fd.name exists", Check("fd.name", "exists", None, 0)),
    ("proc.name=", Check("proc.name", "=", "", 0)),
    ("not proc.name=cat", Not(Check("proc.name", "=", "cat", 4))),
    ("proc.aname[2]=sshd", Check("proc.aname[2]", "=", "sshd", 0)),
    ("evt.arg.fd=3", Check("evt.arg.fd", "=", "3", 0)),
    ("fd.name pmatch (/etc, /usr/lib)", Check("fd.name", "pmatch", ("/etc", "/usr/lib"), 0)),
    # newer Falco grammar (sysnb extensions, see test_falco_extensions)
    ("tolower(basename(fd.name))=x", Check("fd.name", "=", "x", 0, ("basename", "tolower"))),
    ("proc.name=val(proc.pname)", Check("proc.name", "=", FieldRef("proc.pname"), 0)),
]
REJECTED = [  # the same ones sysdig 0.29.3 rejects (its messages differ)
    ("proc.name = cat and", "expected a field name"),
    ("(proc.name=cat", "missing ')'"),
    ("evt.num>abc", "is not a number"),
    ("proc.name cat", "expected an operator"),
    ("proc.name in cat", "expected '('"),
    ("proc.nmae=cat", "did you mean proc.name"),
    ("fd.sip=127.0.0.0/8", "unrecognized IP address"),  # sysdig: "unrecognized IPv4 address"
    ("fd.net=notanet", "unrecognized network"),
    ("proc.aname[x]=bash", "needs a numeric index"),
    ("evt.around[123]>5", "only takes '='"),
    ("'unterminated", "expected a field name"),
    ("thread.tid=proc.pid", "is not a number"),  # sysdig 0.29.3: "proc.pid is not a valid number" (no val())
    ("proc.name=val(proc.pid)", "not of the same kind"),
    ("len(proc.pid)>3", "needs a string or buffer field"),
]


@pytest.mark.parametrize(("text", "tree"), ACCEPTED)
def test_accepted(text: str, tree: object) -> None:
    assert parse(text) == tree


@pytest.mark.parametrize(("text", "message"), REJECTED)
def test_rejected_with_position(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)) as e:
        compile_filter(text)
    assert "^" in str(e.value) and "column" in str(e.value)


def test_precedence_and_binds_tighter_than_or() -> None:
    tree = parse("a.b=1 or c.d=2 and not e.f=3")
    assert isinstance(tree, BoolOp) and tree.op == "or"
    assert isinstance(tree.operands[1], BoolOp) and tree.operands[1].op == "and"


#: filters whose answer differs from sysdig 0.29.3's on purpose, by capture ("*": every capture)
_FD8 = {"fd.sip=127.0.0.1", "fd.ip=127.0.0.1", "fd.ip in (127.0.0.1, 172.17.0.3)", "fd.ip!=127.0.0.1",
        "fd.net=127.0.0.0/8", "fd.net!=127.0.0.0/8", "fd.lip=127.0.0.1", "fd.rip=127.0.0.1", "fd.lip!=127.0.0.1",
        "fd.rip!=127.0.0.1", "fd.lnet=127.0.0.0/8", "fd.rnet=127.0.0.0/8", "fd.lnet!=127.0.0.0/8",
        "fd.rnet!=127.0.0.0/8", "fd.is_server=true", "fd.is_server=false", "fd.cip.name exists",
        "fd.lip.name exists", "fd.rip.name exists", "fd.sip.name exists", "fd.cip.name=localhost",
        "fd.sip.name=localhost", "fd.sip.name!=localhost", "fd.lip.name=localhost", "fd.rip.name in (localhost)"}
INTENDED: dict[str, set[str] | None] = {
    "libs__curl_google_comments": None,  # sysdig cannot open it: every filter
    # fd 8's real address vs the union garbage sysdig reads for it (README, "Intended differences")
    "sysdig-inspect__502Error": _FD8,
    # sysdig keeps the loginuid's 32 bits as a signed value and prints -1 for 4294967295 (README); it reads the
    # 2023 process-list tail without its tty (proc.tty 0 where the capture says 34817)
    "libs__sample": {"user.loginuid=-1", "user.loginuid>=0", "user.loginuid>=1000", "user.loginname exists",
                     "user.loginname=root", "proc.tty>0", "proc.tty=0"},
    # sysdig compares group.gid as 64-bit garbage on events without a group (README); libsinsp 0.29.3 runs the
    # capture filter before it computes fd.name_changed (m_name != m_oldname, after parsing), so sysdig's filter
    # never sees it true while -p prints true; Falco evaluates rules after parsing, as sysnb does
    "*": {"group.gid=0", "group.gid>0", "group.gid!=0", "fd.name_changed=true"},
}
#: grammar or comparisons sysdig 0.29.3 rejects that sysnb accepts (newer Falco grammar, numbers sysdig reads as
#: doubles or cannot compare); any other filter sysdig rejects, sysnb must reject too
EXTENSIONS = re.compile(r" regex | intersects |^thread\.(cpu|totexectime)|^proc\.(fdusage|cpu)|^thread\.cpu")
#: not yet agreeing (open work): openat event 1838 has the garbage name "-100"; sysdig prints evt.arg.name as
#: empty there but its filter still matches "/etc" (a path resolved against dirfd that -p does not show)
KNOWN_GAPS = {"sf-collector__rename2at": {"evt.arg.name contains /etc"},
              # evt.latency.human of exits whose enter came later in the file (libsinsp's stale cloned enter):
              # the approximation misses one event here
              "sf-collector__objectstore_download": {"evt.latency.human=0ns"}}


def _fields(node: Node) -> set[str]:
    if isinstance(node, Check):
        return {node.field} | ({node.value.field} if isinstance(node.value, FieldRef) else set())
    if isinstance(node, Not):
        return _fields(node.operand)
    return set().union(*(_fields(op) for op in node.operands))


def _needs_state(flt: str) -> bool:
    """Whether the filter names a field whose per-event state the engine does not track yet (null for now:
    docs/fields-state-needed.md)."""
    refs = [resolve(n) for n in _fields(parse(flt))]
    return any(r is not None and r.field.state for r in refs)


@pytest.mark.parametrize("capture", capture_params())
def test_selects_what_sysdig_selects(capture: Path) -> None:
    """Every golden filter selects sysdig's events (as sysnb -r does: the capture filter before -n), and sysnb
    rejects the filters sysdig rejects."""
    name = golden_name(capture)
    path = GOLDEN / "filters" / f"{name}.tsv.gz"
    if not path.exists():
        pytest.skip(f"no filter golden for {name}")
    skip = INTENDED.get(name, set())
    if skip is None:
        pytest.skip(f"{name}: sysdig 0.29.3 cannot open it")
    skip = skip | (INTENDED["*"] or set()) | KNOWN_GAPS.get(name, set())
    cap = sysnb.open_capture(capture)
    ctx = context_for(cap, capture_filter=True)
    rows = returned_rows(cap.table)
    failures, compared = [], 0
    with gzip.open(path, "rt") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        flt, _, want = line.partition("\t")
        try:
            compiled = compile_filter(flt)
        except UsageError:
            if not want.startswith("!"):
                failures.append(f"rejected {flt!r}")
            continue
        if want.startswith("!"):
            if not EXTENSIONS.search(flt):
                failures.append(f"accepted {flt!r} ({want[1:]})")
            continue
        if flt in skip or _needs_state(flt):
            continue
        selected = compiled.apply(rows, ctx)
        got = " ".join(str(n) for n in selected.filter(selected["sysnb.visible"])["evt.num"].to_pylist())
        compared += 1
        if got != want:
            failures.append(flt)
    assert compared, f"{name}: no filter compared"
    assert not failures, f"{name}: sysnb answers otherwise than sysdig for {failures}"


def test_falco_extensions() -> None:
    """Grammar sysdig 0.29.3 rejects but Falco accepts today: transformers, val(), intersects."""
    cap = sysnb.open_capture(Path(__file__).parent / "fixtures" / "falco" / "cat_write.scap.gz")
    cats = cap.filter("proc.name=cat").events.num_rows
    assert cap.filter("toupper(proc.name)=CAT").events.num_rows == cats
    assert cap.filter("tolower(toupper(proc.name))=cat").events.num_rows == cats
    assert cap.filter("len(proc.name)=3 and proc.name=cat").events.num_rows == cats
    by_name = cap.filter("fd.name endswith /passwd").events.num_rows
    assert cap.filter("basename(fd.name)=passwd").events.num_rows == by_name
    assert cap.filter("proc.name intersects (cat, nosuch)").events.num_rows == cats
    same = cap.filter("proc.name=val(proc.pname)").events
    assert all(a == b for a, b in zip(same["proc.name"].to_pylist(), same["proc.pname"].to_pylist(), strict=True))
    assert cap.filter("evt.num>val(thread.tid)").events.num_rows == cap.filter("evt.num>0").events.filter(
        pc.greater(cap.filter("evt.num>0").events["evt.num"], cap.filter("evt.num>0").events["thread.tid"])).num_rows


def test_b64_transformer() -> None:
    import pyarrow as pa

    from sysnb.filter.dynamic import b64_decode

    assert b64_decode(pa.array(["Y2F0", "not base64!", None])).to_pylist() == ["cat", None, None]


def test_computed_fields_use_no_sql_but_work_in_capture_sql() -> None:
    import duckdb

    cap = sysnb.open_capture(Path(__file__).parent / "fixtures" / "falco" / "cat_write.scap.gz")
    f = compile_filter("evt.arg.fd exists")
    assert f.dynamic and not compile_filter("proc.name=cat").dynamic
    with pytest.raises(UsageError, match="no SQL rendering"):
        _ = f.sql
    assert cap.sql("evt.arg.fd exists").num_rows == cap.filter("evt.arg.fd exists").table.num_rows
    table = cap.table.drop_columns(["sysnb.params"])
    con = duckdb.connect()
    con.register("evt", table)
    for text in ("proc.aname[1] exists", "proc.aname=bash", "not proc.aname in (bash, sh)", "proc.apid[0]>1",
                 "toupper(proc.name)=CAT", "len(proc.name)>2", "basename(fd.name)=passwd",
                 "proc.name=val(proc.pname)", "evt.num>val(thread.tid)", "fd.ip=127.0.0.1", "fd.port!=80",
                 "evt.is_io_read=true", "fd.sockfamily=unix", "evt.around[1470327477881730713]=1"):
        arrow = compile_filter(text).apply(cap.table)["evt.num"].to_pylist()
        sql = con.sql(f'SELECT "evt.num" FROM evt WHERE {compile_filter(text).sql} ORDER BY "sysnb.offset"')
        assert sql.to_arrow_table()["evt.num"].to_pylist() == arrow, text
    con.close()


def test_regex_extension() -> None:
    cap = sysnb.open_capture(Path(__file__).parent / "fixtures" / "falco" / "cat_write.scap.gz")
    assert cap.filter("proc.name regex '^c.t$'").events.num_rows == 85
    assert cap.filter("proc.name regex '^(ba|z)sh$'").events.num_rows == 0


def test_library_filter_and_repr() -> None:
    f = sysnb.compile_filter("proc.name=cat and evt.type=read")
    assert "proc.name" in repr(f) and f.columns() == {"proc.name", "proc.pid", "evt.type"}  # placeholder threads


def _accepted_filters() -> list[tuple[str, CompiledFilter]]:
    """The golden filters sysnb compiles (those sysdig rejects are rejected too: test_selects_what_sysdig_selects)."""
    out = []
    for flt in (GOLDEN / "filters.txt").read_text().splitlines():
        try:
            out.append((flt, compile_filter(flt)))
        except UsageError:
            continue
    return out


@pytest.mark.parametrize("capture", capture_params())
def test_duckdb_sql_selects_the_same_rows(capture: Path) -> None:
    """The pyarrow expression and its DuckDB SQL rendering must agree on every filter and capture."""
    import duckdb

    name = golden_name(capture)
    table = sysnb.open_capture(capture).table.drop_columns(["sysnb.params"])
    con = duckdb.connect()
    con.register("evt", table)
    for flt, compiled in _accepted_filters():
        if compiled.dynamic:  # computed at evaluation (evt.arg.*, proc.aname, fd.net): no SQL rendering
            continue
        by_arrow = compiled.apply(table)["evt.num"].to_pylist()
        query = f'SELECT "evt.num" FROM evt WHERE {compiled.sql} ORDER BY "sysnb.offset"'
        assert con.sql(query).to_arrow_table()["evt.num"].to_pylist() == by_arrow, f"{name}: {flt!r}"
    con.close()


@pytest.mark.parametrize("capture", capture_params())
def test_mask_reads_only_named_columns_and_agrees_with_apply(capture: Path) -> None:
    """``mask`` (used by the explorer to avoid copying the table) selects what ``apply`` selects."""
    table = sysnb.open_capture(capture).table
    for flt, compiled in _accepted_filters():
        by_mask = table.filter(compiled.mask(table))["evt.num"].to_pylist()
        assert by_mask == compiled.apply(table)["evt.num"].to_pylist(), flt


def test_capture_sql_takes_sql_or_a_filter() -> None:
    cap = sysnb.open_capture(Path(__file__).parent / "fixtures" / "falco" / "cat_write.scap.gz")
    counts = cap.sql('SELECT "evt.type", count(*) AS n FROM evt WHERE "sysnb.visible" GROUP BY 1 ORDER BY 2 DESC')
    assert counts["evt.type"][0].as_py() == "mmap" and counts["n"][0].as_py() == 20
    assert cap.sql("fd.name glob /etc/*").num_rows == 5


SHARED_502 = Path(__file__).resolve().parents[2] / "shared" / "captures" / "public" / "sysdig-inspect" / "502Error.scap"


@pytest.mark.skipif(not SHARED_502.exists(), reason="../shared/captures/public is absent (CI has it)")
@pytest.mark.parametrize(("text", "sysdig_lines"), [("evt.reltime>1000", 9477), ("evt.reltime.s=3", 730),
                                                    ("evt.reltime<18446744073709551615", 9478)])
def test_reltime_of_events_stamped_before_the_first_one_wraps_as_in_sysdig(text: str, sysdig_lines: int) -> None:
    """502Error's hidden state events are stamped before its first event: their evt.reltime wraps around in
    uint64 as libsinsp's does, where a checked subtraction (and an int64 literal forcing a cast of the column)
    failed the whole query with a traceback. Line counts are sysdig 0.29.3's."""
    cap = sysnb.open_capture(SHARED_502)
    assert cap.filter(text).events.num_rows == sysdig_lines


@pytest.mark.parametrize("text", ["fd.directory in (/etc, /usr/lib)", "fd.filename startswith lib",
                                  "not fd.directory=/tmp", "fd.directory exists", "fd.filename pmatch (/x, ld)",
                                  "fd.directory contains /lib or fd.filename=passwd"])
def test_checks_on_distinct_combinations_select_what_row_checks_select(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """fd.directory/fd.filename checks run once per distinct (fd.name, fd.type) of a batch: the same rows as
    running them on every row."""
    import sysnb.filter.compile as C

    cap = sysnb.open_capture(sysnb.sample_path())
    ctx = context_for(cap)
    monkeypatch.setattr(C, "COMBINATIONS_FROM", 0)
    distinct = compile_filter(text).mask(cap.table, ctx)
    monkeypatch.setattr(C, "COMBINATIONS_FROM", 1 << 62)
    rows = compile_filter(text).mask(cap.table, ctx)
    assert distinct.equals(rows) and pc.sum(rows).as_py() is not None
    assert C._combinations(cap.table.select(["fd.name", "fd.type"]).to_batches()[0]) is not None  # path taken
