"""Actuator activation dynamics (MuJoCo's dyntype: filter, filterexact, integrator, with
actrange and actearly) against MuJoCo, and gradients through the activation states across
autograd nodes (segments between readings, rollouts) against finite differences."""

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
from _assets import asset
from _mujoco_pair import check_gradient, mujoco_and_kinegrad, write_xml

# five actuators, one of each kind: a filtered motor (with a control range), a position servo
# with a time constant (exact filter) and gear 2, an integrated-velocity servo on a slide whose
# activation range clamps, a filtered motor with actearly, an integrator with an activation range
CHAIN = """<mujoco>
  <option timestep="0.002"/>
  <worldbody>
    <body name="a">
      <joint name="ja" type="hinge" axis="0 1 0" damping="0.05"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
      <body name="b" pos="0.3 0 0">
        <joint name="jb" type="hinge" axis="0 1 0" damping="0.02"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
        <body name="c" pos="0.3 0 0">
          <joint name="jc" type="slide" axis="1 0 0"/>
          <geom type="box" size="0.05 0.05 0.05" mass="0.5"/>
          <body name="d" pos="0.1 0 0">
            <joint name="jd" type="hinge" axis="0 0 1"/>
            <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.3"/>
            <body name="e" pos="0.2 0 0">
              <joint name="je" type="hinge" axis="0 1 0"/>
              <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.02" mass="0.3"/>
            </body>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
  <actuator>
    <general joint="ja" dyntype="filter" dynprm="0.03" gainprm="3" ctrlrange="-1 1"/>
    <position joint="jb" kp="20" kv="1" timeconst="0.05" gear="2"/>
    <intvelocity joint="jc" kp="100" kv="5" actrange="-0.1 0.15"/>
    <general joint="jd" dyntype="filter" dynprm="0.02" gainprm="0.5" actearly="true"/>
    <general joint="je" dyntype="integrator" gainprm="0.4" actlimited="true" actrange="-0.08 0.05"/>
  </actuator>
</mujoco>
"""
#: the channel target one unit of MuJoCo's ctrl (and act) stands for: a motor's gain, a servo's
#: 1 / gear
TARGET_PER_CTRL = np.array([3.0, 0.5, 1.0, 0.5, 0.4])


def controls(rng, nu, steps, hold=50):
    """Piecewise-constant random controls in [-1, 1] (steps, nu)."""
    c = rng.uniform(-1, 1, (steps // hold + 1, nu))
    return np.repeat(c, hold, axis=0)[:steps]


@pytest.mark.parametrize("integrator", ["euler", "implicitfast"])
def test_activation_dynamics_match_mujoco(integrator):
    path = write_xml(CHAIN, "activation_chain")
    m, d, sim = mujoco_and_kinegrad(path, integrator)
    assert sim.na == 5
    info = sim.describe()
    mode = np.zeros((1, info["nu"]), dtype=np.int8)
    for a in info["actuators"]:
        mode[0, a["dof"]] = a["mode"]
    dofs = [a["dof"] for a in info["actuators"]]
    ctrl = controls(np.random.default_rng(0), m.nu, 500)
    clamped = np.zeros(m.nu, dtype=bool)
    for k in range(500):
        d.ctrl[:] = ctrl[k]
        t = np.zeros((1, info["nu"]))
        t[0, dofs] = ctrl[k] * TARGET_PER_CTRL
        sim.set_control(mode, t)
        mujoco.mj_step(m, d)
        sim.step(1)
        np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-11)
        np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-10)
        np.testing.assert_allclose(sim.get_act()[0], d.act * TARGET_PER_CTRL, rtol=0, atol=1e-12)
        clamped |= np.isclose(d.act, m.actuator_actrange[:, 0]) | np.isclose(d.act, m.actuator_actrange[:, 1])
    # the two activation ranges were reached (their clamps are exercised)
    assert clamped[2] and clamped[4], clamped


def test_dm_quadruped_with_filtered_servos_matches_mujoco_as_written():
    # dm_control's quadruped: 12 position servos with filter activations (tau 0.1 s) on its yaw
    # joints and lift/extend tendons; switching controls, contacts off (its feet and ball meet
    # the floor through contacts that are issue 20's), the file's integrator
    m, d, sim = mujoco_and_kinegrad(asset("dm_control", "suite", "quadruped.xml"), disableflags=int(mujoco.mjtDisableBit.mjDSBL_CONTACT))
    info = sim.describe()
    assert sim.na == m.na == 12
    dofs = np.array([a["dof"] for a in info["actuators"]])
    mode = np.zeros((1, info["nu"]), dtype=np.int8)
    mode[0, dofs] = [a["mode"] for a in info["actuators"]]
    # MuJoCo's activations in kinegrad's order (by channel)
    order = [int(np.flatnonzero(dofs == ch)[0]) for ch in info["act_channel"]]
    ctrl = controls(np.random.default_rng(1), m.nu, 200, hold=20)
    for k in range(200):
        d.ctrl[:] = ctrl[k]
        t = np.zeros((1, info["nu"]))
        t[0, dofs] = ctrl[k]  # (gain = kp: the servo's setpoint is the control)
        sim.set_control(mode, t)
        mujoco.mj_step(m, d)
        sim.step(1)
        np.testing.assert_allclose(sim.get_act()[0], d.act[order], rtol=0, atol=1e-14)
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-10)
    assert np.abs(d.act).max() > 0.5  # the activations moved


