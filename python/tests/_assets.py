"""Where the model files live (fetched by `make setup`); missing files fail, never skip."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def assets_dir() -> Path:
    return Path(os.environ.get("KINEGRAD_ASSETS", REPO / ".cache" / "assets"))


def asset(*parts: str) -> Path:
    """Path of a fetched model file; fails (never skips) when it is missing."""
    p = assets_dir().joinpath(*parts)
    if not p.exists():
        pytest.fail(f"model file {p} is missing: run `make setup` (scripts/fetch_assets.py)")
    return p


def pybullet_data(*parts: str) -> Path:
    import pybullet_data as pd

    p = Path(pd.getDataPath()).joinpath(*parts)
    if not p.exists():
        pytest.fail(f"{p} is missing from pybullet_data")
    return p
