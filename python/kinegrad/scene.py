"""The scene (Genesis ``gs.Scene``), its simulator and rigid solver.

The state lives on the Python side as float64 torch tensors, qpos (N, nq) and
qvel (N, nv), with N = max(n_envs, 1). ``scene.step()`` advances it through the
single function :func:`_step`, the place where the autograd bridge will plug in.
"""

from __future__ import annotations

import warnings
from typing import Dict, List, Optional

import numpy as np
import torch

from . import _globals
from . import morphs as _morphs
from ._convert import env_rows, indices, quat_to_xyz, rows, xyz_to_quat
from ._globals import logger
from .entity import RigidEntity
from .materials import Rigid
from .options import RigidOptions, SimOptions, ViewerOptions, VisOptions
from .surfaces import Default as _DefaultSurface

CTRL_FORCE, CTRL_POSITION, CTRL_VELOCITY = 0, 1, 2


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float64)


def _step(sim, qpos: torch.Tensor, qvel: torch.Tensor, ctrl_mode: torch.Tensor, ctrl_target: torch.Tensor):
    """One physics step of every env: (qpos (N, nq), qvel (N, nv), control) -> (qpos', qvel').

    The physical parameters are those stored in ``sim``. Every ``scene.step()``
    goes through here, so this is what becomes a torch.autograd.Function.
    """
    sim.set_state(_np(qpos), _np(qvel))
    sim.set_control(np.ascontiguousarray(ctrl_mode.cpu().numpy(), dtype=np.int8), _np(ctrl_target))
    sim.step(1)
    return torch.from_numpy(sim.get_qpos()), torch.from_numpy(sim.get_qvel())


class SimState:
    """A snapshot of the simulation: ``qpos`` (N, nq), ``dofs_vel`` (N, nv), ``time`` (s)."""

    def __init__(self, qpos: torch.Tensor, dofs_vel: torch.Tensor, time: float, batched: bool):
        self._qpos, self._qvel, self.time, self._batched = qpos.clone(), dofs_vel.clone(), float(time), batched

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


