"""The sysdig/Falco filter language: tokenizer and recursive-descent parser to an AST.

Grammar (EBNF)::

    filter     = or_expr ;
    or_expr    = and_expr { "or" and_expr } ;
    and_expr   = not_expr { "and" not_expr } ;
    not_expr   = "not" not_expr | primary ;
    primary    = "(" or_expr ")" | check ;
    check      = operand ( unary_op | binary_op ( value | field_ref ) | list_op list ) ;
    operand    = transformer "(" operand ")" | field ;
    transformer = "tolower" | "toupper" | "b64" | "basename" | "len" ;     (Falco >= 0.38; sysnb extension)
    field_ref  = "val" "(" field ")" ;                                     (Falco >= 0.38; sysnb extension)
    field      = name { "." name } [ "[" argument "]" ] ;
    unary_op   = "exists" ;
    binary_op  = "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "contains" | "icontains" | "bcontains"
               | "startswith" | "bstartswith" | "endswith" | "glob" | "iglob" | "regex" ;
    list_op    = "in" | "intersects" | "pmatch" ;
    list       = "(" value { "," value } ")" ;
    value      = quoted | bareword ;
    quoted     = '"' { char | escape } '"' | "'" { char | escape } "'" ;
    bareword   = { any character but whitespace, "(", ")" and "," } ;

``and`` binds tighter than ``or``; ``not`` binds tightest. Errors carry the 0-based position in the text.

Falco's rule conditions (``parse(text, falco=True)``) add two productions: a bare identifier (no dot, not
followed by an operator) is a macro reference, and a list may be empty (``in ()``, what an empty Falco list
expands to)::

    primary    = "(" or_expr ")" | macro | check ;
    macro      = letter { letter | digit | "_" } ;
    list       = "(" [ value { "," value } ] ")" ;

Parentheses and ``not`` nest at most ``MAX_DEPTH`` levels (the parser and the compiler recurse).
Field arguments: ``evt.arg.NAME``, ``evt.arg[N]``, ``evt.rawarg.NAME``, ``proc.aname[N]``, ``proc.apid[N]``,
``evt.around[T]``. sysdig 0.29.3 has no transformers, ``val()`` or a working ``intersects``; sysnb accepts
them with today's Falco meaning (documented extensions, tested on their own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BINARY_OPS = ("==", "!=", "<=", ">=", "=", "<", ">")
WORD_OPS = ("contains", "icontains", "bcontains", "startswith", "bstartswith", "endswith", "glob", "iglob",
            "regex")
LIST_OPS = ("in", "intersects", "pmatch")
UNARY_OPS = ("exists",)
TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len")
_FIELD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
_IDENTIFIER = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
MAX_DEPTH = 200


class FilterSyntaxError(ValueError):
    def __init__(self, message: str, text: str, pos: int) -> None:
        self.text, self.pos = text, pos
        super().__init__(f"{message} at column {pos + 1}\n  {text}\n  {' ' * pos}^")


@dataclass(frozen=True)
class FieldRef:
    """``val(field)``: compare with another field of the same event."""

    field: str


@dataclass(frozen=True)
class Check:
    field: str
    op: str
    value: str | tuple[str, ...] | FieldRef | None
    pos: int  # where the field starts
    transforms: tuple[str, ...] = ()  # innermost first: tolower(basename(fd.name)) -> ("basename", "tolower")


@dataclass(frozen=True)
class MacroRef:
    """A Falco macro referenced by name (only in ``falco=True`` parses; expanded before compiling)."""

    name: str
    pos: int


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


Node = Check | Not | BoolOp | MacroRef


def parse(text: str, *, falco: bool = False) -> Node:
    """The AST of a filter; ``falco=True`` also accepts macro references and empty lists (rule conditions)."""
    p = _Parser(text, falco)
    node = p.or_expr()
    p.skip_ws()
    if p.pos != len(text):
        raise FilterSyntaxError(f"unexpected {text[p.pos:p.pos + 12]!r}", text, p.pos)
    return node


class _Parser:
    def __init__(self, text: str, falco: bool = False) -> None:
        self.text = text
        self.pos = 0
        self.falco = falco
        self.depth = 0

    def nested(self, start: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(f"the filter nests deeper than {MAX_DEPTH} levels of parentheses and 'not'",
                                    self.text, start)

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def keyword(self, word: str) -> bool:
        """Consume ``word`` if it is next as a whole word."""
        self.skip_ws()
        end = self.pos + len(word)
        if self.text[self.pos:end] == word and (end == len(self.text) or not
                                                (self.text[end].isalnum() or self.text[end] in "._")):
            self.pos = end
            return True
        return False

    def or_expr(self) -> Node:
        ops = [self.and_expr()]
        while self.keyword("or"):
            ops.append(self.and_expr())
        return ops[0] if len(ops) == 1 else BoolOp("or", tuple(ops))

    def and_expr(self) -> Node:
        ops = [self.not_expr()]
        while self.keyword("and"):
            ops.append(self.not_expr())
        return ops[0] if len(ops) == 1 else BoolOp("and", tuple(ops))

    def not_expr(self) -> Node:
        self.skip_ws()
        start = self.pos
        if self.keyword("not"):
            self.nested(start)
            node: Node = Not(self.not_expr())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            self.nested(self.pos)
            self.pos += 1
            node = self.or_expr()
            self.skip_ws()
            if self.pos >= len(self.text) or self.text[self.pos] != ")":
                raise FilterSyntaxError("missing ')'", self.text, self.pos)
            self.pos += 1
            self.depth -= 1
            return node
        return self.check()

    def check(self) -> Check | MacroRef:
        self.skip_ws()
        start = self.pos
        name, transforms = self.operand()
        self.skip_ws()
        if self.falco and not transforms and _IDENTIFIER.fullmatch(name) and not self._operator_next():
            return MacroRef(name, start)
        for op in UNARY_OPS:
            if self.keyword(op):
                return Check(name, op, None, start, transforms)
        for op in LIST_OPS:
            if self.keyword(op):
                return Check(name, op, self.value_list(), start, transforms)
        for op in WORD_OPS:
            if self.keyword(op):
                return Check(name, op, self.value(), start, transforms)
        for op in BINARY_OPS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                value: str | FieldRef = self.field_ref() or self.value()
                return Check(name, "=" if op == "==" else op, value, start, transforms)
        raise FilterSyntaxError(f"expected an operator after '{name}'", self.text, self.pos)

    def _operator_next(self) -> bool:
        """An operator follows (checked without consuming it)."""
        pos = self.pos
        try:
            return any(self.keyword(op) for op in (*UNARY_OPS, *LIST_OPS, *WORD_OPS)) or \
                self.text.startswith(BINARY_OPS, self.pos)
        finally:
            self.pos = pos

    def _call(self, names: tuple[str, ...]) -> str | None:
        """``name(`` for one of ``names`` next in the text (the parenthesis consumed)."""
        self.skip_ws()
        for fn in names:
            end = self.pos + len(fn)
            if self.text.startswith(fn, self.pos) and self.text[end:].lstrip().startswith("("):
                self.pos = self.text.index("(", end) + 1
                return fn
        return None

    def _close(self) -> None:
        self.skip_ws()
        if self.pos >= len(self.text) or self.text[self.pos] != ")":
            raise FilterSyntaxError("missing ')'", self.text, self.pos)
        self.pos += 1

    def operand(self) -> tuple[str, tuple[str, ...]]:
        fn = self._call(TRANSFORMERS)
        if fn is None:
            return self.field(), ()
        name, inner = self.operand()
        self._close()
        return name, (*inner, fn)

    def field_ref(self) -> FieldRef | None:
        if self._call(("val",)) is None:
            return None
        name = self.field()
        self._close()
        return FieldRef(name)

    def field(self) -> str:
        self.skip_ws()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _FIELD_CHARS:
            self.pos += 1
        if self.pos < len(self.text) and self.text[self.pos] == "[":
            end = self.text.find("]", self.pos)
            if end < 0:
                raise FilterSyntaxError("missing ']'", self.text, self.pos)
            self.pos = end + 1
        if self.pos == start:
            raise FilterSyntaxError("expected a field name", self.text, start)
        return self.text[start:self.pos]

    def value(self, allow_empty: bool = True) -> str:
        """A quoted or bare value; like sysdig, a missing value at the end of a check is the empty string."""
        self.skip_ws()
        if self.pos >= len(self.text) or self.text[self.pos] in "),":
            if allow_empty:
                return ""
            raise FilterSyntaxError("expected a value", self.text, self.pos)
        q = self.text[self.pos]
        if q in "\"'":
            return self.quoted(q)
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace() and self.text[self.pos] not in "(),":
            self.pos += 1
        if self.pos == start:
            raise FilterSyntaxError("expected a value", self.text, start)
        value = self.text[start:self.pos]
        if value in ("and", "or"):  # "proc.name= and ..." is an empty value followed by the operator
            self.pos = start
            return ""
        return value

    def quoted(self, q: str) -> str:
        start = self.pos
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "\\" and self.pos + 1 < len(self.text):
                out.append(_ESCAPES.get(self.text[self.pos + 1], "\\" + self.text[self.pos + 1]))
                self.pos += 2
            elif c == q:
                self.pos += 1
                return "".join(out)
            else:
                out.append(c)
                self.pos += 1
        raise FilterSyntaxError("unterminated string", self.text, start)

    def value_list(self) -> tuple[str, ...]:
        self.skip_ws()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise FilterSyntaxError("expected '(' to start a list", self.text, self.pos)
        self.pos += 1
        self.skip_ws()
        if self.falco and self.text.startswith(")", self.pos):  # an empty Falco list: matches nothing
            self.pos += 1
            return ()
        values = [self.value(allow_empty=False)]
        while True:
            self.skip_ws()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
                values.append(self.value(allow_empty=False))
            elif self.pos < len(self.text) and self.text[self.pos] == ")":
                self.pos += 1
                return tuple(values)
            else:
                raise FilterSyntaxError("expected ',' or ')' in the list", self.text, self.pos)
