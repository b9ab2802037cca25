"""gs.Tensor: creation ops, dtype from gs.init, scene propagation, mixing scenes, zero_grad, deepcopy."""

import copy
import weakref

import numpy as np
import pytest
import torch

import kinegrad as gs


def _grad_scene(n_envs=0):
    scene = gs.Scene(sim_options=gs.options.SimOptions(requires_grad=True))
    ball = scene.add_entity(gs.morphs.Sphere(pos=(0, 0, 1), radius=0.1))
    scene.build(n_envs=n_envs)
    return scene, ball


@pytest.mark.parametrize("precision, fdt, idt", [("32", torch.float32, torch.int32), ("64", torch.float64, torch.int64)])
def test_creation_ops_use_the_init_precision(precision, fdt, idt):
    gs.init(precision=precision, logging_level="warning")
    assert gs.tc_float == fdt and gs.tc_int == idt
    x = gs.tensor([0.5, 0.73, 0.5])
    assert isinstance(x, gs.Tensor) and isinstance(x, torch.Tensor)
    assert x.dtype == fdt and x.scene is None and x.is_leaf
    assert gs.tensor([1, 2, 3]).dtype == idt
    assert gs.tensor([1, 2, 3], dtype=float).dtype == fdt
    assert gs.tensor([1.0, 2.0], dtype=int).dtype == idt
    assert gs.tensor([True, False]).dtype == torch.bool
    assert gs.tensor(np.array([1.0, 2.0], dtype=np.float16)).dtype == fdt
    for op in (gs.zeros, gs.ones, gs.rand, gs.randn):
        a = op(2, 3)
        b = op(size=(2, 3), requires_grad=True)
        c = op((2, 3))
        assert a.shape == b.shape == c.shape == (2, 3)
        assert a.dtype == b.dtype == fdt and isinstance(b, gs.Tensor)
        assert b.requires_grad and b.is_leaf and not a.requires_grad
    assert gs.zeros(3, dtype=int).dtype == idt
    arr = np.arange(4, dtype=np.float64)
    f = gs.from_numpy(arr)
    assert f.dtype == fdt and isinstance(f, gs.Tensor)
    arr[0] = 100.0
    assert float(f[0]) == 0.0  # a copy
    assert gs.from_numpy(np.arange(3)).dtype == idt


def test_rand_is_seeded_by_init():
    gs.init(precision="64", seed=7, logging_level="warning")
    a = gs.rand(5)
    gs.init(precision="64", seed=7, logging_level="warning")
    assert torch.equal(a, gs.rand(5))


def test_leaf_tensors_get_gradients_and_zero_grad():
    y = gs.rand(size=(4, 3), requires_grad=True)
    (y * 2).sum().backward()
    assert torch.equal(y.grad, torch.full((4, 3), 2.0, dtype=torch.float64))
    y.zero_grad()
    assert torch.equal(y.grad, torch.zeros(4, 3, dtype=torch.float64))
    (y * 3).sum().backward()
    assert torch.equal(y.grad, torch.full((4, 3), 3.0, dtype=torch.float64))


def test_from_torch_detach_or_keep_the_graph():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3.0
    cut = gs.from_torch(h, detach=True)
    assert cut.is_leaf and cut.requires_grad and cut.dtype == torch.float64
    assert gs.from_torch(h.detach()).requires_grad is False
    kept = gs.from_torch(h, detach=False)
    assert isinstance(kept, gs.Tensor) and not kept.is_leaf
    (kept * kept).sum().backward()
    assert torch.allclose(w.grad, 2 * 9.0 * torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="torch.Tensor"):
        gs.from_torch([1.0, 2.0])


def test_device_other_than_cpu_is_refused():
    with pytest.raises(ValueError, match="device"):
        gs.zeros(3, device="cuda")
    assert gs.zeros(3, device="cpu").shape == (3,)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        gs.tensor([1, 2], requires_grad=True)


def test_readings_of_a_grad_scene_carry_the_scene_and_it_propagates():
    scene, ball = _grad_scene()
    q = scene.sim.rigid_solver.get_qpos()
    assert isinstance(q, gs.Tensor) and q.scene is scene
    for r in (ball.get_dofs_position(), ball.get_dofs_velocity(), ball.get_qpos(), scene.get_state().qpos):
        if isinstance(r, gs.Tensor):
            assert r.scene is scene
    assert isinstance(ball.get_dofs_position(), gs.Tensor)
    free = gs.rand(size=(), requires_grad=True)
    assert free.scene is None
    for derived in (q + free, torch.sin(q), q.sum(), q[0:3] * 2, torch.stack([q, q]), torch.cat([q, q]), q.clone()):
        assert isinstance(derived, gs.Tensor) and derived.scene is scene, derived
    a, b = torch.split(q, [3, 4])
    assert a.scene is scene and b.scene is scene
    # plain torch tensors mixed with scene tensors give scene tensors
    assert (q + torch.ones(7, dtype=torch.float64)).scene is scene


