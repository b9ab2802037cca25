"""Contact frames as MuJoCo makes them (issue 20): the first tangent projects y (z when the
normal is near y) as `mju_makeFrame` does, and a capsule lying on a plane takes its axis as
the tangent (`mjc_PlaneCapsule`), its +axis end listed first. With pyramidal cones a frame
turned about the normal changes the forces of a sliding contact whose pyramid edges go
inactive: one step of a tilted sphere-sphere slide, a capsule sliding on a plane at 30 degrees
of yaw, compared with MuJoCo after the same step and over 200 steps."""

import mujoco
import numpy as np
import pytest

from _mujoco_pair import mujoco_and_kinegrad, write_xml

SPHERES = """<mujoco><option timestep="0.002" gravity="0 0 0"/><worldbody>
  <body name="a"><freejoint/><geom type="sphere" size="0.1" friction="0.5"/></body>
  <body name="b" pos="0.05 0.07 0.15"><freejoint/><geom type="sphere" size="0.1" friction="0.5"/></body>
</worldbody></mujoco>"""

CAPSULE = """<mujoco><option timestep="0.002"/><worldbody>
  <geom name="floor" type="plane" size="5 5 .1"/>
  <body name="c" pos="0 0 0.049" zaxis="0.866 0.5 0"><freejoint/><geom type="capsule" size="0.05 0.2" friction="0.5"/></body>
</worldbody></mujoco>"""


def models(xml):
    return mujoco_and_kinegrad(write_xml(xml, f"frames_{hash(xml) & 0xffff}"))


@pytest.mark.parametrize("slide", [[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0]])
def test_tilted_sphere_contact_slides_as_in_mujoco(slide):
    m, d, sim = models(SPHERES)
    n = np.array([0.05, 0.07, 0.15])
    n /= np.linalg.norm(n)
    t = np.array(slide) - n * n.dot(slide)
    t /= np.linalg.norm(t)
    v = np.zeros(m.nv)
    v[6:9] = -0.5 * n + 5 * t
    sim.set_state(m.qpos0[None], v[None])
    d.qpos[:], d.qvel[:] = m.qpos0, v
    mujoco.mj_step(m, d)
    sim.step(1)
    assert d.ncon == 1
    np.testing.assert_allclose(d.contact[0].frame.reshape(3, 3)[0], sim.contacts(0)[0]["normal"], atol=1e-14)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-11)


def test_capsule_sliding_on_a_plane_as_in_mujoco():
    m, d, sim = models(CAPSULE)
    v = np.zeros(m.nv)
    v[0], v[1] = 1.0, 0.3
    sim.set_state(m.qpos0[None], v[None])
    d.qpos[:], d.qvel[:] = m.qpos0, v
    mujoco.mj_step(m, d)
    sim.step(1)
    cons = sim.contacts(0)
    assert d.ncon == 2 == len(cons)
    for i in range(2):  # the +axis end first
        np.testing.assert_allclose(cons[i]["pos"], d.contact[i].pos, atol=1e-14)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-11)
    # and over 200 steps, the capsule sliding to rest without spinning about its axis
    for _ in range(200):
        mujoco.mj_step(m, d)
        sim.step(1)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-8)
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-8)


MIXING = """<mujoco><option timestep="0.002"/><worldbody>
  <geom name="floor" type="plane" size="5 5 .1" friction="1" solref="0.03 0.8"/>
  <body name="slider" pos="0 0 0.05"><freejoint/>
    <geom type="box" size="0.05 0.05 0.05" friction="0.3" priority="1"/></body>
  <body name="mixed" pos="0.5 0 0.05"><freejoint/>
    <geom type="sphere" size="0.05" solmix="3" solref="0.01 1" solimp="0.8 0.9 0.002 0.5 2"/></body>
  <body name="direct" pos="-0.5 0 0.05"><freejoint/>
    <geom type="box" size="0.05 0.05 0.05" solref="-5000 -60"/></body>
</worldbody></mujoco>"""


def test_contact_parameters_mix_as_in_mujoco():
    # priority (the slider's friction 0.3 wins over the floor's 1), solmix (3:1 weights of
    # solref and solimp) and a direct-format solref (the smaller of each entry): sliding and
    # settling for 0.5 s, against MuJoCo
    m, d, sim = models(MIXING)
    v = np.zeros(m.nv)
    v[0], v[6], v[12] = 1.5, 1.0, -1.0
    sim.set_state(m.qpos0[None], v[None])
    d.qpos[:], d.qvel[:] = m.qpos0, v
    for _ in range(250):
        mujoco.mj_step(m, d)
        sim.step(1)
    assert d.qpos[0] > 0.2, "the slider slides on its own low friction"
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-8)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-8)


SLIDERS = """<mujoco><option timestep="0.005"/><default><geom solimp=".9 .99 .003" solref=".01 1"/></default>
<worldbody><geom type="plane" size="5 5 .1"/>
  <body pos="0 0 0.1"><joint type="slide" axis="0 0 1" damping="30"/><joint type="slide" axis="1 0 0" damping="30"/>
    <geom type="sphere" size=".08" friction="1.5"/></body>
  <body pos="0.5 0 0.3"><joint type="ball" damping="0.1"/>
    <geom type="capsule" fromto="0 0 0 0.2 0.1 -0.25" size="0.04"/></body>
  <body pos="-0.8 0 0.1"><joint type="slide" axis="0 0 1"/>
    <geom type="box" size="0.2 0.05 0.05" pos="0.1 0 0"/><geom type="box" size="0.2 0.05 0.05" pos="-0.1 0 0"/></body>
</worldbody></mujoco>"""


def test_contact_weights_of_slider_bodies_and_ball_joints_as_in_mujoco():
    # MuJoCo weighs a body of axis-aligned sliders only by 1/mass (its "simple" body) and gives
    # a ball joint's three dofs the mean of their inverse inertias: both set the contacts'
    # regularizer R, so the resting force and every contact step depend on them. The third
    # body, two boxes whose moments are not in MuJoCo's decreasing order, gets a turned
    # inertial frame from MuJoCo's compiler and so is not simple.
    m, d, sim = models(SLIDERS)
    v = np.zeros(m.nv)
    v[1], v[2:5] = 0.3, [1.0, -2.0, 0.5]
    sim.set_state(m.qpos0[None], v[None])
    d.qvel[:] = v
    contacts = 0
    for _ in range(300):
        mujoco.mj_step(m, d)
        sim.step(1)
        contacts += d.ncon
    assert contacts > 300
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-8)
