"""`.ci/suites.sh` (what `make test` and CI run): a failing suite does not stop the ones after it, every
result is summarised, and the run fails at the end. Regression: CI ran pytest first and stopped at its
first failure, so the notebook check never ran."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITES = ROOT / ".ci" / "suites.sh"


def _run(tmp_path: Path, *suites: str, **env: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    # stand-ins for the venv's tools: ruff fails, mypy passes (a pytest-like count line to summarise)
    (bin_dir / "ruff").write_text("#!/bin/sh\necho 'E501 line too long'\nexit 1\n")
    (bin_dir / "mypy").write_text("#!/bin/sh\necho '3 passed, 1 skipped in 0.01s'\nexit 0\n")
    for tool in ("ruff", "mypy"):
        (bin_dir / tool).chmod(0o755)
    return subprocess.run(["bash", str(SUITES), *suites], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BIN": str(bin_dir), "CI_LOGS": str(tmp_path / "logs"), **env})


@pytest.mark.parametrize("lanes", ["1", "2"])
def test_every_suite_runs_after_a_failure_and_the_run_fails_at_the_end(tmp_path: Path, lanes: str) -> None:
    proc = _run(tmp_path, "ruff", "nosuch", "mypy", "cargo-fmt", LANES=lanes)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "E501 line too long" in out  # the failing suite's log is printed
    summary = out[out.index("======== summary"):]
    lines = {line.split()[1]: line.split()[0] for line in summary.splitlines()[1:] if line.startswith("  ")}
    native = (ROOT / "native" / "Cargo.toml").exists()
    assert lines == {"ruff": "FAIL", "nosuch": "FAIL", "mypy": "PASS", "cargo-fmt": "PASS" if native else "SKIP"}
    assert "3 passed, 1 skipped" in summary  # the counts of each suite
    assert ("native/Cargo.toml absent" in summary) != native
    assert (tmp_path / "logs" / "ruff.log").read_text().strip() == "E501 line too long"


def test_all_passing_suites_pass(tmp_path: Path) -> None:
    proc = _run(tmp_path, "mypy")
    assert proc.returncode == 0 and "all suites passed" in proc.stdout


def test_a_suite_over_its_limit_is_stopped_and_fails(tmp_path: Path) -> None:
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "mypy").write_text("#!/bin/sh\nsleep 60\n")
    (slow / "mypy").chmod(0o755)
    proc = subprocess.run(["bash", str(SUITES), "mypy"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BIN": str(slow), "CI_LOGS": str(tmp_path / "logs"),
                               "SUITE_LIMIT_mypy": "2"})
    assert proc.returncode == 1
    assert "stopped at its 2s limit" in proc.stdout
