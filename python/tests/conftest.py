"""Shared fixtures: every test runs after gs.init(precision="64") unless it re-inits."""

import os

import pytest

import kinegrad as gs


@pytest.fixture(autouse=True)
def _init64():
    gs.init(precision="64", logging_level="warning")
    yield
    gs.init(precision="64", logging_level="warning")


def franka_urdf() -> str:
    """Path of pybullet_data's Franka Panda URDF (pybullet is a pinned test dependency)."""
    import pybullet_data

    path = os.path.join(pybullet_data.getDataPath(), "franka_panda", "panda.urdf")
    if not os.path.isfile(path):
        pytest.fail(f"{path} is missing: run `make setup`")
    return path


FRANKA_KP = [4500.0, 4500.0, 3500.0, 3500.0, 2000.0, 2000.0, 2000.0, 100.0, 100.0]
FRANKA_KV = [450.0, 450.0, 350.0, 350.0, 200.0, 200.0, 200.0, 10.0, 10.0]


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_vjp: exercises the Rust reverse pass (kinegrad::adjoint)")
