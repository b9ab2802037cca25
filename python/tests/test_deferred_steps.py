"""``scene.step()`` defers its steps: a reading runs the pending ones as one native call.

A control written with per-env values (or indices) is checked when written; a (k,) tensor for
every env is kept as given and checked when its step runs. The contract: a script that reads the state only at the end gets exactly the states and the
gradients it would get reading after every step, whatever its control writes (modes changing
between steps, subsets of dofs, per-env writes, writes that overlap); a failing step is
reported by the reading that ran it, naming the step, and the steps before it stand.
"""

import numpy as np
import pytest
import torch

import kinegrad as gs
from kinegrad import _native
from test_autograd import franka_scene

pytestmark = pytest.mark.filterwarnings("ignore:.*unsupported, ignored:UserWarning")

T = 12


def _drive(scene, robot, params, read_every_step):
    """A control script with every kind of write; returns the final (qpos, qvel)."""
    kp_target, force, vel, late = params
    n = scene.n_envs
    for t in range(T):
        if t == 0:
            robot.control_dofs_position(kp_target)  # every dof, position mode
        if t in (3, 4, 7):
            robot.control_dofs_force(force * (t - 2), dofs_idx_local=[0, 1])  # mode changes mid-segment
        if t == 5:
            robot.control_dofs_velocity(vel, dofs_idx_local=[2])
        if t == 6 and n:
            robot.control_dofs_force(torch.stack([force, -force]), dofs_idx_local=[0, 1], envs_idx=[0, 1])
        if t == 9:
            robot.control_dofs_position(late)  # overlaps the earlier groups
        scene.step()
        if read_every_step:
            scene.sim.rigid_solver.get_qpos()
    solver = scene.sim.rigid_solver
    return solver.get_qpos(), solver.get_qvel()


def _drive_disjoint(scene, robot, params, read_every_step):
    """Writes in two groups of dofs that never overlap (the vectorized assembly), one of them
    switching mode within the segment and writing only every other step."""
    kp_target, force, vel, late = params
    for t in range(T):
        if t == 0:
            robot.control_dofs_position(kp_target[:2], dofs_idx_local=[0, 1])
        elif t % 2 == 0:
            robot.control_dofs_force(force * t, dofs_idx_local=[0, 1])
        if t % 3 == 0:
            robot.control_dofs_position(late[3:6] + 0.001 * t, dofs_idx_local=[3, 4, 5])
        scene.step()
        if read_every_step:
            scene.sim.rigid_solver.get_qpos()
    solver = scene.sim.rigid_solver
    return solver.get_qpos(), solver.get_qvel()


def _params(requires_grad):
    g = torch.Generator().manual_seed(3)
    base = torch.tensor([0.0, -0.3, 0.0, -2.0, 0.0, 1.8, 0.8, 0.02, 0.02], dtype=torch.float64)
    kp_target = base + 0.01 * torch.rand(9, generator=g, dtype=torch.float64)  # no actuator saturates
    force = torch.tensor([3.0, -2.0], dtype=torch.float64)
    vel = torch.tensor([0.05], dtype=torch.float64)  # kv (target - v) within the force range
    late = base - 0.01 * torch.rand(9, generator=g, dtype=torch.float64)
    return [p.clone().requires_grad_(requires_grad) for p in (kp_target, force, vel, late)]


@pytest.mark.parametrize("n_envs, drive", [(0, _drive), (2, _drive), (0, _drive_disjoint), (2, _drive_disjoint)])
def test_reading_at_the_end_equals_reading_every_step(n_envs, drive):
    results = []
    for every in (True, False):
        scene, robot = franka_scene(n_envs=n_envs)
        params = _params(True)
        q, v = drive(scene, robot, params, every)
        loss = (q**2).sum() + 0.3 * (v**2).sum()
        used = params if drive is _drive else [params[0], params[1], params[3]]
        grads = [g.as_subclass(torch.Tensor) for g in torch.autograd.grad(loss, used)]
        results.append((q.detach().as_subclass(torch.Tensor), v.detach().as_subclass(torch.Tensor), grads))
    (q1, v1, g1), (q2, v2, g2) = results
    torch.testing.assert_close(q1, q2, rtol=0, atol=1e-12)
    torch.testing.assert_close(v1, v2, rtol=0, atol=1e-12)
    for a, b in zip(g1, g2):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("per_env", [False, True])
