"""Ellipsoid geoms (issue 19): mass and inertia as MuJoCo computes them, the plane contact of
`mjc_PlaneConvex` (the support point along minus the normal), contacts with the other
primitives through GJK/EPA, the pair ordered as MuJoCo orders it (the geom of lower `mjtGeom`
first), and gradients through a rolling ellipsoid against finite differences."""

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs

from _mujoco_pair import check_gradient, mujoco_and_kinegrad, write_xml

ROLLING = """<mujoco><option timestep="0.002"/><worldbody>
  <geom name="floor" type="plane" size="5 5 .1"/>
  <body name="egg" pos="0 0 0.3" euler="20 30 10"><freejoint/>
    <geom type="ellipsoid" size="0.1 0.15 0.25" friction="0.6"/></body>
</worldbody></mujoco>"""


def models(xml, tag, **mj_opt):
    return mujoco_and_kinegrad(write_xml(xml, f"ellipsoid_{tag}"), **mj_opt)


def test_ellipsoid_mass_and_inertia_as_mujoco():
    path = write_xml(ROLLING, "ellipsoid_mass")
    m = mujoco.MjModel.from_xml_path(path)
    scene = gs.Scene(show_viewer=False)
    egg = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    link = egg.get_link("egg")
    np.testing.assert_allclose(float(link.get_mass()), m.body_mass[1], rtol=1e-14)
    # MuJoCo's body_inertia is the principal inertia, here along the body axes
    np.testing.assert_allclose(np.diag(link.get_inertia().numpy()), m.body_inertia[1], rtol=1e-13)


def test_ellipsoid_tumbling_on_a_plane_as_in_mujoco():
    # thrown with a spin: it lands, rolls and slides on its curved surface for 1.2 s
    m, d, sim = models(ROLLING, "roll")
    v = np.zeros(m.nv)
    v[0], v[3:6] = 0.5, [2.0, -1.0, 3.0]
    sim.set_state(m.qpos0[None], v[None])
    d.qvel[:] = v
    touched = 0
    for _ in range(600):
        mujoco.mj_step(m, d)
        sim.step(1)
        assert len(sim.contacts(0)) == d.ncon
        touched += d.ncon
    assert touched > 300
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-9)


OTHERS = {
    "sphere": 'type="sphere" size="0.12"',
    "capsule": 'type="capsule" size="0.08 0.15"',
    "box": 'type="box" size="0.1 0.12 0.14"',
    "ellipsoid": 'type="ellipsoid" size="0.08 0.12 0.2"',
    "cylinder": 'type="cylinder" size="0.1 0.12"',
}


@pytest.mark.parametrize("other", sorted(OTHERS))
def test_ellipsoid_contacts_with_primitives_as_in_mujoco(other):
    # random overlapping poses; MuJoCo's GJK/EPA run to convergence (ccd_tolerance 1e-12, 1000
    # iterations: its defaults stop at 1e-6). The depth agrees to round-off; the normal of a
    # curved pair is found by both engines' EPA only to about the square root of the distance
    # tolerance (the depth is quadratic in the normal's error), hence 2e-5 on normals and points.
    rng = np.random.default_rng(7)
    compared = 0
    for t in range(12):
        q1, q2 = rng.normal(size=4), rng.normal(size=4)
        q1, q2 = q1 / np.linalg.norm(q1), q2 / np.linalg.norm(q2)
        off = rng.normal(size=3)
        off *= rng.uniform(0.2, 0.3) / np.linalg.norm(off)
        xml = f"""<mujoco><option timestep="0.002" gravity="0 0 0"/><worldbody>
  <body quat="{' '.join(map(str, q1))}"><freejoint/><geom type="ellipsoid" size="0.1 0.15 0.25"/></body>
  <body pos="{' '.join(map(str, off))}" quat="{' '.join(map(str, q2))}"><freejoint/><geom {OTHERS[other]}/></body>
</worldbody></mujoco>"""
        m, d, sim = models(xml, f"{other}{t}", ccd_tolerance=1e-12, ccd_iterations=1000)
        mujoco.mj_step(m, d)
        sim.step(1)
        cons = sim.contacts(0)
        assert len(cons) == d.ncon
        for c, k in zip(d.contact[: d.ncon], cons):
            assert (k["geom1"], k["geom2"]) == (c.geom1, c.geom2)
            assert abs(k["dist"] - c.dist) < 1e-9
            np.testing.assert_allclose(k["normal"], c.frame[:3], atol=2e-5)
            np.testing.assert_allclose(k["pos"], c.pos, atol=2e-5)
            compared += 1
    assert compared >= 6


def egg_rollout(v0, requires_grad):
    path = write_xml(ROLLING, "ellipsoid_grad")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.002, requires_grad=requires_grad), show_viewer=False)
    egg = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    egg.set_dofs_velocity(v0)
    for _ in range(250):
        scene.step()
    link = egg.get_link("egg")
    return (link.get_pos() * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum() + link.get_quat()[1:].sum()


def test_rolling_ellipsoid_gradient_matches_finite_differences():
    check_gradient(egg_rollout, torch.tensor([0.5, 0.0, 0.0, 2.0, -1.0, 3.0], dtype=torch.float64), seed=5)


def test_fromto_ellipsoid_and_box_sized_as_mujoco():
    # MuJoCo: size[0] across, half the points' distance along (size[1] = size[0])
    xml = """<mujoco><worldbody><body><freejoint/>
      <geom type="ellipsoid" fromto="0 0 0 0.1 0.2 0.3" size="0.05"/>
      <geom type="box" fromto="0 0 0 -0.2 0.1 0" size="0.03 0.5"/></body></worldbody></mujoco>"""
    path = write_xml(xml, "ellipsoid_fromto")
    m = mujoco.MjModel.from_xml_path(path)
    scene = gs.Scene(show_viewer=False)
    e = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    link = e.links[-1]
    np.testing.assert_allclose(float(link.get_mass()), m.body_mass[1], rtol=1e-13)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(link.get_inertia().numpy())), np.sort(m.body_inertia[1]), rtol=1e-12)
