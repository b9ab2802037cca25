"""Ball joint limits (issue 19) as MuJoCo makes them: one row on the angle of the shortest
rotation (`mju_quat2Vel` of the joint's quaternion), distance `max(range) - angle`, Jacobian
minus the rotation axis over the joint's three dofs, weighted by the joint's mean inverse
inertia. A pendulum swinging into a 30 degree cone, Genesis's `three_joint_link.xml` as
written (a limited ball joint without a range: held at its reference orientation), and the
gradient of a swing against the cone against finite differences."""

import mujoco
import numpy as np
import torch

import kinegrad as gs

from _assets import asset
from _mujoco_pair import check_gradient, mujoco_and_kinegrad, write_xml

CONE = """<mujoco><compiler angle="degree"/><option timestep="0.002" integrator="{integrator}"/><worldbody>
  <body name="bob" pos="0 0 1"><joint name="ball" type="ball" range="0 30" damping="0.05"/>
    <geom type="capsule" fromto="0 0 0 0.1 0.05 -0.5" size="0.03"/>
    <geom type="sphere" pos="0.1 0.05 -0.5" size="0.06"/></body>
</worldbody></mujoco>"""


def test_pendulum_swinging_into_a_cone_limit_as_in_mujoco():
    for integrator, kg in [("Euler", "euler"), ("implicitfast", "implicitfast")]:
        m, d, sim = mujoco_and_kinegrad(write_xml(CONE.format(integrator=integrator), f"ball_{integrator}"), kg)
        v = np.array([2.0, -3.0, 1.0])
        sim.set_state(m.qpos0[None], v[None])
        d.qvel[:] = v
        limited = 0
        for _ in range(250):
            mujoco.mj_step(m, d)
            sim.step(1)
            limited += d.nefc
        assert limited > 20, "the swing reaches the cone"
        np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-9)
        np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-8)
        # the angle stays near the cone (30 degrees, soft)
        angle = 2 * np.arccos(min(1.0, abs(d.qpos[0])))
        assert angle < np.radians(33)


def test_three_joint_link_as_written_matches_mujoco():
    path = asset("genesis", "xml", "three_joint_link.xml")
    m, d, sim = mujoco_and_kinegrad(path, "euler")
    sim.set_state(m.qpos0[None].copy(), np.zeros((1, m.nv)))
    for _ in range(200):
        mujoco.mj_step(m, d)
        sim.step(1)
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-8)


def swing(v0, requires_grad):
    path = write_xml(CONE.format(integrator="implicitfast"), "ball_grad")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.002, requires_grad=requires_grad), show_viewer=False)
    bob = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    bob.set_dofs_velocity(v0)
    for _ in range(150):
        scene.step()
    link = bob.get_link("bob")
    return link.get_quat()[1:].sum() + (bob.get_dofs_velocity() ** 2).sum()


def test_gradient_of_a_swing_against_the_cone_matches_finite_differences():
    check_gradient(swing, torch.tensor([2.0, -3.0, 1.0], dtype=torch.float64), seed=2)
