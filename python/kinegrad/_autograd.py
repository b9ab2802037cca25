"""The autograd bridge: torch.autograd.Functions over the native step and its VJP.

- :class:`StepFunction`: one ``scene.step()``; inputs (qpos, qvel, control target, the
  parameter tensors that carry grad), outputs (qpos', qvel'). Backward: ``Sim.step_vjp``.
- :class:`KinematicsFunction`: body poses and velocities of a state (readings);
  backward: ``Sim.kinematics_vjp``.
- :class:`RolloutFunction`: T steps as one node. Backward loops ``step_vjp`` in reverse;
  with ``checkpoint=K`` only every K-th input state is kept and each K-step segment is
  recomputed forward (``step_functional``) before its reverse sweep.

Non-tensor arguments (scene, step index, parameter snapshot, names) come first; the
parameter snapshot ``(version, {name: array})`` is what the native sim must hold while a
node runs forward or backward (parameters can change between steps).
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float64)


def _mode_np(m: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(m.detach().cpu().numpy(), dtype=np.int8)


def _first_bad(t: torch.Tensor):
    """Index tuple of the first non-finite entry of t, or None."""
    bad = ~torch.isfinite(t.detach())
    if not bool(bad.any()):
        return None
    return tuple(int(i) for i in bad.nonzero()[0])


def check_inputs(step: int, pairs: Sequence[Tuple[str, torch.Tensor]]) -> None:
    """ValueError naming the argument, the step and the entry if an input is NaN or inf."""
    for name, t in pairs:
        idx = _first_bad(t)
        if idx is not None:
            raise ValueError(f"scene.step (step {step}): {name} contains NaN or inf (at index {idx} of shape {tuple(t.shape)})")


def _grad_or_zeros(g, shape) -> torch.Tensor:
    return torch.zeros(shape, dtype=torch.float64) if g is None else g.detach().to(torch.float64)


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



def vjp_step(scene, step: int, snap, q, v, mode, target, gq: torch.Tensor, gv: torch.Tensor):
    """Reverse of one step (all envs): returns (q_bar, v_bar, target_bar, {name: param_bar})."""
    for what, g in (("qpos", gq), ("dofs_vel", gv)):
        idx = _first_bad(g)
        if idx is not None:
            raise RuntimeError(
                f"backward: the gradient w.r.t. the {what} after step {step} contains NaN or inf (at index {idx}); "
                "it came from the loss or from a later step"
            )
    scene._sync_params(snap)
    try:
        qb, vb, tb, pb = scene._native.step_vjp(_np(q), _np(v), _mode_np(mode), _np(target), _np(gq), _np(gv))
    except (ValueError, RuntimeError) as e:
        raise type(e)(f"backward of step {step}: {e}") from None
    for what, a in (("qpos", qb), ("dofs_vel", vb), ("control target", tb)):
        if not np.isfinite(a).all():
            raise RuntimeError(f"backward of step {step}: the gradient w.r.t. the step's input {what} is NaN or inf (the step's reverse pass diverged)")
    qb, vb, tb = torch.from_numpy(qb), torch.from_numpy(vb), torch.from_numpy(tb)
    norm = float(torch.sqrt((qb * qb).sum() + (vb * vb).sum()))
    clip = scene.grad_clip
    if clip is not None and norm > clip:
        s = clip / norm
        qb, vb = qb * s, vb * s
    scene._grad_trace[step] = norm
    return qb, vb, tb, {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in pb.items()}


def _param_grads(names: Sequence[str], pbar: Dict[str, torch.Tensor]) -> List[torch.Tensor]:
    out = []
    for n in names:
        g = pbar[n]
        if not bool(torch.isfinite(g).all()):
            raise RuntimeError(f"backward: the gradient w.r.t. parameter {n} is NaN or inf")
        out.append(g)
    return out


class StepFunction(torch.autograd.Function):
    """(qpos, qvel, target, *params) -> (qpos', qvel') for one scene.step()."""

    @staticmethod
    def forward(ctx, scene, step, snap, mode, q, v, target, names, *params):
        check_inputs(step, [("qpos", q), ("dofs_vel", v), ("control target", target), *zip(names, params)])
        snap = _snap_with(snap, names, params)
        scene._sync_params(snap)
        try:
            qn, vn = scene._native.step_functional(_np(q), _np(v), _mode_np(mode), _np(target), 1)
        except (ValueError, RuntimeError) as e:
            raise type(e)(f"scene.step (step {step}): {e}") from None
        ctx.scene, ctx.step, ctx.snap, ctx.names = scene, step, snap, tuple(names)
        ctx.save_for_backward(q, v, target, mode)
        return torch.from_numpy(qn), torch.from_numpy(vn)

    @staticmethod
    def backward(ctx, gq, gv):
        q, v, target, mode = ctx.saved_tensors  # raises torch's error on a second backward without retain_graph
        gq, gv = _grad_or_zeros(gq, q.shape), _grad_or_zeros(gv, v.shape)
        qb, vb, tb, pb = vjp_step(ctx.scene, ctx.step, ctx.snap, q, v, mode, target, gq, gv)
        return (None, None, None, None, qb, vb, tb, None, *_param_grads(ctx.names, pb))


class KinematicsFunction(torch.autograd.Function):
    """(qpos, qvel, *params) -> (pos, quat, vel, ang), each (N, nbody, k)."""

    @staticmethod
    def forward(ctx, scene, snap, q, v, names, *params):
        snap = _snap_with(snap, names, params)
        scene._sync_params(snap)
        pos, quat, vel, ang = scene._native.kinematics(_np(q), _np(v))
        ctx.scene, ctx.snap, ctx.names = scene, snap, tuple(names)
        ctx.save_for_backward(q, v)
        return tuple(torch.from_numpy(a) for a in (pos, quat, vel, ang))

    @staticmethod
    def backward(ctx, gp, gq, gv, ga):
        q, v = ctx.saved_tensors
        n, nb = q.shape[0], ctx.scene._native.nbody
        bars = [_grad_or_zeros(g, (n, nb, k)) for g, k in ((gp, 3), (gq, 4), (gv, 3), (ga, 3))]
        for what, b in zip(("position", "quaternion", "velocity", "angular velocity"), bars):
            if _first_bad(b) is not None:
                raise RuntimeError(f"backward: the gradient w.r.t. a link {what} reading contains NaN or inf")
        ctx.scene._sync_params(ctx.snap)
        qb, vb, pb = ctx.scene._native.kinematics_vjp(_np(q), _np(v), *[_np(b) for b in bars])
        pb = {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in pb.items()}
        return (None, None, torch.from_numpy(qb), torch.from_numpy(vb), None, *_param_grads(ctx.names, pb))


class RolloutFunction(torch.autograd.Function):
    """(qpos0, qvel0, controls (N, T, nv), *params) -> (qpos (N, T, nq), qvel (N, T, nv)), one node."""

    @staticmethod
    def forward(ctx, scene, t0, snap, mode, checkpoint, trajectory, q0, v0, U, names, *params):
        n, T, _ = U.shape
        check_inputs(t0, [("qpos", q0), ("dofs_vel", v0), *zip(names, params)])
        snap = _snap_with(snap, names, params)
        idx = _first_bad(U)
        if idx is not None:
            raise ValueError(f"scene.rollout: controls contain NaN or inf at step {t0 + idx[1]} (rollout index {idx[1]}, env {idx[0]}, dof {idx[2]})")
        scene._sync_params(snap)
        sim, m = scene._native, _mode_np(mode)
        Un = _np(U)
        Q = np.empty((n, T, sim.nq))
        V = np.empty((n, T, sim.nv))
        q, v = _np(q0), _np(v0)
        ckpt = {}
        for t in range(T):
            if checkpoint is not None and t % checkpoint == 0:
                ckpt[t] = (q, v)
            try:
                q, v = sim.step_functional(q, v, m, np.ascontiguousarray(Un[:, t]), 1)
            except (ValueError, RuntimeError) as e:
                raise type(e)(f"scene.rollout (step {t0 + t}): {e}") from None
            Q[:, t], V[:, t] = q, v
        Qt, Vt = torch.from_numpy(Q), torch.from_numpy(V)
        ctx.scene, ctx.t0, ctx.snap, ctx.names, ctx.K = scene, t0, snap, tuple(names), checkpoint
        ctx.trajectory = trajectory
        if checkpoint is None:
            # every step's input state is q0 or an earlier output: keep them all (T states)
            ctx.states = (Qt, Vt)
        else:
            ctx.ckpt = ckpt  # only every K-th input state; segments are recomputed in backward
        ctx.save_for_backward(q0, v0, U, mode)
        if trajectory:
            return Qt, Vt
        # only the final state leaves the node; with checkpointing the trajectory is dropped here
        return Qt[:, -1].clone(), Vt[:, -1].clone()

    @staticmethod
    def backward(ctx, gQ, gV):
        saved = ctx.saved_tensors
        q0, v0, U, mode = saved[:4]
        scene, t0, K = ctx.scene, ctx.t0, ctx.K
        n, T, nv = U.shape
        nq = q0.shape[1]
        if ctx.trajectory:
            gQ, gV = _grad_or_zeros(gQ, (n, T, nq)), _grad_or_zeros(gV, (n, T, nv))
        else:  # only the final state was an output
            fq, fv = _grad_or_zeros(gQ, (n, nq)), _grad_or_zeros(gV, (n, nv))
            gQ, gV = torch.zeros(n, T, nq, dtype=torch.float64), torch.zeros(n, T, nv, dtype=torch.float64)
            gQ[:, -1], gV[:, -1] = fq, fv
        if K is None:
            Q, V = ctx.states
            starts = [0]
            seg = T
        else:
            starts = sorted(ctx.ckpt)
            seg = K
        scene._sync_params(ctx.snap)
        sim, m = scene._native, _mode_np(mode)
        qb_next = torch.zeros(n, nq, dtype=torch.float64)
        vb_next = torch.zeros(n, nv, dtype=torch.float64)
        Ub = torch.zeros(n, T, nv, dtype=torch.float64)
        pacc: Dict[str, torch.Tensor] = {}
        for s in reversed(starts):
            e = min(s + seg, T)
            if K is None:
                ins = [(q0, v0) if t == 0 else (Q[:, t - 1], V[:, t - 1]) for t in range(s, e)]
            else:  # recompute the segment's input states from its checkpoint
                scene._sync_params(ctx.snap)
                q, v = ctx.ckpt[s]
                ins = []
                for t in range(s, e):
                    ins.append((torch.from_numpy(q), torch.from_numpy(v)))
                    if t + 1 < e:
                        q, v = sim.step_functional(q, v, m, _np(U[:, t]), 1)
            for t in reversed(range(s, e)):
                qi, vi = ins[t - s]
                gq = gQ[:, t] + qb_next
                gv = gV[:, t] + vb_next
                qb_next, vb_next, tb, pb = vjp_step(scene, t0 + t, ctx.snap, qi, vi, mode, U[:, t], gq, gv)
                Ub[:, t] = tb
                for k in ctx.names:
                    pacc[k] = pb[k] if k not in pacc else pacc[k] + pb[k]
        return (None, None, None, None, None, None, qb_next, vb_next, Ub, None, *_param_grads(ctx.names, pacc))
