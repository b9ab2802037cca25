"""The workflow examples in examples/ run in quick mode and converge (issue 4).

Each example is imported from its file and run as ``main(["--quick", "--out", tmp, "--no-progress"])``;
the returned figures are checked against the convergence criteria the docs state.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.filterwarnings("ignore:.*unsupported, ignored:UserWarning")


def run_example(name: str, out: Path) -> dict:
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.main(["--quick", "--out", str(out), "--no-progress"])
    finally:
        sys.path.remove(str(EXAMPLES))


def assert_png(path) -> None:
    assert os.path.isfile(path) and os.path.getsize(path) > 1000, path
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", path


def test_throw_finds_the_analytic_velocity(tmp_path):
    fig = run_example("throw", tmp_path)
    assert fig["v_err"] < 1e-6  # m/s, against the closed-form answer of the integrator
    assert fig["miss_m"] < 1e-6
    assert fig["grad_err"] < 1e-10  # the gradient against its closed form at the first guess
    # the continuous-time answer differs by the integrator's first-order error g h / 2
    assert abs(fig["v_err_continuous"] - 9.81 * 0.01 / 2) < 1e-5
    assert fig["loss"] < 1e-10 * fig["loss0"]
    assert_png(tmp_path / "throw_loss.png")


def test_franka_trajopt_reaches_the_target_with_torques_and_pd_targets(tmp_path):
    fig = run_example("franka_trajopt", tmp_path)
    for mode in ("torque", "pd"):
        assert fig[f"{mode}_dist_start_mm"] > 400
        assert fig[f"{mode}_dist_mm"] < 5.0, (mode, fig[f"{mode}_dist_mm"])  # from ~450 mm to a few mm
        assert fig[f"{mode}_speed"] < 0.5, (mode, fig[f"{mode}_speed"])  # and (nearly) stopped there
        assert fig[f"{mode}_loss"] < 0.02 * fig[f"{mode}_loss0"]
    assert_png(tmp_path / "franka_trajopt_loss.png")
    assert_png(tmp_path / "franka_trajopt_hand.png")
    for mode in ("torque", "pd"):  # the optimized motions, rendered
        assert (tmp_path / f"franka_trajopt_{mode}.mp4").stat().st_size > 10_000


def test_sysid_recovers_mass_friction_and_damping_within_2_percent(tmp_path):
    fig = run_example("sysid", tmp_path)
    assert abs(fig["mass_nominal"] / fig["mass_true"] - 1) > 0.2  # the fit starts far away
    assert fig["mass_err"] < 0.02 and fig["friction_err"] < 0.02 and fig["damping_err"] < 0.02, fig
    assert fig["box_loss"] < 1e-4 * fig["box_loss0"] and fig["pendulum_loss"] < 1e-4 * fig["pendulum_loss0"]
    assert_png(tmp_path / "sysid_loss.png")
    assert_png(tmp_path / "sysid_params.png")
