"""Genesis API items scripts call: base_joint, set_mass, links' inertial masses, friction
ratios, uid.short(), scene.visualizer, and gs.utils.geom (against MuJoCo's Euler conventions)."""

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
import kinegrad.utils.geom as gu
from _assets import asset

PANDA = asset("genesis", "xml", "franka_emika_panda", "panda.xml")


def scene_with(n_envs=0):
    scene = gs.Scene(show_viewer=False)
    plane = scene.add_entity(gs.morphs.Plane())
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA))
    box = scene.add_entity(gs.morphs.Box(size=(0.1, 0.1, 0.1), pos=(0.5, 0, 0.05)))
    scene.build(n_envs=n_envs)
    return scene, plane, arm, box


def test_base_joint_mass_and_friction_ratio():
    scene, plane, arm, box = scene_with(n_envs=2)
    assert box.base_joint.type == gs.JOINT_TYPE.FREE and box.base_joint.dofs_idx == list(range(9, 15))
    with pytest.raises(gs.GenesisException, match="fixed base"):
        arm.base_joint  # the Panda's base is welded to the world
    m0 = box.get_mass()
    box.set_mass(2.5)
    assert abs(box.get_mass() - 2.5) < 1e-12
    # the arm keeps its links' proportions
    before = arm.get_links_inertial_mass()
    arm.set_mass(2 * arm.get_mass())
    torch.testing.assert_close(arm.get_links_inertial_mass(), 2 * before, rtol=1e-14, atol=0)
    arm.set_links_inertial_mass([1.5, 2.5], links_idx_local=[1, 2], envs_idx=[1])
    m = arm.get_links_inertial_mass(links_idx_local=[1, 2])
    assert torch.allclose(m[1], torch.tensor([1.5, 2.5], dtype=m.dtype)) and torch.allclose(m[0], 2 * before[0, 1:3])
    with pytest.raises(gs.GenesisException, match="inertial_mass"):
        arm.set_links_inertial_mass([0.0], links_idx_local=[1])
    assert m0 > 0
    # friction ratio: per link, on each of its collision geoms, relative to the model's value
    fr = scene.rigid_solver.get_param("geom_friction")
    base = torch.as_tensor(scene.rigid_solver.param_default("geom_friction"))
    arm.set_friction_ratio(torch.tensor([[0.5] * arm.n_links, [1.5] * arm.n_links]))
    fr2 = scene.rigid_solver.get_param("geom_friction")
    for g in arm.geoms:
        assert abs(float(fr2[0, g.idx, 0]) - 0.5 * float(base[g.idx, 0])) < 1e-15
        assert abs(float(fr2[1, g.idx, 0]) - 1.5 * float(base[g.idx, 0])) < 1e-15
    untouched = [g.idx for g in box.geoms]
    assert torch.equal(fr2[:, untouched], fr[:, untouched])


def test_uid_short_and_visualizer_update():
    scene, plane, arm, box = scene_with()
    assert arm.uid.short() == str(arm.uid) and len(arm.uid.short()) == 7
    cam = scene.add_camera(res=(32, 32))
    assert scene.visualizer.cameras == [cam] and scene.visualizer.viewer is None
    arm.set_qpos(torch.zeros(9, dtype=torch.float64))
    scene.step()
    scene.visualizer.update()  # runs the pending step: the state is current
    assert scene._pend == 0


