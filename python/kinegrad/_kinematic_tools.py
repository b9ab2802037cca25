"""Entity kinematic queries with Genesis's signatures: ``get_jacobian``,
``forward_kinematics``, ``get_dofs_invweight`` and ``get_links_invweight``. Readings without
gradient (as Genesis's); the state is not touched.

The inverse weights are MuJoCo's ``dof_invweight0`` and ``body_invweight0`` (which Genesis
ports): at the model's reference configuration, with ``A = J M^-1 J^T``, a hinge or slide dof's
is ``A``, a ball's the mean of its 3 diagonal entries, a free joint's the means of its
translational and rotational entries; a link's ``[mean translational, mean rotational]``
diagonal of ``A`` for the Jacobian of its centre of mass, zeros for a link welded to the world.
They use env 0's parameters.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _globals
from ._convert import as_f64, env_rows, indices
from ._errors import InvalidArgument
from ._native import LINK_FIELDS


def _qpos_of(entity, qpos, qs_idx_local, n_sel, rows):
    """The full positions (N, nq): the current state with the entity's ``qs_idx_local``
    coordinates of the selected envs from ``qpos``."""
    scene = entity._scene
    q = scene._qpos.detach().to(torch.float64).numpy().copy()
    if qpos is None:
        return q
    qs = (indices(qs_idx_local, "qs_idx_local", entity.n_qs, f"position coordinates of entity '{entity.name}'") + entity.q_start).numpy()
    q[np.ix_(rows, qs)] = env_rows(qpos, "qpos", (len(qs),), n_sel, True).numpy()
    return q


def get_jacobian(entity, link, local_point=None):
    entity._built("get_jacobian")
    if getattr(link, "entity", None) is not entity:
        raise InvalidArgument(f"link: not a link of entity '{entity.name}'")
    if entity.n_dofs == 0:
        raise InvalidArgument(f"get_jacobian: entity '{entity.name}' has no dofs")
    p = np.zeros(3)
    if local_point is not None:
        t = as_f64(local_point, "local_point")
        if tuple(t.shape) != (3,):
            raise InvalidArgument(f"local_point: expected shape (3,), got {tuple(t.shape)}")
        p = t.numpy()
    scene = entity._scene
    q = scene._qpos.detach().to(torch.float64).numpy()
    J = scene._native.point_jacobians(q, link._body, [float(x) for x in p])[:, :, entity._dof_span]
    out = torch.from_numpy(np.ascontiguousarray(J)).to(_globals.tc_float)
    return out if scene._batched else out[0]


def forward_kinematics(entity, qpos, qs_idx_local=None, links_idx_local=None, envs_idx=None):
    entity._built("forward_kinematics")
    scene = entity._scene
    solver = scene.sim.rigid_solver
    sel = solver.select_envs(envs_idx)
    rows = np.arange(scene._n) if sel is None else sel.numpy()
    q = _qpos_of(entity, qpos, qs_idx_local, len(rows), rows)
    links = (entity._links_global(links_idx_local) + 1).numpy()
    states = scene._native.kinematics(q, np.zeros((scene._n, scene._native.nv)))[rows][:, links]
    at = {name: a for name, a, _ in LINK_FIELDS}
    pos = torch.from_numpy(np.ascontiguousarray(states[..., at["pos"] : at["pos"] + 3])).to(_globals.tc_float)
    quat = torch.from_numpy(np.ascontiguousarray(states[..., at["quat"] : at["quat"] + 4])).to(_globals.tc_float)
    if not scene._batched:
        pos, quat = pos[0], quat[0]
    return pos, quat


def _inverse_inertia(entity):
    """(A per dof block, A per body) at qpos0 with env 0's parameters (module docstring)."""
    scene = entity._scene
    native = scene._native
    d = entity._desc
    q0 = np.asarray(d["qpos0"], dtype=np.float64)
    nv = native.nv
    M = native.mass_matrix(q0.copy()).reshape(nv, nv)
    Minv = np.linalg.inv(M)
    dof_w = np.zeros(nv)
    for j, kind in enumerate(d["jnt_type"]):
        a = d["jnt_dof_adr"][j]
        if kind == "free":
            dof_w[a : a + 3] = np.trace(Minv[a : a + 3, a : a + 3]) / 3
            dof_w[a + 3 : a + 6] = np.trace(Minv[a + 3 : a + 6, a + 3 : a + 6]) / 3
        elif kind == "ball":
            dof_w[a : a + 3] = np.trace(Minv[a : a + 3, a : a + 3]) / 3
        else:
            dof_w[a] = Minv[a, a]
    ipos = scene.sim.rigid_solver.get_param("body_ipos")[0].numpy()
    nb = len(d["body_name"])
    body_w = np.zeros((nb, 2))
    for b in range(1, nb):
        J = native.point_jacobians(np.repeat(q0[None], scene._n, axis=0), b, [float(x) for x in ipos[b]])[0]
        if not J.any():  # welded to the world
            continue
        A = J @ Minv @ J.T
        body_w[b] = [np.trace(A[:3, :3]) / 3, np.trace(A[3:, 3:]) / 3]
    return dof_w, body_w


def get_dofs_invweight(entity, dofs_idx_local=None, envs_idx=None):
    entity._built("get_dofs_invweight")
    solver = entity._solver
    dof_w, _ = _inverse_inertia(entity)
    dofs = entity._dofs(dofs_idx_local).numpy()
    w = torch.from_numpy(dof_w[dofs]).unsqueeze(0).expand(solver.n_rows, len(dofs))
    return solver.reading(w, solver.select_envs(envs_idx))


def get_links_invweight(entity, links_idx_local=None, envs_idx=None):
    entity._built("get_links_invweight")
    solver = entity._solver
    _, body_w = _inverse_inertia(entity)
    bodies = (entity._links_global(links_idx_local) + 1).numpy()
    w = torch.from_numpy(body_w[bodies]).unsqueeze(0).expand(solver.n_rows, len(bodies), 2)
    return solver.reading(w, solver.select_envs(envs_idx))
