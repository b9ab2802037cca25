"""The autograd bridge: torch.autograd.Functions over the native step and its VJP.

- :class:`SegmentFunction`: the ``scene.step()`` calls between two readings, as one node.
  The steps run natively when a reading (or a state or parameter write) needs them, as one
  ``Sim.segment`` call recorded on a native tape (the input state of every step); the node
  keeps the tape and the numeric controls (:class:`Segment`). Inputs: the segment's initial
  (qpos, qvel), the per-step control targets (N, T, nv) as assembled from the
  ``control_dofs_*`` calls, and the parameter tensors that carry grad. Backward:
  ``Tape.vjp``, one native call.
- :class:`RolloutFunction`: ``scene.rollout(controls)``, T steps as one node; each env
  runs its horizon as one parallel native task. With ``checkpoint=K`` the tape keeps
  every K-th state and the native reverse pass recomputes the others.
- :class:`SegmentActFunction`, :class:`RolloutActFunction`: the same for a model with
  activation states (actuator dynamics), which are then an input and an output of the node.
- :class:`StepFunction`: one functional step (q, v, target, *params) -> (q', v') through
  ``Sim.step_functional`` / ``Sim.step_vjp``, the unit the gradchecks exercise.
- :class:`KinematicsFunction`: body poses and velocities of a state (readings);
  backward: ``Sim.kinematics_vjp``.

Non-tensor arguments (scene, step index, parameter snapshot, names, tape) come first. A node
keeps its scene's :class:`SceneLink` for the backward, never the scene itself (see there); a
parameter snapshot ``(version, {name: array})`` is what the native sim must hold while a
functional node runs forward or backward (parameters can change between steps); a tape
carries its own copy of the parameters it ran with.

The backward passes are native, so their results carry no graph: every node is
``once_differentiable``, and a second derivative through one (``create_graph=True``, then a
backward of the gradient) raises instead of silently leaving the node's terms out.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ._native import LINK_FIELDS, LINK_STATE
from .tensor import wrap_new
from ._errors import GenesisRuntimeError, InvalidArgument


def _np(t: torch.Tensor) -> np.ndarray:
    """A float64 numpy view (or copy) of ``t`` for the native calls (which take any strides)."""
    if t.dtype is torch.float64 and not t.is_cuda:
        return t.detach().numpy()
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float64)


def _mode_np(m: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(m.detach().cpu().numpy(), dtype=np.int8)


def _first_bad(t):
    """Index tuple of the first non-finite entry of t (a tensor or an array), or None."""
    a = t if isinstance(t, np.ndarray) else t.detach().cpu().numpy()
    if np.isfinite(a).all():
        return None
    return tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])


def check_inputs(step: int, pairs: Sequence[Tuple[str, torch.Tensor]]) -> None:
    """ValueError naming the argument, the step and the entry if an input is NaN or inf."""
    for name, t in pairs:
        idx = _first_bad(t)
        if idx is not None:
            raise InvalidArgument(f"scene.step (step {step}): {name} contains NaN or inf (at index {idx} of shape {tuple(t.shape)})")


def _gs_out(a: np.ndarray, scene) -> torch.Tensor:
    """A node output over ``a`` as a gs.Tensor of ``scene`` (autograd attaches the node to it):
    the new tensor itself, not an alias (an alias made inside ``forward`` would be a view of a
    tensor internal to the node, which autograd then refuses to modify in place)."""
    return wrap_new(torch.from_numpy(a), scene)


def _seed_np(g, shape) -> np.ndarray:
    """The gradient ``g`` flowing into a node output (None: zeros of ``shape``) as float64 numpy
    for the native reverse pass; a view when it already is a float64 CPU tensor (the common
    case: the outputs are float64), without a torch op."""
    if g is None:
        return np.zeros(shape)
    if type(g) is torch.Tensor and g.dtype is torch.float64 and not g.requires_grad and not g.is_cuda:
        return g.numpy()
    return _np(g.to(torch.float64))


def _snap_with(snap, names: Sequence[str], params) -> tuple:
    """The parameter snapshot a node runs with: ``snap`` with the values of the node's own
    parameter inputs written in, so that the forward and the backward use exactly the values
    the node was given (which is what gradcheck and any caller perturbing them expects)."""
    if not names:
        return snap
    ver, d = snap
    new = dict(d)
    changed = False
    for n, p in zip(names, params):
        arr = np.ascontiguousarray(p.detach().to(torch.float64).cpu().numpy()).reshape(d[n].shape)
        if not np.array_equal(arr, d[n]):
            new[n] = arr
            changed = True
    # a fresh version token makes the scene push these values before the node runs
    return (object(), new) if changed else snap


def _sum_to(a: np.ndarray, shape) -> torch.Tensor:
    """``a`` (..., *shape) summed over its leading dims (none, or their product 1: a view), or
    any other broadcast of ``shape`` summed down to it."""
    shape = tuple(shape)
    if a.shape[a.ndim - len(shape) :] == shape:
        a = a.reshape((-1,) + shape)
        return torch.from_numpy(a[0] if a.shape[0] == 1 else a.sum(axis=0))
    return torch.from_numpy(a).sum_to_size(shape)


def _param_grads(names: Sequence[str], pbar: Dict[str, np.ndarray]) -> List[torch.Tensor]:
    """The gradients of the parameters ``names`` (in that order) from the native dict."""
    out = []
    for n in names:
        g = np.ascontiguousarray(pbar[n])
        if not np.isfinite(g).all():
            raise GenesisRuntimeError(f"backward: the gradient w.r.t. parameter {n} is NaN or inf")
        out.append(torch.from_numpy(g))
    return out


class SceneLink:
    """What a scene's graph nodes use in their backward, without the scene: its native sim, its
    lock, the parameter version the native sim holds, the gradient clip and the gradient trace.

    A node that kept the scene would close a reference cycle (scene -> state tensor -> its
    node -> scene) through torch's graph, which the garbage collector cannot see into: a scene
    that recorded gradients would never be freed. The link refers to nothing that refers back,
    so a dropped scene is freed, and a graph that outlives its scene can still be
    differentiated."""

    __slots__ = ("native", "lock", "params_ver", "grad_clip", "trace")

    def __init__(self, lock):
        self.native = None  # set by Scene.build
        self.lock = lock
        self.params_ver = 0  # the version of the parameters the native sim holds
        #: clip the norm of each env's state gradient leaving each step in backward (None: no clipping)
        self.grad_clip = None
        self.trace: List[tuple] = []  # (first step, norms) of each backward of a segment, in order

    def sync_params(self, snap) -> None:
        """Make the native sim hold the parameters of ``snap`` (a (version, dict) snapshot)."""
        ver, d = snap
        if self.params_ver != ver:
            for name, arr in d.items():
                self.native.set_param(name, arr)
            self.params_ver = ver

    def trace_add(self, t0: int, norms: np.ndarray) -> None:
        """Record the per-step gradient norms of steps t0.. from a backward (a later record of a
        step replaces an earlier one); assembled when read, or when many are held."""
        self.trace.append((t0, norms))
        if len(self.trace) > 512:
            self.trace_compact()

    def trace_compact(self) -> None:
        """Merge the records of ``trace`` into one, over steps 0.. (NaN where none)."""
        recs = self.trace
        if len(recs) == 1 and recs[0][0] == 0:
            return
        if recs:
            out = np.full(max(t0 + len(a) for t0, a in recs), np.nan)
            for t0, a in recs:
                out[t0 : t0 + len(a)] = a
            self.trace = [(0, out)]


class StepFunction(torch.autograd.Function):
    """(qpos, qvel, target, *params) -> (qpos', qvel') for one scene.step() (a model's
    activations, if it has any, start at zero and are not an output)."""

    @staticmethod
    def forward(ctx, scene, step, snap, mode, q, v, target, names, *params):
        check_inputs(step, [("qpos", q), ("dofs_vel", v), ("control target", target), *zip(names, params)])
        snap = _snap_with(snap, names, params)
        scene._sync_params(snap)
        try:
            qn, vn, _ = scene._native.step_functional(_np(q), _np(v), _mode_np(mode), _np(target), 1)
        except (ValueError, RuntimeError) as e:
            raise type(e)(f"scene.step (step {step}): {e}") from None
        ctx.link, ctx.step, ctx.snap, ctx.names = scene._link, step, snap, tuple(names)
        ctx.save_for_backward(q, v, target, mode)
        return torch.from_numpy(qn), torch.from_numpy(vn)

    @staticmethod
    @once_differentiable
    def backward(ctx, gq, gv):
        q, v, target, mode = ctx.saved_tensors  # raises torch's error on a second backward without retain_graph
        gq, gv = _seed_np(gq, tuple(q.shape)), _seed_np(gv, tuple(v.shape))
        _check_seed(ctx.step, "qpos", gq)
        _check_seed(ctx.step, "dofs_vel", gv)
        link = ctx.link
        with link.lock:  # the native sim is the scene's: not while another thread uses it
            link.sync_params(ctx.snap)
            try:
                qb, vb, tb, pb, _ = link.native.step_vjp(_np(q), _np(v), _mode_np(mode), _np(target), gq, gv)
            except (ValueError, RuntimeError) as e:
                raise type(e)(f"backward of step {ctx.step}: {e}") from None
        qb, vb, tb = torch.from_numpy(qb), torch.from_numpy(vb), torch.from_numpy(tb)
        for what, a in (("qpos", qb), ("dofs_vel", vb), ("control target", tb)):
            if not bool(torch.isfinite(a).all()):
                raise GenesisRuntimeError(f"backward of step {ctx.step}: the gradient w.r.t. the step's input {what} is NaN or inf")
        return (None, None, None, None, qb, vb, tb, None, *_param_grads(ctx.names, pb))


#: the link readings, in the order of the native table: name -> index in the tuples below
LINK_READINGS = {name: i for i, (name, _, _) in enumerate(LINK_FIELDS)}


def split_link_states(states: np.ndarray) -> tuple:
    """One tensor per link reading (``LINK_FIELDS``: pos, quat, vel, ang, ...), each
    (N, nbody, k), of the native readings (N, nbody, LINK_STATE)."""
    t = torch.from_numpy(states)
    return tuple(t[:, :, lo : lo + k].contiguous() for _, lo, k in LINK_FIELDS)


class KinematicsFunction(torch.autograd.Function):
    """(qpos, qvel, *params) -> the link readings (see split_link_states)."""

    @staticmethod
    def forward(ctx, scene, snap, q, v, names, *params):
        snap = _snap_with(snap, names, params)
        scene._sync_params(snap)
        states = scene._native.kinematics(_np(q), _np(v))
        ctx.link, ctx.snap, ctx.names = scene._link, snap, tuple(names)
        ctx.save_for_backward(q, v)
        return split_link_states(states)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        q, v = ctx.saved_tensors
        link = ctx.link
        n, nb = q.shape[0], link.native.nbody
        bar = np.zeros((n, nb, LINK_STATE))
        for (name, lo, k), g in zip(LINK_FIELDS, grads):
            bar[:, :, lo : lo + k] = _seed_np(g, (n, nb, k))
            if _first_bad(bar[:, :, lo : lo + k]) is not None:
                raise GenesisRuntimeError(f"backward: the gradient w.r.t. a link reading ({name}) contains NaN or inf")
        with link.lock:
            link.sync_params(ctx.snap)
            qb, vb, pb = link.native.kinematics_vjp(_np(q), _np(v), bar)
        return (None, None, torch.from_numpy(qb), torch.from_numpy(vb), None, *_param_grads(ctx.names, pb))


class TendonLengthFunction(torch.autograd.Function):
    """(qpos, *params) -> every tendon's length (N, ntendon): fixed tendons' sum of coef * q,
    spatial tendons' paths through sites and around their wrap geoms."""

    @staticmethod
    def forward(ctx, scene, snap, q, names, *params):
        snap = _snap_with(snap, names, params)
        scene._sync_params(snap)
        out = scene._native.tendon_lengths(_np(q))
        ctx.link, ctx.snap, ctx.names = scene._link, snap, tuple(names)
        ctx.save_for_backward(q)
        return torch.from_numpy(out)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (q,) = ctx.saved_tensors
        link = ctx.link
        bar = _seed_np(g, tuple(g.shape))
        if _first_bad(bar) is not None:
            raise GenesisRuntimeError("backward: the gradient w.r.t. a tendon length contains NaN or inf")
        with link.lock:
            link.sync_params(ctx.snap)
            qb, _vb, pb = link.native.tendon_lengths_vjp(_np(q), bar)
        return (None, None, torch.from_numpy(qb), None, *_param_grads(ctx.names, pb))