def test_policy_loop_reading_every_step_has_the_gradient_of_one_segment(per_env):
    """The one-write-per-step loop (a policy reading the state every step): a target for every
    dof, the same for both envs (k,) or one row per env (n_envs, k); its gradient summed over
    the envs as broadcasting does."""
    g = torch.Generator().manual_seed(5)
    shape = (T, 2, 9) if per_env else (T, 9)
    U = (2.0 * torch.randn(shape, generator=g, dtype=torch.float64)).requires_grad_(True)
    _assert_reading_every_step_changes_nothing(U, lambda U: [U[t] for t in range(T)], n_envs=2)


def _assert_reading_every_step_changes_nothing(U, make_rows, n_envs, check_rows=None):
    """Drive the loop with ``make_rows(U)[t]`` at step t, reading the state after every step
    (one-step segments), then only at the end (one segment): the same final state and the
    same gradient of a loss on it w.r.t. U. ``check_rows(rows, dL/dU)`` runs after each backward."""
    out = []
    for every in (True, False):
        scene, robot = franka_scene(n_envs=n_envs)
        rows = make_rows(U)
        for t in range(T):
            robot.control_dofs_force(rows[t])
            scene.step()
            if every:
                scene.sim.rigid_solver.get_qpos()
        solver = scene.sim.rigid_solver
        loss = (solver.get_qpos() ** 2).sum() + 0.3 * (solver.get_qvel() ** 2).sum()
        if check_rows is None:
            (gu,) = torch.autograd.grad(loss, U)
        else:  # backward() fills the rows' own retained gradients
            loss.backward()
            gu, U.grad = U.grad, None
            check_rows(rows, gu)
        out.append((solver.get_qpos().detach().as_subclass(torch.Tensor), gu.as_subclass(torch.Tensor)))
    (q1, g1), (q2, g2) = out
    torch.testing.assert_close(q1, q2, rtol=0, atol=1e-12)
    assert g1.abs().sum() > 0
    torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-12)


