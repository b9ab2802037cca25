"""Trajectories without contact match MuJoCo (Euler integrator, same timestep) to 1e-8."""

import mujoco
import numpy as np
import pytest

from _assets import asset
from kinegrad import _native

MODELS = ["pendulum", "cartpole", "acrobot", "reacher", "cheetah", "walker"]


def mujoco_rollout(path, q0, v0, dt, seconds):
    m = mujoco.MjModel.from_xml_path(str(path))
    m.opt.timestep = dt
    m.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    m.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
    d = mujoco.MjData(m)
    d.qpos[:] = q0
    d.qvel[:] = v0
    for _ in range(int(round(seconds / dt))):
        mujoco.mj_step(m, d)
    return m, d.qpos.copy(), d.qvel.copy()


def kinegrad_rollout(path, q0, v0, dt, seconds):
    b = _native.SceneBuilder(timestep=dt, integrator="euler", enable_collision=False)
    b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    sim.set_state(q0[None, :], v0[None, :])
    sim.step(int(round(seconds / dt)))
    return sim.get_qpos()[0], sim.get_qvel()[0]


@pytest.mark.parametrize("name", MODELS)
def test_trajectory_matches_mujoco_after_1s(name):
    path = asset("dm_control", "suite", f"{name}.xml")
    m = mujoco.MjModel.from_xml_path(str(path))
    rng = np.random.default_rng(0)
    q0 = m.qpos0.copy()
    # perturb every hinge/slide coordinate; keep limits out of reach
    q0 += 0.1 * rng.standard_normal(m.nq)
    v0 = 0.5 * rng.standard_normal(m.nv)
    dt = float(m.opt.timestep)
    _, q_ref, v_ref = mujoco_rollout(path, q0, v0, dt, 1.0)
    q, v = kinegrad_rollout(path, q0, v0, dt, 1.0)
    scale_q = max(1.0, np.abs(q_ref).max())
    scale_v = max(1.0, np.abs(v_ref).max())
    np.testing.assert_allclose(q, q_ref, rtol=0, atol=1e-8 * scale_q, err_msg=f"{name} qpos")
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=1e-8 * scale_v, err_msg=f"{name} qvel")
