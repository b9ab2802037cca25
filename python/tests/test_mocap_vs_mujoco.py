"""Mocap bodies (MJCF ``mocap="true"``) against MuJoCo: a three-link arm welded to a mocap body
that moves on a circle (its pose set before every step, as ``d.mocap_pos`` / ``d.mocap_quat``),
and a ball falling on the mocap body's box; and the gradient of a loss with respect to the mocap
pose through ``scene.step()`` against central differences. (The 100-step gradient check in the
core: crates/kinegrad/tests/mocap.rs, on the same file.)"""

from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
from _mujoco_pair import check_gradient

MODEL = Path(__file__).parent / "models" / "mocap_weld.xml"


def mocap_pose(t):
    """The mocap body's pose at step t: a circle in x, y and a turn about z."""
    a = 0.02 * t
    pos = np.array([0.3 + 0.05 * np.sin(a), 0.1 + 0.05 * (1 - np.cos(a)), 0.42])
    q = np.array([0.9, 0.1, 0.3, 0.2])
    turn = np.array([np.cos(a / 2), 0.0, 0.0, np.sin(a / 2)])
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, turn, q / np.linalg.norm(q))
    return pos, out


def scene_of(integrator="euler", requires_grad=False):
    rigid = gs.options.RigidOptions(integrator={"euler": gs.integrator.Euler, "implicitfast": gs.integrator.implicitfast}[integrator], tolerance=1e-14, iterations=1000)
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.005, requires_grad=requires_grad), rigid_options=rigid, show_viewer=False)
    arm = scene.add_entity(gs.morphs.MJCF(file=str(MODEL)))
    scene.build()
    return scene, arm


@pytest.mark.parametrize("integrator", ["euler", "implicitfast"])
def test_mocap_moved_every_step_matches_mujoco(integrator):
    m = mujoco.MjModel.from_xml_path(str(MODEL))
    m.opt.integrator = {"euler": mujoco.mjtIntegrator.mjINT_EULER, "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST}[integrator]
    m.opt.tolerance, m.opt.iterations, m.opt.ls_tolerance = 1e-14, 1000, 1e-12
    d = mujoco.MjData(m)
    scene, arm = scene_of(integrator)
    rs = scene.sim.rigid_solver
    assert rs.n_mocap == 1 and rs.mocap_names == ["target"]
    np.testing.assert_allclose(rs.get_mocap_pos().numpy(), d.mocap_pos, atol=1e-15)
    contacts = 0
    for t in range(300):
        pos, quat = mocap_pose(t)
        d.mocap_pos[0], d.mocap_quat[0] = pos, quat
        rs.set_mocap_pos(pos[None])
        rs.set_mocap_quat(quat[None])
        mujoco.mj_step(m, d)
        scene.step()
        contacts += d.ncon
        np.testing.assert_allclose(arm.get_qpos().numpy(), d.qpos, rtol=0, atol=1e-9, err_msg=f"step {t}")
    assert contacts > 20, "the ball lands on the mocap body"


def test_mocap_body_cannot_have_joints(tmp_path):
    f = tmp_path / "bad.xml"
    f.write_text('<mujoco><worldbody><body name="m" mocap="true"><joint type="hinge"/><geom size=".1"/></body></worldbody></mujoco>')
    scene = gs.Scene(show_viewer=False)
    with pytest.raises(Exception, match="mocap body 'm' is not a fixed child of the world"):
        scene.add_entity(gs.morphs.MJCF(file=str(f)))
        scene.build()


def test_gradient_wrt_the_mocap_pose_through_scene_steps():
    scene, arm = scene_of("implicitfast", requires_grad=True)
    rs = scene.sim.rigid_solver
    pos0 = rs.get_mocap_pos()[0].clone()

    def loss(x, grad):
        scene.reset()
        rs.set_mocap_pos(pos0 + x)
        for _ in range(60):
            scene.step()
        q = arm.get_qpos()
        return (q * torch.linspace(1.0, 2.0, q.shape[-1], dtype=torch.float64)).sum()

    check_gradient(loss, torch.zeros(1, 3, dtype=torch.float64), seed=3)


def test_bad_mocap_writes_raise_naming_the_argument():
    scene, _ = scene_of()
    rs = scene.sim.rigid_solver
    with pytest.raises(ValueError, match="mocap_quat"):
        rs.set_mocap_quat([0.0, 0.0, 0.0, 0.0])  # a zero quaternion
    with pytest.raises(ValueError, match="mocap_pos"):
        rs.set_mocap_pos([0.1, 0.2])  # wrong shape
    with pytest.raises(ValueError, match="mocap_pos"):
        rs.set_mocap_pos([float("nan"), 0.0, 0.0])
    with pytest.raises(IndexError, match="mocap_idx"):
        rs.set_mocap_pos([0.1, 0.2, 0.3], mocap_idx=1)
    # the scene is unchanged and steps on
    np.testing.assert_allclose(rs.get_mocap_pos()[0].numpy(), [0.3, 0.1, 0.42])
    scene.step()
