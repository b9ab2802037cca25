"""Gradients through scene.step(), readings and scene.rollout() (DESIGN 4-5).

Tests marked ``needs_vjp`` exercise the Rust reverse pass (``kinegrad::adjoint``) and fail
until it is merged; the others (forward behaviour, graph structure, error cases) run now.
Finite differences are taken through the public Python API on a scene without grad.
"""

import os
import tempfile

import numpy as np
import pytest
import torch

import kinegrad as gs
from conftest import FRANKA_KP, FRANKA_KV, franka_urdf
from kinegrad import _autograd

needs_vjp = pytest.mark.needs_vjp
pytestmark = pytest.mark.filterwarnings("ignore:.*unsupported, ignored:UserWarning")

PENDULUM = """
<mujoco model="pendulum">
  <option timestep="0.01"/>
  <worldbody>
    <body name="pole" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="0.05"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.04" mass="1"/>
      <body name="tip" pos="0 0 -0.5">
        <joint name="hinge2" type="hinge" axis="0 1 0"/>
        <geom type="capsule" fromto="0 0 0 0 0 -0.4" size="0.03" mass="0.5"/>
      </body>
    </body>
  </worldbody>
</mujoco>
"""


def _pendulum_file() -> str:
    path = os.path.join(tempfile.gettempdir(), f"kinegrad_test_pendulum_{os.getpid()}.xml")
    with open(path, "w") as f:
        f.write(PENDULUM)
    return path


def pendulum_scene(requires_grad=True, n_envs=0):
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.01, requires_grad=requires_grad),
        rigid_options=gs.options.RigidOptions(enable_collision=False, enable_joint_limit=False),
    )
    ent = scene.add_entity(gs.morphs.MJCF(file=_pendulum_file()))
    scene.build(n_envs=n_envs)
    return scene, ent


def franka_scene(requires_grad=True, n_envs=0):
    """Franka Panda (pybullet_data URDF), fixed base, no floor, free space (no collisions, no limits)."""
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.01, requires_grad=requires_grad),
        rigid_options=gs.options.RigidOptions(enable_collision=False, enable_joint_limit=False),
    )
    robot = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True))
    scene.build(n_envs=n_envs)
    robot.set_dofs_kp(FRANKA_KP)
    robot.set_dofs_kv(FRANKA_KV)
    q0 = torch.tensor([0.0, -0.3, 0.0, -2.0, 0.0, 1.8, 0.8, 0.02, 0.02], dtype=torch.float64)
    robot.set_dofs_position(q0 if n_envs == 0 else q0.expand(n_envs, -1))
    # the pose above becomes the reset state
    scene._init_q, scene._init_v = scene._qpos.detach().clone(), scene._qvel.detach().clone()
    return scene, robot


Q_HOME = [0.0, -0.3, 0.0, -2.0, 0.0, 1.8, 0.8, 0.02, 0.02]
W = torch.linspace(0.5, 1.5, 9, dtype=torch.float64)


def _loss_of_state(q, v):
    return ((q - 0.1) ** 2 * W).sum() + 0.01 * (v**2).sum()


def _rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-8)


def _fd(f, x, eps=1e-6, directions=None):
    """Central differences of scalar f at x (float64 tensor); per component or along directions."""
    x = x.detach().clone()
    if directions is None:
        directions = [torch.zeros_like(x).view(-1).index_fill_(0, torch.tensor([i]), 1.0).view_as(x) for i in range(x.numel())]
    return np.array([(f(x + eps * d) - f(x - eps * d)) / (2 * eps) for d in directions])


# ---------------------------------------------------------------- forward behaviour (runs now)


def test_grad_scene_steps_like_a_plain_scene():
    a, ra = franka_scene(requires_grad=True)
    b, rb = franka_scene(requires_grad=False)
    tgt = torch.tensor(Q_HOME, dtype=torch.float64) + 0.1
    for s, r in ((a, ra), (b, rb)):
        r.control_dofs_position(tgt)
        for _ in range(20):
            s.step()
    torch.testing.assert_close(a.sim.rigid_solver.get_qpos().detach(), b.sim.rigid_solver.get_qpos(), rtol=0, atol=0)
    torch.testing.assert_close(ra.get_dofs_velocity().detach(), rb.get_dofs_velocity(), rtol=0, atol=0)


