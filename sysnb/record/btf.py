"""Just enough of a BTF reader (``/sys/kernel/btf/vmlinux``) to find struct field offsets and enum values,
for the bcc engine: bcc compiles against installed kernel headers, whose struct layouts can silently differ
from the running kernel's (../shared/docs/recorder-study.md measured wrong pids with 6.1 headers on 6.18).
Format: https://docs.kernel.org/bpf/btf.html"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from sysnb.errors import SysnbError

VMLINUX = Path("/sys/kernel/btf/vmlinux")
_MAGIC = 0xEB9F
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)
_QUALIFIERS = (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG)
# bytes after the 12-byte common header, per kind: fixed, and per vlen entry
_EXTRA = {INT: (4, 0), ARRAY: (12, 0), STRUCT: (0, 12), UNION: (0, 12), ENUM: (0, 8), FUNC_PROTO: (0, 8),
          VAR: (4, 0), DATASEC: (0, 12), DECL_TAG: (4, 0), ENUM64: (0, 12)}


class BtfError(SysnbError):
    """A BTF blob that cannot be read, or a field it does not have."""


@dataclass(frozen=True)
class Member:
    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int


@dataclass(frozen=True)
class Type:
    """One BTF type; members, enumerators and array details are decoded when asked for."""
    kind: int
    name_off: int
    size_or_type: int
    at: int         # where its kind-specific data starts in the type section
    vlen: int
    kind_flag: int


class Btf:
    def __init__(self, data: bytes) -> None:
        if len(data) < 24:
            raise BtfError("BTF blob is too short")
        magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", data)
        if magic != _MAGIC:
            raise BtfError(f"not BTF (magic {magic:#x}, expected {_MAGIC:#x}; big-endian BTF is not supported)")
        self._strings = data[hdr_len + str_off:hdr_len + str_off + str_len]
        self._blob = data[hdr_len + type_off:hdr_len + type_off + type_len]
        self.types: list[Type] = [Type(0, 0, 0, 0, 0, 0)]  # type id 0 is void
        self._parse()
        self._by_name: dict[tuple[int, str], int] = {}
        for i, t in enumerate(self.types):
            if t.kind in (STRUCT, UNION, ENUM, ENUM64) and t.name_off:
                self._by_name.setdefault((t.kind, self._str(t.name_off)), i)

    @classmethod
    def from_file(cls, path: Path = VMLINUX) -> Btf:
        try:
            return cls(path.read_bytes())
        except OSError as e:
            raise BtfError(f"cannot read BTF from {path}: {e.strerror}") from None

    def _str(self, off: int) -> str:
        end = self._strings.index(b"\0", off)
        return self._strings[off:end].decode()

    def _parse(self) -> None:
        blob, at, append = self._blob, 0, self.types.append
        while at < len(blob):
            name_off, info, size_or_type = struct.unpack_from("<III", blob, at)
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            append(Type(kind, name_off, size_or_type, at + 12, vlen, info >> 31))
            fixed, per = _EXTRA.get(kind, (0, 0))
            at += 12 + fixed + per * vlen

    def members(self, type_id: int) -> list[Member]:
        t = self.types[type_id]
        if t.kind not in (STRUCT, UNION):
            return []
        out = []
        for name_off, member_type, offset in struct.iter_unpack("<III", self._blob[t.at:t.at + 12 * t.vlen]):
            bits, size = (offset & 0xFFFFFF, offset >> 24) if t.kind_flag else (offset, 0)
            out.append(Member(self._str(name_off), member_type, bits, size))
        return out

    def array(self, type_id: int) -> tuple[int, int]:
        """(element type, number of elements) of an array type."""
        elem, _index, nelems = struct.unpack_from("<III", self._blob, self.types[type_id].at)
        return elem, nelems

    def enumerators(self, type_id: int) -> dict[str, int]:
        t = self.types[type_id]
        if t.kind == ENUM:
            return {self._str(n): v for n, v in struct.iter_unpack("<Ii", self._blob[t.at:t.at + 8 * t.vlen])}
        return {self._str(n): lo | hi << 32
                for n, lo, hi in struct.iter_unpack("<III", self._blob[t.at:t.at + 12 * t.vlen])}

    def resolve(self, type_id: int) -> int:
        """``type_id`` with typedefs and qualifiers stripped."""
        while self.types[type_id].kind in _QUALIFIERS:
            type_id = self.types[type_id].size_or_type
        return type_id

    def struct_id(self, name: str) -> int:
        for kind in (STRUCT, UNION):
            if (kind, name) in self._by_name:
                return self._by_name[(kind, name)]
        raise BtfError(f"this kernel's BTF has no struct {name}")

    def field_offset(self, struct_name: str, path: str) -> int:
        """Byte offset of ``path`` (``a.b``, ``name[0].sun_path``; anonymous struct/union members are looked
        through) in ``struct struct_name``."""
        type_id, total = self.struct_id(struct_name), 0
        for part in path.split("."):
            m = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", part)
            if m is None:
                raise BtfError(f"bad field path {path!r}")
            bits, member = self._find(type_id, m.group(1))
            if member is None or member.bitfield_size or bits % 8:
                raise BtfError(f"struct {struct_name} has no byte-aligned field {path} on this kernel")
            total += bits // 8
            type_id = self.resolve(member.type_id)
            if m.group(2) is not None:
                elem = self.resolve(self.array(type_id)[0])
                total += int(m.group(2)) * self.size_of(elem)
                type_id = elem
        return total

    def _find(self, type_id: int, name: str) -> tuple[int, Member | None]:
        """(bit offset, member) of ``name`` in a struct/union, searching anonymous members depth-first."""
        for member in self.members(type_id):
            if member.name == name:
                return member.bit_offset, member
            inner = self.resolve(member.type_id)
            if not member.name and self.types[inner].kind in (STRUCT, UNION):
                bits, found = self._find(inner, name)
                if found is not None:
                    return member.bit_offset + bits, found
        return 0, None

    def size_of(self, type_id: int) -> int:
        t = self.types[self.resolve(type_id)]
        if t.kind == PTR:
            return 8
        if t.kind == ARRAY:
            elem, n = self.array(self.resolve(type_id))
            return n * self.size_of(elem)
        return t.size_or_type

    def enum_value(self, enum: str, name: str) -> int | None:
        for kind in (ENUM, ENUM64):
            idx = self._by_name.get((kind, enum))
            if idx is not None:
                return self.enumerators(idx).get(name)
        return None
