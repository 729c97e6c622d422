"""The bcc engine's offline parts: the BTF reader that resolves kernel field offsets, recorder.h's field
table, the compiler flags, and the engine choice (no root or BPF needed)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from sysnb.record import bcc_engine, engine
from sysnb.record.btf import ARRAY, ENUM, INT, PTR, STRUCT, TYPEDEF, UNION, Btf, BtfError
from sysnb.record.libbpf import BpfError

BPF_DIR = Path(__file__).resolve().parents[1] / "bpf"


class BtfBuilder:
    """A BTF blob made by hand: types are numbered from 1 in the order they are added."""

    def __init__(self) -> None:
        self.strings = bytearray(b"\0")
        self.types = bytearray()

    def _name(self, name: str) -> int:
        if not name:
            return 0
        off = len(self.strings)
        self.strings += name.encode() + b"\0"
        return off

    def add(self, kind: int, name: str, size_or_type: int, vlen: int = 0, extra: bytes = b"",
            kind_flag: int = 0) -> None:
        info = kind << 24 | vlen | kind_flag << 31
        self.types += struct.pack("<III", self._name(name), info, size_or_type) + extra

    def members(self, *members: tuple[str, int, int]) -> bytes:
        return b"".join(struct.pack("<III", self._name(n), t, bits) for n, t, bits in members)

    def blob(self) -> bytes:
        hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(self.types), len(self.types), len(self.strings))
        return hdr + bytes(self.types) + bytes(self.strings)


def sample_btf() -> Btf:
    b = BtfBuilder()
    b.add(INT, "int", 4, extra=struct.pack("<I", 32))                                   # 1
    b.add(PTR, "", 1)                                                                    # 2: int *
    b.add(STRUCT, "inner", 8, 2, b.members(("a", 1, 0), ("b", 1, 32)))                   # 3
    b.add(TYPEDEF, "inner_t", 3)                                                         # 4
    b.add(UNION, "", 8, 2, b.members(("p", 2, 0), ("q", 1, 0)))                         # 5: anonymous
    b.add(ARRAY, "", 0, extra=struct.pack("<III", 3, 1, 0))                              # 6: inner[]
    b.add(STRUCT, "outer", 24, 4, b.members(("x", 1, 0), ("in", 4, 32), ("", 5, 128), ("tail", 6, 192)))  # 7
    b.add(ENUM, "color", 4, 2, struct.pack("<Ii", b._name("red"), 0) + struct.pack("<Ii", b._name("blue"), 7))
    b.add(STRUCT, "bits", 4, 1, b.members(("flag", 1, 1 << 24 | 3)), kind_flag=1)       # 9
    return Btf(b.blob())


def test_field_offsets_through_typedefs_anonymous_unions_and_arrays() -> None:
    btf = sample_btf()
    assert btf.field_offset("outer", "x") == 0
    assert btf.field_offset("outer", "in.b") == 4 + 4  # through the typedef
    assert btf.field_offset("outer", "q") == 16  # a member of the anonymous union
    assert btf.field_offset("outer", "tail[0].b") == 24 + 4
    assert btf.field_offset("outer", "tail[2].a") == 24 + 2 * 8
    assert btf.enum_value("color", "blue") == 7 and btf.enum_value("color", "green") is None


def test_missing_fields_and_bitfields_are_errors() -> None:
    btf = sample_btf()
    with pytest.raises(BtfError, match="no byte-aligned field nope"):
        btf.field_offset("outer", "nope")
    with pytest.raises(BtfError, match="no struct missing"):
        btf.field_offset("missing", "x")
    with pytest.raises(BtfError, match="byte-aligned field flag"):
        btf.field_offset("bits", "flag")
    with pytest.raises(BtfError, match="not BTF"):
        Btf(b"\0" * 32)


def test_every_field_of_the_recorder_resolves_on_this_kernel() -> None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("this kernel exposes no BTF (/sys/kernel/btf/vmlinux)")
    btf = Btf.from_file()
    fields = bcc_engine.kernel_fields(BPF_DIR / "recorder.h")
    assert {"task_real_parent", "sk_num", "unix_addr_path", "kn_parent", "mm_arg_start"} <= set(fields)
    flags = dict(f[2:].split("=", 1) for f in bcc_engine.offset_flags(fields, btf))
    assert set(flags) == {f"OFF_{name}" for name in fields} | {"MEMORY_SUBSYS"}
    # fields that sit together in the kernel's structs, whatever the layout
    assert int(flags["OFF_mm_arg_end"]) == int(flags["OFF_mm_arg_start"]) + 8
    assert int(flags["OFF_sk_num"]) == int(flags["OFF_sk_dport"]) + 2
    assert int(flags["OFF_unix_addr_path"]) == btf.field_offset("unix_address", "name") + 2  # after sun_family


def test_without_btf_the_offsets_come_from_the_headers() -> None:
    flags = bcc_engine.offset_flags({"task_tgid": ("task_struct", "tgid"),
                                     "sk_num": ("sock", "__sk_common.skc_num")}, None)
    assert flags == ["-DSNB_HEADER_OFFSETS", "-DOFF_task_tgid=__builtin_offsetof(struct task_struct, tgid)",
                     "-DOFF_sk_num=__builtin_offsetof(struct sock, __sk_common.skc_num)"]


def test_the_bcc_sources_are_found_next_to_the_package() -> None:
    assert bcc_engine.source_dir().resolve() == BPF_DIR.resolve()  # sysnb/record/bpf_src links to bpf/
    assert (BPF_DIR / "record.h").exists() and (BPF_DIR / "recorder.h").exists()


def test_missing_bcc_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import builtins

    real_import = builtins.__import__

    def no_bcc(name: str, *args: object, **kwargs: object) -> object:
        if name == "bcc":
            raise ImportError("no bcc")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_bcc)
    monkeypatch.setattr(bcc_engine, "distro_python_dirs", lambda: [tmp_path])
    with pytest.raises(BpfError, match="bcc is not installed: apt-get install python3-bpfcc"):
        bcc_engine.import_bcc()


def test_auto_falls_back_to_bcc_and_names_both_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_core() -> None:
        raise BpfError("this kernel exposes no BTF")

    def no_bcc() -> None:
        raise BpfError("bcc is not installed")

    monkeypatch.setattr(engine, "_need_root", lambda: None)
    monkeypatch.setattr(engine, "_core_preflight", no_core)
    monkeypatch.setattr(bcc_engine, "bcc_preflight", lambda: None)
    assert engine.preflight("auto") == "bcc"
    monkeypatch.setattr(bcc_engine, "bcc_preflight", no_bcc)
    with pytest.raises(BpfError, match="no BTF\nthe bcc fallback is not available either: bcc is not installed"):
        engine.preflight("auto")
    with pytest.raises(BpfError, match="unknown recorder engine 'ebpf'"):
        engine.preflight("ebpf")


def test_headers_of_another_kernel_are_refused_without_btf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "include/generated").mkdir(parents=True)
    (tmp_path / "include/generated/utsrelease.h").write_text('#define UTS_RELEASE "6.1.0-56-amd64"\n')
    monkeypatch.setenv("BCC_KERNEL_SOURCE", str(tmp_path))
    monkeypatch.setattr(bcc_engine, "import_bcc", lambda: None)
    monkeypatch.setattr(bcc_engine, "VMLINUX", tmp_path / "no-btf")
    with pytest.raises(BpfError, match=r"are for 6\.1\.0-56-amd64, not the running"):
        bcc_engine.bcc_preflight()
    monkeypatch.setattr(bcc_engine, "VMLINUX", Path(__file__))  # with BTF, any headers do (offsets from BTF)
    bcc_engine.bcc_preflight()


def test_kernels_older_than_5_8_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bcc_engine.kernel_version("6.18.44-fc-v657") == (6, 18)
    assert bcc_engine.kernel_version("4.18.0-553.el8_10.x86_64") == (4, 18)

    class Uname:
        release = "5.4.0-216-generic"

    monkeypatch.setattr(bcc_engine.os, "uname", Uname)
    with pytest.raises(BpfError, match=r"needs Linux 5\.8 or later \(this is 5\.4\.0-216-generic\)"):
        bcc_engine.bcc_preflight()
