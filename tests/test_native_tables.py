"""The native core's event table is generated from the same data as the Python one and cannot drift."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sysnb
from sysnb import _core

ROOT = Path(__file__).resolve().parent.parent


def test_rust_event_table_is_generated_from_the_python_tables() -> None:
    spec = importlib.util.spec_from_file_location("gen_event_table", ROOT / "tools" / "gen_event_table.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    committed = (ROOT / "native" / "src" / "event_table.rs").read_text()
    assert gen.rust_from_module() == committed, (
        "native/src/event_table.rs is stale: python tools/gen_event_table.py --rust-from-module "
        "> native/src/event_table.rs")


def test_package_and_native_core_versions_agree() -> None:
    assert _core.__version__ == sysnb.__version__