def test_plain_writes_after_a_graph_control_cut_its_gradient():
    """A control carrying grad for one step, then plain controls at every step (the open-loop
    pattern), then steps without writes: only the first step depends on u0, whatever the
    segments are. Reading at segment ends, reading every step and finite differences agree."""
    g = torch.Generator().manual_seed(7)
    C = 2.0 * torch.randn(3, 9, generator=g, dtype=torch.float64)
    u0 = (2.0 * torch.randn(9, generator=g, dtype=torch.float64)).requires_grad_(True)

    def run(u, requires_grad, every):
        scene, robot = franka_scene(requires_grad=requires_grad)
        solver = scene.sim.rigid_solver
        robot.control_dofs_force(u)
        scene.step()
        solver.get_qpos()
        for t in range(3):
            robot.control_dofs_force(C[t].clone())
            scene.step()
            if every:
                solver.get_qpos()
        solver.get_qpos()
        for _ in range(5):
            scene.step()
            if every:
                solver.get_qpos()
        return (solver.get_qpos() ** 2).sum() + 0.3 * (solver.get_qvel() ** 2).sum()

    (g_end,) = torch.autograd.grad(run(u0, True, False), u0)
    (g_every,) = torch.autograd.grad(run(u0, True, True), u0)
    torch.testing.assert_close(g_end.as_subclass(torch.Tensor), g_every.as_subclass(torch.Tensor), rtol=1e-9, atol=1e-12)
    d = torch.randn(9, generator=g, dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        fd = (float(run(u0 + eps * d, False, False)) - float(run(u0 - eps * d, False, False))) / (2 * eps)
    an = float((g_end * d).sum())
    assert abs(an - fd) <= 1e-6 * max(1.0, abs(fd)), (an, fd)


def test_per_step_modes_reach_the_native_steps():
    """A mode set at step 3 acts from step 3 on, not from the start of the pending segment."""
    target = torch.tensor([0.0, -0.3, 0.0, -2.0, 0.0, 1.8, 0.8, 0.02, 0.02], dtype=torch.float64)
    force = torch.tensor([5.0, -5.0], dtype=torch.float64)
    ends = []
    for switch in (3, 0):
        scene, robot = franka_scene(requires_grad=False)
        robot.control_dofs_position(target)
        for t in range(8):
            if t == switch:
                robot.control_dofs_force(force, dofs_idx_local=[0, 1])
            scene.step()
        assert scene._pend == 8
        ends.append(scene.sim.rigid_solver.get_qpos())
    ref, rrobot = franka_scene(requires_grad=False)
    rrobot.control_dofs_position(target)
    for t in range(8):
        if t == 3:
            rrobot.control_dofs_force(force, dofs_idx_local=[0, 1])
        ref.step()
        ref.sim.rigid_solver.get_qpos()
    torch.testing.assert_close(ends[0], ref.sim.rigid_solver.get_qpos(), rtol=0, atol=0)
    assert (ends[0] - ends[1]).abs().max() > 1e-6


@pytest.mark.parametrize("steps", [1, 3])
def test_control_tensor_changed_in_place_before_its_step_ran_is_refused(steps):
    """One step, or a write at every step of three (the open-loop pattern), one changed."""
    scene, robot = franka_scene()
    u = torch.zeros(9, dtype=torch.float64, requires_grad=True)
    xs = [u * 1.0 for _ in range(steps)]
    for x in xs:
        robot.control_dofs_force(x)
        scene.step()
    with torch.no_grad():
        xs[-1].add_(1.0)
    with pytest.raises(RuntimeError, match=rf"control_dofs_force for step {steps - 1}.*changed in place.*clone"):
        scene.sim.rigid_solver.get_qpos()


def test_plain_control_tensor_is_copied_when_written():
    """A buffer reused for every step's control gives each step the value it had when written."""
    runs = []
    for reuse in (True, False):
        scene, robot = franka_scene(requires_grad=False)
        buf = torch.zeros(9, dtype=torch.float64)
        for t in range(6):
            val = torch.full((9,), float(t), dtype=torch.float64)
            if reuse:
                buf.copy_(val)
                robot.control_dofs_force(buf)
            else:
                robot.control_dofs_force(val)
            scene.step()
        runs.append(scene.sim.rigid_solver.get_qpos())
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)


def test_failing_step_stops_the_batch_there_and_is_named():
    scene, robot = franka_scene(requires_grad=False, n_envs=3)
    for _ in range(4):
        scene.step()
    q4 = scene.sim.rigid_solver.get_qpos().clone()
    for t in range(4, 10):
        if t == 6:
            u = torch.zeros(9, dtype=torch.float64)
            u[4] = float("nan")
            robot.control_dofs_force(u)  # checked when the step runs
        scene.step()
    with pytest.raises(ValueError, match=r"step 6.*control_dofs_force.*dof 4 of env 0.*NaN"):
        scene.sim.rigid_solver.get_qpos()
    assert scene.t == 6
    # every env stands after steps 0..5: the same as running those steps alone
    ref, rrobot = franka_scene(requires_grad=False, n_envs=3)
    for _ in range(6):
        ref.step()
    torch.testing.assert_close(scene.sim.rigid_solver.get_qpos(), ref.sim.rigid_solver.get_qpos(), rtol=0, atol=0)
    assert not torch.equal(scene.sim.rigid_solver.get_qpos(), q4)


def test_pending_steps_run_by_themselves_when_many():
    scene, robot = franka_scene(requires_grad=False)
    assert scene._pend_max >= 100
    cap = scene._pend_max = 20
    for _ in range(cap + 3):
        scene.step()
    assert scene._pend == 3  # the first `cap` ran without a reading
    assert scene.t == cap + 3
    scene.sim.rigid_solver.get_qpos()
    assert scene._pend == 0


def test_contacts_are_those_of_the_last_step_called():
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01))
    scene.add_entity(gs.morphs.Plane())
    scene.add_entity(gs.morphs.Box(size=(0.2, 0.2, 0.2), pos=(0.0, 0.0, 0.3)))
    scene.build()
    for _ in range(60):
        scene.step()
    assert scene._pend == 60
    contacts = scene.sim.rigid_solver.contacts_of_env(0)
    assert scene._pend == 0 and len(contacts) >= 4


