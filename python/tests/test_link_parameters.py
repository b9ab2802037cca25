"""Link mass, centre of mass and inertia as differentiable inputs (Genesis names where they exist)."""

import os

import pybullet_data
import pytest
import torch

import kinegrad as gs

T = 30


def run(com=None, inertia=None, mass_shift=None, com_shift=None, requires_grad=True):
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.01, requires_grad=requires_grad),
        rigid_options=gs.options.RigidOptions(enable_collision=False),
    )
    arm = scene.add_entity(gs.morphs.URDF(file=os.path.join(pybullet_data.getDataPath(), "franka_panda", "panda.urdf"), fixed=True))
    scene.build()
    link = arm.get_link("panda_link4")
    if com is not None:
        link.set_com(com)
    if inertia is not None:
        link.set_inertia(inertia)
    if mass_shift is not None:
        arm.set_mass_shift(mass_shift, links_idx_local=[link.idx_local])
    if com_shift is not None:
        arm.set_COM_shift(com_shift, links_idx_local=[link.idx_local])
    arm.set_dofs_velocity(torch.tensor([0.5, -0.3, 0.2, 0.4, -0.2, 0.3, 0.1], dtype=torch.float64), list(range(7)))
    for _ in range(T):
        scene.step()
    return (arm.get_link("panda_hand").get_pos() ** 2).sum() + (arm.get_dofs_position()[:7] ** 2).sum()


def fd(f, x, d, eps):
    with torch.no_grad():
        return (float(f(x + eps * d)) - float(f(x - eps * d))) / (2 * eps)


@pytest.mark.parametrize("kind", ["com", "inertia", "mass_shift", "com_shift"])
def test_link_parameter_gradients_match_finite_differences(kind):
    probe = gs.Scene(rigid_options=gs.options.RigidOptions(enable_collision=False))
    arm = probe.add_entity(gs.morphs.URDF(file=os.path.join(pybullet_data.getDataPath(), "franka_panda", "panda.urdf"), fixed=True))
    probe.build()
    link = arm.get_link("panda_link4")
    x0 = {
        "com": link.get_com().clone(),
        "inertia": link.get_inertia().clone(),
        "mass_shift": torch.tensor([0.2], dtype=torch.float64),
        "com_shift": torch.tensor([[0.01, -0.02, 0.005]], dtype=torch.float64),
    }[kind]
    gen = torch.Generator().manual_seed(3)
    d = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    if kind == "inertia":
        d = 0.01 * (d + d.T)  # stay symmetric
    x = x0.clone().requires_grad_(True)
    loss = run(**{kind: x})
    loss.backward()
    an = float((x.grad * d).sum())
    num = fd(lambda y: run(**{kind: y}, requires_grad=False), x0, d, 1e-6)
    assert abs(an - num) <= 1e-5 * max(abs(num), 1e-8), (kind, an, num)
