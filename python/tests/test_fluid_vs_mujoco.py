"""Fluid forces (issue 19): MuJoCo's inertia-box model (`<option density viscosity wind>`), each
body's box from its mass and principal moments in its inertial frame as MuJoCo's compiler sets
it, against MuJoCo on the registries' swimmers and fish as written and on a body in a wind;
gradients in the medium's density, viscosity and wind against finite differences."""

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs

from _assets import asset
from _mujoco_pair import check_gradient, mujoco_and_kinegrad, write_xml


@pytest.mark.parametrize(
    "parts, integrator, speed",
    [
        (("gymnasium", "swimmer.xml"), "rk4", 1.0),  # density 4000, viscosity 0.1
        (("dm_control", "suite", "swimmer.xml"), "euler", 1.0),  # density 3000
        (("dm_control", "suite", "fish.xml"), "euler", 0.05),  # density 5000, no gravity
    ],
)
def test_swimming_bodies_as_written_match_mujoco(parts, integrator, speed):
    m, d, sim = mujoco_and_kinegrad(asset(*parts), integrator)
    assert m.opt.density > 0
    v = np.random.default_rng(0).normal(size=m.nv) * speed
    sim.set_state(m.qpos0[None], v[None])
    d.qvel[:] = v
    for _ in range(300):
        mujoco.mj_step(m, d)
        sim.step(1)
    moved = np.abs(d.qpos - m.qpos0).max()
    assert moved > 1e-3, "the bodies move through the medium"
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-10 * max(1.0, moved))
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-9)


WIND = """<mujoco><option timestep="0.002" density="1.2" viscosity="0.002" wind="3 -1 0.5"/><worldbody>
  <body name="kite" pos="0 0 1"><freejoint/>
    <geom type="box" size="0.3 0.02 0.2" mass="0.2"/>
    <body pos="0.3 0 0.2"><joint type="hinge" axis="0 1 0" damping="0.01"/>
      <geom type="capsule" fromto="0 0 0 0.4 0.1 0" size="0.02"/></body></body>
  <body name="ball" pos="1 0 1"><freejoint/><geom type="sphere" size="0.1" mass="0.05"/></body>
</worldbody></mujoco>"""


def test_bodies_in_a_wind_match_mujoco():
    m, d, sim = mujoco_and_kinegrad(write_xml(WIND, "fluid_wind"), "euler")
    for _ in range(500):
        mujoco.mj_step(m, d)
        sim.step(1)
    # the wind carries the light ball along +x while it falls
    assert d.qpos[m.jnt_qposadr[2]] > 1.05
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-9)


def kite_flight(medium, requires_grad):
    """Where the kite is after 0.3 s in a medium (density, viscosity, wind x, y, z)."""
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.002, requires_grad=requires_grad), show_viewer=False)
    kite = scene.add_entity(gs.morphs.MJCF(file=write_xml(WIND, "fluid_grad")))
    scene.build()
    solver = scene.sim.rigid_solver
    solver.set_param("fluid_density", medium[0:1])
    solver.set_param("fluid_viscosity", medium[1:2])
    solver.set_param("wind", medium[2:5])
    for _ in range(150):
        scene.step()
    link = kite.get_link("kite")
    return (link.get_pos() * torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)).sum() + link.get_quat()[1:].sum()


def test_gradient_in_density_viscosity_and_wind_matches_finite_differences():
    medium = torch.tensor([1.2, 0.002, 3.0, -1.0, 0.5], dtype=torch.float64)
    check_gradient(kite_flight, medium, seed=4, eps=1e-7)


def test_what_is_not_modelled_is_named():
    ell = write_xml(
        """<mujoco><option density="1000"/><worldbody><body><freejoint/>
        <geom type="ellipsoid" size="0.1 0.2 0.3" fluidshape="ellipsoid"/></body></worldbody></mujoco>""",
        "fluid_shape",
    )
    scene = gs.Scene(rigid_options=gs.options.RigidOptions(integrator=gs.integrator.implicitfast), show_viewer=False)
    with pytest.warns(UserWarning) as record:
        scene.add_entity(gs.morphs.MJCF(file=ell))
        scene.build()
    text = " ".join(str(w.message) for w in record)
    assert "fluidshape='ellipsoid'" in text and "inertia-box" in text
    assert "integrated explicitly under implicitfast" in text
