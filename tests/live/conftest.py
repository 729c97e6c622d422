"""Live-capture fixtures: skip with the exact reason when this machine cannot record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def recorder_unavailable(engine: str = "core") -> str | None:
    try:
        from sysnb.record.engine import preflight

        preflight(engine)
    except Exception as e:  # any reason the recorder cannot run is a skip reason
        return str(e)
    return None


@pytest.fixture(scope="session", autouse=True)
def _bcc_compiled_once() -> Iterator[None]:
    """The bcc engine keeps its compiled recorder between the tests' recordings (it would compile for
    20-40 s each on a loaded host); released at the end."""
    from sysnb.record import bcc_engine

    bcc_engine.keep_compiled(True)
    yield
    bcc_engine.keep_compiled(False)


@pytest.fixture(scope="session")
def can_record() -> None:
    reason = recorder_unavailable()
    if reason:
        pytest.skip(f"live capture unavailable here: {reason}")


def require_engine(engine: str) -> None:
    reason = recorder_unavailable(engine)
    if reason:
        pytest.skip(f"the {engine} engine cannot record here: {reason}")