def test_user_story_qpos_carries_grad_fn():
    # seeds/004: an MLP's steering output drives PD targets; qpos must carry the graph
    scene, robot = franka_scene()
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    out = mlp(torch.tensor([0.3, -0.2], dtype=torch.float64))
    robot.control_dofs_position(gs.from_torch(torch.stack([out[0] * 0.8, out[1] * 0.8]), detach=False), dofs_idx_local=np.array([0, 1]))
    scene.step()
    qpos = scene.sim.rigid_solver.get_qpos()
    assert qpos.requires_grad and qpos.grad_fn is not None and qpos.scene is scene
    assert scene.sim.rigid_solver.get_qvel().grad_fn is not None
    assert robot.get_dofs_position().grad_fn is not None


def test_rollout_forward_matches_steps_and_checkpointing():
    U = 2.0 * torch.sin(torch.arange(30 * 9, dtype=torch.float64).reshape(30, 9) / 7.0)
    a, ra = franka_scene()
    Q, V = a.rollout(U)
    assert Q.shape == (30, 9) and V.shape == (30, 9)
    b, rb = franka_scene()
    qs = []
    for t in range(30):
        rb.control_dofs_force(U[t])
        b.step()
        qs.append(b.sim.rigid_solver.get_qpos().detach())
    torch.testing.assert_close(Q.detach(), torch.stack(qs), rtol=0, atol=0)
    torch.testing.assert_close(a.sim.rigid_solver.get_qpos().detach(), qs[-1], rtol=0, atol=0)
    assert a.t == 30
    c, _ = franka_scene()
    Qc, _ = c.rollout(U, checkpoint=7)
    torch.testing.assert_close(Qc.detach(), Q.detach(), rtol=0, atol=0)


def test_parameter_changes_between_steps_are_used():
    a, ra = franka_scene()
    b, rb = franka_scene(requires_grad=False)
    tgt = torch.tensor(Q_HOME, dtype=torch.float64) + 0.2
    kp = torch.tensor(FRANKA_KP, dtype=torch.float64, requires_grad=True)
    for s, r, k in ((a, ra, kp), (b, rb, kp.detach())):
        r.control_dofs_position(tgt)
        for t in range(10):
            if t == 5:
                r.set_dofs_kp(k * 0.5)
            s.step()
    torch.testing.assert_close(a.sim.rigid_solver.get_qpos().detach(), b.sim.rigid_solver.get_qpos(), rtol=0, atol=0)
    torch.testing.assert_close(ra.get_dofs_kp(), rb.get_dofs_kp())


def test_reset_starts_a_new_graph():
    scene, robot = franka_scene()
    robot.control_dofs_force(torch.ones(9, dtype=torch.float64, requires_grad=True))
    scene.step()
    assert scene.sim.rigid_solver.get_qpos().grad_fn is not None
    scene.reset()
    assert scene.sim.rigid_solver.get_qpos().grad_fn is None
    assert scene.t == 0
    scene.step()  # controls are kept (values), not their history
    assert scene.sim.rigid_solver.get_qpos().grad_fn is None


def test_truncate_graph_cuts_history():
    scene, robot = franka_scene()
    robot.control_dofs_force(torch.ones(9, dtype=torch.float64, requires_grad=True))
    scene.step()
    gs.utils.detach_state(scene)
    assert scene.sim.rigid_solver.get_qpos().grad_fn is None
    q = scene.sim.rigid_solver.get_qpos().detach().clone()
    scene.truncate_graph()
    torch.testing.assert_close(scene.sim.rigid_solver.get_qpos().detach(), q)


# ---------------------------------------------------------------- error cases (run now)


def test_nan_control_is_refused_naming_argument_and_step():
    scene, robot = franka_scene()
    scene.step()
    scene.step()
    q2 = scene.sim.rigid_solver.get_qpos().detach().clone()
    scene.step()
    u = torch.zeros(9, dtype=torch.float64)
    u[3] = float("nan")
    robot.control_dofs_force(u)  # steps run when a reading needs them: the error comes from there
    scene.step()
    scene.step()
    with pytest.raises(ValueError, match=r"step 3.*control_dofs_force.*dof 3.*NaN"):
        scene.sim.rigid_solver.get_qpos()
    # the steps before the failing one stand; the failing one and those after it did not run
    assert scene.t == 3
    q3 = scene.sim.rigid_solver.get_qpos().detach()
    assert not torch.equal(q3, q2)
    scene.step()  # the NaN write was dropped with its step: the controls are those of step 2
    assert torch.isfinite(scene.sim.rigid_solver.get_qpos()).all() and scene.t == 4
    U = torch.zeros(10, 9, dtype=torch.float64)
    U[4, 1] = float("nan")
    with pytest.raises(ValueError, match=r"controls.*NaN.*step 8.*dof 1"):
        scene.rollout(U)