def test_native_segment_reports_done_steps_and_error():
    b = _native.SceneBuilder()
    b.add_primitive("sphere", [0.1], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], False)
    sim = b.build(2)
    u = np.zeros((2, 5, sim.nv))
    u[1, 3, 2] = np.nan
    q, v, tape, done, err = sim.segment(np.zeros((2, sim.nv), dtype=np.int8), u, True)
    assert done == 3 and isinstance(err, ValueError) and "env 1" in str(err)
    assert len(tape) == 3
    np.testing.assert_array_equal(q, sim.get_qpos())
    ref = b.build(2)
    ref.step(3)
    np.testing.assert_array_equal(sim.get_qpos(), ref.get_qpos())
    np.testing.assert_array_equal(sim.get_time(), ref.get_time())


@pytest.mark.parametrize("read_every_step", [True, False])
def test_writes_in_any_dof_order_set_those_dofs(read_every_step):
    g = torch.Generator().manual_seed(5)
    U = torch.randn(6, 9, generator=g, dtype=torch.float64)
    perm = list(reversed(range(9)))
    out = []
    for order in (None, perm):
        scene, robot = franka_scene()
        u = U.clone().requires_grad_(True)
        for t in range(6):
            if order is None:
                robot.control_dofs_force(u[t])
            else:
                robot.control_dofs_force(u[t, order], dofs_idx_local=order)
            scene.step()
            if read_every_step:
                scene.sim.rigid_solver.get_qpos()
        q = scene.sim.rigid_solver.get_qpos()
        (grad,) = torch.autograd.grad((q**2).sum(), u)
        out.append((q.detach().as_subclass(torch.Tensor), grad.as_subclass(torch.Tensor)))
    torch.testing.assert_close(out[0][0], out[1][0], rtol=0, atol=1e-13)
    torch.testing.assert_close(out[0][1], out[1][1], rtol=1e-10, atol=1e-13)


def _loop(scene, robot, U, reads=(), no_grad_reads=(), late_write=None):
    for t in range(U.shape[0]):
        robot.control_dofs_force(U[t])
        scene.step()
        if t in reads:
            scene.sim.rigid_solver.get_qpos()
        if t in no_grad_reads:
            with torch.no_grad():
                scene.sim.rigid_solver.get_qpos()
    if late_write is not None:  # a write after the last step, before the reading
        robot.control_dofs_force(late_write, dofs_idx_local=[0, 1])
    q = scene.sim.rigid_solver.get_qpos()
    if late_write is not None:
        scene.step()
        q = q + scene.sim.rigid_solver.get_qpos()
    return q


def _grad_of(fn):
    g = torch.Generator().manual_seed(9)
    U = (0.5 * torch.randn(8, 9, generator=g, dtype=torch.float64)).requires_grad_(True)
    late = torch.tensor([2.0, -1.0], dtype=torch.float64, requires_grad=True)
    scene, robot = franka_scene()
    q = fn(scene, robot, U, late)
    loss = (q**2).sum()
    gu, gl = torch.autograd.grad(loss, [U, late])
    return q.detach().as_subclass(torch.Tensor), gu.as_subclass(torch.Tensor), gl.as_subclass(torch.Tensor)


def test_write_after_the_last_step_and_reads_under_no_grad_keep_states_and_gradients():
    ref = _grad_of(lambda sc, r, U, late: _loop(sc, r, U, reads=range(8), late_write=late))
    for kw in ({}, {"reads": (2,)}, {"no_grad_reads": (3, 5)}):
        out = _grad_of(lambda sc, r, U, late: _loop(sc, r, U, late_write=late, **kw))
        for a, b in zip(ref, out):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_scene_without_grad_keeps_no_graph_of_its_controls():
    scene, robot = franka_scene(requires_grad=False)
    u = torch.ones(9, dtype=torch.float64, requires_grad=True)
    x = u * 2.0
    robot.control_dofs_force(x)
    scene.step()
    robot.control_dofs_force(x[:2] * 3.0, dofs_idx_local=[0, 1])
    scene.step()
    with torch.no_grad():
        x.add_(1.0)  # no graph, no in-place check: the values were copied when written
    q = scene.sim.rigid_solver.get_qpos()
    assert q.grad_fn is None and not q.requires_grad
    assert scene._ctl.src is None