@pytest.mark.parametrize("rpy,seq", [(True, "XYZ"), (False, "xyz")])
def test_geom_utils_follow_genesis_conventions(rpy, seq):
    rng = np.random.default_rng(0)
    for e in rng.uniform(-1.5, 1.5, (20, 3)):
        ref = np.zeros(4)
        mujoco.mju_euler2Quat(ref, e, seq)  # MuJoCo: capitals extrinsic, lower case intrinsic
        q = gu.xyz_to_quat(e, rpy=rpy)
        np.testing.assert_allclose(q * np.sign(q[0]), ref * np.sign(ref[0]), rtol=0, atol=1e-15)
        np.testing.assert_allclose(gu.quat_to_xyz(q, rpy=rpy), e, rtol=0, atol=1e-12)
        R = np.zeros(9)
        mujoco.mju_quat2Mat(R, ref)
        np.testing.assert_allclose(gu.quat_to_R(q), R.reshape(3, 3), rtol=0, atol=1e-15)
        np.testing.assert_allclose(gu.R_to_quat(R.reshape(3, 3)), q * np.sign(q[0]), rtol=0, atol=1e-14)
        vel = np.zeros(3)
        mujoco.mju_quat2Vel(vel, ref, 1.0)
        np.testing.assert_allclose(gs.quat_to_rotvec(q), vel, rtol=0, atol=1e-13)  # (also as gs.<name>, as Genesis)
        np.testing.assert_allclose(gu.rotvec_to_quat(vel), q * np.sign(q[0]), rtol=0, atol=1e-14)
    # torch too, batched, with gradients
    e = torch.tensor(rng.uniform(-1, 1, (4, 3)), requires_grad=True)
    q = gu.xyz_to_quat(e, rpy=rpy)
    v = gu.transform_by_quat(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), q)
    v.sum().backward()
    assert e.grad.shape == (4, 3)
    qa, qb = gu.xyz_to_quat(np.array([0.1, 0.2, 0.3]), True), gu.xyz_to_quat(np.array([-0.3, 0.5, 0.0]), True)
    Ra, Rb = gu.quat_to_R(qa), gu.quat_to_R(qb)
    np.testing.assert_allclose(gu.quat_to_R(gu.transform_quat_by_quat(qb, qa)), Ra @ Rb, atol=1e-15)
    T = gu.trans_quat_to_T(np.array([1.0, 2.0, 3.0]), qa)
    p = np.array([0.3, -0.2, 0.5])
    np.testing.assert_allclose(T[:3, :3] @ p + T[:3, 3], gu.transform_by_trans_quat(p, np.array([1.0, 2.0, 3.0]), qa), atol=1e-15)
    np.testing.assert_allclose(gu.inv_transform_by_trans_quat(gu.transform_by_trans_quat(p, T[:3, 3], qa), T[:3, 3], qa), p, atol=1e-15)


def panda_pair():
    """The Panda (contacts off) in kinegrad and MuJoCo, driven by its position servos."""
    m = mujoco.MjModel.from_xml_path(str(PANDA))
    m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
    m.opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    d = mujoco.MjData(m)
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=float(m.opt.timestep)),
        rigid_options=gs.options.RigidOptions(enable_collision=False, integrator=gs.integrator.implicitfast),
        show_viewer=False,
    )
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA))
    scene.build()
    return m, d, scene, arm