def test_activation_lags_the_control_by_its_time_constant():
    # a filtered motor's activation after one time constant of a unit step: 1 - (1 - h/tau)^n
    path = write_xml(CHAIN, "activation_lag")
    _, _, sim = mujoco_and_kinegrad(path, "euler")
    t = np.zeros((1, sim.describe()["nu"]))
    t[0, 0] = 3.0  # ctrl 1 on the first actuator (gain 3)
    sim.set_control(np.zeros_like(t, dtype=np.int8), t)
    sim.step(15)  # 15 steps of 0.002 s = tau
    assert abs(sim.get_act()[0, 0] - 3.0 * (1 - (1 - 0.002 / 0.03) ** 15)) < 1e-14


def test_rk4_with_activations_is_refused_naming_the_actuator():
    path = write_xml(CHAIN, "activation_rk4")
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.002),
        rigid_options=gs.options.RigidOptions(integrator=gs.integrator.RK4),
        show_viewer=False,
    )
    scene.add_entity(gs.morphs.MJCF(file=path))
    with pytest.raises(gs.GenesisException, match="actuator 'actuator0'.*RK4"):
        scene.build()


def chain_scene(requires_grad):
    path = write_xml(CHAIN, "activation_grad")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.002, requires_grad=requires_grad), show_viewer=False)
    arm = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    return scene, arm


def swing_by_steps(x, requires_grad):
    """Controls `x` (2, 5) held 20 steps each, readings between (so the activations cross several
    autograd nodes), then 60 steps more: a weighted sum of the final joint positions and
    activations."""
    scene, arm = chain_scene(requires_grad)
    loss = 0.0
    for k in range(100):
        if k < 40:
            arm.control_dofs_force(x[k // 20, [0, 3, 4]], dofs_idx_local=[0, 3, 4])
            arm.control_dofs_position(x[k // 20, [1, 2]], dofs_idx_local=[1, 2])
        elif k == 40:
            arm.control_dofs_force(torch.zeros(3, dtype=torch.float64), dofs_idx_local=[0, 3, 4])
        scene.step()
        if k % 30 == 7:
            loss = loss + 0.1 * arm.get_dofs_velocity().sum()
    w = torch.tensor([1.0, -2.0, 3.0, 0.5, -1.5], dtype=torch.float64)
    return loss + (arm.get_dofs_position() * w).sum() + 0.3 * scene.get_state().act.sum()


def test_gradient_through_activations_across_segments_matches_finite_differences():
    x0 = torch.tensor([[0.8, 0.3, 0.05, -0.6, 0.9], [-0.5, -0.2, 0.12, 0.7, -0.4]], dtype=torch.float64)
    x = x0.clone().requires_grad_(True)
    swing_by_steps(x, True).backward()
    assert bool((x.grad != 0).all()), x.grad
    check_gradient(swing_by_steps, x0, seed=3, directions=4)


def swing_by_rollout(x, requires_grad):
    """Two rollouts of 50 steps (the second after a reading), controls `x` (50, 5) then zeros."""
    scene, arm = chain_scene(requires_grad)
    arm.control_dofs_position(torch.zeros(2, dtype=torch.float64), dofs_idx_local=[1, 2])
    q1, _ = scene.rollout(x, trajectory=False)
    q2, _ = scene.rollout(torch.zeros_like(x), trajectory=False)
    return (q1 * q1).sum() + (q2 * torch.tensor([1.0, -2.0, 3.0, 0.5, -1.5], dtype=torch.float64)).sum()


def test_gradient_through_activations_across_rollouts_matches_finite_differences():
    rng = np.random.default_rng(4)
    x0 = torch.from_numpy(np.repeat(rng.uniform(-0.5, 0.5, (5, 5)), 10, axis=0))
    check_gradient(swing_by_rollout, x0, seed=5, directions=4)


def test_state_round_trip_and_reset_restore_the_activations():
    scene, arm = chain_scene(False)
    arm.control_dofs_force(torch.tensor([2.0, 0.5, 0.3], dtype=torch.float64), dofs_idx_local=[0, 3, 4])
    for _ in range(10):
        scene.step()
    s = scene.get_state()
    assert s.act.shape == (5,) and bool((s.act[[0, 3, 4]] != 0).all())
    for _ in range(10):
        scene.step()
    q_a = arm.get_dofs_position().clone()
    scene.set_state(s)
    for _ in range(10):
        scene.step()
    assert torch.equal(arm.get_dofs_position(), q_a)  # the activations came back with the state
    scene.reset()
    assert bool((scene.get_state().act == 0).all())
