"""PD actuators under implicitfast match MuJoCo: gear scaling, control ranges and the Menagerie
Franka."""

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
from _assets import asset
from _mujoco_pair import check_gradient, write_xml
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


# Three actuators with control ranges, each driven past them: MuJoCo clamps `ctrl` to
# `ctrlrange`, kinegrad clamps the channel target to the range mapped into target units (a
# servo's setpoint is ctrl / gear, a motor's joint force gear ctrl, the scaled PD's (k / kp) ctrl).
CLAMPED = """
<mujoco>
  <option timestep="0.002" integrator="implicitfast"/>
  <worldbody>
    <body name="a">
      <joint name="ja" type="hinge" axis="0 1 0" damping="0.05"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
      <body name="b" pos="0.3 0 0">
        <joint name="jb" type="hinge" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
        <body name="c" pos="0.3 0 0">
          <joint name="jc" type="slide" axis="1 0 0"/>
          <geom type="box" size="0.05 0.05 0.05" mass="0.5"/>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <position joint="ja" kp="10" kv="1" gear="2" ctrlrange="-0.4 0.6"/>
    <motor joint="jb" gear="-3" ctrlrange="-0.2 0.1"/>
    <general joint="jc" biastype="affine" gainprm="0.5" biasprm="0 -50 -5" ctrlrange="0 2"/>
  </actuator>
</mujoco>
"""
# the channel target one unit of ctrl stands for, per actuator
TARGET_PER_CTRL = np.array([1 / 2, -3.0, 0.5 / 50])


def test_control_ranges_clamp_as_mujoco_clamps_ctrl(tmp_path):
    f = tmp_path / "clamped.xml"
    f.write_text(CLAMPED)
    m = mujoco.MjModel.from_xml_path(str(f))
    b = _native.SceneBuilder(timestep=0.002, integrator="implicitfast", enable_collision=False)
    b.add_mjcf(str(f), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    info = sim.describe()
    mode = np.array([[a["mode"] for a in info["actuators"]]], dtype=np.int8)
    ranges = np.array([a["target_range"] for a in info["actuators"]])
    np.testing.assert_allclose(ranges, [[-0.2, 0.3], [-0.3, 0.6], [0.0, 0.02]], rtol=1e-15)
    # past the upper bound, past the lower bound, past the upper bound; then all inside
    for targets in (np.array([0.5, -0.9, 0.03]), np.array([-0.7, 0.9, -0.01]), np.array([0.1, 0.2, 0.01])):
        d = mujoco.MjData(m)
        d.ctrl[:] = targets / TARGET_PER_CTRL  # MuJoCo clamps these
        sim.set_state(np.zeros((1, 3)), np.zeros((1, 3)))
        sim.set_control(mode, targets[None])
        mujoco.mj_step(m, d, nstep=250)
        sim.step(250)
        np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-10)
        np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-9)


def test_clampctrl_disabled_leaves_targets_unclamped(tmp_path):
    f = tmp_path / "unclamped.xml"
    f.write_text(CLAMPED.replace('integrator="implicitfast"/>', 'integrator="implicitfast"><flag clampctrl="disable"/></option>'))
    m = mujoco.MjModel.from_xml_path(str(f))
    b = _native.SceneBuilder(timestep=0.002, integrator="implicitfast", enable_collision=False)
    b.add_mjcf(str(f), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    mode = np.array([[a["mode"] for a in sim.describe()["actuators"]]], dtype=np.int8)
    targets = np.array([0.5, -0.9, 0.03])
    d = mujoco.MjData(m)
    d.ctrl[:] = targets / TARGET_PER_CTRL
    sim.set_control(mode, targets[None])
    mujoco.mj_step(m, d, nstep=250)
    sim.step(250)
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-10)


def test_a_servo_range_does_not_bound_the_torque_of_its_channel_in_force_mode(tmp_path):
    # a user who switches a position servo's channel to force control (Genesis's
    # control_dofs_force) commands a torque: the servo's setpoint range does not apply to it
    qs = []
    for xml in (CLAMPED, CLAMPED.replace(' ctrlrange="-0.4 0.6"', "")):
        f = tmp_path / "servo.xml"
        f.write_text(xml)
        b = _native.SceneBuilder(timestep=0.002, integrator="implicitfast", enable_collision=False)
        b.add_mjcf(str(f), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
        sim = b.build(1)
        sim.set_control(np.zeros((1, 3), dtype=np.int8), np.array([[5.0, 0.0, 0.0]]))
        sim.step(100)
        qs.append(sim.get_qpos()[0].copy())
    assert qs[0][0] > 0.5, "5 N m lifts the arm against gravity"
    np.testing.assert_array_equal(qs[0], qs[1])


def clamped_swing(x, requires_grad):
    """Final joint positions after 0.2 s under targets `x`: the first past its range."""
    path = write_xml(CLAMPED, "ctrl_range_grad")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.002, requires_grad=requires_grad), show_viewer=False)
    arm = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    for _ in range(100):
        arm.control_dofs_position(x[[0, 2]], dofs_idx_local=[0, 2])
        arm.control_dofs_force(x[1:2], dofs_idx_local=[1])
        scene.step()
    return (arm.get_dofs_position() * torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)).sum()