class RigidSolver:
    """Model-wide state access with global indices (Genesis ``scene.sim.rigid_solver``)."""

    def __init__(self, scene: "Scene"):
        self._scene = scene
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
        return self._d("n_geoms")["ngeom"]

    @property
    def entities(self) -> List[RigidEntity]:
        return list(self._scene.entities)

    def _d(self, what: str) -> Dict:
        self._scene._require_built(what)
        return self._desc

    # ---- env selection and output ----
    def _envs(self, envs_idx) -> Optional[torch.Tensor]:
        sc = self._scene
        if envs_idx is None:
            return None
        if not sc._batched:
            raise ValueError("envs_idx: the scene is not batched (built with n_envs=0); leave envs_idx as None")
        return indices(envs_idx, "envs_idx", sc._n, "envs")

    def _n_sel(self, envs: Optional[torch.Tensor]) -> int:
        return self._scene._n if envs is None else len(envs)

    def _out(self, t: torch.Tensor, envs: Optional[torch.Tensor]) -> torch.Tensor:
        if envs is not None:
            t = t[envs]
        t = t.to(_globals.tc_float).clone()
        return t if self._scene._batched else t[0]

    # ---- dofs position <-> qpos ----
    def _dofs_position_all(self) -> torch.Tensor:
        """(N, nv): hinge/slide q; free joints' translation then x-y-z Euler angles (rad); ball joints' Euler angles."""
        d, q = self._desc, self._scene._qpos
        out = torch.zeros(q.shape[0], d["nv"], dtype=torch.float64)
        for jt, qa, da in zip(d["jnt_type"], d["jnt_qpos_adr"], d["jnt_dof_adr"]):
            if jt == "free":
                out[:, da : da + 3] = q[:, qa : qa + 3]
                out[:, da + 3 : da + 6] = quat_to_xyz(q[:, qa + 3 : qa + 7])
            elif jt == "ball":
                out[:, da : da + 3] = quat_to_xyz(q[:, qa : qa + 4])
            else:
                out[:, da] = q[:, qa]
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
            jt, qa, da = d["jnt_type"][j], d["jnt_qpos_adr"][j], d["jnt_dof_adr"][j]
            # write only what was set: a quaternion is rebuilt from Euler angles only when one
            # of its rotational dofs was given (the round trip is lossy near gimbal lock)
            if jt == "free":
                for k in range(3):
                    if da + k in touched_dofs:
                        q[rows, qa + k] = full[:, da + k]
                if touched_dofs & {da + 3, da + 4, da + 5}:
                    q[rows, qa + 3 : qa + 7] = xyz_to_quat(full[:, da + 3 : da + 6])
            elif jt == "ball":
                q[rows, qa : qa + 4] = xyz_to_quat(full[:, da : da + 3])
            else:
                q[rows, qa] = full[:, da]
        sc._set_q(q)

    # ---- readings ----
    def get_qpos(self, qs_idx=None, envs_idx=None) -> torch.Tensor:
        """Generalized positions, (n_qs,) or (n_envs, n_qs); quaternions (w, x, y, z)."""
        qs = indices(qs_idx, "qs_idx", self.n_qs, "position coordinates")
        return self._out(self._scene._qpos[:, qs], self._envs(envs_idx))

    def get_qvel(self, dofs_idx=None, envs_idx=None) -> torch.Tensor:
        """Generalized velocities, (n_dofs,) or (n_envs, n_dofs)."""
        return self.get_dofs_velocity(dofs_idx, envs_idx)

    def get_dofs_position(self, dofs_idx=None, envs_idx=None) -> torch.Tensor:
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        return self._out(self._dofs_position_all()[:, dofs], self._envs(envs_idx))

    def get_dofs_velocity(self, dofs_idx=None, envs_idx=None) -> torch.Tensor:
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        return self._out(self._scene._qvel[:, dofs], self._envs(envs_idx))

    def get_links_pos(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        return self._link_reading(0, links_idx, envs_idx)

    def get_links_quat(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        return self._link_reading(1, links_idx, envs_idx)

    def get_links_vel(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        return self._link_reading(2, links_idx, envs_idx)

    def get_links_ang(self, links_idx=None, envs_idx=None) -> torch.Tensor:
        return self._link_reading(3, links_idx, envs_idx)

    def _link_reading(self, which: int, links_idx, envs_idx) -> torch.Tensor:
        links = indices(links_idx, "links_idx", self.n_links, "links")
        return self._out(self._scene._kinematics()[which][:, links + 1], self._envs(envs_idx))

    def get_state(self) -> SimState:
        return self._scene.get_state()

    # ---- writes ----
    def set_qpos(self, qpos, qs_idx=None, envs_idx=None) -> None:
        qs = indices(qs_idx, "qs_idx", self.n_qs, "position coordinates")
        envs = self._envs(envs_idx)
        vals = rows(qpos, "qpos", len(qs), self._n_sel(envs), self._scene._batched)
        q = self._scene._qpos.clone()
        r = torch.arange(self._scene._n) if envs is None else envs
        q[r.unsqueeze(1), qs.unsqueeze(0)] = vals
        self._scene._set_q(q)

    def set_dofs_position(self, position, dofs_idx=None, envs_idx=None, zero_velocity: bool = True) -> None:
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        envs = self._envs(envs_idx)
        vals = rows(position, "position", len(dofs), self._n_sel(envs), self._scene._batched)
        self._write_dofs_position(vals, dofs, envs)
        if zero_velocity:
            self._write_v(torch.zeros(self._n_sel(envs), len(dofs), dtype=torch.float64), dofs, envs)

    def set_dofs_velocity(self, velocity, dofs_idx=None, envs_idx=None) -> None:
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        envs = self._envs(envs_idx)
        vals = rows(velocity, "velocity", len(dofs), self._n_sel(envs), self._scene._batched)
        self._write_v(vals, dofs, envs)

    def _write_v(self, vals: torch.Tensor, dofs: torch.Tensor, envs: Optional[torch.Tensor]) -> None:
        v = self._scene._qvel.clone()
        r = torch.arange(self._scene._n) if envs is None else envs
        v[r.unsqueeze(1), dofs.unsqueeze(0)] = vals
        self._scene._set_v(v)

    def _write_control(self, mode: int, vals, name: str, dofs: torch.Tensor, envs_idx) -> None:
        sc = self._scene
        envs = self._envs(envs_idx)
        t = rows(vals, name, len(dofs), self._n_sel(envs), sc._batched)
        r = (torch.arange(sc._n) if envs is None else envs).unsqueeze(1)
        sc._ctrl_mode[r, dofs.unsqueeze(0)] = mode
        sc._ctrl_target[r, dofs.unsqueeze(0)] = t

    # ---- parameters ----
    def get_param(self, name: str) -> torch.Tensor:
        """A physical parameter of every env as float64 (N, ...): see ``kinegrad._native.Sim.param_names``."""
        self._scene._require_built("get_param")
        return torch.from_numpy(self._scene._native.get_param(name))

    def set_param(self, name: str, value) -> None:
        self._scene._require_built("set_param")
        cur = self.get_param(name)
        t = env_rows(value, name, cur.shape[1:], cur.shape[0], True)
        self._scene._native.set_param(name, _np(t))

    def _set_param_part(self, name: str, values: torch.Tensor, cols: torch.Tensor, envs: Optional[torch.Tensor], col: Optional[int] = None) -> None:
        p = self.get_param(name)
        r = (torch.arange(self._scene._n) if envs is None else envs).unsqueeze(1)
        if col is None:
            p[r, cols.unsqueeze(0)] = values
        else:
            p[r, cols.unsqueeze(0), col] = values
        self._scene._native.set_param(name, _np(p))

    # ---- contacts ----
    def _contacts(self, env: int) -> List[dict]:
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


class Scene:
    """A world of rigid entities. Add entities, ``build()``, then ``step()``.

    ``build(n_envs=N)`` with N >= 1 makes a batched scene: every reading gets a
    leading env dimension and inputs may be given per env.
    """

    def __init__(
        self,
        sim_options: Optional[SimOptions] = None,
        rigid_options: Optional[RigidOptions] = None,
        viewer_options: Optional[ViewerOptions] = None,
        vis_options: Optional[VisOptions] = None,
        show_viewer: bool = False,
        **kwargs,
    ):
        _globals.require_init("gs.Scene")
        self.sim_options = sim_options if sim_options is not None else SimOptions()
        self.rigid_options = rigid_options if rigid_options is not None else RigidOptions()
        for name, value, cls in (
            ("sim_options", self.sim_options, SimOptions),
            ("rigid_options", self.rigid_options, RigidOptions),
        ):
            if not isinstance(value, cls):
                raise ValueError(f"{name}: expected gs.options.{cls.__name__}, got {type(value).__name__}")
        self.viewer_options = viewer_options if viewer_options is not None else ViewerOptions()
        self.vis_options = vis_options if vis_options is not None else VisOptions()
        if show_viewer:
            logger.warning("show_viewer=True: kinegrad has no viewer; running headless")
        for key in kwargs:
            logger.debug("Scene: ignoring unsupported option %r", key)
        if self.sim_options.requires_grad:
            # refuse rather than hand back tensors without a grad_fn (the failure users met in Genesis)
            raise NotImplementedError(
                "SimOptions.requires_grad=True: gradients through scene.step() are not available in this "
                "version of kinegrad yet (reverse-mode adjoints are the next milestone); use requires_grad=False"
            )
        if self.rigid_options.dt is not None and self.rigid_options.dt != self.sim_options.dt:
            logger.warning("RigidOptions.dt is ignored; SimOptions.dt=%s is used", self.sim_options.dt)
        self.entities: List[RigidEntity] = []
        self.sim = Simulator(self)
        self._native = None
        self._n_envs = 0
        self._n = 1
        self._batched = False
        self.t = 0

    # ---- building ----
    @property
    def is_built(self) -> bool:
        return self._native is not None

    @property
    def dt(self) -> float:
        return self.sim_options.dt

    @property
    def n_envs(self) -> int:
        return self._n_envs

    @property
    def requires_grad(self) -> bool:
        return self.sim_options.requires_grad

    def _require_built(self, what: str) -> None:
        if self._native is None:
            raise RuntimeError(f"{what}: the scene is not built yet; call scene.build() first")

    def add_entity(self, morph, material=None, surface=None, **kwargs) -> RigidEntity:
        """Add an entity made from ``morph`` (gs.morphs.*); returns it (usable after build)."""
        if self.is_built:
            raise RuntimeError("add_entity: the scene is already built; add every entity before scene.build()")
        if not isinstance(morph, _morphs.Morph):
            raise ValueError(f"morph: expected a gs.morphs object, got {type(morph).__name__}")
        if material is None:
            material = Rigid()
        if not isinstance(material, Rigid):
            raise ValueError(f"material: only gs.materials.Rigid is supported, got {type(material).__name__}")
        if surface is None:
            surface = _DefaultSurface()
        for key in kwargs:
            logger.debug("add_entity: ignoring unsupported option %r", key)
        ent = RigidEntity(self, len(self.entities), morph, material, surface)
        self.entities.append(ent)
        return ent

    def build(self, n_envs: int = 0, env_spacing=None, **kwargs) -> None:
        """Assemble the model. ``n_envs=0``: one unbatched env; ``n_envs=N``: N parallel envs."""
        from . import _native, integrator

        if self.is_built:
            raise RuntimeError("build: the scene is already built")
        if int(n_envs) != n_envs or n_envs < 0:
            raise ValueError(f"n_envs: expected an integer >= 0, got {n_envs!r}")
        for key in kwargs:
            logger.debug("build: ignoring unsupported option %r", key)
        so, ro = self.sim_options, self.rigid_options
        builder = _native.SceneBuilder(
            timestep=so.dt,
            substeps=so.substeps,
            gravity=list(so.gravity),
            integrator="euler" if ro.integrator == integrator.Euler else "implicitfast",
            enable_collision=bool(ro.enable_collision),
            enable_joint_limit=bool(ro.enable_joint_limit),
            enable_self_collision=bool(ro.enable_self_collision),
            iterations=int(ro.iterations),
            tolerance=float(ro.tolerance),
            ls_iterations=int(ro.ls_iterations),
            constraint_timeconst=ro.constraint_timeconst,
            impratio=float(ro.impratio),
        )
        for ent in self.entities:
            m, mat = ent.morph, ent.material
            prim = _morphs.native_primitive(m)
            if prim is not None:
                kind, dims = prim
                builder.add_primitive(kind, dims, list(m.pos), list(m.quat), m.fixed, mat.rho, mat.friction)
                continue
            if isinstance(m, _morphs.URDF):
                _, warns = builder.add_urdf(m.file, m.scale, list(m.pos), list(m.quat), m.fixed, mat.friction)
            elif isinstance(m, _morphs.MJCF):
                _, warns = builder.add_mjcf(m.file, m.scale, list(m.pos), list(m.quat), mat.friction)
            else:
                raise ValueError(f"morph: {type(m).__name__} is not supported")
            for w in warns:
                warnings.warn(f"{m.file}: {w}", stacklevel=2)
        self._n_envs = int(n_envs)
        self._n = max(self._n_envs, 1)
        self._batched = self._n_envs > 0
        native = builder.build(self._n)
        desc = native.describe()
        self._native = native
        self.sim.rigid_solver._desc = desc
        self._qpos = torch.from_numpy(native.get_qpos())
        self._qvel = torch.from_numpy(native.get_qvel())
        self._ctrl_mode = torch.zeros(self._n, desc["nv"], dtype=torch.int8)
        self._ctrl_target = torch.zeros(self._n, desc["nv"], dtype=torch.float64)
        self._init_q, self._init_v = self._qpos.clone(), self._qvel.clone()
        self._time = 0.0
        self._version = 0
        self._kin = None
        for ent in self.entities:
            ent._bind(desc)
        logger.debug("built scene: nq=%d nv=%d nbody=%d n_envs=%d", desc["nq"], desc["nv"], desc["nbody"], self._n_envs)

    # ---- state ----
    def _set_q(self, q: torch.Tensor) -> None:
        self._qpos = q
        self._version += 1

    def _set_v(self, v: torch.Tensor) -> None:
        self._qvel = v
        self._version += 1

    def _kinematics(self):
        """(pos, quat, vel, ang), each float64 (N, nbody, k), of the current state (cached)."""
        if self._kin is None or self._kin[0] != self._version:
            out = self._native.kinematics(_np(self._qpos), _np(self._qvel))
            self._kin = (self._version, tuple(torch.from_numpy(a) for a in out))
        return self._kin[1]

    def step(self, update_visualizer: bool = True, refresh_visualizer: bool = True) -> None:
        """Advance every env by dt."""
        self._require_built("step")
        q, v = _step(self._native, self._qpos, self._qvel, self._ctrl_mode, self._ctrl_target)
        self._qpos, self._qvel = q, v
        self._version += 1
        self._time += self.dt
        self.t += 1

    def get_state(self) -> SimState:
        self._require_built("get_state")
        return SimState(self._qpos, self._qvel, self._time, self._batched)

    def set_state(self, state: SimState) -> None:
        self._require_built("set_state")
        if not isinstance(state, SimState):
            raise ValueError(f"state: expected a SimState from scene.get_state(), got {type(state).__name__}")
        if state._qpos.shape != self._qpos.shape or state._qvel.shape != self._qvel.shape:
            raise ValueError(
                f"state: shapes qpos {tuple(state._qpos.shape)}, dofs_vel {tuple(state._qvel.shape)} do not match "
                f"this scene's {tuple(self._qpos.shape)}, {tuple(self._qvel.shape)}"
            )
        self._set_q(state._qpos.clone())
        self._set_v(state._qvel.clone())
        self._time = state.time

    def reset(self, state: Optional[SimState] = None, envs_idx=None) -> None:
        """Restore the state captured at build (or ``state``); controls are kept."""
        self._require_built("reset")
        src = state if state is not None else SimState(self._init_q, self._init_v, 0.0, self._batched)
        if envs_idx is None:
            self.set_state(src)
            self.t = 0
            return
        envs = self.sim.rigid_solver._envs(envs_idx)
        q, v = self._qpos.clone(), self._qvel.clone()
        q[envs], v[envs] = src._qpos[envs], src._qvel[envs]
        self._set_q(q)
        self._set_v(v)