def test_nan_state_or_parameter_is_refused_naming_it_and_the_step():
    scene, robot = franka_scene()
    scene.step()
    scene._qvel = scene._qvel.clone()
    scene._qvel[0, 2] = float("nan")
    with pytest.raises(ValueError, match=r"step 1.*dofs_vel.*NaN"):
        scene.step()
    with pytest.raises(ValueError, match="kp"):
        robot.set_dofs_kp(torch.full((9,), float("nan"), requires_grad=True))


def test_wrong_shapes_are_refused():
    scene, robot = franka_scene()
    with pytest.raises(ValueError, match=r"force: expected shape \(9,\)"):
        robot.control_dofs_force(torch.zeros(8, requires_grad=True))
    with pytest.raises(ValueError, match=r"controls: expected shape \(T, 9\)"):
        scene.rollout(torch.zeros(10, 8))
    with pytest.raises(ValueError, match=r"controls: expected shape"):
        scene.rollout(torch.zeros(0, 9))
    with pytest.raises(ValueError, match="checkpoint"):
        scene.rollout(torch.zeros(10, 9), checkpoint=0)
    with pytest.raises(ValueError, match=r"kp: expected shape"):
        robot.set_dofs_kp(torch.ones(3, requires_grad=True))


@pytest.mark.parametrize("node", ["rollout", "steps", "link reading"])
def test_second_derivative_through_a_node_is_refused_not_left_out(node):
    """The nodes' reverse passes are native (their results carry no graph): a gradient taken
    with create_graph=True works, and differentiating it again raises rather than silently
    dropping the nodes' terms (here the loss also has a term of U alone, which alone would
    give a graph)."""
    scene, robot = franka_scene()
    U = torch.full((5, 9), 0.1, dtype=torch.float64, requires_grad=True)
    if node == "rollout":
        q, _ = scene.rollout(U, trajectory=False)
    else:
        for t in range(5):
            robot.control_dofs_force(U[t])
            scene.step()
        q = scene.sim.rigid_solver.get_qpos() if node == "steps" else scene.sim.rigid_solver.get_links_pos()
    (g,) = torch.autograd.grad((q**2).sum() + (U**3).sum(), U, create_graph=True)
    assert g.requires_grad and float(g.detach().abs().max()) > 0
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()


def test_nan_gradient_is_reported_with_its_step():
    scene, robot = franka_scene()
    u = torch.zeros(9, dtype=torch.float64, requires_grad=True)
    robot.control_dofs_force(u)
    for _ in range(5):
        scene.step()
    loss = (scene.sim.rigid_solver.get_qpos() * float("nan")).sum()
    with pytest.raises(RuntimeError, match=r"after step 4 contains NaN"):
        loss.backward()


@pytest.mark.parametrize("trajectory", [True, False])
def test_nan_gradient_of_a_rollout_names_the_step_and_entry(trajectory):
    scene, robot = franka_scene()
    U = torch.zeros(6, 9, dtype=torch.float64, requires_grad=True)
    scene.step()  # the rollout's steps are steps 1..6
    Q, V = scene.rollout(U, trajectory=trajectory)
    w = torch.ones_like(V)
    w[(3, 2) if trajectory else (2,)] = float("inf")
    step = 4 if trajectory else 6
    with pytest.raises(RuntimeError, match=rf"dofs_vel after step {step} contains NaN or inf \(at index \(0, 2\)\)") as err:
        (Q.sum() + (V * w).sum()).backward()
    assert err.value.__context__ is None or err.value.__suppress_context__  # no native error chained
    assert U.grad is None


