"""The scene (Genesis ``gs.Scene``), its simulator and rigid solver.

State. The native sim steps its own copy of the state; ``scene.step()`` is one native call
(``Sim.step_record``) with the current controls, and no torch work. The Python side holds
float64 torch tensors qpos (N, nq) and qvel (N, nv), N = max(n_envs, 1), as of the last
*segment boundary*: ``scene._qpos`` / ``_qvel`` first *flush* the steps run since then.
Without grad a flush reads the native state; in a ``requires_grad`` scene the steps are
recorded on a native tape and the flush makes them one autograd node
(:class:`kinegrad._autograd.SegmentFunction`) from the segment's initial state, its
per-step control targets and the parameters that carry grad. A loop that reads the state
every step gets one node per step; a loop that reads it at the end gets one node.

Controls. ``_ctrl_np`` / ``_mode_np`` (numpy, (N, nv)) hold the current targets and modes
the native steps use. In a ``requires_grad`` scene every ``control_dofs_*`` call is also
kept as a *write* (step offset in the segment, env rows, dofs, value tensor); the flush
assembles the per-step targets (N, T, nv) from the writes (a value holds from its step
until a later write of the same entries) over ``_ctrl_base``, the targets in effect at the
segment's start as a graph tensor (None when nothing upstream carries grad). Only the
graph of that tensor matters: the reverse pass reads the target values from the tape.

Parameters: ``scene._params_cur`` (name -> (N, *shape) float64 array) is the
authoritative copy; every change makes a new dict and bumps ``_params_ver``. Graph nodes
keep the ``(version, dict)`` snapshot they ran with and push it to the native sim before
running again (forward recomputation or backward), so parameters may change between steps.
Parameter writes with tensors that require grad are kept as "overlays" (index, values)
and re-assembled into full tensors once per graph (after each reset/truncation), so a
parameter leaf set once keeps receiving gradients across episodes.
"""

from __future__ import annotations

import math
import warnings
import weakref
from typing import Dict, List, Optional

import numpy as np
import torch

from . import _autograd, _globals
from . import morphs as _morphs
from ._convert import env_rows, indices, quat_to_xyz, rows, xyz_to_quat
from ._globals import logger
from .camera import SEGMENTATION_LEVELS, Camera
from .entity import RigidEntity
from .materials import Rigid
from .options import RigidOptions, SimOptions, ViewerOptions, VisOptions
from .surfaces import Default as _DefaultSurface
from .tensor import Tensor as _GsTensor
from .tensor import wrap as _wrap

CTRL_FORCE, CTRL_POSITION, CTRL_VELOCITY = 0, 1, 2


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float64)


