import math

import pytest
import torch

import kinegrad as gs

from conftest import FRANKA_KP, FRANKA_KV, franka_urdf


def box_scene(n_envs=0, fixed=False):
    scene = gs.Scene()
    box = scene.add_entity(gs.morphs.Box(pos=(0.0, 0.0, 1.0), size=(0.2, 0.3, 0.4), fixed=fixed), material=gs.materials.Rigid(rho=500.0))
    scene.build(n_envs=n_envs)
    return scene, box


def franka_scene(n_envs=0):
    path = franka_urdf()
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01))
    scene.add_entity(gs.morphs.Plane())
    robot = scene.add_entity(gs.morphs.URDF(file=path, fixed=True))
    scene.build(n_envs=n_envs)
    return scene, robot


def test_entity_structure_before_and_after_build():
    scene = gs.Scene()
    box = scene.add_entity(gs.morphs.Box(size=(1, 1, 1)))
    # the structure is known before the build (as in Genesis); the state is not
    assert (box.n_dofs, box.n_qs, box.n_links) == (6, 7, 1)
    with pytest.raises(RuntimeError, match="build"):
        box.get_pos()
    scene.build()
    assert (box.n_dofs, box.n_qs, box.n_links) == (6, 7, 1)
    (joint,) = box.joints
    assert joint.type == gs.JOINT_TYPE.FREE
    assert joint.dofs_idx_local == list(range(6)) and joint.qs_idx_local == list(range(7))
    assert box.links[0].idx == 0 and box.links[0].idx_local == 0
    assert box.get_link(box.links[0].name) is not None


def test_primitive_mass_from_density():
    scene, box = box_scene()
    assert box.get_mass() == pytest.approx(500.0 * 0.2 * 0.3 * 0.4)


def test_fixed_box_has_no_dofs_and_refuses_set_pos():
    scene, box = box_scene(fixed=True)
    assert box.n_dofs == 0 and box.n_qs == 0
    with pytest.raises(ValueError, match="set_pos"):
        box.set_pos([0.0, 0.0, 2.0])


def test_set_pos_and_quat_write_the_free_joint():
    scene, box = box_scene()
    box.set_dofs_velocity([1, 2, 3, 4, 5, 6])
    box.set_pos([1.0, 2.0, 3.0])
    box.set_quat([0.0, 0.0, 0.0, 2.0])
    q = box.get_qpos()
    assert q.tolist() == [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 1.0]
    assert float(box.get_dofs_velocity().abs().max()) == 0.0


def test_free_joint_dofs_position_uses_xyz_euler_radians():
    scene, box = box_scene()
    box.set_dofs_position([0.1, 0.2, 0.3, 0.4, -0.2, 1.0])
    assert torch.allclose(box.get_dofs_position(), torch.tensor([0.1, 0.2, 0.3, 0.4, -0.2, 1.0], dtype=torch.float64), atol=1e-12)
    quat = box.get_qpos()[3:]
    assert float(quat.norm()) == pytest.approx(1.0)
    # a partial write keeps the other rotational dofs
    box.set_dofs_position([0.5], dofs_idx_local=[5])
    assert torch.allclose(box.get_dofs_position()[3:], torch.tensor([0.4, -0.2, 0.5], dtype=torch.float64), atol=1e-12)


def test_batched_inputs_broadcast_and_select_envs():
    scene, box = box_scene(n_envs=3)
    box.set_dofs_position([0.0, 0.0, 2.0], dofs_idx_local=[0, 1, 2])
    assert box.get_dofs_position()[:, 2].tolist() == [2.0, 2.0, 2.0]
    box.set_dofs_position(torch.tensor([[5.0], [7.0]]), dofs_idx_local=[2], envs_idx=[0, 2])
    assert box.get_dofs_position()[:, 2].tolist() == [5.0, 2.0, 7.0]
    assert box.get_qpos(envs_idx=[1]).shape == (1, 7)


def test_readings_are_copies():
    scene, box = box_scene()
    q = box.get_qpos()
    q[0] = 123.0
    assert float(box.get_qpos()[0]) == 0.0


def test_kp_kv_force_range_and_friction_round_trip():
    scene, box = box_scene(n_envs=2)
    box.set_dofs_kp([10.0, 20.0], dofs_idx_local=[0, 1])
    assert box.get_dofs_kp(dofs_idx_local=[0, 1]).tolist() == [[10.0, 20.0], [10.0, 20.0]]
    box.set_dofs_kv(torch.tensor([[1.0], [2.0]]), dofs_idx_local=[2])
    assert box.get_dofs_kv(dofs_idx_local=[2]).tolist() == [[1.0], [2.0]]
    box.set_dofs_force_range([-1.0] * 6, [1.0] * 6)
    lo, hi = box.get_dofs_force_range()
    assert lo.tolist() == [[-1.0] * 6] * 2 and hi.tolist() == [[1.0] * 6] * 2
    box.set_friction(0.3)
    assert scene.sim.rigid_solver.get_param("geom_friction")[:, 0, 0].tolist() == [0.3, 0.3]