def test_native_step_functional_leaves_the_stored_state_alone():
    scene, _ = franka_scene()
    sim = scene._native
    before = sim.get_qpos().copy()
    q = scene._qpos.numpy().copy()
    v = np.ones_like(scene._qvel.numpy())
    q2, v2, a2 = sim.step_functional(q, v, np.zeros((1, 9), np.int8), np.zeros((1, 9)), 3)
    np.testing.assert_array_equal(sim.get_qpos(), before)
    assert not np.array_equal(q2, q) and a2.shape == (1, 0)  # (the Franka has no activations)
    with pytest.raises(ValueError, match="target"):
        sim.step_functional(q, v, np.zeros((1, 9), np.int8), np.full((1, 9), np.nan))
    with pytest.raises(ValueError, match="qpos"):
        sim.step_functional(q[:, :5], v, np.zeros((1, 9), np.int8), np.zeros((1, 9)))


# ---------------------------------------------------------------- gradients (need the Rust VJP)


def _step_fn(scene, names=()):
    """(q, v, target, *params) -> (q', v') through StepFunction, for gradcheck."""
    mode = scene._ctrl_mode.clone()

    def f(q, v, target, *params):
        return _autograd.StepFunction.apply(scene, 0, scene._params.snapshot(), mode, q, v, target, names, *params)

    return f


