#!/usr/bin/env python3
"""Generate ``sysnb/scap/event_table.py`` from the falcosecurity/libs driver sources.

The generated module is data only: event ids, names, directions, categories,
flags, parameter names/types/print formats (current libs and the 2022 libs that
sysdig 0.29.3 embeds), the PPM_SC syscall-code names, the flag/enum tables in
the order libsinsp walks them when rendering, and the PT_DYN sub-tables.

Usage::

    python tools/gen_event_table.py /path/to/falcosecurity-libs.git > sysnb/scap/event_table.py

The repository path may be a bare git directory; files are read with
``git show COMMIT:PATH`` at the two commits named below (see
``../shared/docs/scap-event-table.md`` for why these two).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pprint import pformat

HEAD = "48dfd53cd23f95720521d41b89883bbc35c8567f"
LIBS_2022 = "e5c53d648f3c4694385bbe488e7d47eaa36c229a"


def show(repo: str, commit: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", repo, "show", f"{commit}:{path}"],
        check=True, capture_output=True, text=True,
    ).stdout


def strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", lambda m: m.group(0) if "PPME_" in m.group(0) else " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


def c_defines(header: str) -> dict[str, int]:
    """Evaluate the simple integer #defines and enum members of a header."""
    values: dict[str, int] = {}
    raw: dict[str, str] = {}
    for m in re.finditer(r"^#define\s+(\w+)\s+(.+?)\s*(?:/\*.*)?$", header, flags=re.M):
        raw[m.group(1)] = m.group(2)
    for body in re.findall(r"enum\s+\w*\s*\{(.*?)\}", strip_comments(header), flags=re.S):
        nxt = 0
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                name, expr = (s.strip() for s in item.split("=", 1))
                raw[name] = expr
                try:
                    nxt = evaluate(expr, raw, values) + 1
                except (ValueError, SyntaxError, NameError):
                    pass
            else:
                raw[item] = str(nxt)
                nxt += 1
    for name in raw:
        try:
            values[name] = evaluate(raw[name], raw, values)
        except (ValueError, SyntaxError, NameError, RecursionError, TypeError):
            pass
    return values


def evaluate(expr: str, raw: dict[str, str], values: dict[str, int], depth: int = 0) -> int:
    if depth > 20:
        raise ValueError(expr)
    expr = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)[uUlL]+\b", r"\1", expr)
    expr = re.sub(r"\(u?int\d+_t\)", "", expr)

    def sub(m: re.Match[str]) -> str:
        name = m.group(0)
        if name in values:
            return str(values[name])
        if name in raw:
            return str(evaluate(raw[name], raw, values, depth + 1))
        raise NameError(name)

    expr = re.sub(r"\b[A-Za-z_]\w*\b", sub, expr)
    return int(eval(expr, {"__builtins__": {}}))


def split_top(s: str) -> list[str]:
    """Split on commas that are not nested in braces."""
    out, depth, cur = [], 0, []
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def parse_params(body: str) -> list[tuple[str, str, str, str | None, int]]:
    params = []
    for m in re.finditer(r"\{\s*\"([^\"]*)\"\s*,\s*(PT_\w+)\s*,\s*(PF_\w+)\s*(?:,\s*([^,}]+?))?\s*(?:,\s*([^,}]+?))?\s*\}", body):
        info = m.group(4)
        params.append((m.group(1), m.group(2)[3:], m.group(3)[3:], info, 0))
    return params


def parse_event_table(src: str, symbols: dict[str, int]) -> dict[int, dict[str, object]]:
    src = strip_comments(src)
    start = src.index("g_event_info")
    src = src[src.index("{", start) + 1:]
    entries: dict[int, dict[str, object]] = {}
    # Both the 2022 "/* PPME_X */{...}" and the HEAD "[PPME_X] = {...}" spellings.
    pat = re.compile(r"(?:/\*\s*(PPME_\w+)\s*\*/|\[\s*(PPME_\w+)\s*\]\s*=)\s*\{")
    for m in pat.finditer(src):
        sym = m.group(1) or m.group(2)
        i, depth = m.end(), 1
        while depth:
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        body = src[m.end():i - 1]
        parts = split_top(body)
        name = parts[0].strip().strip('"')
        cats = [c.strip() for c in parts[1].split("|")]
        flags = [f.strip() for f in parts[2].split("|")]
        params_src = ",".join(parts[4:]) if len(parts) > 4 else ""
        params = parse_params(params_src)
        nparams = re.sub(r"[^0-9]", "", parts[3]) if len(parts) > 3 else ""
        if nparams:
            params = params[:int(nparams)]  # the declared count wins over extra initialisers
        eid = symbols.get(sym[5:], len(entries)) if m.group(2) else len(entries)
        entries[eid] = {
            "sym": sym[5:], "name": name, "cats": cats, "flags": flags, "params": params,
        }
    return entries


