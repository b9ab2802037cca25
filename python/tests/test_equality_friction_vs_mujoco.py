"""Equality constraints (connect, weld, joint; URDF mimic) and dry joint friction
(frictionloss) step as MuJoCo steps them.

Each model starts off its constraints (a random perturbation of qpos0) with random velocities,
so the rows pull it back while it moves: the impedance, the reference acceleration with its
`Jdot v` term, the regularizers and (for friction) both the sticking and the sliding pieces of
the cost all enter. Euler with the files' joint damping (both engines solve the rows against M
and apply the implicit damping after them), contacts and limits off, both solvers converged to
round-off; gravity and timestep from the file. The Menagerie Panda runs as written
(implicitfast, damping, arm PD and the tendon gripper's actuator).
"""

from pathlib import Path

import mujoco
import numpy as np
import pytest

from _assets import asset
from kinegrad import _native

HERE = Path(__file__).parent
CHAIN = HERE / "models" / "equality_friction_chain.xml"


def mujoco_run(m, q0, v0, nstep, damping=True):
    if not damping:
        m.dof_damping[:] = 0.0
    m.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT | mujoco.mjtDisableBit.mjDSBL_LIMIT
    m.opt.tolerance = 1e-14
    m.opt.ls_tolerance = 1e-12
    d = mujoco.MjData(m)
    d.qpos[:] = q0
    d.qvel[:] = v0
    traj = []
    for _ in range(nstep):
        mujoco.mj_step(m, d)
        traj.append(np.concatenate([d.qpos, d.qvel]))
    return np.array(traj)


def kinegrad_run(path, m, q0, v0, nstep, urdf=False, damping=True):
    b = _native.SceneBuilder(
        timestep=float(m.opt.timestep),
        integrator="euler",
        enable_collision=False,
        enable_joint_limit=False,
        tolerance=1e-14,
        gravity=list(m.opt.gravity),
    )
    if urdf:
        b.add_urdf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], True)
    else:
        b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    if not damping:
        sim.set_param("dof_damping", np.zeros((1, sim.nv)))
    sim.set_state(q0[None], v0[None])
    traj = []
    for _ in range(nstep):
        sim.step(1)
        traj.append(np.concatenate([sim.get_qpos()[0], sim.get_qvel()[0]]))
    return np.array(traj)


def start(m, seed=0):
    rng = np.random.default_rng(seed)
    return m.qpos0 + 0.05 * rng.standard_normal(m.nq), rng.standard_normal(m.nv)


def assert_trajectories_match(ours, ref, tol):
    scale = max(1.0, np.abs(ref).max())
    gap = np.abs(ours - ref).max()
    assert gap <= tol * scale, f"largest gap {gap:.3e} over the run (scale {scale:.3g})"


MODELS = {
    "connect (four_bar_linkage)": lambda: asset("genesis", "xml", "four_bar_linkage.xml"),
    "weld (four_bar_linkage_weld)": lambda: asset("genesis", "xml", "four_bar_linkage_weld.xml"),
    "joint, connect, weld to the world, frictionloss": lambda: CHAIN,
    "fixed tendons: spring, damper, limits, friction, equality": lambda: HERE / "models" / "tendon_chain.xml",
    "tendon equality (dm_control manipulator)": lambda: asset("dm_control", "suite", "manipulator.xml"),
    "fixed tendons (dm_control point_mass)": lambda: asset("dm_control", "suite", "point_mass.xml"),
    "site-based connect and weld": lambda: HERE / "models" / "equality_sites.xml",
}


@pytest.mark.parametrize("name", list(MODELS))
def test_trajectory_matches_mujoco_for_half_a_second(name):
    path = MODELS[name]()
    m = mujoco.MjModel.from_xml_path(str(path))
    q0, v0 = start(m)
    n = int(round(0.5 / m.opt.timestep))
    ref = mujoco_run(m, q0, v0, n)
    assert np.abs(ref[-1, : m.nq] - q0).max() > 1e-2, "the model must move"
    assert_trajectories_match(kinegrad_run(path, m, q0, v0, n), ref, 1e-8)


