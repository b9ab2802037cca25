"""Ball joint limits (issue 19) as MuJoCo makes them: one row on the angle of the shortest
rotation (`mju_quat2Vel` of the joint's quaternion), distance `max(range) - angle`, Jacobian
minus the rotation axis over the joint's three dofs, weighted by the joint's mean inverse
inertia. A pendulum swinging into a 30 degree cone, Genesis's `three_joint_link.xml` as
written (a limited ball joint without a range: held at its reference orientation), and the
gradient of a swing against the cone against finite differences."""

import os
import tempfile

import mujoco
import numpy as np
import torch

import kinegrad as gs
from kinegrad import _native

from _assets import asset

CONE = """<mujoco><compiler angle="degree"/><option timestep="0.002" integrator="{integrator}"/><worldbody>
  <body name="bob" pos="0 0 1"><joint name="ball" type="ball" range="0 30" damping="0.05"/>
    <geom type="capsule" fromto="0 0 0 0.1 0.05 -0.5" size="0.03"/>
    <geom type="sphere" pos="0.1 0.05 -0.5" size="0.06"/></body>
</worldbody></mujoco>"""


def write(xml, tag):
    path = os.path.join(tempfile.gettempdir(), f"kinegrad_ball_{os.getpid()}_{tag}.xml")
    with open(path, "w") as f:
        f.write(xml)
    return path


def pair(path, integrator):
    m = mujoco.MjModel.from_xml_path(str(path))
    m.opt.tolerance, m.opt.iterations, m.opt.ls_tolerance = 1e-14, 1000, 1e-12
    b = _native.SceneBuilder(
        timestep=float(m.opt.timestep), integrator=integrator, tolerance=1e-14, iterations=1000,
        gravity=list(m.opt.gravity),
    )
    b.add_mjcf(str(path), 1.0, [0, 0, 0], [1, 0, 0, 0])
    return m, mujoco.MjData(m), b.build(1)


def test_pendulum_swinging_into_a_cone_limit_as_in_mujoco():
    for integrator, kg in [("Euler", "euler"), ("implicitfast", "implicitfast")]:
        m, d, sim = pair(write(CONE.format(integrator=integrator), integrator), kg)
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
    m, d, sim = pair(path, "euler")
    sim.set_state(m.qpos0[None].copy(), np.zeros((1, m.nv)))
    for _ in range(200):
        mujoco.mj_step(m, d)
        sim.step(1)
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-8)


def swing(v0, requires_grad):
    path = write(CONE.format(integrator="implicitfast"), "grad")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.002, requires_grad=requires_grad), show_viewer=False)
    bob = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    bob.set_dofs_velocity(v0)
    for _ in range(150):
        scene.step()
    link = bob.get_link("bob")
    return link.get_quat()[1:].sum() + (bob.get_dofs_velocity() ** 2).sum()


def test_gradient_of_a_swing_against_the_cone_matches_finite_differences():
    v0 = torch.tensor([2.0, -3.0, 1.0], dtype=torch.float64)
    x = v0.clone().requires_grad_(True)
    swing(x, True).backward()
    gen = torch.Generator().manual_seed(2)
    for _ in range(3):
        d = torch.randn(3, generator=gen, dtype=torch.float64)
        an = float((x.grad * d).sum())
        eps = 1e-6
        with torch.no_grad():
            num = (float(swing(v0 + eps * d, False)) - float(swing(v0 - eps * d, False))) / (2 * eps)
        print(f"autograd {an:.10e} fd {num:.10e}")
        assert abs(an - num) <= 1e-5 * max(abs(num), 1e-3), (an, num)
