"""Bundled sample captures (see scenarios/README.md for how they were recorded and what happened)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

SAMPLES = ("storefront_incident",)


def sample_path(name: str = "storefront_incident") -> Path:
    """Path of a bundled capture, e.g. ``sysnb.open_capture(sysnb.sample_path())``."""
    if name not in SAMPLES:
        from sysnb.errors import UsageError

        raise UsageError(f"unknown sample {name!r}; bundled: {', '.join(SAMPLES)}")
    return Path(str(resources.files("sysnb.data").joinpath(f"{name}.scap.gz")))


def ground_truth(name: str = "storefront_incident") -> dict[str, Any]:
    """What the scenario script did and when (written next to the capture when it was recorded)."""
    text = resources.files("sysnb.data").joinpath(f"{name}.truth.json").read_text()
    result: dict[str, Any] = json.loads(text)
    return result