def _check_seed(step: int, what: str, g) -> None:
    idx = _first_bad(g)
    if idx is not None:
        raise GenesisRuntimeError(
            f"backward: the gradient w.r.t. the {what} after step {step} contains NaN or inf (at index {idx}); "
            "it came from the loss or from a later step"
        )


def _tape_backward(link, t0, T, tape, names, q0, q_bar=None, v_bar=None, traj_q_bar=None, traj_v_bar=None, mode=None, U=None, act_bar=None):
    """Run the native reverse pass over ``tape`` (steps t0..t0+T-1 from the state whose qpos is
    ``q0``) seeded with the float64 numpy gradients of the final state (``q_bar``, ``v_bar``,
    ``act_bar``, (N, nq), (N, nv), (N, na)) or of every step's state (``traj_q_bar``,
    ``traj_v_bar``, (N, T, k)); returns numpy (q0_bar, v0_bar, U_bar (N, T, nv)), [param grads
    in ``names`` order] and act0_bar (N, na), and records the per-step gradient norms. A NaN or
    inf seed is reported naming the step."""
    clip = link.grad_clip
    failed = None
    try:
        qb, vb, ub, pb, norms, ab = tape.vjp(
            _np(q0), q_bar, v_bar, traj_q_bar, traj_v_bar, None if clip is None else float(clip), mode, U, names, act_bar
        )
    except (ValueError, RuntimeError) as e:
        failed = e
    if failed is not None:  # (raised outside the except block: the native error is not chained)
        # the native pass refuses a non-finite seed; name the step and the entry
        for what, g, gt in (("qpos", q_bar, traj_q_bar), ("dofs_vel", v_bar, traj_v_bar), ("activations", act_bar, None)):
            if g is not None:
                _check_seed(t0 + T - 1, what, g)
            elif gt is not None:
                bad = np.argwhere(~np.isfinite(gt))
                if len(bad):
                    _check_seed(t0 + int(bad[0][1]), what, gt[:, int(bad[0][1])])
        raise GenesisRuntimeError(f"backward of steps {t0}..{t0 + T - 1}: {failed}")
    # per-step norm over the envs (one env: its own)
    link.trace_add(t0, norms[0] if norms.shape[0] == 1 else np.sqrt((norms * norms).sum(axis=0)))
    return qb, vb, ub, _param_grads(names, pb), ab