def test_franka_structure_and_dofs_position_matches_qpos():
    scene, robot = franka_scene()
    assert robot.n_dofs == 9 and robot.n_qs == 9
    j4 = robot.get_joint("panda_joint4")
    assert j4.type == gs.JOINT_TYPE.REVOLUTE
    assert robot.get_joint("panda_finger_joint1").type == gs.JOINT_TYPE.PRISMATIC
    robot.set_dofs_position(torch.linspace(-0.5, 0.5, 9) * torch.tensor([1.0] * 7 + [0.05] * 2))
    assert torch.equal(robot.get_dofs_position(), robot.get_qpos())
    qpos_all = scene.sim.rigid_solver.get_qpos()
    assert torch.equal(robot.get_qpos(), qpos_all[robot.q_start : robot.q_end])
    assert torch.equal(robot.get_dofs_position([j4.dof_idx_local]), robot.get_qpos([j4.q_idx_local]))


def test_franka_pd_control_converges_to_targets():
    scene, robot = franka_scene()
    robot.set_dofs_kp(FRANKA_KP)
    robot.set_dofs_kv(FRANKA_KV)
    target = torch.tensor([0.0, -0.5, 0.0, -2.0, 0.0, 1.5, 0.8, 0.02, 0.02], dtype=torch.float64)
    robot.control_dofs_position(target)
    for _ in range(300):
        scene.step()
    q = robot.get_dofs_position()
    assert torch.allclose(q[:7], target[:7], atol=2e-2), (q, target)
    assert torch.allclose(q[7:], target[7:], atol=1e-2)
    assert float(robot.get_dofs_velocity().abs().max()) < 1e-2
    hand = robot.get_link("panda_hand")
    assert hand.get_pos().shape == (3,) and float(hand.get_pos()[2]) > 0.1


def test_control_force_moves_a_free_box():
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01, gravity=(0.0, 0.0, 0.0)))
    box = scene.add_entity(gs.morphs.Box(size=(1.0, 1.0, 1.0)), material=gs.materials.Rigid(rho=2.0))
    scene.build()
    box.control_dofs_force([4.0], dofs_idx_local=[0])
    for _ in range(100):
        scene.step()
    # a = F / m = 2 m/s^2 for 1 s
    assert float(box.get_dofs_velocity()[0]) == pytest.approx(2.0, rel=1e-9)
    assert float(box.get_pos()[0]) == pytest.approx(1.0, abs=2 * 0.01)
    assert math.isfinite(float(box.get_ang().norm()))


def test_setting_base_translation_keeps_the_quaternion_exactly():
    scene = gs.Scene()
    box = scene.add_entity(gs.morphs.Box(size=(0.1, 0.1, 0.1), pos=(0, 0, 1)))
    scene.build()
    # pitch of exactly 90 degrees: the Euler round trip is lossy there
    quat = torch.tensor([0.5**0.5, 0.0, 0.5**0.5, 0.0], dtype=torch.float64)
    box.set_quat(quat)
    box.set_dofs_position(torch.tensor([0.3, -0.2, 0.7], dtype=torch.float64), [0, 1, 2])
    assert torch.equal(box.get_quat(), quat)
    assert torch.equal(box.get_pos(), torch.tensor([0.3, -0.2, 0.7], dtype=torch.float64))


def test_joint_layout_comes_from_the_model_joint_table(tmp_path):
    # slide -> ball: sizes and the quaternion block come from describe(), not from names
    f = tmp_path / "slide_ball.xml"
    f.write_text(
        '<mujoco><worldbody><body name="a" pos="0 0 1"><joint name="s" type="slide" axis="1 0 0"/>'
        '<geom type="sphere" size="0.1"/><body name="b" pos="0 0 -0.3"><joint name="ball" type="ball"/>'
        '<geom type="capsule" size="0.05 0.1"/></body></body></worldbody></mujoco>'
    )
    scene = gs.Scene()
    robot = scene.add_entity(gs.morphs.MJCF(file=str(f)))
    scene.build()
    desc = scene.sim.rigid_solver._desc
    assert (desc["jnt_type"], desc["jnt_nq"], desc["jnt_nv"], desc["jnt_quat_offset"]) == (["slide", "ball"], [1, 4], [1, 3], [-1, 0])
    assert [(j.n_qs, j.n_dofs) for j in robot.joints] == [(1, 1), (4, 3)]
    robot.set_dofs_position([0.25, 0.3, -0.2, 0.5])
    assert torch.allclose(robot.get_dofs_position(), torch.tensor([0.25, 0.3, -0.2, 0.5], dtype=torch.float64), atol=1e-12)
    q = robot.get_qpos()
    assert float(q[0]) == 0.25 and float(q[1:].norm()) == pytest.approx(1.0)
    # a partial write of the ball keeps the slide and the other Euler angles
    robot.set_dofs_position([0.1], dofs_idx_local=[2])
    assert torch.allclose(robot.get_dofs_position(), torch.tensor([0.25, 0.3, 0.1, 0.5], dtype=torch.float64), atol=1e-12)