def test_links_acc_and_control_force_match_mujoco():
    m, d, scene, arm = panda_pair()
    target = np.array([0.4, -0.3, 0.2, -1.8, 0.3, 1.7, 0.5, 0.02, 0.02])
    # MuJoCo's actuators: 7 arm servos on their joints, one gripper actuator on a tendon
    arm.control_dofs_position(torch.tensor(target[:7]), dofs_idx_local=list(range(7)))
    arm.control_tendons_position(torch.zeros(1))  # the gripper's servo at MuJoCo's ctrl 0
    d.ctrl[:7] = target[:7]
    for _ in range(30):
        scene.step()
        mujoco.mj_step(m, d)
    np.testing.assert_allclose(arm.get_qpos().double().numpy(), d.qpos, rtol=0, atol=1e-8)
    # MuJoCo at kinegrad's convention: the new state's kinematics, the last step's qacc
    mujoco.mj_kinematics(m, d)
    mujoco.mj_comPos(m, d)
    mujoco.mj_comVel(m, d)
    mujoco.mj_rnePostConstraint(m, d)
    acc = arm.get_links_acc().double().numpy()
    ang = arm.get_links_acc_ang().double().numpy()
    for k, link in enumerate(arm.links):
        res = np.zeros(6)
        # (mjOBJ_XBODY: at the body frame's origin; mjOBJ_BODY would be at its centre of mass)
        mujoco.mj_objectAcceleration(m, d, mujoco.mjtObj.mjOBJ_XBODY, mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, link.name), res, 0)
        # MuJoCo's includes gravity (its root accelerates at -g): kinegrad's does not
        np.testing.assert_allclose(acc[k], res[3:] + m.opt.gravity, rtol=0, atol=1e-6 * max(1.0, np.abs(res).max()))
        np.testing.assert_allclose(ang[k], res[:3], rtol=0, atol=1e-6 * max(1.0, np.abs(res).max()))
    assert np.abs(acc).max() > 0.1  # the arm is accelerating
    # the control force of a new target at the current state (before the step runs)
    target2 = target + 0.1
    arm.control_dofs_position(torch.tensor(target2[:7]), dofs_idx_local=list(range(7)))
    d.ctrl[:7] = target2[:7]
    mujoco.mj_forward(m, d)
    f = arm.get_dofs_control_force().double().numpy()
    np.testing.assert_allclose(f[:7], d.qfrc_actuator[:7], rtol=0, atol=1e-9)


def test_net_contact_force_state_fields_anchors_profiling_and_destroy():
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.005, requires_grad=True), show_viewer=False)
    scene.add_entity(gs.morphs.Plane())
    box = scene.add_entity(gs.morphs.Box(size=(0.2, 0.2, 0.2), pos=(0.0, 0.0, 0.1)))
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA, pos=(1.0, 0.0, 0.0)))
    scene.build()
    u = torch.zeros(9, dtype=torch.float64, requires_grad=True)
    arm.control_dofs_force(u)
    for _ in range(200):
        scene.step()
    # a box at rest on the floor: the floor pushes it up with its weight
    f = box.get_links_net_contact_force()
    torch.testing.assert_close(f[0].double(), torch.tensor([0.0, 0.0, box.get_mass() * 9.81], dtype=torch.float64), rtol=1e-6, atol=1e-6)
    # Genesis's state fields, with gradients
    s = scene.get_state()
    torch.testing.assert_close(s.links_pos, scene.rigid_solver.get_links_pos(), rtol=0, atol=0)
    es = box.get_state()
    assert es.pos.shape == (3,) and es.qpos.shape == (7,) and es.links_quat.shape == (1, 4)
    s.links_pos[-1].sum().backward()  # the arm's torques moved its last link
    assert u.grad is not None and float(u.grad.abs().sum()) > 0
    # joint anchors and axes against MuJoCo's xanchor / xaxis
    q = [0.3, -0.5, 0.2, -2.0, 0.4, 1.8, 0.6, 0.02, 0.03]
    arm.set_qpos(torch.tensor(q, dtype=torch.float64))
    m = mujoco.MjModel.from_xml_path(str(PANDA))
    d = mujoco.MjData(m)
    d.qpos[:] = q
    mujoco.mj_kinematics(m, d)
    for j in arm.joints:
        k = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, j.name)
        np.testing.assert_allclose(j.get_anchor_pos().detach().double().numpy(), d.xanchor[k] + [1.0, 0.0, 0.0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(j.get_anchor_axis().detach().double().numpy(), d.xaxis[k], rtol=0, atol=1e-12)
    scene.destroy()
    with pytest.raises(gs.GenesisException, match="build"):
        scene.step()


def test_profiling_options_are_accepted():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gs.Scene(profiling_options=gs.options.ProfilingOptions(show_FPS=False), show_viewer=False)
    with pytest.warns(UserWarning, match="show_FPS"):
        gs.Scene(profiling_options=gs.options.ProfilingOptions(), show_viewer=False)


def test_jacobian_forward_kinematics_and_invweights_match_mujoco():
    scene = gs.Scene(show_viewer=False)
    box = scene.add_entity(gs.morphs.Box(size=(0.1, 0.2, 0.3), pos=(0.5, 0.5, 0.5)))
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA))
    scene.build()
    q = [0.3, -0.5, 0.2, -2.0, 0.4, 1.8, 0.6, 0.02, 0.03]
    m = mujoco.MjModel.from_xml_path(str(PANDA))
    d = mujoco.MjData(m)
    d.qpos[:] = q
    mujoco.mj_forward(m, d)
    # forward_kinematics at given positions leaves the state alone
    before = arm.get_qpos().clone()
    pos, quat = arm.forward_kinematics(torch.tensor(q, dtype=torch.float64))
    assert torch.equal(arm.get_qpos(), before)
    for k, link in enumerate(arm.links):
        b = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, link.name)
        np.testing.assert_allclose(pos[k].double().numpy(), d.xpos[b], rtol=0, atol=1e-6)
        np.testing.assert_allclose(quat[k].double().numpy(), d.xquat[b], rtol=0, atol=1e-6)
    # the Jacobian of a point of the hand
    arm.set_qpos(torch.tensor(q, dtype=torch.float64))
    hand = arm.get_link("hand")
    p_local = np.array([0.0, 0.0, 0.1])
    J = arm.get_jacobian(hand, local_point=p_local).double().numpy()
    b = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "hand")
    jp, jr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
    mujoco.mj_jac(m, d, jp, jr, d.xpos[b] + d.xmat[b].reshape(3, 3) @ p_local, b)
    np.testing.assert_allclose(J, np.vstack([jp, jr]), rtol=0, atol=1e-6)
    # MuJoCo's inverse weights at qpos0
    np.testing.assert_allclose(arm.get_dofs_invweight().double().numpy(), m.dof_invweight0, rtol=1e-6)
    bodies = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, l.name) for l in arm.links]
    np.testing.assert_allclose(arm.get_links_invweight().double().numpy(), m.body_invweight0[bodies], rtol=1e-6, atol=1e-12)
    mb = mujoco.MjModel.from_xml_string('<mujoco><worldbody><body><freejoint/><geom type="box" size="0.05 0.1 0.15" mass="6.0"/></body></worldbody></mujoco>')
    box.set_mass(6.0)
    # (a free box: its translational weights are 1/m, its rotational ones the mean inverse inertia)
    np.testing.assert_allclose(box.get_dofs_invweight().double().numpy(), mb.dof_invweight0, rtol=1e-6)


