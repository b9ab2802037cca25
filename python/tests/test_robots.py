"""Real robots load and run 10 s under PD control without NaN, doing what PD control should."""

import math

import numpy as np
import torch

import kinegrad as gs
from _assets import asset, pybullet_data


def make_scene(dt=0.01, substeps=1):
    return gs.Scene(
        sim_options=gs.options.SimOptions(dt=dt, substeps=substeps),
        rigid_options=gs.options.RigidOptions(),
        show_viewer=False,
    )


def run(scene, seconds):
    for _ in range(int(round(seconds / scene.dt))):
        scene.step()


def test_franka_urdf_pd_for_10s():
    scene = make_scene()
    scene.add_entity(gs.morphs.Plane())
    franka = scene.add_entity(gs.morphs.URDF(file=str(pybullet_data("franka_panda", "panda.urdf")), fixed=True))
    scene.build()
    arm = [franka.get_joint(f"panda_joint{i}").dofs_idx_local[0] for i in range(1, 8)]
    franka.set_dofs_kp([4500, 4500, 3500, 3500, 2000, 2000, 2000], arm)
    franka.set_dofs_kv([450, 450, 350, 350, 200, 200, 200], arm)
    target = torch.tensor([0.3, -0.4, 0.2, -2.0, 0.1, 1.6, 0.7], dtype=torch.float64)
    franka.control_dofs_position(target, arm)
    run(scene, 10.0)
    q = franka.get_dofs_position(arm)
    assert torch.isfinite(franka.get_qpos()).all()
    assert (q - target).abs().max() < 0.02, q


def test_franka_mjcf_pd_for_10s():
    scene = make_scene()
    franka = scene.add_entity(gs.morphs.MJCF(file=str(asset("genesis", "xml", "franka_emika_panda", "scene_no_tendon.xml"))))
    scene.build()
    names = [f"joint{i}" for i in range(1, 8)]
    arm = [franka.get_joint(n).dofs_idx_local[0] for n in names]
    # the file's position actuators set kp/kv (Menagerie: kp 4500/3500/2000, kv 450/350/200)
    kp = franka.get_dofs_kp(arm)
    assert abs(float(kp[0]) - 4500.0) < 1e-9
    target = torch.tensor([0.0, 0.3, 0.0, -1.8, 0.0, 2.0, 0.8], dtype=torch.float64)
    franka.control_dofs_position(target, arm)
    run(scene, 10.0)
    q = franka.get_dofs_position(arm)
    assert torch.isfinite(franka.get_qpos()).all()
    assert (q - target).abs().max() < 0.03, q


def test_quadruped_stands_on_plane_for_10s():
    scene = make_scene(dt=0.005)
    scene.add_entity(gs.morphs.Plane())
    go2 = scene.add_entity(gs.morphs.URDF(file=str(asset("genesis", "urdf", "go2", "urdf", "go2.urdf")), pos=(0.0, 0.0, 0.42)))
    scene.build()
    legs = ["FR", "FL", "RR", "RL"]
    names = [f"{leg}_{part}_joint" for leg in legs for part in ("hip", "thigh", "calf")]
    dofs = [go2.get_joint(n).dofs_idx_local[0] for n in names]
    stand = torch.tensor([0.0, 0.8, -1.5] * 4, dtype=torch.float64)
    go2.set_dofs_position(stand, dofs)
    go2.set_dofs_kp([40.0] * 12, dofs)
    go2.set_dofs_kv([1.0] * 12, dofs)
    go2.control_dofs_position(stand, dofs)
    heights = []
    for _ in range(10):
        run(scene, 1.0)
        heights.append(float(go2.get_pos()[2]))
    assert torch.isfinite(go2.get_qpos()).all()
    # standing: the base stays up, level and nearly still
    assert all(0.2 < h < 0.45 for h in heights), heights
    qw, qx, qy, qz = go2.get_quat().tolist()
    tilt = 2 * math.asin(min(1.0, math.hypot(qx, qy)))
    assert tilt < 0.1, tilt
    assert np.abs(go2.get_vel().numpy()).max() < 0.05
