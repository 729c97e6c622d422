"""Rules files as YAML node trees that remember where every value was written (file, line, column).

Falco reads rules with yaml-cpp, which keeps every scalar as the text the author wrote and converts it on
demand; PyYAML's composer gives the same thing (``ScalarNode.value`` is the raw text, before any implicit
int/bool conversion), plus start marks for the file/line/column of each error. Values are read here with
yaml-cpp's conversions (booleans ``true/yes/on/y`` ..., unsigned integers), never PyYAML's YAML 1.1 ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

_NULL_TAG = "tag:yaml.org,2002:null"
_TRUE = frozenset({"y", "yes", "true", "on"})
_FALSE = frozenset({"n", "no", "false", "off"})
#: a rules file this large is refused (the default Falco rules are ~60 KB)
MAX_RULES_BYTES = 64 << 20


@dataclass(frozen=True)
class Loc:
    """Where something was written: 1-based line and column (what editors show)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file


class YamlError(ValueError):
    """The text is not YAML; ``loc`` says where the parser gave up."""

    def __init__(self, message: str, loc: Loc) -> None:
        self.loc = loc
        super().__init__(message)


def loc_of(node: yaml.Node, file: str) -> Loc:
    mark = node.start_mark
    return Loc(file, mark.line + 1, mark.column + 1)


def read_documents(text: str, file: str) -> list[yaml.Node | None]:
    """Every document of the stream as a node tree (None for an empty document)."""
    try:
        loader = yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader
        return list(yaml.compose_all(text, Loader=loader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = Loc(file, mark.line + 1, mark.column + 1) if mark is not None else Loc(file)
        raise YamlError(f"{e.problem or e.context or 'invalid YAML'}", where) from None
    except yaml.YAMLError as e:
        raise YamlError(str(e), Loc(file)) from None


def is_map(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.MappingNode)


def is_seq(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.SequenceNode)


def is_null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG)


def is_scalar(node: yaml.Node | None) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag != _NULL_TAG


def get(node: yaml.Node, key: str) -> yaml.Node | None:
    """The value node of ``key`` in a mapping (the last one when a key repeats, as yaml-cpp), else None."""
    found = None
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                found = v
    return found


def has(node: yaml.Node, key: str) -> bool:
    return isinstance(node, yaml.MappingNode) and any(
        isinstance(k, yaml.ScalarNode) and k.value == key for k, _ in node.value)


def keys(node: yaml.Node) -> list[tuple[str, yaml.Node]]:
    """The keys of a mapping with their key nodes (non-scalar keys are skipped)."""
    if not isinstance(node, yaml.MappingNode):
        return []
    return [(k.value, k) for k, _ in node.value if isinstance(k, yaml.ScalarNode)]


def pairs(node: yaml.Node) -> list[tuple[yaml.Node, yaml.Node]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def items(node: yaml.Node) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def text(node: yaml.Node) -> str:
    """The scalar as written (after YAML's own quoting/folding rules)."""
    assert isinstance(node, yaml.ScalarNode)
    return str(node.value)


def to_bool(value: str) -> bool | None:
    """yaml-cpp's bool conversion; None when the text is not a boolean."""
    v = value.lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return None


def to_uint(value: str) -> int | None:
    """yaml-cpp's unsigned conversion (decimal, 0x hex, 0o octal); None when it is not one."""
    v = value.strip()
    try:
        n = int(v, 16) if v.lower().startswith("0x") else int(v[2:], 8) if v.lower().startswith("0o") else int(v)
    except ValueError:
        return None
    return n if 0 <= n < 1 << 32 else None