@needs_vjp
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_gradcheck_step_function_pendulum(mode):
    scene, ent = pendulum_scene()
    scene.sim.rigid_solver.set_param("dof_kp", torch.tensor([[5.0, 3.0]], dtype=torch.float64))
    scene.sim.rigid_solver.set_param("dof_kv", torch.tensor([[0.5, 0.2]], dtype=torch.float64))
    # interior values: gradcheck perturbs every parameter both ways, and damping/armature < 0 are invalid
    scene.sim.rigid_solver.set_param("dof_damping", torch.tensor([[0.1, 0.05]], dtype=torch.float64))
    scene.sim.rigid_solver.set_param("dof_armature", torch.tensor([[0.01, 0.02]], dtype=torch.float64))
    scene._ctrl_mode = torch.full((1, 2), mode, dtype=torch.int8)
    q = torch.tensor([[0.4, -0.3]], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([[0.2, 0.5]], dtype=torch.float64, requires_grad=True)
    u = torch.tensor([[0.1, -0.2]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_step_fn(scene), (q, v, u), eps=1e-6, atol=1e-7, rtol=1e-5)
    # parameters as inputs: kp, kv, damping, armature, body mass, gravity
    rs = scene.sim.rigid_solver
    names = ("dof_kp", "dof_kv", "dof_damping", "dof_armature", "body_mass", "gravity")
    ps = tuple(rs.get_param(n).clone().requires_grad_(True) for n in names)
    assert torch.autograd.gradcheck(_step_fn(scene, names), (q, v, u, *ps), eps=1e-6, atol=1e-7, rtol=1e-5)


@needs_vjp
def test_gradcheck_step_function_free_body_quaternion():
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.01, requires_grad=True),
        rigid_options=gs.options.RigidOptions(enable_collision=False),
    )
    scene.add_entity(gs.morphs.Box(pos=(0, 0, 1), size=(0.2, 0.1, 0.05)))
    scene.build()
    q = torch.tensor([[0.1, 0.2, 1.0, 0.9, 0.1, -0.2, 0.3]], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([[0.1, 0.0, 0.3, 1.0, -2.0, 0.5]], dtype=torch.float64, requires_grad=True)
    u = torch.tensor([[0.0, 0.1, 0.0, 0.01, 0.0, -0.02]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_step_fn(scene), (q, v, u), eps=1e-6, atol=1e-7, rtol=1e-5)


@needs_vjp
def test_gradcheck_pose_reading_function_pendulum():
    scene, _ = pendulum_scene()

    def f(q, v):
        return _autograd.KinematicsFunction.apply(scene, scene._params.snapshot(), q, v, ())

    q = torch.tensor([[0.4, -0.3]], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([[0.2, 0.5]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (q, v), eps=1e-6, atol=1e-7, rtol=1e-5)


def _franka_run(kind, x, n_steps=100, requires_grad=True):
    """Loss after n_steps of the Franka with ``x`` as the input of the given kind."""
    scene, robot = franka_scene(requires_grad=requires_grad)
    home = torch.tensor(Q_HOME, dtype=torch.float64)
    if kind == "v0":
        robot.set_dofs_velocity(x)
        robot.control_dofs_position(home)
        for _ in range(n_steps):
            scene.step()
    elif kind == "force":  # x: (n_steps, 9) torques
        for t in range(n_steps):
            robot.control_dofs_force(x[t])
            scene.step()
    elif kind == "pd":  # x: (n_steps, 9) position targets
        for t in range(n_steps):
            robot.control_dofs_position(x[t])
            scene.step()
    elif kind == "kp":
        robot.set_dofs_kp(x)
        robot.control_dofs_position(home + 0.2)
        for _ in range(n_steps):
            scene.step()
    rs = scene.sim.rigid_solver
    return _loss_of_state(rs.get_qpos(), rs.get_qvel())


def _franka_input(kind):
    g = torch.Generator().manual_seed(0)
    home = torch.tensor(Q_HOME, dtype=torch.float64)
    if kind == "v0":
        return 0.3 * torch.randn(9, generator=g, dtype=torch.float64)
    if kind == "force":
        return 2.0 * torch.randn(100, 9, generator=g, dtype=torch.float64)
    if kind == "pd":
        return home + 0.2 * torch.randn(100, 9, generator=g, dtype=torch.float64)
    return torch.tensor(FRANKA_KP, dtype=torch.float64) * (1 + 0.1 * torch.rand(9, generator=g, dtype=torch.float64))


@needs_vjp
@pytest.mark.parametrize("kind", ["v0", "force", "pd", "kp"])
def test_franka_100_step_gradient_matches_finite_differences(kind):
    x = _franka_input(kind).requires_grad_(True)
    loss = _franka_run(kind, x)
    loss.backward()
    g = x.grad.detach()
    f = lambda xx: float(_franka_run(kind, xx, requires_grad=False))  # noqa: E731
    # the initial velocity is damped out by the PD gains: its gradient is ~1e-7, so a 1e-6
    # step would leave ~1e-3 relative round-off; the loss is smooth, a 1e-3 step is accurate
    eps = 1e-6 * max(1.0, float(x.detach().abs().max())) if kind == "kp" else (1e-3 if kind == "v0" else 1e-6)
    if x.numel() <= 9:
        fd = _fd(f, x, eps)
        assert _rel_err(g.numpy().reshape(-1), fd) < 1e-5, (g, fd)
    else:
        gen = torch.Generator().manual_seed(1)
        dirs = [torch.randn(x.shape, generator=gen, dtype=torch.float64) for _ in range(3)]
        fd = _fd(f, x, eps, dirs)
        an = np.array([float((g * d).sum()) for d in dirs])
        assert _rel_err(an, fd) < 1e-5, (an, fd)


@needs_vjp
def test_autograd_grad_and_rollout_agree_with_step_loop():
    U = _franka_input("force").requires_grad_(True)
    (g_steps,) = torch.autograd.grad(_franka_run("force", U), U)
    for ck in (None, 1, 7, 100):
        scene, _ = franka_scene()
        Q, V = scene.rollout(U, checkpoint=ck)
        (g_roll,) = torch.autograd.grad(_loss_of_state(Q[-1], V[-1]), U)
        # two scenes: compare as plain tensors (gs.Tensor refuses to mix scenes in one op)
        torch.testing.assert_close(g_roll.detach(), g_steps.detach(), rtol=1e-10, atol=1e-12)
        assert scene.grad_trace.shape == (100,) and bool(torch.isfinite(scene.grad_trace).all())


@needs_vjp
@pytest.mark.parametrize("trajectory", [False, True])
def test_rollout_then_steps_gradient_equals_step_loop(trajectory):
    """A rollout's outputs of an unbatched scene are the state the next steps start from (the
    scene keeps them and makes its batched view only when needed): a loss on the rollout's
    output and on the state 30 steps later has the gradient of the same loss over a step loop."""
    U = _franka_input("force")[:60].requires_grad_(True)

    def loop_loss():
        scene, robot = franka_scene()
        for t in range(30):
            robot.control_dofs_force(U[t])
            scene.step()
        mid = scene.sim.rigid_solver.get_qpos()
        for t in range(30, 60):
            robot.control_dofs_force(U[t])
            scene.step()
        return (mid**2).sum() + _loss_of_state(scene.sim.rigid_solver.get_qpos(), scene.sim.rigid_solver.get_qvel())

    (g_loop,) = torch.autograd.grad(loop_loss(), U)
    scene, robot = franka_scene()
    Q, V = scene.rollout(U[:30], trajectory=trajectory)
    assert isinstance(Q, gs.Tensor) and Q.scene is scene and Q.grad_fn is not None
    assert Q.shape == ((30, 9) if trajectory else (9,)) and V.shape == Q.shape
    mid = Q[-1] if trajectory else Q
    torch.testing.assert_close(scene.sim.rigid_solver.get_qpos().detach(), mid.detach(), rtol=0, atol=0)
    for t in range(30, 60):
        robot.control_dofs_force(U[t])
        scene.step()
    loss = (mid**2).sum() + _loss_of_state(scene.sim.rigid_solver.get_qpos(), scene.sim.rigid_solver.get_qvel())
    (g_roll,) = torch.autograd.grad(loss, U)
    torch.testing.assert_close(g_roll.detach(), g_loop.detach(), rtol=1e-10, atol=1e-12)


def test_rollout_without_grad_mode_builds_no_node():
    """``torch.no_grad()`` around a rollout of a requires_grad scene: same trajectory, no node, no tape."""
    U = _franka_input("force")[:20].requires_grad_(True)
    a, _ = franka_scene()
    qa, _ = a.rollout(U, trajectory=False)
    b, _ = franka_scene()
    with torch.no_grad():
        qb, vb = b.rollout(U, trajectory=False)
    assert qb.grad_fn is None and not qb.requires_grad and b.graph_nbytes == 0
    torch.testing.assert_close(qb.detach().as_subclass(torch.Tensor), qa.detach().as_subclass(torch.Tensor), rtol=0, atol=0)


@needs_vjp
def test_rollout_trajectory_loss_matches_finite_differences():
    U = 0.5 * _franka_input("force")[:40]

    def loss_of(Q, V):
        return ((Q - 0.1) ** 2).sum() / 40 + 0.01 * (V**2).sum() / 40

    scene, _ = franka_scene()
    Ug = U.clone().requires_grad_(True)
    Q, V = scene.rollout(Ug, checkpoint=6)
    loss_of(Q, V).backward()

    def f(uu):
        s, _ = franka_scene(requires_grad=False)
        Qf, Vf = s.rollout(uu)
        return float(loss_of(Qf, Vf))

    d = torch.randn(U.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    fd = _fd(f, U, 1e-6, [d])
    assert _rel_err([float((Ug.grad * d).sum())], fd) < 1e-5


@needs_vjp
def test_control_tensor_used_in_several_steps_accumulates():
    scene, robot = franka_scene()
    u = torch.full((9,), 0.5, dtype=torch.float64, requires_grad=True)
    robot.control_dofs_force(u)  # set once, used by 10 steps
    for _ in range(10):
        scene.step()
    loss = _loss_of_state(scene.sim.rigid_solver.get_qpos(), scene.sim.rigid_solver.get_qvel())
    loss.backward()
    U = u.detach().expand(10, 9).clone().requires_grad_(True)
    scene2, robot2 = franka_scene()
    for t in range(10):
        robot2.control_dofs_force(U[t])
        scene2.step()
    _loss_of_state(scene2.sim.rigid_solver.get_qpos(), scene2.sim.rigid_solver.get_qvel()).backward()
    torch.testing.assert_close(u.grad, U.grad.sum(0))
    assert float(u.grad.abs().sum()) > 0


@needs_vjp
def test_retain_graph_behaves_as_in_torch():
    scene, robot = franka_scene()
    u = torch.zeros(9, dtype=torch.float64, requires_grad=True)
    robot.control_dofs_force(u)
    for _ in range(3):
        scene.step()
    loss = _loss_of_state(scene.sim.rigid_solver.get_qpos(), scene.sim.rigid_solver.get_qvel())
    loss.backward(retain_graph=True)
    g1 = u.grad.clone()
    loss.backward()
    torch.testing.assert_close(u.grad, 2 * g1)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


@needs_vjp
def test_batched_gradients_equal_single_env_gradients():
    n = 3
    g = torch.Generator().manual_seed(5)
    V0 = 0.3 * torch.randn(n, 9, generator=g, dtype=torch.float64)
    KP = torch.tensor(FRANKA_KP, dtype=torch.float64) * (1 + 0.1 * torch.rand(n, 9, generator=g, dtype=torch.float64))
    U = 0.5 * torch.randn(n, 20, 9, generator=g, dtype=torch.float64)
    home = torch.tensor(Q_HOME, dtype=torch.float64)

    def run(scene, robot, v0, kp, u):
        robot.set_dofs_velocity(v0)
        robot.set_dofs_kp(kp)
        for t in range(20):
            robot.control_dofs_position(home + u[..., t, :])
            scene.step()
        return scene.sim.rigid_solver.get_qpos(), scene.sim.rigid_solver.get_qvel()

    sb, rb = franka_scene(n_envs=n)
    vb, kb, ub = (x.clone().requires_grad_(True) for x in (V0, KP, U))
    Qb, Vb = run(sb, rb, vb, kb, ub)
    sum(_loss_of_state(Qb[e], Vb[e]) for e in range(n)).backward()
    for e in range(n):
        s1, r1 = franka_scene()
        v1, k1, u1 = (x[e].clone().requires_grad_(True) for x in (V0, KP, U))
        Q1, V1 = run(s1, r1, v1, k1, u1)
        _loss_of_state(Q1, V1).backward()
        torch.testing.assert_close(Qb[e].detach(), Q1.detach(), rtol=0, atol=0)
        for gb, g1 in ((vb.grad[e], v1.grad), (kb.grad[e], k1.grad), (ub.grad[e], u1.grad)):
            torch.testing.assert_close(gb, g1, rtol=1e-12, atol=1e-14)


@needs_vjp
def test_mlp_policy_pd_targets_get_fd_correct_gradients():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(18, 16), torch.nn.Tanh(), torch.nn.Linear(16, 9)).double()
    home = torch.tensor(Q_HOME, dtype=torch.float64)

    def episode(requires_grad):
        scene, robot = franka_scene(requires_grad=requires_grad)
        loss = 0.0
        for _ in range(30):
            rs = scene.sim.rigid_solver
            obs = torch.cat([rs.get_qpos(), rs.get_qvel()]).to(torch.float64)
            robot.control_dofs_position(gs.from_torch(home + 0.3 * mlp(obs), detach=False))
            scene.step()
            loss = loss + ((scene.sim.rigid_solver.get_qpos()[:7] - 0.2) ** 2).sum()
        return loss

    loss = episode(True)
    loss.backward()
    w = mlp[2].weight
    assert float(w.grad.abs().sum()) > 0 and float(mlp[0].weight.grad.abs().sum()) > 0
    d = torch.randn(w.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    an = float((w.grad * d).sum())
    eps = 1e-6
    with torch.no_grad():
        w += eps * d
        lp = float(episode(False))
        w -= 2 * eps * d
        lm = float(episode(False))
        w += eps * d
    assert _rel_err([an], [(lp - lm) / (2 * eps)]) < 1e-5


@needs_vjp
def test_link_pose_loss_gradient_and_reset_between_epochs():
    # Genesis quick start: loss on a link position; the same leaf optimized over two epochs
    scene, robot = franka_scene()
    hand = robot.get_link("panda_hand") if any(l.name == "panda_hand" for l in robot.links) else robot.links[-1]
    u = torch.zeros(20, 9, dtype=torch.float64, requires_grad=True)
    kp = torch.tensor(FRANKA_KP, dtype=torch.float64, requires_grad=True)
    robot.set_dofs_kp(kp)
    grads = []
    for _ in range(2):
        scene.reset()
        for t in range(20):
            robot.control_dofs_position(torch.tensor(Q_HOME, dtype=torch.float64) + u[t])
            scene.step()
        pos = hand.get_pos()
        assert pos.grad_fn is not None and pos.scene is scene
        loss = ((pos - torch.tensor([0.4, 0.1, 0.5], dtype=torch.float64)) ** 2).sum()
        loss.backward()
        grads.append((u.grad.clone(), kp.grad.clone()))
        u.grad = None
        kp.grad = None
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])

    def f(uu):
        s, r = franka_scene(requires_grad=False)
        h = r.get_link(hand.name)
        for t in range(20):
            r.control_dofs_position(torch.tensor(Q_HOME, dtype=torch.float64) + uu[t])
            s.step()
        return float(((h.get_pos() - torch.tensor([0.4, 0.1, 0.5], dtype=torch.float64)) ** 2).sum())

    d = torch.randn(20, 9, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    fd = _fd(f, torch.zeros(20, 9, dtype=torch.float64), 1e-6, [d])
    assert _rel_err([float((grads[0][0] * d).sum())], fd) < 1e-5


@needs_vjp
def test_truncated_backprop_and_grad_clip():
    scene, robot = franka_scene()
    u = torch.ones(9, dtype=torch.float64, requires_grad=True)
    robot.control_dofs_force(u)
    for _ in range(5):
        scene.step()
    scene.truncate_graph()
    w = torch.ones(9, dtype=torch.float64, requires_grad=True)
    robot.control_dofs_force(w)
    for _ in range(5):
        scene.step()
    _loss_of_state(scene.sim.rigid_solver.get_qpos(), scene.sim.rigid_solver.get_qvel()).backward()
    assert u.grad is None and float(w.grad.abs().sum()) > 0
    trace = scene.grad_trace
    assert torch.isnan(trace[:5]).all() and torch.isfinite(trace[5:10]).all()
    gs.utils.set_grad_clip(scene, 1e-3)
    scene.reset()
    robot.control_dofs_force(w)
    for _ in range(5):
        scene.step()
    _loss_of_state(scene.sim.rigid_solver.get_qpos(), scene.sim.rigid_solver.get_qvel()).backward()
    assert float(scene.grad_trace.max()) > 0


@needs_vjp
def test_grad_trace_keeps_the_last_backward_of_each_step():
    """Two backward passes over overlapping steps (the state read at step 5, then at step 10):
    the trace holds the second's norms for steps 0..9, as a scene that ran only the second."""
    traces = []
    for first in (True, False):
        scene, robot = franka_scene()
        target = (scene._init_q[0] + 0.1).requires_grad_(True)
        robot.control_dofs_position(target)
        for _ in range(5):
            scene.step()
        q5 = scene.sim.rigid_solver.get_qpos()
        for _ in range(5):
            scene.step()
        q10 = scene.sim.rigid_solver.get_qpos()
        if first:
            (100.0 * q5.sum()).backward(retain_graph=True)
            assert scene.grad_trace.shape == (5,)
        (q10**2).sum().backward()
        traces.append(scene.grad_trace)
    assert traces[0].shape == (10,) and bool(torch.isfinite(traces[0]).all())
    torch.testing.assert_close(traces[0], traces[1], rtol=0, atol=0)


@needs_vjp
def test_grad_trace_is_the_same_over_one_segment_or_one_per_step():
    """The per-step gradient norms of 600 steps read once at the end (one segment) and read
    after every step (600 one-step segments, whose records are merged as they pile up)."""
    traces = []
    for read_every_step in (False, True):
        scene, robot = franka_scene()
        target = (scene._init_q[0] + 0.1).requires_grad_(True)  # PD towards a nearby pose
        robot.control_dofs_position(target)
        for _ in range(600):
            scene.step()
            if read_every_step:
                scene.sim.rigid_solver.get_qpos()
        _loss_of_state(scene.sim.rigid_solver.get_qpos(), scene.sim.rigid_solver.get_qvel()).backward()
        traces.append(scene.grad_trace)
    assert traces[0].shape == (600,) and bool(torch.isfinite(traces[0]).all())
    torch.testing.assert_close(traces[1], traces[0], rtol=1e-12, atol=0)


@pytest.mark.parametrize("n_envs, trajectory, grad_mode", [(0, False, True), (0, False, False), (0, True, False), (2, False, False), (2, True, True)])
def test_rollout_outputs_changed_in_place_are_refused_and_reset_recovers(n_envs, trajectory, grad_mode):
    """The final state a rollout returns is the scene's state: changing it in place (which the
    native sim would not see) is refused at the next use, naming the fix; reset recovers."""
    scene, robot = franka_scene(n_envs=n_envs)
    U = _franka_input("force")[:5].requires_grad_(True)
    q, v = scene.rollout(U, trajectory=trajectory)
    with torch.set_grad_enabled(grad_mode):
        (v if trajectory else q).mul_(2.0)
    robot.control_dofs_force(U[0])
    scene.step()
    with pytest.raises(RuntimeError, match="changed in place.*clone"):
        scene.sim.rigid_solver.get_qpos()
    scene.reset()
    q2, _ = scene.rollout(U, trajectory=False)
    ref, _ = franka_scene(n_envs=n_envs)
    q3, _ = ref.rollout(U, trajectory=False)
    torch.testing.assert_close(q2.detach().as_subclass(torch.Tensor), q3.detach().as_subclass(torch.Tensor), rtol=0, atol=0)
