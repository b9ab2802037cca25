"""Contact behaviour against MuJoCo on the same MJCF scenes (same timestep, Euler, pyramidal cone)."""

import mujoco
import numpy as np

from kinegrad import _native

DT = 0.002

HEADER = f"""
<mujoco>
  <option timestep="{DT}" integrator="Euler" cone="pyramidal"/>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1" friction="{{mu}} 0.005 0.0001"/>
"""


def scene(bodies: str, mu: float = 1.0) -> str:
    return HEADER.format(mu=mu) + bodies + "\n  </worldbody>\n</mujoco>\n"


def run_mujoco(xml, seconds, qvel=None, settle=0.0):
    m = mujoco.MjModel.from_xml_string(xml)
    d = mujoco.MjData(m)
    for _ in range(int(round(settle / DT))):
        mujoco.mj_step(m, d)
    if qvel is not None:
        d.qvel[:] = qvel
    traj = []
    for _ in range(int(round(seconds / DT))):
        mujoco.mj_step(m, d)
        traj.append(d.qpos.copy())
    return np.array(traj)


def run_kinegrad(xml, tmp_path, seconds, qvel=None, settle=0.0):
    f = tmp_path / "scene.xml"
    f.write_text(xml)
    b = _native.SceneBuilder(timestep=DT, integrator="euler")
    b.add_mjcf(str(f), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    if settle:
        sim.step(int(round(settle / DT)))
    if qvel is not None:
        sim.set_state(sim.get_qpos(), np.asarray(qvel, dtype=float)[None, :])
    traj = []
    for _ in range(int(round(seconds / DT))):
        sim.step(1)
        traj.append(sim.get_qpos()[0].copy())
    return np.array(traj)


SPHERE = '<body pos="0 0 0.3"><freejoint/><geom type="sphere" size="0.1" mass="1"/></body>'
BOX = '<body pos="0 0 0.3"><freejoint/><geom type="box" size="0.1 0.15 0.05" mass="1"/></body>'


def test_sphere_rest_height(tmp_path):
    xml = scene(SPHERE)
    z_ref = run_mujoco(xml, 2.0)[-1, 2]
    z = run_kinegrad(xml, tmp_path, 2.0)[-1, 2]
    assert abs(z - 0.1) < 2e-3
    assert abs(z - z_ref) < 0.05 * 0.1, (z, z_ref)


def test_box_rest_height(tmp_path):
    xml = scene(BOX)
    z_ref = run_mujoco(xml, 2.0)[-1, 2]
    z = run_kinegrad(xml, tmp_path, 2.0)[-1, 2]
    assert abs(z - z_ref) < 0.05 * 0.05, (z, z_ref)


def test_box_slides_to_rest_like_mujoco(tmp_path):
    mu = 0.5
    # friction combines by max (MuJoCo): give the box the floor's coefficient
    body = f'<body pos="0 0 0.1"><freejoint/><geom type="box" size="0.1 0.1 0.1" mass="1" friction="{mu} 0.005 0.0001"/></body>'
    xml = scene(body, mu)
    v = [2.0, 0, 0, 0, 0, 0]
    x_ref = run_mujoco(xml, 1.5, qvel=v, settle=0.3)[:, 0]
    x = run_kinegrad(xml, tmp_path, 1.5, qvel=v, settle=0.3)[:, 0]
    d_ref = x_ref[-1] - x_ref[0]
    d = x[-1] - x[0]
    assert abs(d - d_ref) / d_ref < 0.05, (d, d_ref)
    # and both near Coulomb's v0^2 / (2 mu g)
    assert abs(d - 4.0 / (2 * mu * 9.81)) / d < 0.05


def test_rolling_sphere_like_mujoco(tmp_path):
    body = '<body pos="0 0 0.1"><freejoint/><geom type="sphere" size="0.1" mass="1"/></body>'
    xml = scene(body, 0.8)
    v = [1.0, 0, 0, 0, 0, 0]
    x_ref = run_mujoco(xml, 1.0, qvel=v, settle=0.2)[:, 0]
    x = run_kinegrad(xml, tmp_path, 1.0, qvel=v, settle=0.2)[:, 0]
    d_ref = x_ref[-1] - x_ref[0]
    d = x[-1] - x[0]
    assert abs(d - d_ref) / d_ref < 0.05, (d, d_ref)
    # rolling without slipping settles at 5/7 of the initial speed
    speed = (x[-1] - x[-51]) / (50 * DT)
    assert abs(speed - 5.0 / 7.0) < 0.03, speed


def test_stack_of_three_boxes_stays_stacked_for_5s(tmp_path):
    boxes = "\n".join(
        f'<body pos="0 0 {0.1 + 0.2 * k + 0.001:.3f}"><freejoint/><geom type="box" size="0.1 0.1 0.1" mass="1"/></body>'
        for k in range(3)
    )
    xml = scene(boxes)
    q_ref = run_mujoco(xml, 5.0)[-1]
    q = run_kinegrad(xml, tmp_path, 5.0)[-1]
    for k in range(3):
        pos, pos_ref = q[7 * k : 7 * k + 3], q_ref[7 * k : 7 * k + 3]
        assert np.abs(pos[:2]).max() < 1e-3, (k, pos)
        assert abs(pos[2] - (0.1 + 0.2 * k)) < 5e-3, (k, pos)
        assert abs(pos[2] - pos_ref[2]) < 0.05 * 0.1, (k, pos, pos_ref)
