"""Load rules files and directories into a :class:`RuleSet`, with Falco's load semantics.

Files load in the order given (a directory: its ``.yaml``/``.yml`` files in alphabetical order) into one
collector, so a later file appends to or overrides what an earlier one defined; as in Falco, the rules are
compiled after every file, so each file must make sense with those before it. The first error stops the
load (the ruleset is then refused: ``RuleSet.ok`` is False and ``errors`` says where); warnings are kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

from sysnb.rules.collector import ENGINE_VERSION, Collector
from sysnb.rules.compiler import Compiled, CompiledRule, compile_rules
from sysnb.rules.messages import LoadMessage, RuleLoadError
from sysnb.rules.model import RuleInfo
from sysnb.rules.reader import Reader
from sysnb.rules.yamlsrc import MAX_RULES_BYTES, Loc, YamlError, read_documents

#: plugins whose fields sysnb provides itself (the container plugin's container.* fields come from the capture)
BUILTIN_PLUGINS = {"container": "0.4.0"}
RULES_SUFFIXES = (".yaml", ".yml")


@dataclass
class RuleSet:
    """Loaded and compiled rules: ``rules`` are the syscall rules in load order (compiled or not), ``skipped``
    the rules of other sources, ``messages`` every error and warning with where it was written."""

    files: list[str] = field(default_factory=list)
    rules: list[CompiledRule] = field(default_factory=list)
    skipped: list[RuleInfo] = field(default_factory=list)
    messages: list[LoadMessage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)
    macros: int = 0
    required_engine_version: tuple[int, int, int] = (0, 0, 0)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[LoadMessage]:
        return [m for m in self.messages if m.is_error]

    @property
    def warnings(self) -> list[LoadMessage]:
        return [m for m in self.messages if not m.is_error]

    @property
    def compiled(self) -> list[CompiledRule]:
        return [r for r in self.rules if r.compiled]

    @property
    def not_compiled(self) -> list[CompiledRule]:
        return [r for r in self.rules if not r.compiled]

    def rule(self, name: str) -> CompiledRule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"{len(self.errors)} error(s)"
        return (f"<RuleSet {len(self.rules)} rules ({len(self.compiled)} compiled, {len(self.skipped)} other "
                f"sources) from {len(self.files)} file(s): {state}, {len(self.warnings)} warning(s)>")


def rules_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[str], list[str]]:
    """The files to load, in order, and notes on directory entries passed over."""
    files, notes = [], []
    for p in paths:
        path = os.fspath(p)
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                if os.path.isfile(full) and name.endswith(RULES_SUFFIXES):
                    files.append(full)
                elif os.path.isfile(full):
                    notes.append(f"{full}: not a .yaml/.yml file, not loaded")
        else:
            files.append(path)
    return files, notes


def load_rules(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> RuleSet:
    """Load and compile rules files or directories of them; never raises for a bad rules file (look at
    ``RuleSet.ok`` / ``errors``)."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files, notes = rules_files(paths)
    return _load(RuleSet(files=files, notes=notes), [partial(_read_file, path=f) for f in files])


def load_text(text: str, name: str = "rules.yaml") -> RuleSet:
    """Load rules from a string (for notebooks and tests); ``name`` is used in messages."""
    return _load(RuleSet(files=[name]), [partial(_read_text, text=text, name=name)])


def _load(rs: RuleSet, readers: list[Callable[..., None]]) -> RuleSet:
    """Read each source into one collector and compile after each, as Falco does (sysnb's field checks, which
    cannot change what Falco accepts, only after the last)."""
    col = Collector()
    compiled = Compiled()
    try:
        for i, read in enumerate(readers):
            read(col, messages=rs.messages)
            last = i == len(readers) - 1
            compiled = compile_rules(col, rs.messages if last else [], check_fields=last)
    except RuleLoadError as e:
        rs.messages.append(e.msg)
        return rs
    _check_plugins(col, rs)
    rs.rules, rs.skipped, rs.lists = compiled.rules, compiled.skipped, compiled.lists
    rs.macros = len(compiled.macros)
    rs.required_engine_version = col.engine_version
    for info in compiled.skipped:
        rs.notes.append(f"rule '{info.name}' (source {info.source}) skipped: sysnb reads syscall captures only")
    return rs


def _read_file(col: Collector, *, path: str, messages: list[LoadMessage]) -> None:
    try:
        size = os.path.getsize(path)
        if size > MAX_RULES_BYTES:
            raise RuleLoadError("LOAD_ERR_FILE_READ", f"{size} bytes is more than a rules file may hold "
                                f"({MAX_RULES_BYTES >> 20} MiB)", "rules content", "", Loc(path))
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise RuleLoadError("LOAD_ERR_FILE_READ", f"could not read the rules file: {e.strerror or e}",
                            "rules content", "", Loc(path)) from None
    _read_text(col, text=text, name=path, messages=messages)


def _read_text(col: Collector, *, text: str, name: str, messages: list[LoadMessage]) -> None:
    try:
        docs = read_documents(text, name)
    except YamlError as e:
        raise RuleLoadError("LOAD_ERR_YAML_PARSE", str(e), "rules content", "", e.loc) from None
    Reader(col, name, messages.append).read(docs, Loc(name))


def _check_plugins(col: Collector, rs: RuleSet) -> None:
    """Plugin requirements: the container plugin's fields are built in; any other plugin is not available,
    and the rules of its sources are skipped."""
    for req in col.plugin_requirements:
        met = [(n, v) for n, v in req.alternatives if n in BUILTIN_PLUGINS and _version(v) <=
               _version(BUILTIN_PLUGINS[n])]
        if met:
            rs.notes.append(f"required plugin {met[0][0]} {met[0][1]}: provided by sysnb (container fields from "
                            "the capture)")
            continue
        wanted = " or ".join(f"{n} {v}" for n, v in req.alternatives)
        rs.messages.append(LoadMessage("LOAD_PLUGIN_REQUIREMENT", f"Plugin {wanted} is required by the rules but "
                                       "not available in sysnb; rules of its source are skipped",
                                       "required plugin versions", req.alternatives[0][0], req.loc))


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("-")[0].split("+")[0].split(".")[:3] if x.isdigit())


def engine_version() -> str:
    return ".".join(map(str, ENGINE_VERSION))
