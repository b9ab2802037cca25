"""Genesis's ``scene.sim`` and ``scene.sim.rigid_solver``: model-wide state access with global
indices, and :class:`SimState`, a snapshot of the simulation. The state, controls and
parameters they read and write are the scene's (``scene.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional

import numpy as np
import torch

from . import _autograd, _globals
from ._controls import ControlWrite, make_write
from ._convert import as_f64, env_rows, indices, quat_rotate, quat_to_xyz, rows, xyz_to_quat
from ._threads import serialized
from .tensor import wrap_new as _wrap_new
from ._errors import InvalidArgument, InvalidIndex

if TYPE_CHECKING:
    from .entity import RigidEntity
    from .scene import Scene

# looked up once: the per-step calls (control_dofs_*) would otherwise read them from the
# torch module every call
_TENSOR, _F64, _STRIDED = torch.Tensor, torch.float64, torch.strided



def _plain_coords(nq: int, quat_offset: int):
    """(coordinate, dof) offsets of a joint's coordinates that are their own dof: all of them
    without a quaternion block (quat_offset -1); else those before the block (4 coordinates for 3
    dofs at quat_offset) and those after it, one dof earlier."""
    if quat_offset < 0:
        return [(k, k) for k in range(nq)]
    return [(k, k) for k in range(quat_offset)] + [(k, k - 1) for k in range(quat_offset + 4, nq)]

class SimState:
    """A snapshot of the simulation: ``qpos`` (N, nq), ``dofs_vel`` (N, nv), ``time`` (s), and
    ``act`` (N, na), the activations of actuators with dynamics (None for a model without)."""

    def __init__(self, qpos: torch.Tensor, dofs_vel: torch.Tensor, time: float, batched: bool, act=None, links=None):
        self._qpos, self._qvel, self.time, self._batched = qpos.clone(), dofs_vel.clone(), float(time), batched
        self._act = None if act is None else act.clone()
        #: (links_pos (N, n_links, 3), links_quat (N, n_links, 4)) at the snapshot, or None
        self._links = links

    @property
    def links_pos(self):
        """World positions of every link (n_links, 3) or (n_envs, n_links, 3), with the readings'
        gradients (None for a state made by hand)."""
        return None if self._links is None else self._pick(self._links[0])

    @property
    def links_quat(self):
        """World orientations (w, x, y, z) of every link, as :attr:`links_pos`."""
        return None if self._links is None else self._pick(self._links[1])

    def _pick(self, t):
        t = t.to(_globals.tc_float)
        return t if self._batched else t[0]

    @property
    def act(self):
        """The activations (N, na) or, unbatched, (na,); None for a model without any."""
        if self._act is None:
            return None
        t = self._act.to(_globals.tc_float)
        return t if self._batched else t[0]

    @property
    def qpos(self) -> torch.Tensor:
        t = self._qpos.to(_globals.tc_float)
        return t if self._batched else t[0]

    @property
    def dofs_vel(self) -> torch.Tensor:
        t = self._qvel.to(_globals.tc_float)
        return t if self._batched else t[0]

    @property
    def qvel(self) -> torch.Tensor:
        return self.dofs_vel

    def __repr__(self) -> str:
        return f"SimState(time={self.time}, qpos={tuple(self._qpos.shape)}, dofs_vel={tuple(self._qvel.shape)})"


@serialized
class RigidSolver:
    """Model-wide state access with global indices (Genesis ``scene.sim.rigid_solver``)."""

    def __init__(self, scene: "Scene"):
        self._scene, self._lock = scene, scene._lock
        self._desc: Dict = {}

    # ---- sizes ----
    @property
    def n_qs(self) -> int:
        return self._d("n_qs")["nq"]

    @property
    def n_dofs(self) -> int:
        return self._d("n_dofs")["nv"]

    @property
    def n_links(self) -> int:
        return self._d("n_links")["nbody"] - 1

    @property
    def n_geoms(self) -> int:
        """Collision geoms of every entity (the visual ones: :attr:`n_vgeoms`)."""
        return len(self.geoms)

    @property
    def geoms(self) -> list:
        """Every entity's collision geoms (``entity.geoms``), entity by entity."""
        self._d("geoms")
        return [g for e in self._scene.entities for g in e.geoms]

    @property
    def vgeoms(self) -> list:
        self._d("vgeoms")
        return [g for e in self._scene.entities for g in e.vgeoms]

    @property
    def n_vgeoms(self) -> int:
        return len(self.vgeoms)

    @property
    def links(self) -> list:
        """Every entity's links, entity by entity."""
        self._d("links")
        return [link for e in self._scene.entities for link in e.links]

    @property
    def entities(self) -> List[RigidEntity]:
        return list(self._scene.entities)

    def _d(self, what: str) -> Dict:
        self._scene._require_built(what)
        return self._desc

    # ---- the facade entities and links use (beside the Genesis API): env rows, readings,
    # parameter writes, link states and contacts, without reaching into the scene ----
    @property
    def batched(self) -> bool:
        """Whether the scene was built with n_envs >= 1 (readings then have an env dimension)."""
        return self._scene._batched

    @property
    def n_rows(self) -> int:
        """Rows of every state, control and parameter array: max(n_envs, 1)."""
        return self._scene._n

    def link_states(self, which: str) -> torch.Tensor:
        """Link reading ``which`` (a name of ``_native.LINK_FIELDS``: pos, quat, vel, ang) of every
        body, float64 (N, nbody, k), of the current state (a graph tensor in a ``requires_grad`` scene)."""
        if self._scene._native is None:
            self._scene._require_built(f"link reading '{which}'")
        return self._scene._kinematics()[_autograd.LINK_READINGS[which]]

    def param_default(self, name: str) -> np.ndarray:
        """The model's value of parameter ``name`` (one env's shape)."""
        return self._scene._native.param_default(name)

    def select_envs(self, envs_idx, write: bool = False) -> Optional[torch.Tensor]:
        """The selected envs (None: all); ``write``: they say where a write goes (no repeats)."""
        sc = self._scene
        if envs_idx is None:
            return None
        if not sc._batched:
            raise InvalidArgument("envs_idx: the scene is not batched (built with n_envs=0); leave envs_idx as None")
        return indices(envs_idx, "envs_idx", sc._n, "envs", unique=write)

    def n_selected(self, envs: Optional[torch.Tensor]) -> int:
        """Rows of a write to ``envs`` (None: every env)."""
        return self._scene._n if envs is None else len(envs)

    def reading(self, t: torch.Tensor, envs: Optional[torch.Tensor]) -> torch.Tensor:
        """A reading (N, ...) as returned: the rows ``envs`` (batched) or env 0's row (unbatched),
        never a view of the state, in ``gs.tc_float``; one torch op (one graph node) in the common
        case, and the gs.Tensor is that op's result itself."""
        f = _globals.tc_float
        if envs is not None:
            t = t[envs]  # advanced indexing: a copy
            t = t if t.dtype is f else t.to(f)
        elif self._scene._batched:
            t = t.clone() if t.dtype is f else t.to(f)
        else:
            t = torch.select_copy(t, 0, 0) if t.dtype is f else t[0].to(f)
        return _wrap_new(t, self._scene) if self._scene.requires_grad else t  # t: a new tensor, ours alone

    # ---- dofs position <-> qpos ----
    def _dofs_position_all(self) -> torch.Tensor:
        """(N, nv): each joint's plain coordinates as they are and its quaternion block as x-y-z Euler
        angles (rad): hinge/slide q; free joints' translation then Euler angles; ball joints' Euler
        angles. The joint layout comes from the model's joint kind table (`describe()`)."""
        d, q = self._desc, self._scene._qpos
        out = torch.zeros(q.shape[0], d["nv"], dtype=torch.float64)
        for qa, da, nq, o in zip(d["jnt_qpos_adr"], d["jnt_dof_adr"], d["jnt_nq"], d["jnt_quat_offset"]):
            for kq, kv in _plain_coords(nq, o):
                out[:, da + kv] = q[:, qa + kq]
            if o >= 0:
                out[:, da + o : da + o + 3] = quat_to_xyz(q[:, qa + o : qa + o + 4])
        return out

    def _write_dofs_position(self, values: torch.Tensor, dofs: torch.Tensor, envs: Optional[torch.Tensor]) -> None:
        d, sc = self._desc, self._scene
        rows = torch.arange(sc._n) if envs is None else envs
        full = self._dofs_position_all()[rows]
        full[:, dofs] = values
        q = sc._qpos.clone()
        touched_dofs = set(int(x) for x in torch.as_tensor(dofs, dtype=torch.int64).reshape(-1))
        touched = set(int(d["dof_jnt"][k]) for k in touched_dofs)
        for j in sorted(touched):
            qa, da, nq, o = d["jnt_qpos_adr"][j], d["jnt_dof_adr"][j], d["jnt_nq"][j], d["jnt_quat_offset"][j]
            # write only what was set: a quaternion is rebuilt from Euler angles only when one
            # of its rotational dofs was given (the round trip is lossy near gimbal lock)
            for kq, kv in _plain_coords(nq, o):
                if da + kv in touched_dofs:
                    q[rows, qa + kq] = full[:, da + kv]
            if o >= 0 and touched_dofs & {da + o, da + o + 1, da + o + 2}:
                q[rows, qa + o : qa + o + 4] = xyz_to_quat(full[:, da + o : da + o + 3])
        sc._set_q(q)

    # ---- readings ----
    def get_qpos(self, qs_idx=None, envs_idx=None) -> torch.Tensor:
        """Generalized positions, (n_qs,) or (n_envs, n_qs); quaternions (w, x, y, z)."""
        if qs_idx is None and self._scene._native is not None:
            return self.reading(self._scene._qpos, self.select_envs(envs_idx))
        qs = indices(qs_idx, "qs_idx", self.n_qs, "position coordinates")
        return self.reading(self._scene._qpos[:, qs], self.select_envs(envs_idx))

    def get_qvel(self, dofs_idx=None, envs_idx=None) -> torch.Tensor:
        """Generalized velocities, (n_dofs,) or (n_envs, n_dofs)."""
        return self.get_dofs_velocity(dofs_idx, envs_idx)

    def get_dofs_position(self, dofs_idx=None, envs_idx=None) -> torch.Tensor:
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        return self.reading(self._dofs_position_all()[:, dofs], self.select_envs(envs_idx))

    def get_dofs_velocity(self, dofs_idx=None, envs_idx=None) -> torch.Tensor:
        if dofs_idx is None and self._scene._native is not None:
            return self.reading(self._scene._qvel, self.select_envs(envs_idx))
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        return self.reading(self._scene._qvel[:, dofs], self.select_envs(envs_idx))

    def get_links_pos(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        return self._link_reading("pos", links_idx, envs_idx)

    def get_links_quat(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        return self._link_reading("quat", links_idx, envs_idx)

    def get_links_vel(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        return self._link_reading("vel", links_idx, envs_idx)

    def get_links_ang(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        return self._link_reading("ang", links_idx, envs_idx)

    def _link_reading(self, which: str, links_idx, envs_idx) -> torch.Tensor:
        links = indices(links_idx, "links_idx", self.n_links, "links")
        return self.reading(self.link_states(which)[:, links + 1], self.select_envs(envs_idx))

    def get_state(self) -> SimState:
        return self._scene.get_state()

    # ---- writes ----
    def set_qpos(self, qpos, qs_idx=None, envs_idx=None) -> None:
        self._scene._check_owner(qpos, "qpos")
        qs = indices(qs_idx, "qs_idx", self.n_qs, "position coordinates", unique=True)
        envs = self.select_envs(envs_idx, write=True)
        vals = rows(qpos, "qpos", len(qs), self.n_selected(envs), self._scene._batched)
        q = self._scene._qpos.clone()
        r = torch.arange(self._scene._n) if envs is None else envs
        q[r.unsqueeze(1), qs.unsqueeze(0)] = vals
        self._scene._set_q(q)

    def set_dofs_position(self, position, dofs_idx=None, envs_idx=None, zero_velocity: bool = True) -> None:
        self._scene._check_owner(position, "position")
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs", unique=True)
        envs = self.select_envs(envs_idx, write=True)
        vals = rows(position, "position", len(dofs), self.n_selected(envs), self._scene._batched)
        self._write_dofs_position(vals, dofs, envs)
        if zero_velocity:
            self._write_v(torch.zeros(self.n_selected(envs), len(dofs), dtype=torch.float64), dofs, envs)

    def set_dofs_velocity(self, velocity, dofs_idx=None, envs_idx=None) -> None:
        self._scene._check_owner(velocity, "velocity")
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs", unique=True)
        envs = self.select_envs(envs_idx, write=True)
        vals = rows(velocity, "velocity", len(dofs), self.n_selected(envs), self._scene._batched)
        self._write_v(vals, dofs, envs)

    def _write_v(self, vals: torch.Tensor, dofs: torch.Tensor, envs: Optional[torch.Tensor]) -> None:
        v = self._scene._qvel.clone()
        r = torch.arange(self._scene._n) if envs is None else envs
        v[r.unsqueeze(1), dofs.unsqueeze(0)] = vals
        self._scene._set_v(v)

    def _write_control(self, mode: int, vals, name: str, ent: RigidEntity, dofs_idx_local, envs_idx, cols=None) -> None:
        """Set the mode and target of dofs of ``ent`` from the next step on. Kept as a *write*
        that the next flush applies (see ``Controls.segment_inputs``). This runs every step of a control
        loop, so the common case (a float64 tensor of shape (k,), every env) does no numeric
        work here: a tensor that carries grad is kept as given (it is part of the graph) and
        checked for in-place changes at the flush, any other one is copied. Holds the scene's
        lock (``control_dofs_*`` do not: see ``_threads``)."""
        lock = self._lock
        lock.acquire()
        try:
            sc = self._scene
            if cols is not None:  # control channels given outright (a tendon's: nv + its index)
                dofs, span = cols, None
                key = (1, dofs.numpy().tobytes())
            elif dofs_idx_local is None:
                dofs, span, key = ent._all_dofs, ent._dof_span, ent._dof_key
                if dofs is None:
                    ent._built(f"control_dofs_{name}")
            else:
                dofs, span = ent._dofs(dofs_idx_local, write=True), None
                key = (1, dofs.numpy().tobytes())
            if (
                envs_idx is None
                and type(vals) is _TENSOR
                and vals.dtype is _F64
                and (vals.shape == ent._dof_shape if span is not None else vals.shape == dofs.shape)
                and vals.is_cpu
                and vals.layout is _STRIDED  # (a meta or sparse tensor goes through the checks below)
            ):
                if vals.requires_grad and sc._grad:
                    sc._ctl.writes.append(make_write(ControlWrite, (sc._pend, mode, None, dofs, span, vals, vals._version, key)))
                else:
                    sc._ctl.writes.append(make_write(ControlWrite, (sc._pend, mode, None, dofs, span, vals.detach().clone(), None, key)))
                return
            sc._check_owner(vals, name)
            envs = None if envs_idx is None else self.select_envs(envs_idx, write=True)
            try:
                t = rows(vals, name, dofs.shape[0], self.n_selected(envs), sc._batched)  # a fresh (n_sel, k) tensor
            except ValueError as e:
                raise InvalidArgument(f"{e} (control for step {sc.t})") from None
            if not sc._grad:
                t = t.detach()
            key = (2, None if envs is None else envs.numpy().tobytes(), key[1:])
            sc._ctl.writes.append(ControlWrite(sc._pend, mode, envs, dofs, span, t, None, key))
        finally:
            lock.release()

    # ---- parameters ----
    def get_param(self, name: str) -> torch.Tensor:
        """A physical parameter of every env as float64 (N, ...): see ``kinegrad._native.Sim.param_names``."""
        self._scene._require_built("get_param")
        return self._scene._params.get(name)

    def set_param(self, name: str, value) -> None:
        """Set a parameter of every env; ``value`` (N, ...) or one env's shape. A tensor that
        requires grad makes the parameter an input of the following steps (gradients flow to it)."""
        self._scene._require_built("set_param")
        cur = self.get_param(name)
        t = env_rows(value, name, cur.shape[1:], cur.shape[0], True)
        self._scene._write_param(name, None, t)

    def write_param(self, name: str, values: torch.Tensor, cols: torch.Tensor, envs: Optional[torch.Tensor], col: Optional[int] = None) -> None:
        """Write ``values`` (n_sel, len(cols)) into parameter ``name`` at the entries ``cols`` (of
        column ``col`` when given) of the rows ``envs`` (None: all); may carry grad."""
        r = (torch.arange(self._scene._n) if envs is None else envs).unsqueeze(1)
        idx = (r, cols.unsqueeze(0)) if col is None else (r, cols.unsqueeze(0), col)
        self._scene._write_param(name, idx, values)

    def set_gravity(self, gravity, envs_idx=None) -> None:
        """Gravity (m/s^2), (3,) or (n_envs, 3); may carry grad."""
        self._scene._require_built("set_gravity")
        self._scene._check_owner(gravity, "gravity")
        envs = self.select_envs(envs_idx, write=True)
        vals = rows(gravity, "gravity", 3, self.n_selected(envs), self._scene._batched)
        r = (torch.arange(self._scene._n) if envs is None else envs).unsqueeze(1)
        self._scene._write_param("gravity", (r, torch.arange(3).unsqueeze(0)), vals)

    def get_gravity(self, envs_idx=None) -> torch.Tensor:
        return self.reading(self.get_param("gravity"), self.select_envs(envs_idx))

    # ---- mocap bodies (MJCF ``mocap="true"``: MuJoCo's ``d.mocap_pos``, ``d.mocap_quat``) ----
    @property
    def n_mocap(self) -> int:
        """Number of mocap bodies: MJCF bodies with ``mocap="true"``, in the order of the file
        (``mocap_names``), whose pose is set between steps."""
        return int(self.get_param("mocap_pos").shape[1])

    @property
    def mocap_names(self) -> List[str]:
        """The mocap bodies' names, by mocap index."""
        d = self._desc
        return [d["body_name"][b] for b in sorted(range(len(d["body_mocap"])), key=lambda b: d["body_mocap"][b]) if d["body_mocap"][b] >= 0]

    def _set_mocap(self, name: str, value, width: int, mocap_idx, envs_idx) -> None:
        self._scene._require_built(f"set_{name}")
        self._scene._check_owner(value, name)
        envs = self.select_envs(envs_idx, write=True)
        n = self.n_mocap
        cols = torch.arange(n) if mocap_idx is None else torch.as_tensor(mocap_idx, dtype=torch.long).reshape(-1)
        if cols.numel() and (cols.min() < 0 or cols.max() >= n):
            raise InvalidIndex(f"{name}: mocap_idx {cols.tolist()} out of range (the scene has {n} mocap bodies)")
        t = as_f64(value, name)
        if t.dim() >= 2 and tuple(t.shape[-2:]) == (len(cols), width):
            t = t.reshape(*t.shape[:-2], len(cols) * width)  # one row per env
        vals = rows(t, name, len(cols) * width, self.n_selected(envs), self._scene._batched)
        vals = vals.reshape(vals.shape[0], len(cols), width)
        r = (torch.arange(self._scene._n) if envs is None else envs).reshape(-1, 1, 1)
        self._scene._write_param(name, (r, cols.reshape(1, -1, 1), torch.arange(width).reshape(1, 1, -1)), vals)

    def set_mocap_pos(self, pos, mocap_idx=None, envs_idx=None) -> None:
        """Position of mocap bodies in the world, (n_mocap_sel, 3) or (n_envs, n_mocap_sel, 3),
        from the next step on; may carry grad (gradients flow to it through everything the
        bodies touch: contacts, weld and connect equalities). Like every parameter, it is kept
        by ``scene.reset()`` (MuJoCo's ``mj_resetData`` puts mocap bodies back where the file
        has them: ``set_mocap_pos`` with the value read after build does)."""
        self._set_mocap("mocap_pos", pos, 3, mocap_idx, envs_idx)

    def set_mocap_quat(self, quat, mocap_idx=None, envs_idx=None) -> None:
        """Orientation of mocap bodies, quaternions [w, x, y, z] (normalized where read), like
        :meth:`set_mocap_pos`."""
        self._set_mocap("mocap_quat", quat, 4, mocap_idx, envs_idx)

    def get_mocap_pos(self, envs_idx=None) -> torch.Tensor:
        return self.reading(self.get_param("mocap_pos"), self.select_envs(envs_idx))

    def get_mocap_quat(self, envs_idx=None) -> torch.Tensor:
        return self.reading(self.get_param("mocap_quat"), self.select_envs(envs_idx))

    # ---- contacts ----
    def _synced_native(self):
        """The native sim holding the current state (pending steps run, Python writes pushed)."""
        sc = self._scene
        sc._flush()
        if not sc._st.synced:
            sc._push_state()
        return sc._native

    def get_links_acc(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        """Classical linear acceleration of the links' origins (world, without gravity) at the
        current state under the last step's joint accelerations, (n_links, 3) or (n_envs, n_links,
        3); a reading without gradient (Genesis's ``get_links_acc``)."""
        return self._acc(links_idx, envs_idx, slice(0, 3))

    def get_links_acc_ang(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        """Angular acceleration of the links (world), as :meth:`get_links_acc`."""
        return self._acc(links_idx, envs_idx, slice(3, 6))

    def _acc(self, links_idx, envs_idx, part: slice) -> torch.Tensor:
        self._scene._require_built("get_links_acc")
        links = indices(links_idx, "links_idx", self.n_links, "links")
        a = torch.from_numpy(self._synced_native().link_accelerations())[:, links + 1, part]
        return self.reading(a, self.select_envs(envs_idx))

    def get_dofs_control_force(self, dofs_idx=None, envs_idx=None) -> torch.Tensor:
        """The force the controls in effect give at the current state (each dof's control law,
        clamped to its force range; tendon controls along their Jacobians), (n_dofs,) or (n_envs,
        n_dofs); a reading without gradient (Genesis's ``get_dofs_control_force``)."""
        sc = self._scene
        sc._require_built("get_dofs_control_force")
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        native = self._synced_native()
        st, ctl = sc._st, sc._ctl
        act = None if st.a is None else st.a.detach().numpy()
        f = native.actuator_forces(
            _autograd._np(st.q), _autograd._np(st.v), ctl.current_mode(), ctl.current_ctrl(), act
        )
        return self.reading(torch.from_numpy(f)[:, dofs], self.select_envs(envs_idx))

    def apply_links_external_force(self, force, links_idx=None, envs_idx=None, *, ref: str = "link_origin", local: bool = False) -> None:
        """Push links with ``force`` (n_links, 3) or (n_envs, n_links, 3) (N) during the next
        step only (Genesis's rule; several calls before a step add up), applied at each link's
        origin (``ref="link_origin"``) or centre of mass (``"link_com"``), in world axes or, with
        ``local``, in the link's. Differentiable in the force (and the lever arm in the state):
        it is the parameter ``body_xfrc`` (MuJoCo's ``xfrc_applied``) of that step."""
        if ref not in ("link_origin", "link_com"):
            raise InvalidArgument(f"ref: expected 'link_origin' or 'link_com', got {ref!r} ('root_com' is not supported by kinegrad)")
        self._xfrc("apply_links_external_force", force, links_idx, envs_idx, ref, local, 0)

    def apply_links_external_torque(self, torque, links_idx=None, envs_idx=None, *, ref: str = "link_origin", local: bool = False) -> None:
        """Twist links with ``torque`` (n_links, 3) or (n_envs, n_links, 3) (N m) during the next
        step only, in world axes or, with ``local``, in the link's (see
        :meth:`apply_links_external_force`)."""
        self._xfrc("apply_links_external_torque", torque, links_idx, envs_idx, ref, local, 3)

    def _xfrc(self, what: str, value, links_idx, envs_idx, ref: str, local: bool, at: int) -> None:
        sc = self._scene
        sc._require_built(what)
        sc._check_owner(value, what)
        links = indices(links_idx, "links_idx", self.n_links, "links")
        envs = self.select_envs(envs_idx)
        n_sel = self.n_selected(envs)
        v = env_rows(value, "force" if at == 0 else "torque", (len(links), 3), n_sel, self.batched)
        bodies = links + 1
        rows_ = slice(None) if envs is None else envs
        if local:
            v = quat_rotate(self.link_states("quat")[rows_][:, bodies], v)
        wrench = torch.cat([v, torch.zeros_like(v)], dim=-1) if at == 0 else torch.cat([torch.zeros_like(v), v], dim=-1)
        if at == 0 and ref == "link_origin":
            # the force at the origin is the force and a torque at the centre of mass
            origin = self.link_states("pos")[rows_][:, bodies]
            quat = self.link_states("quat")[rows_][:, bodies]
            com = origin + quat_rotate(quat, self.get_param("body_ipos")[rows_][:, bodies].to(origin.dtype))
            wrench = torch.cat([v, torch.cross(origin - com, v, dim=-1)], dim=-1)
        # the wrenches of this step so far (they add up), a graph tensor when one carries grad
        pend = sc._xfrc_applied if sc._xfrc_applied is not None else sc._params.get("body_xfrc")
        r = (torch.arange(sc._n) if envs is None else envs).unsqueeze(1)
        pend = pend.index_put((r, bodies.unsqueeze(0)), pend[r, bodies.unsqueeze(0)] + wrench)
        sc._write_param("body_xfrc", None, pend)
        sc._xfrc_applied = pend

    def get_dofs_force(self, dofs_idx=None, envs_idx=None) -> torch.Tensor:
        """The total force on each dof in the last step (Genesis's ``get_dofs_force``: smooth
        forces, i.e. actuators, passive forces and gravity/Coriolis terms, plus constraint forces),
        (n_dofs,) or (n_envs, n_dofs); zeros before the first step; a reading without gradient."""
        self._scene._require_built("get_dofs_force")
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        f = torch.from_numpy(self._synced_native().get_dof_forces())[:, dofs]
        return self.reading(f, self.select_envs(envs_idx))

    def contacts_of_env(self, env: int) -> List[dict]:
        """The contacts of env ``env``'s last step, as the native sim reports them."""
        self._scene._flush()
        return self._scene._native.contacts(env)


class Simulator:
    """Genesis's ``scene.sim``: options and the rigid solver."""

    def __init__(self, scene: "Scene"):
        self._scene = scene
        self.rigid_solver = RigidSolver(scene)

    @property
    def dt(self) -> float:
        return self._scene.dt

    @property
    def substeps(self) -> int:
        return self._scene.sim_options.substeps

    @property
    def requires_grad(self) -> bool:
        return self._scene.sim_options.requires_grad

    @property
    def cur_step_global(self) -> int:
        return self._scene.t

    @property
    def solvers(self) -> list:
        return [self.rigid_solver]

    def set_gravity(self, gravity, envs_idx=None) -> None:
        """Gravity (m/s^2), (3,) or (n_envs, 3); may carry grad."""
        self.rigid_solver.set_gravity(gravity, envs_idx)
