"""Spatial tendons (issue 19): MuJoCo's `<spatial>` through sites, with pulleys, in every role a
fixed tendon has (limit, spring with a dead band, damper, dry friction, actuator). Per-step
re-synced trajectories against MuJoCo under both integrators, dm_control's ball_in_cup (its
string is a limited spatial tendon), and a gradient through the taut string against finite
differences."""

from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs

from _assets import asset
from _mujoco_pair import check_gradient, mujoco_and_kinegrad

CHAIN = Path(__file__).parent / "models" / "spatial_tendon_chain.xml"


def resynced(m, d, sim, steps):
    worst, types = 0.0, set()
    for _ in range(steps):
        sim.set_state(d.qpos[None].copy(), d.qvel[None].copy())
        mujoco.mj_step(m, d)
        sim.step(1)
        types |= {int(t) for t in d.efc_type[: d.nefc]}
        worst = max(worst, np.abs(sim.get_qvel()[0] - d.qvel).max() / max(1.0, np.abs(d.qvel).max()))
    return worst, types


@pytest.mark.parametrize("integrator", ["euler", "implicitfast"])
def test_spatial_tendons_in_every_role_step_as_in_mujoco(integrator):
    m, d, sim = mujoco_and_kinegrad(CHAIN, integrator)
    m.opt.integrator = {"euler": mujoco.mjtIntegrator.mjINT_EULER, "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST}[integrator]
    rng = np.random.default_rng(1)
    d.qpos[:] = m.qpos0 + 0.05 * rng.standard_normal(m.nq)
    d.qvel[:] = rng.standard_normal(m.nv)
    worst, types = resynced(m, d, sim, 600)
    print(f"{integrator}: worst per-step relative qvel error {worst:.1e}")
    c = mujoco.mjtConstraint
    assert {int(c.mjCNSTR_FRICTION_TENDON), int(c.mjCNSTR_LIMIT_TENDON)} <= types
    assert worst < 1e-12


def test_ball_in_cup_string_matches_mujoco():
    m, d, sim = mujoco_and_kinegrad(asset("dm_control", "suite", "ball_in_cup.xml"))
    d.qvel[:] = [0.5, -0.3, 2.0, -1.0]
    worst, types = resynced(m, d, sim, 500)
    print(f"ball_in_cup: worst per-step relative qvel error {worst:.1e}")
    assert int(mujoco.mjtConstraint.mjCNSTR_LIMIT_TENDON) in types, "the string goes taut"
    assert worst < 1e-12


def swing(v0, requires_grad):
    """ball_in_cup with the cup's and the ball's initial velocities `v0` (4): the ball's height
    and x after 0.4 s, the string taut for most of it."""
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.01, requires_grad=requires_grad),
        rigid_options=gs.options.RigidOptions(tolerance=1e-14),
        show_viewer=False,
    )
    cup = scene.add_entity(gs.morphs.MJCF(file=str(asset("dm_control", "suite", "ball_in_cup.xml"))))
    scene.build()
    cup.set_dofs_velocity(v0)
    for _ in range(40):
        scene.step()
    q = cup.get_dofs_position()
    return q[2] + 2.0 * q[3]


def test_ball_in_cup_gradient_through_the_string_matches_finite_differences():
    check_gradient(swing, torch.tensor([0.5, -0.3, 2.0, -1.0], dtype=torch.float64), seed=4)


def test_spatial_tendon_length_is_refused_by_name():
    scene = gs.Scene(show_viewer=False)
    ent = scene.add_entity(gs.morphs.MJCF(file=str(CHAIN)))
    scene.build()
    with pytest.raises(ValueError, match="tendon 't1' is spatial"):
        ent.get_tendons_length()