class Segment:
    """What the reverse pass of a segment needs: the native tape (input states) and the numeric
    controls of its steps, mode (N, nv) or (N, T, nv) and targets (N, T, nv)."""

    __slots__ = ("tape", "mode", "ctrl", "__weakref__")

    def __init__(self, tape, mode: np.ndarray, ctrl: np.ndarray):
        self.tape, self.mode, self.ctrl = tape, mode, ctrl

    @property
    def nbytes(self) -> int:
        return self.tape.nbytes + self.mode.nbytes + self.ctrl.nbytes


class SegmentFunction(torch.autograd.Function):
    """(qpos0, qvel0, U or None, *params) -> (qpos_T, qvel_T) over steps already run natively.

    ``run`` holds the non-tensor arguments (one ``apply`` argument: each costs time):
    (scene link, t0, seg (the steps' tape and controls), q_end, v_end (numpy: their result), names).
    ``U``: the targets (N, T, nv) as a graph tensor, (T, nv) when every env has the same, or
    (nv,) for a one-step segment whose one write sets every target of every env (the gradient
    of the last two is summed over the envs)."""

    @staticmethod
    def forward(ctx, run, q0, v0, U, *params):
        ctx.run = run
        ctx.u_shape = None if U is None else U.shape
        ctx.save_for_backward(q0)
        return torch.from_numpy(run[3]), torch.from_numpy(run[4])

    @staticmethod
    @once_differentiable
    def backward(ctx, gq, gv):
        (q0,) = ctx.saved_tensors  # raises torch's error on a second backward without retain_graph
        link, t0, seg, _, _, names = ctx.run
        T = len(seg.tape)
        n = q0.shape[0]
        gq, gv = _seed_np(gq, (n, q0.shape[1])), _seed_np(gv, (n, link.native.nv))
        qb, vb, ub, pg, _ = _tape_backward(link, t0, T, seg.tape, names, q0, q_bar=gq, v_bar=gv, mode=seg.mode, U=seg.ctrl)
        ub = None if ctx.u_shape is None else _sum_to(ub, ctx.u_shape)
        return (None, torch.from_numpy(qb), torch.from_numpy(vb), ub, *pg)


