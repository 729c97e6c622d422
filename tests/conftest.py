from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
SHARED = Path(os.environ.get("SYSNB_SHARED_CAPTURES", HERE.parent.parent / "shared" / "captures" / "public"))


def bundled_captures() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.scap*"))


def shared_captures() -> list[Path]:
    return sorted(SHARED.rglob("*.scap*")) if SHARED.is_dir() else []


def capture_params() -> list[object]:
    """Bundled fixtures always; the whole shared set when ../shared is present (CI), else one skip."""
    params: list[object] = [pytest.param(p, id=f"bundled:{p.parent.name}/{p.name}") for p in bundled_captures()]
    shared = shared_captures()
    if shared:
        params += [pytest.param(p, id=f"shared:{p.parent.name}/{p.name}") for p in shared]
    else:
        params.append(pytest.param(None, id="shared", marks=pytest.mark.skip(
            reason=f"../shared captures not found at {SHARED} (a user's clone has none; CI has them)")))
    return params


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYSNB_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
