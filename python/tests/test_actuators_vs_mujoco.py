"""PD actuators under implicitfast match MuJoCo: gear scaling and the Menagerie Franka."""

import mujoco
import numpy as np

from _assets import asset
from kinegrad import _native

GEARED = """
<mujoco>
  <option timestep="0.002" integrator="implicitfast"/>
  <worldbody>
    <body name="link">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="0.05"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
    </body>
  </worldbody>
  <actuator>
    <position name="pd" joint="hinge" kp="10" kv="1" gear="2"/>
  </actuator>
</mujoco>
"""


def rollout_pair(xml_path, q0, targets, seconds, dt, integrator):
    m = mujoco.MjModel.from_xml_path(str(xml_path))
    m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
    d = mujoco.MjData(m)
    d.qpos[:] = q0
    gear = m.actuator_gear[:, 0]
    d.ctrl[:] = gear * targets[m.actuator_trnid[:, 0]]  # actuator length = gear * q
    b = _native.SceneBuilder(timestep=dt, integrator=integrator, enable_collision=False)
    b.add_mjcf(str(xml_path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    sim.set_state(q0[None], np.zeros((1, sim.nv)))
    sim.set_control(np.ones((1, sim.nv), dtype=np.int8), targets[None])
    n = int(round(seconds / dt))
    mujoco.mj_step(m, d, nstep=n)
    sim.step(n)
    return sim.get_qpos()[0], d.qpos.copy(), sim.get_qvel()[0], d.qvel.copy()


def test_position_actuator_with_gear_matches_mujoco(tmp_path):
    f = tmp_path / "geared.xml"
    f.write_text(GEARED)
    q, q_ref, v, v_ref = rollout_pair(f, np.array([0.0]), np.array([0.5]), 0.4, 0.002, "implicitfast")
    np.testing.assert_allclose(q, q_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=1e-9)


def test_franka_menagerie_pd_matches_mujoco_implicitfast():
    path = asset("genesis", "xml", "franka_emika_panda", "panda_no_tendon.xml")
    home = np.array([0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853, 0.04, 0.04])
    target = home + np.array([0.3, -0.2, 0.1, 0.4, -0.3, 0.2, 0.5, -0.01, -0.01])
    q, q_ref, v, v_ref = rollout_pair(path, home, target, 1.0, 0.002, "implicitfast")
    np.testing.assert_allclose(q, q_ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=1e-8 * max(1.0, np.abs(v_ref).max()))