class SegmentActFunction(torch.autograd.Function):
    """:class:`SegmentFunction` of a model with activation states (actuator dynamics):
    (qpos0, qvel0, act0, U or None, *params) -> (qpos_T, qvel_T, act_T). ``run`` as there, with
    ``act_end`` (numpy) appended."""

    @staticmethod
    def forward(ctx, run, q0, v0, a0, U, *params):
        ctx.run = run
        ctx.u_shape = None if U is None else U.shape
        ctx.save_for_backward(q0)
        return torch.from_numpy(run[3]), torch.from_numpy(run[4]), torch.from_numpy(run[6])

    @staticmethod
    @once_differentiable
    def backward(ctx, gq, gv, ga):
        (q0,) = ctx.saved_tensors  # raises torch's error on a second backward without retain_graph
        link, t0, seg, _, _, names, a_end = ctx.run
        T = len(seg.tape)
        n = q0.shape[0]
        gq, gv = _seed_np(gq, (n, q0.shape[1])), _seed_np(gv, (n, link.native.nv))
        ga = _seed_np(ga, a_end.shape)
        qb, vb, ub, pg, ab = _tape_backward(link, t0, T, seg.tape, names, q0, q_bar=gq, v_bar=gv, mode=seg.mode, U=seg.ctrl, act_bar=ga)
        ub = None if ctx.u_shape is None else _sum_to(ub, ctx.u_shape)
        return (None, torch.from_numpy(qb), torch.from_numpy(vb), torch.from_numpy(ab), ub, *pg)


