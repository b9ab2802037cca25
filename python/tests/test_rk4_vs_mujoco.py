"""Runge-Kutta 4 steps as MuJoCo's `mj_RungeKutta` (gymnasium's MuJoCo files, all written for
RK4): four evaluations of the constrained acceleration per step, every force explicit, the
state advanced by the classic combination. Contacts off, joint limits on, both solvers
converged to round-off, 200 steps from a perturbed qpos0 with random velocities."""

import mujoco
import numpy as np
import pytest

from _assets import asset
from kinegrad import _native

# (file, tolerance relative to the state scale). Planar and hinge models agree to round-off.
# With a free joint, MuJoCo 4.0's step differs from its own algorithm replayed through
# mj_forward and mj_integratePos (q0 (+) h sum B_j v_j) by 1e-9 in the quaternion per step;
# kinegrad matches the replay to round-off, hence the looser bound there.
FILES = [
    ("inverted_pendulum", 1e-10),
    ("inverted_double_pendulum", 1e-10),
    ("reacher", 1e-10),
    ("hopper", 1e-10),
    ("walker2d", 1e-10),
    ("humanoid", 1e-7),
]


def start(name):
    """(path, MuJoCo model without contacts and with a converged solver, q0, v0): a perturbed
    qpos0 and random velocities."""
    path = asset("gymnasium", f"{name}.xml")
    m = mujoco.MjModel.from_xml_path(str(path))
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
    m.opt.tolerance, m.opt.ls_tolerance = 1e-14, 1e-12
    rng = np.random.default_rng(0)
    q0 = m.qpos0 + 0.05 * rng.standard_normal(m.nq)
    mujoco.mj_normalizeQuat(m, q0)
    v0 = 0.3 * rng.standard_normal(m.nv)
    return path, m, q0, v0


def run_both(name, n=200):
    path, m, q0, v0 = start(name)
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:] = q0, v0
    ref = []
    for _ in range(n):
        mujoco.mj_step(m, d)
        ref.append(np.concatenate([d.qpos, d.qvel]))
    b = _native.SceneBuilder(
        timestep=float(m.opt.timestep), integrator="RK4", enable_collision=False, tolerance=1e-14,
        gravity=list(m.opt.gravity),
    )
    b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    sim.set_state(q0[None], v0[None])
    ours = []
    for _ in range(n):
        sim.step(1)
        ours.append(np.concatenate([sim.get_qpos()[0], sim.get_qvel()[0]]))
    return np.array(ours), np.array(ref)


@pytest.mark.parametrize("name,tol", FILES)
def test_rk4_matches_mujoco(name, tol):
    ours, ref = run_both(name)
    err = np.abs(ours - ref).max() / max(1.0, np.abs(ref).max())
    assert err < tol, f"{name}: {err:.1e}"


def kinegrad_run(name, integrator, q0, v0, n):
    path = asset("gymnasium", f"{name}.xml")
    m = mujoco.MjModel.from_xml_path(str(path))
    b = _native.SceneBuilder(
        timestep=float(m.opt.timestep), integrator=integrator, enable_collision=False, tolerance=1e-14,
        gravity=list(m.opt.gravity),
    )
    b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    sim.set_state(q0[None], v0[None])
    sim.step(n)
    return np.concatenate([sim.get_qpos()[0], sim.get_qvel()[0]])


def test_rk4_is_not_euler():
    # kinegrad's own Euler parts from its RK4 by far more than the tolerance above: a step
    # that ignored the stages would fail the comparison with MuJoCo
    ours, ref = run_both("inverted_double_pendulum", n=20)
    _, _, q0, v0 = start("inverted_double_pendulum")
    euler = kinegrad_run("inverted_double_pendulum", "euler", q0, v0, 20)
    assert np.abs(euler - ours[-1]).max() > 1e-4
    assert np.abs(ours[-1] - ref[-1]).max() < 1e-9


def test_rk4_with_a_free_joint_matches_mujocos_algorithm_replayed():
    # the humanoid's looser bound above: MuJoCo 4.0's mj_step differs by 1e-9 per step in the
    # free joint's quaternion from its own RK4 replayed through mj_forward and mj_integratePos
    # (stage i from q0 (+) h sum A_ij v_j, the result from q0 (+) h sum B_j v_j); kinegrad
    # matches the replay to round-off
    _, m, q0, v0 = start("humanoid")
    h = m.opt.timestep
    a_tab, b_tab = [[0.5], [0.0, 0.5], [0.0, 0.0, 1.0]], [1 / 6, 1 / 3, 1 / 3, 1 / 6]
    d = mujoco.MjData(m)
    q, v = q0.copy(), v0.copy()
    for _ in range(20):
        qs, vs, acc = [q], [v], []
        for i in range(4):
            if i > 0:
                w = a_tab[i - 1]
                qi = q.copy()
                mujoco.mj_integratePos(m, qi, sum(w[j] * vs[j] for j in range(i)), h)
                qs.append(qi)
                vs.append(v + h * sum(w[j] * acc[j] for j in range(i)))
            d.qpos[:], d.qvel[:] = qs[i], vs[i]
            mujoco.mj_forward(m, d)
            acc.append(d.qacc.copy())
        q = q.copy()
        mujoco.mj_integratePos(m, q, sum(b_tab[j] * vs[j] for j in range(4)), h)
        v = v + h * sum(b_tab[j] * acc[j] for j in range(4))
    ours = kinegrad_run("humanoid", "RK4", q0, v0, 20)
    assert np.abs(ours - np.concatenate([q, v])).max() < 1e-10


def test_rk4_through_the_genesis_api_with_gradients():
    # RigidOptions(integrator=gs.integrator.RK4): a falling, sliding box on a plane; the
    # gradient of its final position w.r.t. the initial velocity against central differences
    import torch

    import kinegrad as gs

    def run(v0, requires_grad):
        scene = gs.Scene(
            sim_options=gs.options.SimOptions(dt=0.01, requires_grad=requires_grad),
            rigid_options=gs.options.RigidOptions(integrator=gs.integrator.RK4),
        )
        scene.add_entity(gs.morphs.Plane())
        box = scene.add_entity(gs.morphs.Box(size=(0.2, 0.2, 0.1), pos=(0.0, 0.0, 0.06)))
        scene.build()
        box.set_dofs_velocity(v0)
        for _ in range(60):
            scene.step()
        p = box.get_pos()
        return p[0] + 0.5 * p[1], box

    v0 = torch.tensor([1.5, 0.3, 0.0, 0.0, 0.0, 0.4], dtype=torch.float64, requires_grad=True)
    loss, box = run(v0, True)
    loss.backward()
    assert float(box.get_pos()[2]) < 0.06, "the box fell onto the plane"
    d = torch.tensor([1.0, -0.5, 0.0, 0.0, 0.0, 0.3], dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        fd = (run(v0 + eps * d, False)[0] - run(v0 - eps * d, False)[0]) / (2 * eps)
    an = (v0.grad * d).sum()
    assert abs(float(fd) - float(an)) < 1e-5 * max(abs(float(fd)), 1e-3), (float(fd), float(an))
