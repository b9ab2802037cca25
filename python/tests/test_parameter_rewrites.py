"""A parameter set again each iteration from a tensor derived from a leaf (the system-identification
pattern ``m = m0 * exp(a); set_mass_shift(m - m0); simulate; backward``) must give each episode the
gradient of that episode only, and must not keep the earlier (freed) graphs alive."""

import math

import pytest
import torch

import kinegrad as gs


def box_scene(requires_grad=True):
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01, requires_grad=requires_grad))
    scene.add_entity(gs.morphs.Plane(), material=gs.materials.Rigid(friction=0.0))
    box = scene.add_entity(gs.morphs.Box(size=(0.2, 0.2, 0.1), pos=(0, 0, 0.05)), material=gs.materials.Rigid(rho=250.0, friction=0.5))
    scene.build()
    return scene, box


def slide(scene, box, mass, mu, steps=20):
    scene.reset()
    box.set_mass_shift(torch.stack([mass - 1.0]))
    box.set_friction(mu)
    box.set_dofs_velocity(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), [0, 1, 2])
    for t in range(steps):
        box.control_dofs_force(torch.tensor([3.0 + 2.0 * math.sin(0.3 * t), 0.0, 0.0], dtype=torch.float64), [0, 1, 2])
        scene.step()
    return box.get_pos()[0]


@pytest.mark.parametrize("use_rollout", [False, True])
def test_parameters_rewritten_every_episode_get_fresh_gradients(use_rollout):
    scene, box = box_scene()
    a = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    grads = []
    for _ in range(3):  # the second backward used to fail: the first episode's writes were kept
        m, mu = 1.2 * torch.exp(a[0]), 0.4 * torch.exp(a[1])
        if use_rollout:
            scene.reset()
            box.set_mass_shift(torch.stack([m - 1.0]))
            box.set_friction(mu)
            box.set_dofs_velocity(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), [0, 1, 2])
            U = torch.zeros(20, 6, dtype=torch.float64)
            U[:, 0] = 3.0
            scene.rollout(U)
            x = box.get_pos()[0]
        else:
            x = slide(scene, box, m, mu)
        (g,) = torch.autograd.grad(x, a)
        grads.append(g)
    # the same parameter values every episode: the same gradient, not a sum over episodes
    for g in grads[1:]:
        torch.testing.assert_close(g, grads[0], rtol=1e-12, atol=0)
    assert float(grads[0].abs().min()) > 0
    # only the latest write of each parameter stays in the bookkeeping
    assert all(len(writes) == 1 for _, writes in scene._params.overlays.values())


def test_rewritten_parameter_gradient_matches_finite_differences():
    scene, box = box_scene()
    a = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    for _ in range(2):
        x = slide(scene, box, 1.2 * torch.exp(a[0]), 0.4 * torch.exp(a[1]))
        (g,) = torch.autograd.grad(x, a)
    ref, rbox = box_scene(requires_grad=False)
    eps = 1e-6
    for k in range(2):
        d = torch.zeros(2, dtype=torch.float64)
        d[k] = eps

        def f(s):
            b = a.detach() + s * d
            return float(slide(ref, rbox, 1.2 * torch.exp(b[0]), 0.4 * torch.exp(b[1])))

        fd = (f(1.0) - f(-1.0)) / (2 * eps)
        assert abs(float(g[k]) - fd) <= 1e-5 * abs(fd), (k, float(g[k]), fd)


def test_partial_rewrite_keeps_the_other_entries_differentiable():
    scene, box = box_scene()
    kp = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=torch.float64, requires_grad=True)
    box.set_dofs_kp(kp)  # all six dofs
    box.set_dofs_kp(torch.tensor([7.0], dtype=torch.float64), [2])  # overwrite one entry (no grad)
    assert len(scene._params.overlays["dof_kp"][1]) == 2  # the first write still feeds the five others
    box.set_dofs_kp(torch.tensor([8.0, 9.0, 1.0, 2.0, 3.0, 4.0], dtype=torch.float64))  # covers both, no grad
    assert "dof_kp" not in scene._params.overlays


def test_whole_write_then_partial_write_keeps_both():
    scene, box = box_scene()
    rs = scene.sim.rigid_solver
    g = torch.tensor([0.0, 0.0, -9.81], dtype=torch.float64, requires_grad=True)
    rs.set_param("gravity", g)  # the whole (1, 3) parameter
    box.set_dofs_kp(torch.ones(6, dtype=torch.float64))
    rs.set_gravity(torch.tensor([0.0, 0.0, -9.0], dtype=torch.float64, requires_grad=True))  # all 3 entries again
    assert len(scene._params.overlays["gravity"][1]) == 1
    scene.sim.rigid_solver.set_param("dof_damping", torch.zeros(1, 6, dtype=torch.float64, requires_grad=True))
    box.set_dofs_damping(torch.tensor([0.5], dtype=torch.float64), [0])
    assert len(scene._params.overlays["dof_damping"][1]) == 2  # the whole write still feeds dofs 1-5
