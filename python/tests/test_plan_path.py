"""entity.plan_path (Genesis's signature): a path around an obstacle the straight line hits,
checked waypoint by waypoint with the engine's contacts; start and goal kept; batched envs; the
state untouched; bad arguments named."""

import numpy as np
import pytest
import torch

import kinegrad as gs
from _assets import asset

PANDA = asset("genesis", "xml", "franka_emika_panda", "panda.xml")
Q0 = [-1.0, 0.5, 0.0, -1.8, 0.0, 2.2, 0.8, 0.04, 0.04]


def scene_with_post(n_envs=0):
    scene = gs.Scene(show_viewer=False)
    scene.add_entity(gs.morphs.Plane())
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA))
    post = scene.add_entity(gs.morphs.Box(size=(0.08, 0.08, 0.5), pos=(0.5, 0.0, 0.25), fixed=True))
    scene.build(n_envs=n_envs)
    return scene, arm, post


def touches(scene, arm, post, q) -> float:
    """The deepest penetration between the arm and the post at configuration q (one step from
    rest detects the contacts at q)."""
    arm.set_qpos(q)
    scene.step()
    c = arm.get_contacts(with_entity=post)
    pen = c["penetration"]
    return float(pen.max()) if pen.numel() else 0.0


def test_path_goes_around_a_post_the_straight_line_hits():
    scene, arm, post = scene_with_post()
    q0 = torch.tensor(Q0, dtype=torch.float64)
    q1 = q0.clone()
    q1[0] = 1.0
    mid = 0.5 * (q0 + q1)
    assert touches(scene, arm, post, mid) > 1e-3  # the straight line goes through the post
    arm.set_qpos(q0)
    before = arm.get_qpos().clone()
    path, ok = arm.plan_path(q1, return_valid_mask=True, num_waypoints=60)
    assert bool(ok) and path.shape == (60, 9)
    assert torch.equal(arm.get_qpos(), before)  # the state is untouched
    torch.testing.assert_close(path[0].double(), q0, rtol=0, atol=1e-6)
    torch.testing.assert_close(path[-1].double(), q1, rtol=0, atol=1e-6)
    steps = (path[1:] - path[:-1]).norm(dim=1)
    assert float(steps.max()) < 0.5  # waypoints evenly spread along a continuous path
    worst = max(touches(scene, arm, post, w.double()) for w in path)
    assert worst == 0.0, worst


def test_batched_envs_and_envs_idx():
    scene, arm, post = scene_with_post(n_envs=2)
    q0 = torch.tensor(Q0, dtype=torch.float64)
    arm.set_qpos(q0)
    goals = q0.repeat(2, 1)
    goals[0, 0], goals[1, 0] = 1.0, 0.6
    path = arm.plan_path(goals, num_waypoints=20)
    assert path.shape == (20, 2, 9)
    torch.testing.assert_close(path[-1].double(), goals, rtol=0, atol=1e-6)
    one = arm.plan_path(goals[1:], envs_idx=[1], num_waypoints=20)
    assert one.shape == (20, 1, 9)


def test_bad_arguments_are_named():
    scene, arm, post = scene_with_post()
    q = torch.tensor(Q0, dtype=torch.float64)
    with pytest.raises(gs.GenesisException, match="qpos_goal.*shape"):
        arm.plan_path(q[:5])
    with pytest.raises(gs.GenesisException, match="planner"):
        arm.plan_path(q, planner="PRM")
    with pytest.raises(gs.GenesisException, match="attached object"):
        arm.plan_path(q, ee_link_name="hand", with_entity=post)
    with pytest.raises(gs.GenesisException, match="resolution"):
        arm.plan_path(q, resolution=0.0)
    with pytest.warns(UserWarning, match="ignore_joint_limit"):
        arm.plan_path(q, ignore_joint_limit=True, num_waypoints=5)