def test_the_constraints_matter_in_the_chain():
    # without its equalities and its friction, the chain parts from the reference: the match
    # above is the rows', not a motion they leave alone
    m = mujoco.MjModel.from_xml_path(str(CHAIN))
    q0, v0 = start(m)
    ref = mujoco_run(m, q0, v0, 250)
    for flag in (mujoco.mjtDisableBit.mjDSBL_EQUALITY, mujoco.mjtDisableBit.mjDSBL_FRICTIONLOSS):
        m2 = mujoco.MjModel.from_xml_path(str(CHAIN))
        m2.opt.disableflags |= flag
        assert np.abs(mujoco_run(m2, q0, v0, 250) - ref).max() > 1e-2, flag


def test_frictionloss_holds_a_joint_against_a_small_load_and_slips_under_a_large_one():
    # a pendulum with dry friction: held near horizontal while gravity's torque (m g l/2 =
    # 0.49 N m) is below the friction (1 N m), it falls once the friction is 0.2 N m
    xml = """<mujoco><option timestep="0.002"/><worldbody><body><joint name="j" axis="0 1 0"
    frictionloss="{f}"/><geom type="capsule" fromto="0 0 0 0.1 0 0" size="0.01" mass="1"/>
    </body></worldbody></mujoco>"""
    for f, falls in [(1.0, False), (0.2, True)]:
        path = HERE / "models" / f"_pendulum_{f}.xml"
        path.write_text(xml.format(f=f))
        try:
            m = mujoco.MjModel.from_xml_path(str(path))
            ours = kinegrad_run(path, m, np.zeros(1), np.zeros(1), 500)
            ref = mujoco_run(m, np.zeros(1), np.zeros(1), 500)
        finally:
            path.unlink()
        assert_trajectories_match(ours, ref, 1e-8)
        # soft friction creeps a little while it holds (MuJoCo's regularized friction)
        assert (abs(ours[-1, 0]) > 0.5) == falls, ours[-1, 0]


@pytest.mark.parametrize("name", ["panda hand (genesis)", "mimic_arm (multiplier, offset, friction)"])
def test_urdf_mimic_joint_matches_mujoco(name):
    # a <mimic> is the joint equality q_follower = multiplier q_leader + offset, as MuJoCo's
    # URDF reader makes it too
    import sys

    sys.path.insert(0, str(HERE.parent.parent / "benches"))
    import robot_files

    if name.startswith("panda"):
        path = asset("genesis", "urdf", "panda_bullet", "hand.urdf").resolve()
        pair = ("finger_joint2", "finger_joint1")
    else:
        path = HERE / "models" / "mimic_arm.urdf"
        pair = ("elbow", "shoulder")
    m = robot_files.mujoco_model(path)
    assert m.neq == 1 and m.eq_type[0] == mujoco.mjtEq.mjEQ_JOINT
    q0, v0 = start(m, seed=3)
    n = 250
    ref = mujoco_run(m, q0, v0, n)
    follower, leader = (m.joint(j).qposadr[0] for j in pair)
    poly = m.eq_data[0, :2]
    gap = lambda q: q[follower] - poly[0] - poly[1] * q[leader]  # noqa: E731
    assert abs(gap(q0)) > 1e-3, "the constraint starts violated"
    assert abs(gap(ref[-1])) < 0.02 * abs(gap(q0)), "and ends held"
    assert_trajectories_match(kinegrad_run(path, m, q0, v0, n, urdf=True), ref, 1e-8)