def test_structure_is_readable_before_build_and_the_same_objects_after():
    scene = gs.Scene(show_viewer=False)
    box = scene.add_entity(gs.morphs.Box(size=(0.1, 0.1, 0.1), pos=(0.5, 0.0, 0.5)))
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA))
    names = [l.name for l in arm.links]  # before build
    assert names[:2] == ["link0", "link1"] and names[-1] == "right_finger"
    assert arm.n_dofs == 9 and arm.n_qs == 9 and arm.n_links == 11 and box.n_dofs == 6
    hand = arm.get_link("hand")
    j4 = arm.get_joint("joint4")
    assert j4.dofs_idx_local == [3]
    with pytest.raises(gs.GenesisException, match="not built"):
        arm.get_qpos()
    scene.build()
    assert arm.get_link("hand") is hand and arm.get_joint("joint4") is j4  # the same objects
    assert hand.idx == box.n_links + 8 and j4.dofs_idx == [6 + 3]  # global indices of the built scene
    assert torch.equal(hand.get_pos(), arm.get_links_pos()[8])


def test_position_velocity_control_is_kp_kv_pd_and_renderers_are_accepted():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gs.Scene(renderer=gs.renderers.Rasterizer(), show_viewer=False)
    with pytest.warns(UserWarning, match="RayTracer"):
        gs.Scene(renderer=gs.renderers.RayTracer(), show_viewer=False)
    scene = gs.Scene(show_viewer=False)
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA))
    scene.build()
    arm.set_dofs_kp(torch.full((9,), 100.0, dtype=torch.float64))
    arm.set_dofs_kv(torch.full((9,), 10.0, dtype=torch.float64))
    q = torch.tensor([0.1, -0.2, 0.3, -1.5, 0.2, 1.0, 0.4, 0.01, 0.02], dtype=torch.float64)
    arm.set_dofs_position(q)
    arm.set_dofs_velocity(torch.linspace(-0.5, 0.5, 9, dtype=torch.float64))
    p_t = q + 0.1
    v_t = torch.linspace(0.2, -0.2, 9, dtype=torch.float64)
    arm.control_dofs_position_velocity(p_t, v_t)
    f = arm.get_dofs_control_force().double()
    want = 100.0 * (p_t - q) + 10.0 * (v_t - arm.get_dofs_velocity().double())
    lo, hi = arm.get_dofs_force_range()
    torch.testing.assert_close(f, torch.clamp(want, lo.double(), hi.double()), rtol=1e-12, atol=1e-9)