def parse_flag_tables(src: str, defs: dict[str, int]) -> dict[str, list[tuple[str, int]]]:
    tables: dict[str, list[tuple[str, int]]] = {}
    src = strip_comments(src)
    for m in re.finditer(r"const\s+struct\s+ppm_name_value\s+(\w+)\s*\[\]\s*=\s*\{(.*?)\};", src, flags=re.S):
        items = []
        for im in re.finditer(r"\{\s*\"([^\"]+)\"\s*,\s*([^}]+?)\s*\}", m.group(2)):
            expr = im.group(2)
            try:
                val = evaluate(expr, {}, defs)
            except (NameError, ValueError, SyntaxError):
                continue
            items.append((im.group(1), val))
        tables[m.group(1)] = items
    return tables


def parse_dyn_tables(src: str, defs: dict[str, int]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for m in re.finditer(r"const\s+struct\s+ppm_param_info\s+(\w+)\s*\[[^\]]*\]\s*=\s*\{(.*?)\};", src, flags=re.S):
        rows = []
        for im in re.finditer(r"\[\s*(\w+)\s*\]\s*=\s*\{[^,]*\}?\s*,?\s*(PT_\w+)\s*,\s*(PF_\w+)", m.group(2)):
            rows.append((defs[im.group(1)], im.group(2)[3:], im.group(3)[3:]))
        rows.sort()
        out[m.group(1)] = [(t, f) for _, t, f in rows]
    return out


def ppm_sc_names(header: str) -> list[str]:
    names = dict((int(v), n) for n, v in re.findall(r"PPM_SC_X\(\s*(\w+)\s*,\s*(\d+)\s*\)", header))
    return [names.get(i, "NA") for i in range(max(names) + 1)]


def ppm_sc_names_2022(header: str, defs: dict[str, int]) -> list[str]:
    names = {v: k[7:] for k, v in defs.items() if k.startswith("PPM_SC_") and k != "PPM_SC_MAX"}
    top = defs["PPM_SC_MAX"]
    return [names.get(i, "NA") for i in range(top)]


def syscall_info_2022(src: str) -> list[tuple[str, str]]:
    """(category, name) per PPM_SC code from the 2022 g_syscall_info_table (what sysdig 0.29.3 prints)."""
    body = src[src.index("g_syscall_info_table"):]
    rows = re.findall(r"\{\s*(EC_\w+)\s*,[^,]*,\s*\"([^\"]*)\"\s*\}", body)
    return [(cat[3:], name) for cat, name in rows]


def main() -> None:
    if sys.argv[1:2] == ["--rust-from-module"]:
        # the Rust twin of the committed Python module (the native core's tables): same data, no libs checkout
        sys.stdout.write(rust_from_module())
        return
    repo = sys.argv[1]
    hdr_head = show(repo, HEAD, "driver/ppm_events_public.h")
    hdr_22 = show(repo, LIBS_2022, "driver/ppm_events_public.h")
    defs_head, defs_22 = c_defines(hdr_head), c_defines(hdr_22)
    sym_head = {k[5:]: v for k, v in defs_head.items() if k.startswith("PPME_")}
    sym_22 = {k[5:]: v for k, v in defs_22.items() if k.startswith("PPME_")}
    ev_head = parse_event_table(show(repo, HEAD, "driver/event_table.c"), sym_head)
    ev_22 = parse_event_table(show(repo, LIBS_2022, "driver/event_table.c"), sym_22)
    flags_head = parse_flag_tables(show(repo, HEAD, "driver/flags_table.c"), defs_head)
    flags_22 = parse_flag_tables(show(repo, LIBS_2022, "driver/flags_table.c"), defs_22)
    dyn_head = parse_dyn_tables(show(repo, HEAD, "driver/dynamic_params_table.c"), defs_head)
    dyn_22 = parse_dyn_tables(show(repo, LIBS_2022, "driver/dynamic_params_table.c"), defs_22)

    def ptuple(params: list[tuple[str, str, str, str | None, int]]) -> tuple[tuple[str, str, str, str | int | None], ...]:
        out = []
        for name, ptype, fmt, info, _ in params:
            val: str | int | None = info
            dirfd = re.fullmatch(r"(?:DIRFD_PARAM\()?\s*(\d+)\s*\)?", info or "")
            if dirfd:
                val = int(dirfd.group(1))
            out.append((name, ptype, fmt, val))
        return tuple(out)

    events = []
    for eid in range(max(ev_head) + 1):
        h = ev_head[eid]
        old = ev_22.get(eid)
        cat = next((c[3:] for c in h["cats"] if c != "EC_SYSCALL" and c != "EC_TRACEPOINT" and c != "EC_METAEVENT"), "UNKNOWN")  # type: ignore[union-attr]
        flags = tuple(sorted(f[3:] for f in h["flags"] if f != "EF_NONE"))  # type: ignore[union-attr]
        events.append((
            eid, h["sym"], h["name"], cat, flags, ptuple(h["params"]),  # type: ignore[arg-type]
            None if old is None else (old["name"], next((c[3:] for c in old["cats"]), "UNKNOWN"),  # type: ignore[index]
                                      tuple(sorted(f[3:] for f in old["flags"] if f != "EF_NONE")),  # type: ignore[union-attr]
                                      ptuple(old["params"])),  # type: ignore[arg-type]
        ))

    flag_tables = {name: tuple(flags_22.get(name, items)) for name, items in flags_head.items()}
    for name, items in flags_22.items():
        flag_tables.setdefault(name, tuple(items))
    dyn = {name: tuple(dyn_22.get(name, rows)) for name, rows in dyn_head.items()}

    print('"""The scap event table, flag tables and syscall codes, as data.')
    print()
    print("GENERATED by tools/gen_event_table.py from falcosecurity/libs driver sources")
    print(f"(current libs @ {HEAD}, 2022 libs of sysdig 0.29.3 @ {LIBS_2022}).")
    print("Do not edit by hand.")
    print()
    print("EVENTS[id] = (id, symbol, name, category, flags, params, params_2022)")
    print("  params = ((name, PT type, print format, info), ...) where info names a flag")
    print("  table, a dynamic table, or the index of the dirfd parameter of an FSRELPATH.")
    print("  params_2022 = None when sysdig 0.29.3 does not know the event, else")
    print("  (name, category, flags, params) as in the 2022 table.")
    print('"""')
    print()
    print("# fmt: off")
    print(f"EVENTS = {pformat(tuple(events), width=120, compact=True)}")
    print()
    print(f"FLAG_TABLES = {pformat(flag_tables, width=120, compact=True)}")
    print()
    print(f"DYN_TABLES = {pformat(dyn, width=120, compact=True)}")
    print()
    print(f"PPM_SC_NAMES = {pformat(tuple(ppm_sc_names(hdr_head)), width=120, compact=True)}")
    print()
    print(f"PPM_SC_NAMES_2022 = {pformat(tuple(ppm_sc_names_2022(hdr_22, defs_22)), width=120, compact=True)}")
    print()
    sc_info = syscall_info_2022(show(repo, LIBS_2022, "userspace/libscap/syscall_info_table.c"))
    print("# (category, name) per PPM_SC code, from the 2022 userspace/libscap/syscall_info_table.c")
    print(f"SYSCALL_INFO_2022 = {pformat(tuple(sc_info), width=120, compact=True)}")
    print("# fmt: on")


RUST_TYPES = (
    "ABSTIME", "BYTEBUF", "CHARBUF", "CHARBUFARRAY", "CHARBUF_PAIR_ARRAY", "DYN", "ENUMFLAGS16", "ENUMFLAGS32",
    "ENUMFLAGS8", "ERRNO", "FD", "FD32", "FDLIST", "FLAGS16", "FLAGS32", "FLAGS8", "FSPATH", "FSRELPATH", "GID",
    "INT8", "INT16", "INT32", "INT64", "IPV4ADDR", "IPV6ADDR", "MODE", "PID", "PID32", "PORT", "RELTIME", "SIGSET", "SIGTYPE",
    "SOCKADDR", "SOCKTUPLE", "SYSCALLID", "UID", "UINT16", "UINT32", "UINT64", "UINT8", "L4PROTO", "SOCKFAMILY",
    "BOOL", "IPV4NET", "IPV6NET", "IPADDR", "IPNET", "NONE")
RUST_FORMATS = {"NA": "Na", "DEC": "Dec", "HEX": "Hex", "OCT": "Oct", "10_PADDED_DEC": "PaddedDec"}


def _rust_type(ptype: str) -> str:
    if ptype not in RUST_TYPES:
        raise ValueError(f"parameter type {ptype} has no Rust name: add it to RUST_TYPES and native/src/events.rs")
    return "Pt::" + "".join(w.capitalize() for w in ptype.split("_"))


def _rust_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rust_params(params: tuple, flags: list[str], dyns: list[str]) -> str:  # type: ignore[type-arg]
    items = []
    for name, ptype, fmt, info in params:
        if info is None:
            inf = "Info::None"
        elif isinstance(info, int):
            inf = f"Info::DirFd({info})"
        elif info in flags:
            inf = f"Info::Flags({flags.index(info)})"
        else:
            inf = f"Info::Dyn({dyns.index(info)})"
        items.append(f"Param {{ name: {_rust_str(name)}, ptype: {_rust_type(ptype)}, fmt: Pf::{RUST_FORMATS[fmt]}, "
                     f"info: {inf} }}")
    return "&[" + ", ".join(items) + "]"


def _rust_flags(flags: tuple[str, ...]) -> str:
    return " | ".join(f"ef::{f}" for f in flags) or "0"


def rust_source(events: tuple, flag_tables: dict, dyn: dict, sc_names: tuple, sc_info: tuple) -> str:  # type: ignore[type-arg]
    """native/src/event_table.rs: the same tables as the Python module, as Rust statics."""
    flags, dyns = list(flag_tables), list(dyn)
    names = sorted({f for e in events for f in e[4]} | {f for e in events if e[6] for f in e[6][2]})
    out = ["// GENERATED by tools/gen_event_table.py --rust-from-module from sysnb/scap/event_table.py.",
           "// Do not edit by hand: tests/test_native_tables.py checks that it matches the Python tables.",
           "#![allow(clippy::all)]", "use crate::events::{EventInfo, Info, Param, Pf, Pt};", "",
           "/// Event flags (EF_*), as bits.", "pub mod ef {"]
    out += [f"    pub const {name}: u32 = 1 << {i};" for i, name in enumerate(names)]
    out += ["}", "", f"pub const TABLE_SIZE: usize = {len(events)};", "",
            "pub static EVENTS: [EventInfo; TABLE_SIZE] = ["]
    for eid, sym, name, cat, eflags, params, old in events:
        if old is None:
            oname, ocat, oflags, oparams, known = name, cat, eflags, params, "false"
        else:
            (oname, ocat, oflags, oparams), known = old, "true"
        out.append(f"    EventInfo {{ id: {eid}, symbol: {_rust_str(sym)}, name: {_rust_str(name)}, category: "
                   f"{_rust_str(cat)}, flags: {_rust_flags(eflags)}, params: {_rust_params(params, flags, dyns)}, "
                   f"known_2022: {known}, name_2022: {_rust_str(oname)}, category_2022: {_rust_str(ocat)}, "
                   f"flags_2022: {_rust_flags(oflags)}, params_2022: {_rust_params(oparams, flags, dyns)} }},")
    out += ["];", "", "pub static FLAG_TABLES: &[(&str, &[(&str, u32)])] = &["]
    for name, items in flag_tables.items():
        body = ", ".join(f"({_rust_str(n)}, {v})" for n, v in items)
        out.append(f"    ({_rust_str(name)}, &[{body}]),")
    out += ["];", "", "pub static DYN_TABLES: &[(&str, &[(Pt, Pf)])] = &["]
    for name, rows in dyn.items():
        body = ", ".join(f"({_rust_type(t)}, Pf::{RUST_FORMATS[f]})" for t, f in rows)
        out.append(f"    ({_rust_str(name)}, &[{body}]),")
    out += ["];", "", "pub static PPM_SC_NAMES: &[&str] = &["]
    out += [f"    {_rust_str(n)}," for n in sc_names]
    out += ["];", "", "/// (category, name) per PPM_SC code, from the 2022 syscall info table (what sysdig 0.29.3 prints)",
            "pub static SYSCALL_INFO_2022: &[(&str, &str)] = &["]
    out += [f"    ({_rust_str(c)}, {_rust_str(n)})," for c, n in sc_info]
    out += ["];", ""]
    return "\n".join(out)


def rust_from_module() -> str:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from sysnb.scap import event_table as t

    return rust_source(t.EVENTS, t.FLAG_TABLES, t.DYN_TABLES, t.PPM_SC_NAMES, t.SYSCALL_INFO_2022)


if __name__ == "__main__":
    main()