def _graph_nodes(t):
    seen, todo = [], [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is not None and fn not in seen:
            seen.append(fn)
            todo.extend(f for f, _ in fn.next_functions)
    return [type(fn).__name__ for fn in seen]


def test_ops_on_scene_tensors_add_one_graph_node_each_and_leave_other_tensors_alone():
    """A gs.Tensor op result is the op's own tensor (no alias node in the graph: one node per op
    for the backward to run, as with plain tensors); tensors the caller still holds (in-place
    and ``out=`` results, ``.grad``) keep their type."""
    scene, ball = _grad_scene()
    u = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    ball.control_dofs_force(u)
    scene.step()
    q = scene.sim.rigid_solver.get_qpos()
    loss = (q**2).sum() + 0.1 * torch.sin(q).sum()
    nodes = _graph_nodes(loss)
    assert "AliasBackward0" not in nodes, nodes
    assert nodes.count("PowBackward0") == 1 and isinstance(loss, gs.Tensor) and loss.scene is scene
    loss.backward()
    assert float(u.grad.abs().max()) > 0
    plain = torch.ones(7, dtype=torch.float64)
    out = plain.add_(q.detach())
    assert type(plain) is torch.Tensor and out.data_ptr() == plain.data_ptr()
    target = torch.empty(7, dtype=torch.float64)
    torch.mul(q.detach(), 2.0, out=target)
    assert type(target) is torch.Tensor
    torch.testing.assert_close(target, 2 * q.detach(), rtol=0, atol=0)
    # a result the op's own machinery already holds (weakly, here a saved-tensor hook) stays plain
    held = []

    def pack(t):
        held.append(weakref.ref(t))
        return t.detach().clone()

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = q.exp()
    assert isinstance(y, gs.Tensor) and y.scene is scene
    assert all(type(r()) is torch.Tensor for r in held if r() is not None and r() is not y)
    assert not any(r() is y for r in held)


def test_readings_of_a_plain_scene_are_plain_tensors():
    scene = gs.Scene()
    scene.add_entity(gs.morphs.Sphere(pos=(0, 0, 1), radius=0.1))
    scene.build()
    q = scene.sim.rigid_solver.get_qpos()
    assert type(q) is torch.Tensor


def test_mixing_tensors_of_two_scenes_raises():
    s1, b1 = _grad_scene()
    s2, b2 = _grad_scene()
    b1.control_dofs_force(torch.zeros(6, dtype=torch.float64, requires_grad=True))
    s1.step()
    q1, q2 = s1.sim.rigid_solver.get_qpos(), s2.sim.rigid_solver.get_qpos()
    with pytest.raises(RuntimeError, match="two different scenes"):
        q1 + q2
    with pytest.raises(RuntimeError, match="two different scenes"):
        torch.stack([q1, q2])
    # giving one scene a tensor of another scene is refused too
    with pytest.raises(RuntimeError, match="another scene"):
        b2.control_dofs_force(s1.sim.rigid_solver.get_dofs_velocity())
    with pytest.raises(RuntimeError, match="another scene"):
        b2.set_dofs_velocity(s1.sim.rigid_solver.get_dofs_velocity())
    # detached values are fine (a detached tensor has no scene)
    d = s1.sim.rigid_solver.get_dofs_velocity().detach()
    assert d.scene is None
    b2.set_dofs_velocity(d)


def test_plain_torch_and_numpy_inputs_are_accepted_by_a_grad_scene():
    scene, ball = _grad_scene()
    ball.control_dofs_force(torch.zeros(6))
    ball.control_dofs_force(np.zeros(6))
    ball.control_dofs_force([0.0] * 6)
    ball.set_dofs_velocity(gs.zeros(6))
    scene.step()
    assert scene.sim.rigid_solver.get_qpos().shape == (7,)


def test_float32_precision_readings_keep_the_graph():
    gs.init(precision="32", logging_level="warning")
    scene, ball = _grad_scene()
    u = gs.zeros(6, requires_grad=True)
    ball.control_dofs_force(u)
    scene.step()
    q = ball.get_qpos()
    assert q.dtype == torch.float32 and q.grad_fn is not None and q.scene is scene


def test_format_spec_works_like_torch():
    # f"{loss:.4f}" on a loss built from readings: a 0-d gs.Tensor formats as its number
    loss = gs.tensor(1.5, requires_grad=True) * 2
    assert isinstance(loss, gs.Tensor) and loss.requires_grad
    assert f"{loss:.3f}" == "3.000" and f"{gs.tensor(7):d}" == "7"
    v = gs.tensor([1.0, 2.0])
    assert f"{v}" == str(v)
    with pytest.raises(TypeError):  # as torch: a format spec needs a 0-d tensor
        f"{v:.3f}"
    with pytest.raises(TypeError):
        f"{torch.tensor([1.0, 2.0]):.3f}"


def test_deepcopy_keeps_the_scene_and_copies_data_and_grad():
    scene, ball = _grad_scene()
    a = gs.tensor([1.0, 2.0], requires_grad=True)
    (a**2).sum().backward()
    q = scene.sim.rigid_solver.get_qpos().detach()  # a leaf without grad (detached: no scene)
    a.note = {"tag": [1]}
    b, r, r2 = copy.deepcopy([a, q, q])
    assert type(b) is gs.Tensor and b.requires_grad and b.is_leaf and b.scene is None
    torch.testing.assert_close(b, a, rtol=0, atol=0)
    assert b.data_ptr() != a.data_ptr() and b.grad is not None and b.grad.data_ptr() != a.grad.data_ptr()
    torch.testing.assert_close(b.grad, a.grad, rtol=0, atol=0)
    assert b.note == a.note and b.note is not a.note
    assert type(r) is gs.Tensor and not r.requires_grad and r is r2  # one copy of one object
    s = gs.from_torch(torch.ones(3), detach=True)
    s.__dict__["scene"] = scene
    assert copy.deepcopy(s).scene is scene
    with pytest.raises(RuntimeError, match="only graph leaves can be deep-copied"):
        copy.deepcopy(a * 2)