def test_attach_merges_a_hand_onto_an_arm_as_the_whole_file_has_it():
    # Menagerie's panda_nohand.xml + hand.xml attached at its "attachment" body is panda.xml
    def run(scene, arm_links):
        scene.build()
        q = torch.tensor([0.3, -0.5, 0.2, -2.0, 0.4, 1.8, 0.6, 0.02, 0.03], dtype=torch.float64)
        scene.sim.rigid_solver.set_qpos(q)
        for _ in range(100):
            scene.step()
        return scene._qpos[0].clone(), [l.get_pos().double() for l in arm_links]

    opts = dict(rigid_options=gs.options.RigidOptions(enable_collision=False), show_viewer=False)
    whole = gs.Scene(**opts)
    panda = whole.add_entity(gs.morphs.MJCF(file=PANDA))
    q_whole, p_whole = run(whole, [panda.get_link(n) for n in ("link7", "hand", "left_finger")])
    parts = gs.Scene(**opts)
    arm = parts.add_entity(gs.morphs.MJCF(file=str(PANDA).replace("panda.xml", "panda_nohand.xml")))
    hand = parts.add_entity(gs.morphs.MJCF(file=str(PANDA).replace("panda.xml", "hand.xml"), pos=(5.0, 0.0, 0.0)))
    hand.attach(arm, "attachment")
    with pytest.raises(gs.GenesisException, match="already attached"):
        hand.attach(arm)
    q_parts, p_parts = run(parts, [arm.get_link("link7"), hand.get_link("hand"), hand.get_link("left_finger")])
    assert hand.n_dofs == 2 and not hand.joints[0].type == gs.JOINT_TYPE.FREE  # the hand's fingers only
    torch.testing.assert_close(q_parts, q_whole, rtol=0, atol=1e-10)
    for a, b in zip(p_parts, p_whole):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_dofs_force_is_the_last_steps_total_force_as_mujoco():
    m, d, scene, arm = panda_pair()
    assert torch.equal(arm.get_dofs_force(), torch.zeros(9, dtype=arm.get_dofs_force().dtype))  # before any step
    target = np.array([0.4, -0.3, 0.2, -1.8, 0.3, 1.7, 0.5])
    arm.control_dofs_position(torch.tensor(target), dofs_idx_local=list(range(7)))
    arm.control_tendons_position(torch.zeros(1))
    d.ctrl[:7] = target
    for _ in range(30):
        scene.step()
        mujoco.mj_step(m, d)
    # MuJoCo's after mj_step: the smooth and constraint forces of the step just taken
    want = d.qfrc_smooth + d.qfrc_constraint
    np.testing.assert_allclose(arm.get_dofs_force().double().numpy(), want, rtol=1e-6, atol=1e-6)
    assert np.abs(want).max() > 1.0