def test_gradient_through_clamped_and_free_targets_matches_finite_differences():
    x0 = torch.tensor([0.5, 0.05, 0.01], dtype=torch.float64)
    x = x0.clone().requires_grad_(True)
    clamped_swing(x, True).backward()
    assert x.grad[0] == 0.0 and x.grad[1] != 0.0 and x.grad[2] != 0.0, x.grad
    check_gradient(clamped_swing, x0, seed=5)


def test_inheritrange_takes_the_joint_range_as_mujoco(tmp_path):
    # MuJoCo's <position inheritrange>: the control range is the joint's range scaled about its
    # middle (here [-0.2, 0.6] by 0.5: [0, 0.4]), so a target of 0.9 holds at 0.4
    f = tmp_path / "inherit.xml"
    f.write_text(
        """<mujoco><compiler angle="radian"/><option timestep="0.002" integrator="implicitfast"/><worldbody>
  <body><joint name="j" type="hinge" axis="0 1 0" range="-0.2 0.6" damping="0.1"/>
    <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/></body>
</worldbody><actuator><position joint="j" kp="20" kv="1" inheritrange="0.5"/></actuator></mujoco>"""
    )
    m = mujoco.MjModel.from_xml_path(str(f))
    np.testing.assert_allclose(m.actuator_ctrlrange[0], [0.0, 0.4], atol=1e-15)
    b = _native.SceneBuilder(timestep=0.002, integrator="implicitfast", enable_collision=False)
    b.add_mjcf(str(f), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    np.testing.assert_allclose(sim.describe()["actuators"][0]["target_range"], [0.0, 0.4], atol=1e-15)
    d = mujoco.MjData(m)
    d.ctrl[:] = 0.9
    sim.set_control(np.ones((1, 1), dtype=np.int8), np.array([[0.9]]))
    mujoco.mj_step(m, d, nstep=500)
    sim.step(500)
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-10)


DAMPRATIO = """
<mujoco>
  <option timestep="0.002" integrator="{integrator}"/>
  <worldbody>
    <body name="a">
      <joint name="h1" type="hinge" axis="0 1 0" armature="0.02"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
      <body name="b" pos="0.3 0 0">
        <joint name="h2" type="hinge" axis="0 1 0" damping="0.01"/>
        <geom type="capsule" fromto="0 0 0 0.25 0 0.05" size="0.025" mass="0.6"/>
        <body name="c" pos="0.25 0 0.05">
          <joint name="s" type="slide" axis="1 0 0"/>
          <geom type="box" size="0.04 0.03 0.02" mass="0.3"/>
        </body>
      </body>
    </body>
  </worldbody>
  <tendon>
    <fixed name="t"><joint joint="h1" coef="1"/><joint joint="h2" coef="0.5"/></fixed>
  </tendon>
  <actuator>
    <position name="p1" joint="h1" kp="20" dampratio="0.7"/>
    <general name="ps" joint="s" gainprm="30" biastype="affine" biasprm="0 -30 0.8"/>
    <position name="pt" tendon="t" kp="15" dampratio="1" gear="2"/>
  </actuator>
</mujoco>
"""


@pytest.mark.parametrize("integrator", ["euler", "implicitfast"])
def test_dampratio_sets_kv_from_the_inertia_moved_as_mujoco(tmp_path, integrator):
    # MuJoCo 4.0 at compile time: kv = dampratio 2 sqrt(kp m), m = 1 / (gear^2 J M^-1 J^T) at qpos0
    # (J the dof's or the tendon's Jacobian); a general position-like actuator's positive
    # biasprm[2] is a dampratio
    f = tmp_path / "dampratio.xml"
    f.write_text(DAMPRATIO.format(integrator={"euler": "Euler"}.get(integrator, integrator)))
    m = mujoco.MjModel.from_xml_path(str(f))
    kv = -m.actuator_biasprm[:, 2]
    assert (kv > 0.1).all(), kv  # MuJoCo turned each dampratio into a damping
    b = _native.SceneBuilder(timestep=0.002, integrator=integrator, enable_collision=False)
    b.add_mjcf(str(f), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    gear = m.actuator_gear[:, 0]
    kinegrad_kv = sim.get_param("dof_kv")[0]
    np.testing.assert_allclose(kinegrad_kv[[0, 2]], kv[:2] * gear[:2] ** 2, rtol=1e-12)
    np.testing.assert_allclose(sim.get_param("tendon_kv")[0], kv[2:] * gear[2:] ** 2, rtol=1e-12)
    ctrl = np.array([0.6, 0.05, -0.4])
    d = mujoco.MjData(m)
    d.ctrl[:] = ctrl
    info = sim.describe()
    mode = np.zeros((1, info["nu"]), dtype=np.int8)
    target = np.zeros((1, info["nu"]))
    for a, c, g in zip(info["actuators"], ctrl, gear):
        mode[0, a["dof"]] = a["mode"]
        target[0, a["dof"]] = c / g  # a servo's setpoint is ctrl / gear
    sim.set_control(mode, target)
    for _ in range(300):
        mujoco.mj_step(m, d)
        sim.step(1)
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-9)
