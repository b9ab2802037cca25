"""Inverse kinematics with Genesis's signature: targets reached within the tolerances, the state
left alone, batched envs, masks, several links, clear errors, and the implicit-function
gradient against finite differences of tight solves."""

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
from _assets import asset

PANDA = asset("genesis", "xml", "franka_emika_panda", "panda.xml")
HOME = [0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.79, 0.04, 0.04]


def franka(n_envs=0, requires_grad=False):
    scene = gs.Scene(sim_options=gs.options.SimOptions(requires_grad=requires_grad), show_viewer=False)
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA))
    scene.build(n_envs=n_envs)
    arm.set_qpos(torch.tensor(HOME, dtype=torch.float64))
    return scene, arm


def quat_angle(a, b):
    a, b = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    return 2 * torch.acos(torch.clamp((a * b).sum(-1).abs(), max=1.0))


def test_reaches_a_pose_within_the_tolerances_and_leaves_the_state_alone():
    scene, arm = franka()
    hand = arm.get_link("hand")
    before = arm.get_qpos().clone()
    pos, quat = torch.tensor([0.55, 0.1, 0.3]), torch.tensor([0.0, 1.0, 0.0, 0.0])
    q, err = arm.inverse_kinematics(link=hand, pos=pos, quat=quat, return_error=True)
    assert q.shape == (9,) and err.shape == (6,)
    assert torch.equal(arm.get_qpos(), before)  # the scene's state is untouched
    assert err[:3].norm() <= 5e-4 and err[3:].norm() <= 5e-3
    arm.set_qpos(q)
    assert (hand.get_pos() - pos).norm() <= 5e-4
    assert quat_angle(hand.get_quat(), quat) <= 5e-3
    # the joint limits hold
    lo, hi = arm.get_dofs_limit()
    assert bool(((q >= lo - 1e-12) & (q <= hi + 1e-12)).all())


def test_batched_envs_each_reach_their_own_target_and_envs_idx_selects():
    scene, arm = franka(n_envs=3)
    hand = arm.get_link("hand")
    pos = torch.tensor([[0.5, 0.0, 0.4], [0.4, 0.3, 0.3], [0.45, -0.25, 0.5]])
    quat = torch.tensor([0.0, 1.0, 0.0, 0.0])
    q = arm.inverse_kinematics(link=hand, pos=pos, quat=quat)
    assert q.shape == (3, 9)
    arm.set_qpos(q)
    assert float((hand.get_pos() - pos).norm(dim=-1).max()) <= 5e-4
    q2 = arm.inverse_kinematics(link=hand, pos=pos[[2]], quat=quat, envs_idx=[2])
    assert q2.shape == (1, 9)
    torch.testing.assert_close(q2[0], q[2], rtol=0, atol=1e-12)  # the same solve from the same state


def test_position_only_and_a_single_aligned_axis():
    scene, arm = franka()
    hand = arm.get_link("hand")
    q = arm.inverse_kinematics(link=hand, pos=[0.4, -0.2, 0.5])
    arm.set_qpos(q)
    assert (hand.get_pos() - torch.tensor([0.4, -0.2, 0.5])).norm() <= 5e-4
    # align only the hand's z axis with the target's (Genesis: rot_mask with one axis)
    down = torch.tensor([0.0, 1.0, 0.0, 0.0])  # z axis pointing down
    q = arm.inverse_kinematics(link=hand, pos=[0.5, 0.2, 0.3], quat=down, rot_mask=[False, False, True])
    arm.set_qpos(q)
    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, hand.get_quat().double().numpy())
    R = R.reshape(3, 3)
    assert -R[2, 2] >= np.cos(5e-3)  # the hand's z axis points down
    with pytest.raises(gs.GenesisException, match="rot_mask"):
        arm.inverse_kinematics(link=hand, pos=[0.5, 0.2, 0.3], quat=down, rot_mask=[True, False, True])


def test_multilink_places_two_fingertips():
    scene, arm = franka()
    left, right = arm.get_link("left_finger"), arm.get_link("right_finger")
    arm.set_qpos(torch.tensor([0.2, 0.1, -0.1, -2.0, 0.1, 2.1, 0.6, 0.03, 0.03], dtype=torch.float64))
    pl, pr = left.get_pos().clone(), right.get_pos().clone()
    arm.set_qpos(torch.tensor(HOME, dtype=torch.float64))
    q, err = arm.inverse_kinematics_multilink([left, right], poss=[pl, pr], return_error=True)
    assert err.shape == (2, 6)
    arm.set_qpos(q)
    assert (left.get_pos() - pl).norm() <= 5e-4 and (right.get_pos() - pr).norm() <= 5e-4


def test_bad_arguments_are_named():
    scene, arm = franka()
    hand = arm.get_link("hand")
    with pytest.raises(gs.GenesisException, match="target position or orientation"):
        arm.inverse_kinematics(link=hand)
    with pytest.raises(gs.GenesisException, match="poss\\[0\\].*shape"):
        arm.inverse_kinematics(link=hand, pos=[0.1, 0.2])
    with pytest.raises(gs.GenesisException, match="NaN"):
        arm.inverse_kinematics(link=hand, pos=[0.1, float("nan"), 0.3])
    with pytest.raises(gs.GenesisException, match="quats\\[0\\]: zero"):
        arm.inverse_kinematics(link=hand, quat=[0.0, 0.0, 0.0, 0.0])
    other = gs.Scene(show_viewer=False)
    box = other.add_entity(gs.morphs.Box(size=(0.1, 0.1, 0.1)))
    other.build()
    with pytest.raises(gs.GenesisException, match="not a link of entity"):
        arm.inverse_kinematics(link=box.base_link, pos=[0.5, 0.0, 0.3])


ARM6 = list(range(6))  # six dofs for a six-row pose: the solution is locally unique


def solve_arm6(pos, quat, requires_grad):
    scene, arm = franka(requires_grad=requires_grad)
    return arm.inverse_kinematics(
        link=arm.get_link("hand"), pos=pos, quat=quat, dofs_idx_local=ARM6, pos_tol=1e-13, rot_tol=1e-13,
        max_solver_iters=200, max_samples=1, damping=1e-6,
    )


def test_gradient_of_the_solution_matches_finite_differences_of_tight_solves():
    pos0 = torch.tensor([0.5, 0.1, 0.35], dtype=torch.float64)
    quat0 = torch.tensor([0.05, 0.98, 0.1, -0.05], dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5, 1.5, -1.0, 0.7, 0.0, 0.0, 0.0], dtype=torch.float64)
    pos, quat = pos0.clone().requires_grad_(True), quat0.clone().requires_grad_(True)
    q = solve_arm6(pos, quat, True)
    (q * w).sum().backward()
    gen = torch.Generator().manual_seed(0)
    eps = 1e-6
    for which, x0, g in (("pos", pos0, pos.grad), ("quat", quat0, quat.grad)):
        for _ in range(3):
            d = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
            args = lambda s: (pos0 + s * d, quat0) if which == "pos" else (pos0, quat0 + s * d)
            fd = float(((solve_arm6(*args(eps), False) - solve_arm6(*args(-eps), False)) * w).sum()) / (2 * eps)
            an = float((g * d).sum())
            print(which, an, fd)
            assert abs(an - fd) <= 1e-5 * max(abs(fd), 1e-3), (which, an, fd)
