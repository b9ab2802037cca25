"""Inverse kinematics with Genesis's signature (``entity.inverse_kinematics`` and
``inverse_kinematics_multilink``), solved natively (``Sim.inverse_kinematics``: damped least
squares with restarts, every env in parallel), and differentiable.

The scene's state is not touched: the solver starts from the current positions (or
``init_qpos`` for the entity's coordinates) and returns the entity's coordinates.

Gradients (beyond Genesis, whose IK is not differentiable): at a solution the error rows
``e(q, targets)`` vanish, so by the implicit function theorem a change of the targets moves the
solution by ``dv = J^+ (de / d targets)``, ``J`` the rows' Jacobian over the solved dofs (the
minimum-norm move when the dofs are redundant, the exact derivative when ``J`` is square and
regular). :class:`IKFunction` is that map in reverse; the initial positions get no gradient
(the solution does not depend on them locally). Its accuracy is that of the solve: a solution
within ``pos_tol`` is differentiated as if exact.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from . import _globals
from ._convert import as_f64, env_rows, indices
from ._errors import InvalidArgument
from ._native import LINK_FIELDS


def _mask(m, name: str) -> List[bool]:
    m = [bool(x) for x in (m.tolist() if hasattr(m, "tolist") else m)]
    if len(m) != 3:
        raise InvalidArgument(f"{name}: expected 3 booleans, got {len(m)}")
    return m


def _qpos_jacobian(desc, q: np.ndarray, dofs: Sequence[int], q_idx: Sequence[int]) -> np.ndarray:
    """d(qpos[q_idx]) / d(v[dofs]) at positions ``q`` (nq,): the identity on scalar and
    translational coordinates, ``dquat = q (0, w) / 2`` (local angular velocity) on quaternions."""
    col = {d: c for c, d in enumerate(dofs)}
    row = {a: r for r, a in enumerate(q_idx)}
    P = np.zeros((len(q_idx), len(dofs)))
    for j, kind in enumerate(desc["jnt_type"]):
        a, d = desc["jnt_qpos_adr"][j], desc["jnt_dof_adr"][j]
        nq, nv, qo = desc["jnt_nq"][j], desc["jnt_nv"][j], desc["jnt_quat_offset"][j]
        lin = list(range(nv)) if qo < 0 else list(range(qo))
        for k in lin:
            if a + k in row and d + k in col:
                P[row[a + k], col[d + k]] = 1.0
        if qo >= 0:
            w, x, y, z = q[a + qo : a + qo + 4]
            # q * (0, e_i) / 2 for the local axes e_x, e_y, e_z
            dq = 0.5 * np.array([[-x, -y, -z], [w, -z, y], [z, w, -x], [-y, x, w]])
            for r in range(4):
                for c in range(3):
                    if a + qo + r in row and d + qo + c in col:
                        P[row[a + qo + r], col[d + qo + c]] = dq[r, c]
    return P


class IKFunction(torch.autograd.Function):
    """(target positions (n, k, 3), target quaternions (n, k, 4)) -> the entity's qpos (n, n_qs)
    of a solve already made (``run``: q_out, jac (n, 6k, nd), link quats at the solution
    (n, k, 4), P (n, n_qs, nd), which targets have a position / an orientation); backward: the
    implicit function theorem (module docstring)."""

    @staticmethod
    def forward(ctx, run, pos, quat):
        ctx.run = run
        ctx.save_for_backward(pos, quat)
        return torch.from_numpy(run[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        pos, quat = ctx.saved_tensors
        _, jac, link_quat, P, pos_given, quat_given = ctx.run
        g = g.detach().to(torch.float64).numpy()
        n, k = pos.shape[0], pos.shape[1]
        pos_bar = np.zeros((n, k, 3))
        quat_bar = np.zeros((n, k, 4))
        u = quat.detach().numpy()
        for i in range(n):
            # v_bar = P^T q_bar; e_bar = pinv(J)^T v_bar
            e_bar = np.linalg.pinv(jac[i]).T @ (P[i].T @ g[i])
            for t in range(k):
                if pos_given[t]:
                    pos_bar[i, t] = e_bar[6 * t : 6 * t + 3]  # e_pos = target - x
                if quat_given[t]:
                    # e_rot = log(q_c^-1 q_t) ~ 2 s vec(q_c^* q_t) near the solution, s the sign of
                    # the product's w; then through the normalization of the given quaternion
                    qn = u[i, t] / np.linalg.norm(u[i, t])
                    w, x, y, z = link_quat[i, t]
                    L = np.array([[w, x, y, z], [-x, w, z, -y], [-y, -z, w, x], [-z, y, -x, w]])  # q_c^* (.)
                    r = L @ qn
                    s = 1.0 if r[0] >= 0 else -1.0
                    d_qn = 2.0 * s * L[1:].T @ e_bar[6 * t + 3 : 6 * t + 6]
                    quat_bar[i, t] = (d_qn - qn * (qn @ d_qn)) / np.linalg.norm(u[i, t])
        return None, torch.from_numpy(pos_bar), torch.from_numpy(quat_bar)


def inverse_kinematics_multilink(
    entity,
    links,
    poss=None,
    quats=None,
    local_points=None,
    init_qpos=None,
    respect_joint_limit=True,
    max_samples=50,
    max_solver_iters=20,
    damping=0.01,
    pos_tol=5e-4,
    rot_tol=5e-3,
    pos_mask=(True, True, True),
    rot_mask=(True, True, True),
    max_step_size=0.5,
    dofs_idx_local=None,
    return_error=False,
    envs_idx=None,
):
    scene = entity._scene
    entity._built("inverse_kinematics")
    solver = scene.sim.rigid_solver
    links = list(links)
    k = len(links)
    if k == 0:
        raise InvalidArgument("links: no target link given")
    for i, link in enumerate(links):
        if getattr(link, "entity", None) is not entity:
            raise InvalidArgument(f"links[{i}]: not a link of entity '{entity.name}'")
    if entity.n_dofs == 0:
        raise InvalidArgument(f"inverse_kinematics: entity '{entity.name}' has no dofs")
    sel = solver.select_envs(envs_idx)
    N = scene._n
    n_sel = N if sel is None else len(sel)
    rows = torch.arange(N) if sel is None else sel

    def targets(values, name, width):
        values = list(values) if values is not None else []
        if values and len(values) != k:
            raise InvalidArgument(f"{name}: expected one entry per link ({k}) or none, got {len(values)}")
        out, given = [], []
        for i in range(k):
            v = values[i] if values else None
            given.append(v is not None)
            if v is None:
                out.append(torch.zeros(n_sel, width, dtype=torch.float64))
                continue
            out.append(env_rows(v, f"{name}[{i}]", (width,), n_sel, True))
        return torch.stack(out, dim=1), given

    pos, pos_given = targets(poss, "poss", 3)
    quat, quat_given = targets(quats, "quats", 4)
    for i in range(k):
        if not (pos_given[i] or quat_given[i]):
            raise InvalidArgument(f"links[{i}]: give a target position or orientation (poss[{i}] or quats[{i}])")
    pts = np.zeros((k, 3))
    if local_points:
        if len(local_points) != k:
            raise InvalidArgument(f"local_points: expected one entry per link ({k}) or none, got {len(local_points)}")
        for i, lp in enumerate(local_points):
            if lp is not None:
                t = as_f64(lp, f"local_points[{i}]")
                if tuple(t.shape) != (3,):
                    raise InvalidArgument(f"local_points[{i}]: expected shape (3,), got {tuple(t.shape)}")
                pts[i] = t.numpy()
    pmask, rmask = _mask(pos_mask, "pos_mask"), _mask(rot_mask, "rot_mask")
    if not any(pos_given):
        pmask = [False] * 3
    if not any(quat_given):
        rmask = [False] * 3
    # Genesis's rule: one axis given aligns that axis of the link, which frees the rotation
    # about it (the other two components count); two are refused
    if sum(rmask) == 1:
        rmask = [not m for m in rmask]
    elif sum(rmask) == 2:
        raise InvalidArgument("rot_mask: align 0, 1 or all 3 axes (two axes fix the third)")
    dofs = sorted(set((indices(dofs_idx_local, "dofs_idx_local", entity.n_dofs, f"dofs of entity '{entity.name}'") + entity.dof_start).tolist()))
    if not dofs:
        raise InvalidArgument("dofs_idx_local: no dof to move")
    # the start: the current state, the entity's coordinates from init_qpos when given
    q_all = scene._qpos.detach().to(torch.float64).numpy().copy()
    qs = slice(entity.q_start, entity.q_start + entity.n_qs)
    if init_qpos is not None:
        q_all[rows.numpy(), qs] = env_rows(init_qpos, "init_qpos", (entity.n_qs,), n_sel, True).numpy()
    # every env is solved (an unselected env toward the first selected env's targets, discarded)
    r = rows.numpy()
    src = np.zeros(N, dtype=np.int64)
    src[r] = np.arange(n_sel)
    full_pos = np.ascontiguousarray(pos.detach().numpy()[src])
    full_quat = quat.detach().numpy()[src].copy()
    for t, given in enumerate(quat_given):
        if not given:
            full_quat[:, t] = [1.0, 0.0, 0.0, 0.0]  # (unused: identity)
    bodies = [link._body for link in links]
    scene._params.sync()
    q, err, solved, jac = scene._native.inverse_kinematics(
        q_all, bodies, pts, full_pos, pos_given, np.ascontiguousarray(full_quat), quat_given, dofs,
        bool(respect_joint_limit), int(max_samples), int(max_solver_iters), float(damping),
        float(pos_tol), float(rot_tol), pmask, rmask, float(max_step_size), 0,
    )
    q_ent, err, jac = q[r][:, qs].copy(), err[r], jac[r]
    f = _globals.tc_float
    if (pos.requires_grad or quat.requires_grad) and torch.is_grad_enabled():
        states = scene._native.kinematics(q, np.zeros((N, scene._native.nv)))[r]
        at = next(a for name, a, _ in LINK_FIELDS if name == "quat")
        link_quat = states[:, bodies, at : at + 4]
        P = np.stack([_qpos_jacobian(scene.sim.rigid_solver._desc, q[i], dofs, list(range(qs.start, qs.stop))) for i in r])
        out = IKFunction.apply((q_ent, jac, link_quat, P, pos_given, quat_given), pos, quat)
    else:
        out = torch.from_numpy(q_ent)
    out = out.to(f)
    err_t = torch.from_numpy(err).to(f)
    if not scene._batched:
        out, err_t = out[0], err_t[0]
    return (out, err_t) if return_error else out