def test_menagerie_panda_as_written_matches_mujoco():
    # Genesis's copy of the Menagerie Panda as written: implicitfast, joint damping and
    # armature, the arm's position actuators (kp 4500.., kv 450..) holding targets, the
    # gripper's general actuator on the fixed tendon `split` (kp 100, kv 10 along the tendon)
    # and the finger equality. Both engines solve the rows against M and then apply M + h D,
    # where D holds the damping, the actuators' kv and the tendon's kv J^T J inside M's tree
    # pattern (MuJoCo's implicitfast drops the coupling of the two finger branches)
    path = asset("genesis", "xml", "franka_emika_panda", "panda.xml")
    m = mujoco.MjModel.from_xml_path(str(path))
    assert m.ntendon == 1 and m.neq == 1 and m.actuator_trntype[7] == mujoco.mjtTrn.mjTRN_TENDON
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST and m.dof_damping.min() > 0
    q0, v0 = start(m, seed=4)
    n = int(round(0.5 / m.opt.timestep))
    ctrl = np.zeros(m.nu)
    ctrl[:7] = q0[:7] + 0.1
    ctrl[7] = 200.0  # of 255: the fingers open to 0.0157 * 200 / 100 = 0.031 m of tendon length
    ctrl = np.clip(ctrl, m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1])
    m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT | mujoco.mjtDisableBit.mjDSBL_LIMIT
    m.opt.tolerance, m.opt.ls_tolerance = 1e-14, 1e-12
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:], d.ctrl[:] = q0, v0, ctrl
    ref = []
    for _ in range(n):
        mujoco.mj_step(m, d)
        ref.append(np.concatenate([d.qpos, d.qvel]))
    ref = np.array(ref)
    b = _native.SceneBuilder(
        timestep=float(m.opt.timestep), integrator="implicitfast", enable_collision=False,
        enable_joint_limit=False, tolerance=1e-14, gravity=list(m.opt.gravity),
    )
    b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    nv = sim.nv
    assert sim.describe()["nu"] == nv + 1
    mode = np.ones((1, nv + 1), dtype=np.int8)  # position on the arm and the tendon
    mode[0, 7:9] = 0  # the fingers' own channels: no force
    target = np.zeros((1, nv + 1))
    target[0, :7] = ctrl[:7]
    target[0, nv] = 0.0156862745 * ctrl[7] / 100.0  # gain / kp * ctrl: the tendon length
    sim.set_state(q0[None], v0[None])
    sim.set_control(mode, target)
    ours = []
    for _ in range(n):
        sim.step(1)
        ours.append(np.concatenate([sim.get_qpos()[0], sim.get_qvel()[0]]))
    ours = np.array(ours)
    fingers = [m.joint("finger_joint1").qposadr[0], m.joint("finger_joint2").qposadr[0]]
    assert abs(ref[-1, fingers].sum() / 2 - target[0, nv]) < 2e-3, "the gripper opens to the target"
    assert np.abs(ref[-1, :7] - ctrl[:7]).max() < 0.05, "the arm reaches its targets"
    assert_trajectories_match(ours, ref, 1e-8)


def test_gradient_wrt_mimic_multiplier_offset_and_equality_solref():
    # a Genesis-style scene with the two-link mimic arm: the final elbow angle's gradient with
    # respect to the mimic's offset and multiplier (eq_polycoef[:, 0:2]) and its softness
    # (eq_solref) through 100 steps, against central differences
    import torch

    import kinegrad as gs

    path = str(HERE / "models" / "mimic_arm.urdf")

    def run(poly, solref, requires_grad):
        scene = gs.Scene(
            sim_options=gs.options.SimOptions(dt=0.002, requires_grad=requires_grad),
            rigid_options=gs.options.RigidOptions(enable_collision=False, enable_joint_limit=False),
        )
        arm = scene.add_entity(gs.morphs.URDF(file=path, fixed=True))
        scene.build()
        solver = scene.sim.rigid_solver
        base = solver.get_param("eq_polycoef")[0, 0].clone()  # (env, equality, coefficient)
        assert base[:2].tolist() == [0.2, -0.5], base
        solver.set_param("eq_polycoef", torch.cat([poly, base[2:]]).unsqueeze(0))
        solver.set_param("eq_solref", solref.unsqueeze(0))
        arm.set_dofs_velocity(torch.tensor([1.5, 0.0], dtype=torch.float64))
        for _ in range(100):
            scene.step()
        q = arm.get_dofs_position()
        return q[1] + 0.3 * q[0]

    poly = torch.tensor([0.2, -0.5], dtype=torch.float64, requires_grad=True)
    solref = torch.tensor([0.02, 1.0], dtype=torch.float64, requires_grad=True)
    loss = run(poly, solref, True)
    loss.backward()
    assert abs(float(poly.grad[1])) > 1e-2, poly.grad  # the multiplier moves the elbow
    eps = 1e-6
    for x, g in ((poly, poly.grad), (solref, solref.grad)):
        for i in range(2):
            d = torch.zeros(2, dtype=torch.float64)
            d[i] = eps
            with torch.no_grad():
                args = lambda s: (poly + s * d, solref) if x is poly else (poly, solref + s * d)  # noqa: E731
                fd = (run(*args(1), False) - run(*args(-1), False)) / (2 * eps)
            assert abs(float(fd) - float(g[i])) < 1e-5 * max(abs(float(fd)), 1e-3), (i, float(fd), float(g[i]))