def _covered(shape, idx) -> torch.Tensor:
    """Boolean mask of the entries of a parameter of ``shape`` that a write at ``idx`` sets (None: all)."""
    m = torch.zeros(shape, dtype=torch.bool)
    m[... if idx is None else idx] = True
    return m


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
        t = t if self._scene._batched else t[0]
        return _wrap(t, self._scene) if self._scene.requires_grad else t

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
        self._scene._check_owner(qpos, "qpos")
        qs = indices(qs_idx, "qs_idx", self.n_qs, "position coordinates")
        envs = self._envs(envs_idx)
        vals = rows(qpos, "qpos", len(qs), self._n_sel(envs), self._scene._batched)
        q = self._scene._qpos.clone()
        r = torch.arange(self._scene._n) if envs is None else envs
        q[r.unsqueeze(1), qs.unsqueeze(0)] = vals
        self._scene._set_q(q)

    def set_dofs_position(self, position, dofs_idx=None, envs_idx=None, zero_velocity: bool = True) -> None:
        self._scene._check_owner(position, "position")
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        envs = self._envs(envs_idx)
        vals = rows(position, "position", len(dofs), self._n_sel(envs), self._scene._batched)
        self._write_dofs_position(vals, dofs, envs)
        if zero_velocity:
            self._write_v(torch.zeros(self._n_sel(envs), len(dofs), dtype=torch.float64), dofs, envs)

    def set_dofs_velocity(self, velocity, dofs_idx=None, envs_idx=None) -> None:
        self._scene._check_owner(velocity, "velocity")
        dofs = indices(dofs_idx, "dofs_idx", self.n_dofs, "dofs")
        envs = self._envs(envs_idx)
        vals = rows(velocity, "velocity", len(dofs), self._n_sel(envs), self._scene._batched)
        self._write_v(vals, dofs, envs)

    def _write_v(self, vals: torch.Tensor, dofs: torch.Tensor, envs: Optional[torch.Tensor]) -> None:
        v = self._scene._qvel.clone()
        r = torch.arange(self._scene._n) if envs is None else envs
        v[r.unsqueeze(1), dofs.unsqueeze(0)] = vals
        self._scene._set_v(v)

    def _write_control(self, mode: int, vals, name: str, dofs: torch.Tensor, envs_idx, span: Optional[slice] = None) -> None:
        """Set the mode and target of ``dofs`` (``span``: the same dofs as a slice, for an entity's
        whole range). This runs every step of a control loop, so the common case (a float64
        tensor of shape (k,), every env) does no torch work besides one ``numpy()``."""
        sc = self._scene
        if type(vals) is not torch.Tensor:
            sc._check_owner(vals, name)
        envs = None if envs_idx is None else self._envs(envs_idx)
        k = dofs.shape[0]
        if isinstance(vals, torch.Tensor) and vals.dtype == torch.float64 and vals.dim() == 1 and vals.shape[0] == k and not vals.is_cuda:
            t = vals  # kept as given: (k,) broadcast to every selected env
        else:
            try:
                t = rows(vals, name, k, self._n_sel(envs), sc._batched)
            except ValueError as e:
                raise ValueError(f"{e} (control for step {sc.t})") from None
        a = t.detach().numpy()
        flat = a.reshape(-1)
        if not math.isfinite(flat @ flat) and not np.isfinite(flat).all():  # the dot product: a cheap first test
            raise ValueError(f"{name}: contains NaN or inf (control for step {sc.t})")
        if envs is None:
            d = dofs.numpy() if span is None else span
            sc._mode_np[:, d] = mode
            sc._ctrl_np[:, d] = a
        else:
            ix = np.ix_(envs.numpy(), dofs.numpy())
            sc._mode_np[ix] = mode
            sc._ctrl_np[ix] = a
        if sc._grad:
            key = (None if envs is None else envs.numpy().tobytes(), (span.start, span.stop) if span is not None else dofs.numpy().tobytes())
            sc._writes.append((sc._seg_T, key, envs, dofs, t))

    # ---- parameters ----
    def get_param(self, name: str) -> torch.Tensor:
        """A physical parameter of every env as float64 (N, ...): see ``kinegrad._native.Sim.param_names``."""
        self._scene._require_built("get_param")
        if name not in self._scene._params_cur:
            self._scene._native.get_param(name)  # raises naming the known parameters
        return torch.from_numpy(self._scene._params_cur[name].copy())

    def set_param(self, name: str, value) -> None:
        """Set a parameter of every env; ``value`` (N, ...) or one env's shape. A tensor that
        requires grad makes the parameter an input of the following steps (gradients flow to it)."""
        self._scene._require_built("set_param")
        cur = self.get_param(name)
        t = env_rows(value, name, cur.shape[1:], cur.shape[0], True)
        self._scene._write_param(name, None, t)

    def _set_param_part(self, name: str, values: torch.Tensor, cols: torch.Tensor, envs: Optional[torch.Tensor], col: Optional[int] = None) -> None:
        r = (torch.arange(self._scene._n) if envs is None else envs).unsqueeze(1)
        idx = (r, cols.unsqueeze(0)) if col is None else (r, cols.unsqueeze(0), col)
        self._scene._write_param(name, idx, values)

    def set_gravity(self, gravity, envs_idx=None) -> None:
        """Gravity (m/s^2), (3,) or (n_envs, 3); may carry grad."""
        self._scene._require_built("set_gravity")
        self._scene._check_owner(gravity, "gravity")
        envs = self._envs(envs_idx)
        vals = rows(gravity, "gravity", 3, self._n_sel(envs), self._scene._batched)
        r = (torch.arange(self._scene._n) if envs is None else envs).unsqueeze(1)
        self._scene._write_param("gravity", (r, torch.arange(3).unsqueeze(0)), vals)

    def get_gravity(self, envs_idx=None) -> torch.Tensor:
        return self._out(self.get_param("gravity"), self._envs(envs_idx))

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

    def set_gravity(self, gravity, envs_idx=None) -> None:
        """Gravity (m/s^2), (3,) or (n_envs, 3); may carry grad."""
        self.rigid_solver.set_gravity(gravity, envs_idx)


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
        if self.rigid_options.dt is not None and self.rigid_options.dt != self.sim_options.dt:
            logger.warning("RigidOptions.dt is ignored; SimOptions.dt=%s is used", self.sim_options.dt)
        self.entities: List[RigidEntity] = []
        self.cameras: List[Camera] = []
        self._renderer = None  # native Renderer, made by the first camera render
        self.sim = Simulator(self)
        self._native = None
        self._n_envs = 0
        self._n = 1
        self._batched = False
        self.t = 0
        #: clip the norm of each env's state gradient leaving each step in backward (None: no clipping)
        self.grad_clip: Optional[float] = None
        self._grad_trace: Dict[int, float] = {}

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

    def add_camera(
        self,
        model: str = "pinhole",
        res=(320, 320),
        pos=(0.5, 2.5, 3.5),
        lookat=(0.5, 0.5, 0.5),
        up=(0.0, 0.0, 1.0),
        fov=30,
        aperture=2.8,
        focus_dist=None,
        GUI: bool = False,
        spp: int = 256,
        denoise: bool = True,
        near: float = 0.05,
        far: float = 100.0,
        env_idx=None,
        debug: bool = False,
        **kwargs,
    ) -> Camera:
        """Add an offscreen camera (see :mod:`kinegrad.camera`); allowed before and after build.

        ``res=(width, height)``, ``fov`` = vertical field of view (degrees), pose from ``pos``,
        ``lookat``, ``up`` (or ``transform=`` a 4x4 camera-to-world matrix). Genesis's
        render-quality options (``model='thinlens'``, ``aperture``, ``focus_dist``, ``spp``,
        ``denoise``) are accepted and ignored. In a batched scene the camera renders env
        ``env_idx`` (default 0). Cameras cost nothing until they render."""
        transform = kwargs.pop("transform", None)
        for key in kwargs:
            logger.debug("add_camera: ignoring unsupported option %r", key)
        cam = Camera(
            self, len(self.cameras), model=model, res=res, pos=pos, lookat=lookat, up=up, fov=fov,
            aperture=aperture, focus_dist=focus_dist, GUI=GUI, spp=spp, denoise=denoise, near=near, far=far,
            transform=transform, env_idx=env_idx, debug=debug,
        )
        self.cameras.append(cam)
        return cam

    def _get_renderer(self):
        """The native renderer of the built model, made on first use, with the entities'
        surface colours and the background colour of ``vis_options``."""
        if self._renderer is None:
            from . import _native

            r = _native.Renderer(self._native)
            rgba = r.geom_rgba()
            for ent in self.entities:
                color = getattr(ent.surface, "color", None)
                if color is not None:
                    c = list(color) + [1.0] * (4 - len(color))
                    rgba[ent.geom_start : ent.geom_start + ent.n_geoms] = np.asarray(c, dtype=np.float32)
            r.set_geom_rgba(np.ascontiguousarray(rgba, dtype=np.float32))
            bg = getattr(self.vis_options, "background_color", None)
            if bg is not None:
                r.set_background([float(x) for x in bg][:3])
            self._renderer = r
        return self._renderer

    def _seg_map(self) -> np.ndarray:
        """Lookup from (geom index + 1) to the segmentation index of ``vis_options.segmentation_level``
        (entry 0: background, -1)."""
        level = getattr(self.vis_options, "segmentation_level", "link")
        if level not in SEGMENTATION_LEVELS:
            raise ValueError(f"VisOptions.segmentation_level: expected one of {SEGMENTATION_LEVELS}, got {level!r}")
        d = self.sim.rigid_solver._desc
        gb = np.asarray(d["geom_body"], dtype=np.int64)
        if level == "geom":
            idx = np.arange(len(gb))
        elif level == "link":
            idx = gb - 1
        else:
            idx = np.asarray(d["body_entity"], dtype=np.int64)[gb]
        idx = np.where(gb == 0, -1, idx) if level != "geom" else idx
        return np.concatenate([[-1], idx]).astype(np.int32)

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
        self._q_t = torch.from_numpy(native.get_qpos())
        self._v_t = torch.from_numpy(native.get_qvel())
        self._synced = True  # the native state equals (_q_t, _v_t) plus the pending steps
        self._seg_T = 0  # steps run natively since the last flush
        self._seg_t0 = 0
        self._mode_np = np.zeros((self._n, desc["nv"]), dtype=np.int8)
        self._ctrl_np = np.zeros((self._n, desc["nv"]), dtype=np.float64)
        self._ctrl_base: Optional[torch.Tensor] = None
        self._writes: list = []
        self._key_masks: Dict = {}
        self._tapes = weakref.WeakSet()
        self._grad = bool(self.sim_options.requires_grad)
        self._init_q, self._init_v = self._q_t.clone(), self._v_t.clone()
        self._time = 0.0
        self._version = 0
        self._kin = None
        self._params_cur = {name: np.ascontiguousarray(native.get_param(name)) for name in native.param_names()}
        self._params_ver = 0
        self._native_params_ver = 0
        self._param_overlays: Dict[str, tuple] = {}
        self._graph_epoch = 0
        self._assembled = None
        for ent in self.entities:
            ent._bind(desc)
        logger.debug("built scene: nq=%d nv=%d nbody=%d n_envs=%d", desc["nq"], desc["nv"], desc["nbody"], self._n_envs)

    # ---- gradients: ownership, parameters ----
    def _check_owner(self, value, name: str) -> None:
        """Refuse a gs.Tensor of another scene (gradients cannot cross scenes)."""
        if isinstance(value, _GsTensor):
            sc = value.__dict__.get("scene")
            if sc is not None and sc is not self and value.requires_grad:
                raise RuntimeError(
                    f"{name}: this gs.Tensor belongs to another scene (<Scene id={id(sc):#x}>), not this one "
                    f"(<Scene id={id(self):#x}>); gradients cannot flow between scenes. Pass value.detach() to use its values"
                )

    def _snapshot(self):
        return (self._params_ver, self._params_cur)

    def _sync_params(self, snap) -> None:
        """Make the native sim hold the parameters of ``snap`` (a (version, dict) snapshot)."""
        ver, d = snap
        if self._native_params_ver != ver:
            for name, arr in d.items():
                self._native.set_param(name, arr)
            self._native_params_ver = ver

    def _write_param(self, name: str, idx, values: torch.Tensor) -> None:
        """Write ``values`` into parameter ``name`` at ``idx`` (None: the whole (N, *shape) tensor)."""
        self._check_owner(values, name)
        self._flush()  # a segment runs with one parameter set
        cur = torch.from_numpy(self._params_cur[name].copy())
        new = cur.clone()
        if idx is None:
            new = values.detach().to(torch.float64).clone()
        else:
            new[idx] = values.detach().to(torch.float64)
        self._sync_params(self._snapshot())
        arr = np.ascontiguousarray(new.numpy())
        self._native.set_param(name, arr)  # validates (ValueError naming the parameter)
        self._params_cur = {**self._params_cur, name: arr}
        self._params_ver += 1
        self._native_params_ver = self._params_ver
        ov = self._param_overlays
        if values.requires_grad or name in ov:
            if idx is None or name not in ov:
                ov[name] = (cur, [])
            if idx is None:
                ov[name] = (cur, [(None, values)])
            else:
                # drop the earlier writes this one fully overwrites: a parameter set again every
                # episode from a fresh tensor must not keep (and backward into) the earlier graphs
                mask = _covered(cur.shape, idx)
                base, writes = ov[name]
                kept = [(i, v) for i, v in writes if bool((_covered(cur.shape, i) & ~mask).any())]
                ov[name] = (base, kept + [(idx, values)])
            if not any(v.requires_grad for _, v in ov[name][1]):
                del ov[name]
        self._assembled = None

    def _grad_param_inputs(self):
        """(names, full (N, *shape) tensors) of the parameters that carry grad, assembled once per graph."""
        if not self._param_overlays:
            return (), ()
        key = (self._graph_epoch, self._params_ver)
        if self._assembled is None or self._assembled[0] != key:
            names, tensors = [], []
            for name, (base, writes) in self._param_overlays.items():
                p = base.clone()
                for idx, vals in writes:
                    vals = vals.to(torch.float64)
                    if idx is None:
                        p = vals.expand_as(p).clone()
                    else:
                        p = p.clone()
                        p[idx] = vals
                names.append(name)
                tensors.append(p)
            self._assembled = (key, tuple(names), tuple(tensors))
        return self._assembled[1], self._assembled[2]

    def _new_graph(self) -> None:
        self._graph_epoch += 1
        self._assembled = None

    @property
    def grad_trace(self) -> torch.Tensor:
        """Per-step norm of the state gradient dL/d(qpos_t, qvel_t) entering step t, from the last
        backward (index t = steps since the last reset; NaN for steps the backward did not reach)."""
        if not self._grad_trace:
            return torch.zeros(0, dtype=torch.float64)
        n = max(self._grad_trace) + 1
        out = torch.full((n,), float("nan"), dtype=torch.float64)
        for k, v in self._grad_trace.items():
            out[k] = v
        return out

    def truncate_graph(self) -> None:
        """Cut the graph at the current state (truncated backprop through time): the state and the
        current controls keep their values but no longer carry gradients from earlier steps."""
        self._require_built("truncate_graph")
        self._flush()
        self._q_t, self._v_t = self._q_t.detach(), self._v_t.detach()
        self._detach_controls()
        self._kin = None
        self._version += 1
        self._new_graph()

    # ---- state ----
    @property
    def _qpos(self) -> torch.Tensor:
        self._flush()
        return self._q_t

    @_qpos.setter
    def _qpos(self, q: torch.Tensor) -> None:
        self._set_q(q)

    @property
    def _qvel(self) -> torch.Tensor:
        self._flush()
        return self._v_t

    @_qvel.setter
    def _qvel(self, v: torch.Tensor) -> None:
        self._set_v(v)

    def _set_q(self, q: torch.Tensor) -> None:
        self._flush()
        self._q_t = q
        self._synced = False
        self._version += 1

    def _set_v(self, v: torch.Tensor) -> None:
        self._flush()
        self._v_t = v
        self._synced = False
        self._version += 1

    @property
    def _ctrl_mode(self) -> torch.Tensor:
        """Control mode of every dof (N, nv) int8 (0 force, 1 position, 2 velocity); a view."""
        return torch.from_numpy(self._mode_np)

    @_ctrl_mode.setter
    def _ctrl_mode(self, m) -> None:
        self._mode_np = np.ascontiguousarray(torch.as_tensor(m).numpy(), dtype=np.int8).copy()

    def _detach_controls(self) -> None:
        """Controls keep their values but no longer carry gradients from before."""
        self._ctrl_base = None
        self._writes = [(o, k, e, d, v.detach()) for (o, k, e, d, v) in self._writes]

    def _push_state(self) -> None:
        """Give the native sim the Python state (after a write to it)."""
        try:
            self._native.set_state(_np(self._q_t), _np(self._v_t), self._time)
        except ValueError:
            _autograd.check_inputs(self.t, [("qpos", self._q_t), ("dofs_vel", self._v_t)])  # names the entry
            raise
        self._synced = True

    def _flush(self) -> None:
        """Bring the Python state up to the native one: the steps run since the last flush
        become one autograd node in a requires_grad scene (see the module docstring)."""
        T = self._seg_T
        if T == 0:
            return
        self._seg_T = 0
        nat = self._native
        q_end, v_end = nat.get_qpos(), nat.get_qvel()
        if not self.requires_grad:
            self._q_t, self._v_t = torch.from_numpy(q_end), torch.from_numpy(v_end)
            return
        tape = nat.tape_end()
        U = self._segment_controls(T)
        names, params = self._grad_param_inputs()
        q0, v0 = self._q_t, self._v_t
        if U is None and not names and not (q0.requires_grad or v0.requires_grad):
            self._q_t, self._v_t = torch.from_numpy(q_end), torch.from_numpy(v_end)
            return
        self._tapes.add(tape)
        self._q_t, self._v_t = _autograd.SegmentFunction.apply(self, self._seg_t0, tape, q_end, v_end, q0, v0, U, names, *params)

    def _segment_controls(self, T: int) -> Optional[torch.Tensor]:
        """The per-step control targets (N, T, nv) of the T flushed steps as a graph tensor built
        from the writes, or None when none of them carries grad. Sets the base of the next
        segment; writes made after the last step stay pending."""
        cur = [w for w in self._writes if w[0] < T]
        self._writes = [(w[0] - T,) + w[1:] for w in self._writes if w[0] >= T]
        base = self._ctrl_base
        if not ((base is not None and base.requires_grad) or any(w[4].requires_grad for w in cur)):
            self._ctrl_base = None
            return None
        N, nv = self._ctrl_np.shape
        if base is None:
            base = torch.zeros(N, nv, dtype=torch.float64)
        groups: Dict = {}
        for w in cur:
            groups.setdefault(w[1], []).append(w)
        if len(groups) <= 1 or self._disjoint(groups):
            # each group writes the same entries: the value in effect at step t is its last write
            # at or before t (one stack and one index_put per group)
            U = base.unsqueeze(0).expand(T, N, nv)
            steps = np.arange(T)
            for ws in groups.values():
                envs, dofs = ws[0][2], ws[0][3]
                rows_ = torch.arange(N) if envs is None else envs
                n_sel, k = rows_.shape[0], dofs.shape[0]
                V = torch.stack([w[4].to(torch.float64).expand(n_sel, k) for w in ws])
                last = np.searchsorted(np.array([w[0] for w in ws]), steps, side="right") - 1
                tsel = np.nonzero(last >= 0)[0]
                vals = V[torch.from_numpy(last[tsel])]
                U = U.index_put((torch.from_numpy(tsel)[:, None, None], rows_[None, :, None], dofs[None, None, :]), vals)
        else:  # overlapping writes: replay them in order, step by step
            row, out, j = base, [], 0
            for t in range(T):
                while j < len(cur) and cur[j][0] == t:
                    _, _, envs, dofs, v = cur[j]
                    rows_ = torch.arange(N) if envs is None else envs
                    row = row.index_put((rows_[:, None], dofs[None, :]), v.to(torch.float64).expand(rows_.shape[0], dofs.shape[0]))
                    j += 1
                out.append(row)
            U = torch.stack(out)
        U = U.transpose(0, 1)
        self._ctrl_base = U[:, -1]
        return U

    def _disjoint(self, groups: Dict) -> bool:
        masks = []
        for key, ws in groups.items():
            m = self._key_masks.get(key)
            if m is None:
                m = np.zeros(self._ctrl_np.shape, dtype=np.int32)
                envs, dofs = ws[0][2], ws[0][3]
                m[np.ix_(np.arange(m.shape[0]) if envs is None else envs.numpy(), dofs.numpy())] = 1
                self._key_masks[key] = m
            masks.append(m)
        return int(np.sum(masks, axis=0).max()) <= 1

    @property
    def graph_nbytes(self) -> int:
        """Bytes held by the native tapes of this scene's live autograd graph (recorded states
        and controls of the steps a backward pass can still reach)."""
        return sum(t.nbytes for t in list(self._tapes))

    def _kinematics(self):
        """(pos, quat, vel, ang), each float64 (N, nbody, k), of the current state (cached when no grad)."""
        if self.requires_grad:
            names, params = self._grad_param_inputs()
            if names or self._qpos.requires_grad or self._qvel.requires_grad:
                return _autograd.KinematicsFunction.apply(self, self._snapshot(), self._qpos, self._qvel, names, *params)
        if self._kin is None or self._kin[0] != self._version:
            self._sync_params(self._snapshot())
            out = self._native.kinematics(_np(self._qpos), _np(self._qvel))
            self._kin = (self._version, tuple(torch.from_numpy(a) for a in out))
        return self._kin[1]

    def step(self, update_visualizer: bool = True, refresh_visualizer: bool = True) -> None:
        """Advance every env by dt."""
        nat = self._native
        if nat is None:
            self._require_built("step")
        if not self._synced:
            self._push_state()
        if self._native_params_ver != self._params_ver:
            self._sync_params(self._snapshot())
        begin = self._grad and self._seg_T == 0
        if begin:
            nat.tape_begin(1)
            self._seg_t0 = self.t
        try:
            nat.step_record(self._mode_np, self._ctrl_np)
        except (ValueError, RuntimeError) as e:
            if begin:
                nat.tape_end()
            raise type(e)(f"scene.step (step {self.t}): {e}") from None
        self._seg_T += 1
        self._version += 1
        self._time += self.dt
        self.t += 1

    def rollout(self, controls, checkpoint: Optional[int] = None, trajectory: bool = True):
        """Run T steps as one autograd node; returns the trajectory (qpos, dofs_vel) after each step,
        (T, nq), (T, nv) or batched (n_envs, T, ...). ``controls`` (T, n_dofs) or, batched,
        (n_envs, T, n_dofs) are the per-step targets of every dof, in the modes currently set by
        ``control_dofs_*`` (force by default). ``checkpoint=K`` keeps only every K-th state for the
        backward pass and recomputes the others (memory ~T/K states instead of T).
        ``trajectory=False`` returns only the final (qpos, dofs_vel): the trajectory is then not
        held by the caller, which is where checkpointing saves memory on long horizons."""
        self._require_built("rollout")
        self._check_owner(controls, "controls")
        nv = self._desc_nv()
        U = controls if isinstance(controls, torch.Tensor) else torch.as_tensor(np.asarray(controls, dtype=np.float64))
        U = U.to(dtype=torch.float64)
        if U.dim() == 2 and U.shape[1] == nv and U.shape[0] >= 1:
            U = U.unsqueeze(0).expand(self._n, -1, -1)
        elif not (self._batched and U.dim() == 3 and U.shape[0] == self._n and U.shape[2] == nv and U.shape[1] >= 1):
            expected = f"(T, {nv})" + (f" or ({self._n}, T, {nv})" if self._batched else "")
            raise ValueError(f"controls: expected shape {expected} with T >= 1, got {tuple(U.shape)}")
        if checkpoint is not None and (int(checkpoint) != checkpoint or checkpoint < 1):
            raise ValueError(f"checkpoint: expected an integer >= 1 or None, got {checkpoint!r}")
        if not bool(torch.isfinite(U).all()):
            idx = _autograd._first_bad(U)
            raise ValueError(f"scene.rollout: controls contain NaN or inf at step {self.t + idx[1]} (rollout index {idx[1]}, env {idx[0]}, dof {idx[2]})")
        self._flush()
        if not self._synced:
            self._push_state()
        self._sync_params(self._snapshot())
        names, params = self._grad_param_inputs() if self.requires_grad else ((), ())
        ck = None if checkpoint is None else int(checkpoint)
        fn = _autograd.RolloutFunction.apply
        args = (self, self.t, self._mode_np.copy(), ck, bool(trajectory), self._q_t, self._v_t, U, names, *params)
        if not self.requires_grad:
            with torch.no_grad():
                Q, V = fn(*args)
        else:
            Q, V = fn(*args)
        T = U.shape[1]
        self._q_t, self._v_t = (Q[:, -1], V[:, -1]) if trajectory else (Q, V)
        self._ctrl_np = np.ascontiguousarray(U[:, -1].detach().numpy()).copy()
        self._ctrl_base = U[:, -1] if self.requires_grad else None
        self._writes = []
        self._version += 1
        self._time += self.dt * T
        self.t += T
        Qo, Vo = Q.to(_globals.tc_float), V.to(_globals.tc_float)
        if not self._batched:
            Qo, Vo = Qo[0], Vo[0]
        if self.requires_grad:
            Qo, Vo = _wrap(Qo, self), _wrap(Vo, self)
        return Qo, Vo

    def _desc_nv(self) -> int:
        return self.sim.rigid_solver._desc["nv"]

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
            # a new graph: controls keep their values but not their history; parameter tensors
            # that carry grad are re-assembled from the user's tensors at the next step
            self._detach_controls()
            self._grad_trace = {}
            self._new_graph()
            return
        envs = self.sim.rigid_solver._envs(envs_idx)
        q, v = self._qpos.clone(), self._qvel.clone()
        q[envs], v[envs] = src._qpos[envs], src._qvel[envs]
        self._set_q(q)
        self._set_v(v)
