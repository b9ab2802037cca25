"""Spatial tendons (issue 19): MuJoCo's `<spatial>` through sites, with pulleys and wrapping
around spheres and cylinders, in every role a fixed tendon has (limit, spring with a dead band,
damper, dry friction, actuator). Per-step re-synced trajectories against MuJoCo under both
integrators, dm_control's ball_in_cup (its string is a limited spatial tendon), a pendulum whose
tendon switches between wrapping and running straight by its side site (MuJoCo 4.0's rules),
and gradients through the taut string and the wraps against finite differences."""

from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs

from _assets import asset
from _mujoco_pair import check_gradient, mujoco_and_kinegrad, write_xml

CHAIN = Path(__file__).parent / "models" / "spatial_tendon_chain.xml"
WRAP = Path(__file__).parent / "models" / "wrap_tendon.xml"


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


def test_tendon_lengths_read_as_mujoco_and_carry_gradients():
    # fixed (none here), spatial through sites and pulleys, and wrapped tendons' lengths at a
    # random state equal MuJoCo's `ten_length`; their gradient w.r.t. qpos against differences
    for path in (CHAIN, WRAP):
        m = mujoco.MjModel.from_xml_path(str(path))
        d = mujoco.MjData(m)
        rng = np.random.default_rng(3)
        d.qpos[:] = m.qpos0 + 0.1 * rng.standard_normal(m.nq)
        mujoco.mj_forward(m, d)
        scene = gs.Scene(sim_options=gs.options.SimOptions(requires_grad=True), show_viewer=False)
        ent = scene.add_entity(gs.morphs.MJCF(file=str(path)))
        scene.build()
        ent.set_qpos(torch.tensor(d.qpos))
        lengths = ent.get_tendons_length()
        print(f"{path.name}: tendon lengths {lengths.detach().numpy()} vs MuJoCo {d.ten_length}")
        np.testing.assert_allclose(lengths.detach().numpy(), d.ten_length, rtol=0, atol=1e-12)

    def loss(q, requires_grad):
        scene = gs.Scene(sim_options=gs.options.SimOptions(requires_grad=requires_grad), show_viewer=False)
        ent = scene.add_entity(gs.morphs.MJCF(file=str(WRAP)))
        scene.build()
        ent.set_qpos(q)
        w = torch.tensor([1.0, -2.0, 0.5, 0.7], dtype=torch.float64)
        return (ent.get_tendons_length() * w).sum()

    check_gradient(loss, torch.tensor([0.1, -0.05, 0.2], dtype=torch.float64), seed=2)


@pytest.mark.parametrize("integrator", ["euler", "implicitfast"])
def test_wrapping_tendons_step_as_in_mujoco(integrator):
    # outside a sphere (a side site), around a cylinder (with and without one), and MuJoCo's
    # inside wrap (a side site inside the sphere): MuJoCo 4.0 places the inside wrap's point
    # 5e-11 from where 3.x's Newton method (kinegrad's) does, which shows here as 2e-12 per
    # step; the other wraps agree to 1e-15
    m, d, sim = mujoco_and_kinegrad(WRAP, integrator)
    rng = np.random.default_rng(2)
    d.qvel[:] = 2 * rng.standard_normal(m.nv)
    wrapped = 0
    worst = 0.0
    for _ in range(800):
        sim.set_state(d.qpos[None].copy(), d.qvel[None].copy())
        mujoco.mj_step(m, d)
        sim.step(1)
        # each wrapped segment lists its geom at its two wrap points
        wrapped += int((d.wrap_obj.reshape(-1)[: d.ten_wrapnum.sum()] >= 0).sum()) // 2
        worst = max(worst, np.abs(sim.get_qvel()[0] - d.qvel).max() / max(1.0, np.abs(d.qvel).max()))
    print(f"{integrator}: worst per-step relative qvel error {worst:.1e}, {wrapped} wrapped segment-steps")
    assert wrapped > 0.9 * 800 * 5, "the tendons' five segments with a geom wrap it"
    assert worst < 1e-10


SIDE = """<mujoco><option timestep="0.002" gravity="0 0 0"/><worldbody>
  <geom name="ball" type="sphere" size="0.1" contype="0" conaffinity="0"/>
  <site name="a" pos="-0.3 0 0.2"/>
  <site name="side" pos="0.23 0 -0.19"/>
  <body pos="0.1 0 0.25"><joint name="swing" type="hinge" axis="0 1 0"/>
    <geom type="capsule" fromto="0 0 0 0.4 0 0" size="0.02" mass="0.5" contype="0" conaffinity="0"/>
    <site name="b" pos="0.4 0 0"/></body>
</worldbody><tendon><spatial stiffness="20" springlength="0.3">
  <site site="a"/><geom geom="ball" sidesite="side"/><site site="b"/></spatial></tendon></mujoco>"""


def test_side_site_decides_the_wrap_as_in_mujoco():
    # a pendulum sweeps the tendon's end round the sphere: it wraps the near way, the far way
    # round the back, and runs straight, as the side site's place in the shadow of the segment
    # decides (MuJoCo 4.0's rules; 3.x's `mju_wrap` chose differently in a quarter of random
    # cases); the length jumps where the rule switches, so a wrong choice shows at once
    m, d, sim = mujoco_and_kinegrad(write_xml(SIDE, "side_rule"))
    d.qvel[:] = [6.0]
    worst, states = 0.0, set()
    for _ in range(1500):
        sim.set_state(d.qpos[None].copy(), d.qvel[None].copy())
        mujoco.mj_step(m, d)
        sim.step(1)
        states.add((int(d.ten_wrapnum[0]), round(float(d.ten_length[0]), 1)))
        worst = max(worst, np.abs(sim.get_qvel()[0] - d.qvel).max() / max(1.0, np.abs(d.qvel).max()))
    print(f"side rule: worst per-step relative qvel error {worst:.1e}; (wrap points, length) seen {sorted(states)}")
    assert {2, 4} <= {w for w, _ in states}
    assert worst < 1e-12


def wrapped_swing(v0, requires_grad):
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.002, requires_grad=requires_grad),
        rigid_options=gs.options.RigidOptions(tolerance=1e-14, enable_collision=False),
        show_viewer=False,
    )
    arm = scene.add_entity(gs.morphs.MJCF(file=str(WRAP)))
    scene.build()
    arm.set_dofs_velocity(v0)
    for _ in range(100):
        scene.step()
    q = arm.get_dofs_position()
    return q[0] + 2.0 * q[1] - q[2]


def test_gradient_through_wrapping_tendons_matches_finite_differences():
    # the five wraps stay engaged over the 0.2 s
    check_gradient(wrapped_swing, torch.tensor([0.5, -0.3, 0.8], dtype=torch.float64), seed=6)
