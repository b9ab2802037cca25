"""Torsional and rolling friction (issue 19): MuJoCo's `condim` 4 (sliding and torsion about
the normal) and 6 (and rolling about the tangents), under the pyramidal and the elliptic cone.
Per-step re-synced trajectories against MuJoCo with converged solves, the dm_control quadruped
(whose ball has condim 6), and a gradient through rolling friction against finite
differences."""

import numpy as np
import pytest
import torch

import kinegrad as gs

from _assets import asset
from _mujoco_pair import check_gradient, mujoco_and_kinegrad, qpos_gap, resynced, write_xml

SCENE = """<mujoco><option timestep="0.002" cone="{cone}" impratio="{impratio}"/><worldbody>
  <geom name="floor" type="plane" size="5 5 .1" friction="0.5 0.02 0.01"/>
  <body pos="0 0 0.1"><freejoint/><geom type="sphere" size="0.1" condim="6" friction="0.8 0.01 0.005"/></body>
  <body pos="0.5 0 0.05"><freejoint/><geom type="box" size="0.1 0.08 0.05" condim="4" friction="0.6 0.03 0"/></body>
  <body pos="-0.5 0.3 0.2" euler="10 80 0"><freejoint/><geom type="capsule" size="0.05 0.15" condim="6"/></body>
  <body pos="0.2 -0.5 0.3" euler="30 20 10"><freejoint/><geom type="cylinder" size="0.08 0.1" condim="4"/></body>
</worldbody></mujoco>"""

# the sphere rolling and spinning, the box sliding and twisting, the capsule and the cylinder
# dropped spinning
QVEL0 = [1.0, 0.5, 0, 0, 0, 3.0] + [0.5, 0.2, 0, 0, 0, 8.0] + [0, 0.3, 0, 2.0, 0, 1.0] + [0.5, 0, 0, 0, 3.0, 5.0]


@pytest.mark.parametrize("cone", ["pyramidal", "elliptic"])
@pytest.mark.parametrize("impratio", [1.0, 10.0])
def test_torsion_and_rolling_contacts_step_as_in_mujoco(cone, impratio):
    m, d, sim = mujoco_and_kinegrad(write_xml(SCENE.format(cone=cone, impratio=impratio), f"condim_{cone}_{impratio:g}"))
    # MuJoCo's elliptic solve can stop early at tolerance 1e-14 (see test_elliptic_cone_vs_mujoco)
    m.opt.tolerance, m.opt.iterations = 0.0, 30
    d.qvel[:] = QVEL0
    errors, contacts = resynced(m, d, sim, 500)
    worst = errors.max()
    print(f"{cone}, impratio {impratio}: worst per-step relative qvel error {worst:.1e} over {contacts} contacts")
    assert contacts > 1000
    assert worst < 1e-10
    # the torsion stopped the box's twist (8 rad/s)
    assert abs(d.qvel[11]) < 1e-3


def test_quadruped_with_its_condim_6_ball_matches_mujoco():
    m, d, sim = mujoco_and_kinegrad(asset("dm_control", "suite", "quadruped.xml"))
    worst, contacts = qpos_gap(m, d, sim, 200)
    print(f"quadruped.xml: largest qpos gap {worst:.1e} over {contacts} contacts")
    assert contacts > 200
    assert worst < 1e-9


BALL = """<mujoco><worldbody>
  <geom name="floor" type="plane" size="5 5 .1" friction="0.7 0.02 0.01"/>
  <body name="ball" pos="0 0 0.1"><freejoint/>
    <geom type="sphere" size="0.1" condim="6" friction="0.5 0.01 0.005"/></body>
</worldbody></mujoco>"""


def rolling_ball(v0, requires_grad):
    """A ball launched rolling and spinning with velocity v0 (6) under condim 6, the cone
    elliptic: a weighted sum of its final position and orientation."""
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.005, requires_grad=requires_grad),
        rigid_options=gs.options.RigidOptions(cone="elliptic", tolerance=1e-14),
        show_viewer=False,
    )
    ball = scene.add_entity(gs.morphs.MJCF(file=write_xml(BALL, "condim_ball")))
    scene.build()
    ball.set_dofs_velocity(v0)
    for _ in range(150):
        scene.step()
    link = ball.get_link("ball")
    return (link.get_pos() * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum() + link.get_quat()[1:].sum()


def test_rolling_ball_gradient_through_rolling_friction_matches_finite_differences():
    check_gradient(rolling_ball, torch.tensor([1.0, 0.3, 0.0, -3.0, 10.0, 4.0], dtype=torch.float64), seed=11)