@pytest.mark.parametrize("n_envs", [0, 2])
def test_failure_in_a_recorded_segment_leaves_a_differentiable_prefix(n_envs):
    """Open-loop rows U[t], step 5's control inf: steps 0..4 stand, and the gradient of their
    final state w.r.t. U is that of running those five steps alone (zero for the later rows)."""
    g = torch.Generator().manual_seed(4)
    U0 = 0.3 * torch.randn(8, 9, generator=g, dtype=torch.float64)
    grads = []
    for fail in (True, False):
        scene, robot = franka_scene(n_envs=n_envs)
        U = U0.clone().requires_grad_(True)
        n = 8 if fail else 5
        for t in range(n):
            if fail and t == 5:
                bad = torch.zeros(9, dtype=torch.float64)
                bad[2] = float("inf")
                robot.control_dofs_force(bad)
            else:
                robot.control_dofs_force(U[t])
            scene.step()
        if fail:
            with pytest.raises(ValueError, match=r"step 5.*dof 2"):
                scene.sim.rigid_solver.get_qpos()
            assert scene.t == 5
        q = scene.sim.rigid_solver.get_qpos()
        (gu,) = torch.autograd.grad((q**2).sum(), U)
        grads.append((q.detach().as_subclass(torch.Tensor), gu.as_subclass(torch.Tensor)))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=0, atol=0)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-12, atol=0)
    assert grads[0][1][:5].abs().sum() > 0 and grads[0][1][5:].abs().sum() == 0


def test_reset_drops_pending_steps_even_a_failing_one():
    scene, robot = franka_scene(requires_grad=False)
    q_init = scene.sim.rigid_solver.get_qpos().clone()
    bad = torch.full((9,), float("nan"), dtype=torch.float64)
    robot.control_dofs_force(torch.ones(9, dtype=torch.float64))
    scene.step()
    robot.control_dofs_force(bad)
    scene.step()
    scene.reset()  # the pending steps' results would be overwritten: they do not run
    assert scene.t == 0 and scene._pend == 0
    torch.testing.assert_close(scene.sim.rigid_solver.get_qpos(), q_init, rtol=0, atol=0)
    # the controls they set stay in effect (here the NaN one: refused when a step runs)
    scene.step()
    with pytest.raises(ValueError, match=r"step 0.*control_dofs_force.*NaN"):
        scene.sim.rigid_solver.get_qpos()


def test_control_before_build_names_the_call():
    scene = gs.Scene()
    ball = scene.add_entity(gs.morphs.Sphere(radius=0.1))
    with pytest.raises(RuntimeError, match=r"control_dofs_force.*build"):
        ball.control_dofs_force(torch.zeros(6, dtype=torch.float64))


def _rows(kind, U):
    """The T control rows an open-loop script writes, made from U (T, 9) in different ways."""
    T_ = U.shape[0]
    if kind == "index":
        return [U[t] for t in range(T_)]
    if kind == "non-leaf":  # rows of a tensor computed from U (a policy's output for all steps)
        Y = U * 2.0 - 0.1
        return [Y[t] for t in range(T_)]
    if kind == "flat":  # rows sliced from a flat view
        F = U.view(-1)
        return [F[9 * t : 9 * t + 9] for t in range(T_)]
    if kind == "unbind":
        return list(U.unbind(0))
    if kind == "retain_grad":  # a row with its own hook
        rows = [U[t] for t in range(T_)]
        rows[3].retain_grad()
        return rows
    if kind == "every-other":  # rows 0, 2, 4, ... of a taller tensor
        Z = U.repeat_interleave(2, dim=0)
        return [Z[2 * t] for t in range(T_)]
    raise ValueError(kind)