def rollout_native(scene, t0: int, mode: np.ndarray, Un: np.ndarray, trajectory: bool, record: bool, stride: int, start):
    """``Sim.rollout`` from step ``t0`` (from the state ``start`` when not None), its errors
    naming the scene call: (Q, V, tape or None)."""
    try:
        return scene._native.rollout(mode, Un, trajectory, record, stride, start)
    except (ValueError, RuntimeError) as e:
        raise type(e)(f"scene.rollout (from step {t0}): {e}") from None


class RolloutFunction(torch.autograd.Function):
    """(qpos0, qvel0, controls (N, T, nv) or (T, nv) for every env, *params) -> (qpos (N, T, nq),
    qvel (N, T, nv)), or only the final state with ``trajectory=False``; one node.

    ``run`` holds the non-tensor arguments, in one tuple because each argument of ``apply``
    costs time: (scene, t0, mode, checkpoint or None, trajectory, Un, start, names, unbatched).
    ``Un``: the controls as an (N, T, nv) numpy array. The scene's native state must be
    (qpos0, qvel0), or ``start`` that state as numpy (qpos, qvel, time), and its parameters
    the current ones (``scene.rollout`` sees to both). With ``unbatched`` (a scene built
    without n_envs) the outputs drop the env dimension and are the scene's gs.Tensors, made
    here rather than by a select and a wrap after the node (two fewer torch ops per output)."""

    @staticmethod
    def forward(ctx, run, q0, v0, U, *params):
        scene, t0, mode, checkpoint, trajectory, Un, start, names, unbatched = run
        Q, V, tape = rollout_native(scene, t0, mode, Un, trajectory, True, checkpoint or 1, start)
        ctx.run, ctx.tape = (scene._link,) + run[1:], tape
        scene._keep_tape(tape)
        ctx.save_for_backward(U, q0)  # the tape keeps the states; the controls are the caller's
        if unbatched:
            return _gs_out(Q[0], scene), _gs_out(V[0], scene)
        return torch.from_numpy(Q), torch.from_numpy(V)

    @staticmethod
    @once_differentiable
    def backward(ctx, gQ, gV):
        U, q0 = ctx.saved_tensors  # raises torch's error on a second backward without retain_graph
        link, t0, mode, _, trajectory, Un, _, names, unbatched = ctx.run
        (n, nq), T, nv = q0.shape, Un.shape[1], Un.shape[2]
        back = (link, t0, T, ctx.tape, names, q0)
        shq, shv = ((T, nq), (T, nv)) if trajectory else ((nq,), (nv,))
        if unbatched:  # the outputs had no env dimension
            gQ, gV = _seed_np(gQ, shq)[None], _seed_np(gV, shv)[None]
        else:
            gQ, gV = _seed_np(gQ, (n,) + shq), _seed_np(gV, (n,) + shv)
        if trajectory:
            qb, vb, ub, pg, _ = _tape_backward(*back, traj_q_bar=gQ, traj_v_bar=gV, mode=mode, U=Un)
        else:
            qb, vb, ub, pg, _ = _tape_backward(*back, q_bar=gQ, v_bar=gV, mode=mode, U=Un)
        ub = _sum_to(ub, U.shape)  # U (T, nv): the same controls for every env
        return (None, torch.from_numpy(qb), torch.from_numpy(vb), ub, *pg)