@pytest.mark.parametrize("n_envs", [0, 2])
@pytest.mark.parametrize("kind", ["index", "non-leaf", "flat", "unbind", "retain_grad", "every-other"])
def test_open_loop_rows_give_the_gradient_of_reading_every_step(kind, n_envs):
    """Open-loop writes of rows made in different ways (one multi-step segment): states and
    gradients are those of a loop reading every step (one-step segments), and a row's own
    hook runs."""
    g = torch.Generator().manual_seed(11)
    U = (2.0 * torch.randn(T, 9, generator=g, dtype=torch.float64)).requires_grad_(True)

    def check(rows, gu):
        if kind == "retain_grad":  # the row's gradient is its share of U's
            assert rows[3].grad is not None and rows[3].grad.abs().sum() > 0
            torch.testing.assert_close(rows[3].grad, gu[3], rtol=0, atol=0)

    _assert_reading_every_step_changes_nothing(U, lambda U: _rows(kind, U), n_envs, check)


def test_rows_of_one_tensor_changed_in_place_before_their_steps_ran_are_refused():
    scene, robot = franka_scene()
    U = torch.zeros(4, 9, dtype=torch.float64, requires_grad=True)
    Y = U * 1.0
    for t in range(4):
        robot.control_dofs_force(Y[t])
        scene.step()
    with torch.no_grad():
        Y[3].add_(1.0)  # after the writes, before the steps ran
    with pytest.raises(RuntimeError, match=r"control_dofs_force for step 0.*changed in place"):
        scene.sim.rigid_solver.get_qpos()


def test_open_loop_rows_are_copied_for_the_backward():
    """The segment keeps a copy of the rows' values: a change of their tensor after the steps
    ran does not change the gradient (which is that of the values the steps ran with)."""
    g = torch.Generator().manual_seed(3)
    U0 = 2.0 * torch.randn(T, 9, generator=g, dtype=torch.float64)
    grads = []
    for change in (False, True):
        U = U0.clone().requires_grad_(True)
        Y = U * 1.0
        scene, robot = franka_scene()
        for t in range(T):
            robot.control_dofs_force(Y[t])
            scene.step()
        solver = scene.sim.rigid_solver
        loss = (solver.get_qpos() ** 2).sum() + 0.3 * (solver.get_qvel() ** 2).sum()
        if change:
            with torch.no_grad():
                Y.mul_(3.0)
        loss.backward()
        grads.append(U.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)


@pytest.mark.parametrize("n_envs, envs_idx", [(0, None), (2, None), (3, [2, 0])])
def test_readings_are_copies_changed_in_place_without_touching_the_scene(n_envs, envs_idx):
    scene, robot = franka_scene(n_envs=n_envs)
    u = torch.full((9,), 0.5, dtype=torch.float64, requires_grad=True)
    robot.control_dofs_force(u)
    scene.step()
    rs = scene.sim.rigid_solver
    q, v = rs.get_qpos(envs_idx=envs_idx), rs.get_qvel(envs_idx=envs_idx)
    rows = [0] if n_envs == 0 else (list(range(n_envs)) if envs_idx is None else envs_idx)
    assert q.shape == ((9,) if n_envs == 0 else (len(rows), 9)) and q.requires_grad and isinstance(q, gs.Tensor)
    q_ref, v_ref = scene._qpos.detach().clone(), scene._qvel.detach().clone()
    (q.sum() + v.sum()).backward(retain_graph=True)
    grad_ref = u.grad.clone()
    with torch.no_grad():
        q += 1.0
        v *= 0.0
    torch.testing.assert_close(scene._qpos, q_ref, rtol=0, atol=0)
    torch.testing.assert_close(scene._qvel, v_ref, rtol=0, atol=0)
    torch.testing.assert_close(rs.get_qpos(envs_idx=envs_idx).detach(), q_ref[rows].reshape(q.shape), rtol=0, atol=0)
    # the readings' own graph is unaffected by the change: a second reading backpropagates alike
    u.grad = None
    (rs.get_qpos(envs_idx=envs_idx).sum() + rs.get_qvel(envs_idx=envs_idx).sum()).backward()
    torch.testing.assert_close(u.grad, grad_ref, rtol=0, atol=0)