class RolloutActFunction(torch.autograd.Function):
    """:class:`RolloutFunction` of a model with activation states: (qpos0, qvel0, act0, controls,
    *params) -> (qpos, qvel, act_T), the activations after the last step (N, na); ``run`` as
    there (``unbatched`` must be False)."""

    @staticmethod
    def forward(ctx, run, q0, v0, a0, U, *params):
        scene, t0, mode, checkpoint, trajectory, Un, start, names, _ = run
        Q, V, tape = rollout_native(scene, t0, mode, Un, trajectory, True, checkpoint or 1, start)
        A = scene._native.get_act()
        ctx.run, ctx.tape = (scene._link,) + run[1:], tape
        scene._keep_tape(tape)
        ctx.save_for_backward(U, q0)
        return torch.from_numpy(Q), torch.from_numpy(V), torch.from_numpy(A)

    @staticmethod
    @once_differentiable
    def backward(ctx, gQ, gV, gA):
        U, q0 = ctx.saved_tensors  # raises torch's error on a second backward without retain_graph
        link, t0, mode, _, trajectory, Un, _, names, _ = ctx.run
        (n, nq), T, nv = q0.shape, Un.shape[1], Un.shape[2]
        back = (link, t0, T, ctx.tape, names, q0)
        shq, shv = ((T, nq), (T, nv)) if trajectory else ((nq,), (nv,))
        gQ, gV = _seed_np(gQ, (n,) + shq), _seed_np(gV, (n,) + shv)
        gA = _seed_np(gA, (n, link.native.na))
        if trajectory:
            qb, vb, ub, pg, ab = _tape_backward(*back, traj_q_bar=gQ, traj_v_bar=gV, mode=mode, U=Un, act_bar=gA)
        else:
            qb, vb, ub, pg, ab = _tape_backward(*back, q_bar=gQ, v_bar=gV, mode=mode, U=Un, act_bar=gA)
        ub = _sum_to(ub, U.shape)
        return (None, torch.from_numpy(qb), torch.from_numpy(vb), torch.from_numpy(ab), ub, *pg)
