"""The scene (Genesis ``gs.Scene``), its simulator and rigid solver.

State. The native sim holds its own copy of the state. ``scene.step()`` only counts: the
steps called since the last *flush* are pending, and ``_flush()`` runs them as one native call
(``Sim.segment``, each env's steps one parallel task) when something needs their result: a
reading of the state (``scene._qpos`` / ``_qvel``, links, contacts, cameras), a write of the
state or of a parameter, a rollout, or ``_pend_max`` pending steps. The Python side holds
float64 torch tensors qpos (N, nq) and qvel (N, nv), N = max(n_envs, 1), as of the last
flush (after a rollout of an unbatched scene: the (nq,), (nv,) tensors it returned, batched
when first needed; see :class:`kinegrad._state.StateStore`). In a ``requires_grad`` scene the flushed steps are recorded
on a native tape and become one autograd node (:class:`kinegrad._autograd.SegmentFunction`)
from the segment's initial state, its per-step control targets and the parameters that carry
grad. A loop that reads the state every step gets one node per step; a loop that reads it at
the end gets one node. A step that fails (NaN target, divergence) is reported by the flush
that ran it, naming the step; the steps before it stand.

Controls: ``scene._ctl`` (:class:`kinegrad._controls.Controls`) holds the targets and modes in
effect and the ``control_dofs_*`` calls not yet taken by a step, from which the flush assembles
a segment's per-step controls.

Parameters: ``scene._params`` (:class:`kinegrad._params.ParamStore`) holds every env's values,
versioned, and the overlays of the writes that carry grad.
"""

from __future__ import annotations

import sys
import threading
import warnings
import weakref
from typing import List, Optional

import numpy as np
import torch

from . import _autograd, _globals, _rollout
from . import morphs as _morphs
from ._globals import logger
from ._threads import self_locking, serialized
from .camera import SEGMENTATION_LEVELS, Camera, Visualizer
from ._debug import DebugDrawing
from .entity import RigidEntity
from ._controls import CTRL_NAMES, Controls
from ._params import ParamStore
from ._state import StateStore
from .solver import SimState, Simulator
from .materials import Rigid
from .options import RigidOptions, SimOptions, ViewerOptions, VisOptions
from .surfaces import Default as _DefaultSurface
from .tensor import Tensor as _GsTensor
from ._errors import GenesisRuntimeError, InvalidArgument

# looked up once: step() would otherwise read it from the torch module every call
_grad_enabled = torch.is_grad_enabled


_np = _autograd._np  # a float64 numpy view (or copy) of a tensor for the native calls


@serialized
class Scene(DebugDrawing):
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
        self._lock = threading.RLock()  # held by every public method (see _threads)
        self.sim_options = sim_options if sim_options is not None else SimOptions()
        self.rigid_options = rigid_options if rigid_options is not None else RigidOptions()
        for name, value, cls in (
            ("sim_options", self.sim_options, SimOptions),
            ("rigid_options", self.rigid_options, RigidOptions),
        ):
            if not isinstance(value, cls):
                raise InvalidArgument(f"{name}: expected gs.options.{cls.__name__}, got {type(value).__name__}")
        self.viewer_options = viewer_options if viewer_options is not None else ViewerOptions()
        self.vis_options = vis_options if vis_options is not None else VisOptions()
        if show_viewer:
            logger.warning("show_viewer=True: kinegrad has no viewer; running headless")
        from . import renderers as _renderers

        renderer = kwargs.pop("renderer", None)
        if renderer is not None and not isinstance(renderer, _renderers.Rasterizer):
            warnings.warn(f"Scene: renderer={type(renderer).__name__}: kinegrad's cameras rasterize (gs.renderers.Rasterizer)", stacklevel=3)
        prof = kwargs.pop("profiling_options", None)
        if prof is not None and getattr(prof, "show_FPS", False):
            warnings.warn("Scene: ProfilingOptions(show_FPS=True): kinegrad prints no FPS, ignored", stacklevel=3)
        for key in kwargs:
            warnings.warn(f"Scene: option {key}={kwargs[key]!r} is not supported by kinegrad, ignored", stacklevel=3)
        if self.rigid_options.dt is not None and self.rigid_options.dt != self.sim_options.dt:
            logger.warning("RigidOptions.dt is ignored; SimOptions.dt=%s is used", self.sim_options.dt)
        self.entities: List[RigidEntity] = []
        self.cameras: List[Camera] = []
        self._renderer = None  # native Renderer, made by the first camera render
        self._debug: dict = {}  # debug objects drawn in the cameras' images (see _debug)
        self._debug_dirty = False
        self.sim = Simulator(self)
        self._native = None
        self._pend = 0  # pending steps (see _flush)
        self._xfrc_applied = None  # the wrenches set for the next step (apply_links_external_*), or None
        self._ctl: Optional[Controls] = None  # the controls and their writes (made by build)
        self._n_envs = 0
        self._n = 1
        self._batched = False
        self.t = 0
        self._link = _autograd.SceneLink(self._lock)  # what the graph nodes keep of the scene

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
            raise GenesisRuntimeError(f"{what}: the scene is not built yet; call scene.build() first")

    def add_entity(self, morph, material=None, surface=None, name: Optional[str] = None, **kwargs) -> RigidEntity:
        """Add an entity made from ``morph`` (gs.morphs.*); returns it (usable after build).
        ``name``: the entity's name (unique in the scene; default: its model's name after build)."""
        if self.is_built:
            raise GenesisRuntimeError("add_entity: the scene is already built; add every entity before scene.build()")
        if not isinstance(morph, _morphs.Morph):
            raise InvalidArgument(f"morph: expected a gs.morphs object, got {type(morph).__name__}")
        if material is None:
            material = Rigid()
        if not isinstance(material, Rigid):
            raise InvalidArgument(f"material: only gs.materials.Rigid is supported, got {type(material).__name__}")
        if surface is None:
            surface = _DefaultSurface()
        if name is not None:
            if not isinstance(name, str) or not name:
                raise InvalidArgument(f"name: expected a non-empty string, got {name!r}")
            if name in self.entity_names:
                raise InvalidArgument(f"name: an entity named {name!r} is already in the scene")
        for key in kwargs:
            warnings.warn(f"add_entity: option {key}={kwargs[key]!r} is not supported by kinegrad, ignored", stacklevel=3)
        ent = RigidEntity(self, len(self.entities), morph, material, surface, name=name)
        self.entities.append(ent)
        return ent

    @property
    def rigid_solver(self):
        """The rigid solver (Genesis's ``scene.rigid_solver``, also ``scene.sim.rigid_solver``)."""
        return self.sim.rigid_solver

    @property
    def entity_names(self) -> tuple:
        """The entities' names, in the order they were added."""
        return tuple(e.name for e in self.entities)

    def get_entity(self, name: Optional[str] = None, *, uid: Optional[str] = None) -> RigidEntity:
        """The entity named ``name``, or whose ``uid`` (7 hex digits) is ``uid``; give one."""
        if (name is None) == (uid is None):
            raise InvalidArgument("get_entity: give one of name or uid")
        for e in self.entities:
            if (name is not None and e.name == name) or (uid is not None and e.uid == uid):
                return e
        what = f"name {name!r}" if name is not None else f"uid {uid!r}"
        raise InvalidArgument(f"get_entity: no entity with {what} (entities: {', '.join(self.entity_names) or 'none'})")

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
            warnings.warn(f"add_camera: option {key}={kwargs[key]!r} is not supported by kinegrad, ignored", stacklevel=3)
        cam = Camera(
            self, len(self.cameras), model=model, res=res, pos=pos, lookat=lookat, up=up, fov=fov,
            aperture=aperture, focus_dist=focus_dist, GUI=GUI, spp=spp, denoise=denoise, near=near, far=far,
            transform=transform, env_idx=env_idx, debug=debug,
        )
        self.cameras.append(cam)
        return cam

    @property
    def visualizer(self) -> Visualizer:
        """Genesis's ``scene.visualizer`` (``update()``, ``cameras``; see :class:`Visualizer`)."""
        return Visualizer(self)

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
                    rgba[ent.geom_start : ent.geom_start + ent._n_geoms] = np.asarray(c, dtype=np.float32)
                if not ent.morph.visualization:  # not drawn (alpha 0 hides a geom)
                    rgba[ent.geom_start : ent.geom_start + ent._n_geoms, 3] = 0.0
            r.set_geom_rgba(np.ascontiguousarray(rgba, dtype=np.float32))
            bg = getattr(self.vis_options, "background_color", None)
            if bg is not None:
                r.set_background([float(x) for x in bg][:3])
            self._renderer = r
            self._debug_dirty = bool(self._debug)
        if self._debug_dirty:
            self._renderer.set_debug(self._debug_items())
            self._debug_dirty = False
        return self._renderer

    def _seg_map(self) -> np.ndarray:
        """Lookup from (geom index + 1) to the segmentation index of ``vis_options.segmentation_level``
        (entry 0: background, -1)."""
        level = getattr(self.vis_options, "segmentation_level", "link")
        if level not in SEGMENTATION_LEVELS:
            raise InvalidArgument(f"VisOptions.segmentation_level: expected one of {SEGMENTATION_LEVELS}, got {level!r}")
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

    def _new_builder(self):
        """A native scene builder with the scene's options."""
        from . import _native, integrator

        so, ro = self.sim_options, self.rigid_options
        return _native.SceneBuilder(
            timestep=so.dt,
            substeps=so.substeps,
            gravity=list(so.gravity),
            integrator={integrator.Euler: "euler", integrator.RK4: "RK4"}.get(ro.integrator, "implicitfast"),
            enable_collision=bool(ro.enable_collision),
            enable_joint_limit=bool(ro.enable_joint_limit),
            enable_self_collision=bool(ro.enable_self_collision),
            iterations=int(ro.iterations),
            tolerance=float(ro.tolerance),
            ls_iterations=int(ro.ls_iterations),
            constraint_timeconst=ro.constraint_timeconst,
            impratio=float(ro.impratio),
            cone=str(ro.cone),
            implicit_constraints=bool(ro.implicit_constraints),
        )

    def _add_to_builder(self, builder, ent, warn: bool) -> None:
        """Add entity ``ent`` to ``builder`` (``warn``: the loader's notes as warnings)."""
        m, mat = ent.morph, ent.material
        prim = _morphs.native_primitive(m)
        if prim is not None:
            kind, dims = prim
            builder.add_primitive(
                kind, dims, list(m.pos), list(m.quat), m.fixed, mat.rho, mat.friction,
                collision=m.collision, contype=m.contype, conaffinity=m.conaffinity,
            )
            return
        if isinstance(m, _morphs.Mesh):
            _, warns = builder.add_mjcf_text(
                m.mjcf(mat.rho), m.file, 1.0, list(m.pos), list(m.quat), mat.friction, collision=m.collision,
            )
        elif isinstance(m, _morphs.URDF):
            _, warns = builder.add_urdf(
                m.file, m.scale, list(m.pos), list(m.quat), m.fixed, mat.friction,
                collision=m.collision, default_armature=m.default_armature,
            )
        elif isinstance(m, _morphs.MJCF):
            _, warns = builder.add_mjcf(
                m.file, m.scale, list(m.pos), list(m.quat), mat.friction,
                collision=m.collision, default_armature=m.default_armature,
            )
        else:
            raise InvalidArgument(f"morph: {type(m).__name__} is not supported")
        if warn:
            for w in warns:
                warnings.warn(f"{m.file}: {w}", stacklevel=4)  # (past build and the lock wrapper, see _threads)

    def build(self, n_envs: int = 0, env_spacing=None, **kwargs) -> None:
        """Assemble the model. ``n_envs=0``: one unbatched env; ``n_envs=N``: N parallel envs."""
        if self.is_built:
            raise GenesisRuntimeError("build: the scene is already built")
        try:
            whole = int(n_envs) == n_envs and n_envs >= 0
        except (TypeError, ValueError, OverflowError):  # None, a string, inf, NaN
            whole = False
        if not whole or isinstance(n_envs, bool):
            raise InvalidArgument(f"n_envs: expected an integer >= 0, got {n_envs!r}")
        n_envs = int(n_envs)
        if n_envs > sys.maxsize:
            raise InvalidArgument(f"n_envs: {n_envs} envs cannot be addressed on this machine (at most {sys.maxsize}), let alone stored")
        for key in kwargs:
            warnings.warn(f"build: option {key}={kwargs[key]!r} is not supported by kinegrad, ignored", stacklevel=3)
        builder = self._new_builder()
        for ent in self.entities:
            self._add_to_builder(builder, ent, warn=True)
        for ent in self.entities:
            if ent._attach is not None:  # (entity.attach)
                builder.attach(ent.idx, ent._attach[0].idx, ent._attach[1])
        self._n_envs = int(n_envs)
        self._n = max(self._n_envs, 1)
        self._batched = self._n_envs > 0
        native = builder.build(self._n)
        desc = native.describe()
        self._native = self._link.native = native
        self.sim.rigid_solver._desc = desc
        act = torch.from_numpy(native.get_act()) if native.na else None  # actuator activations
        self._st = StateStore(torch.from_numpy(native.get_qpos()), torch.from_numpy(native.get_qvel()), act)
        self._init_q, self._init_v = self._st.q.clone(), self._st.v.clone()  # the state reset() restores
        self._pend = 0  # steps called since the last flush, not run yet (the last ones up to self.t)
        self._pend_grad = True  # torch's grad mode when they were called
        # flush by itself after this many pending steps (bounds the memory of the control arrays)
        self._pend_max = max(1, min(1000, (1 << 20) // (self._n * max(1, desc["nv"]))))
        self._ctl = Controls(self._n, desc["nu"], bool(self.sim_options.requires_grad))
        self._tape_refs: list = []  # weak references to the tapes of live graph nodes (graph_nbytes)
        self._tape_refs_kept = 0
        self._grad = bool(self.sim_options.requires_grad)
        self._version = 0
        self._kin = None
        self._params = ParamStore(self._link)
        for ent in self.entities:
            ent._bind(desc)
        logger.debug("built scene: nq=%d nv=%d nbody=%d n_envs=%d", desc["nq"], desc["nv"], desc["nbody"], self._n_envs)

    # ---- gradients: ownership, parameters ----
    def _check_owner(self, value, name: str) -> None:
        """Refuse a gs.Tensor of another scene (gradients cannot cross scenes)."""
        if isinstance(value, _GsTensor):
            sc = value.scene
            if sc is not None and sc is not self and value.requires_grad:
                raise GenesisRuntimeError(
                    f"{name}: this gs.Tensor belongs to another scene (<Scene id={id(sc):#x}>), not this one "
                    f"(<Scene id={id(self):#x}>); gradients cannot flow between scenes. Pass value.detach() to use its values"
                )

    def _sync_params(self, snap) -> None:
        """Make the native sim hold the parameters of ``snap`` (a (version, dict) snapshot)."""
        self._link.sync_params(snap)

    def _write_param(self, name: str, idx, values: torch.Tensor) -> None:
        """Write ``values`` into parameter ``name`` at ``idx`` (None: the whole (N, *shape) tensor)."""
        self._check_owner(values, name)
        self._flush()  # a segment runs with one parameter set
        self._params.write(name, idx, values)

    @property
    def grad_clip(self) -> Optional[float]:
        """Clip the norm of each env's state gradient leaving each step in backward to this (None:
        no clipping); read when a backward runs. ``gs.utils.set_grad_clip`` checks the value."""
        return self._link.grad_clip

    @grad_clip.setter
    def grad_clip(self, max_norm: Optional[float]) -> None:
        self._link.grad_clip = max_norm

    @property
    def grad_trace(self) -> torch.Tensor:
        """Per-step norm of the state gradient dL/d(qpos_t, qvel_t) entering step t, from the last
        backward (index t = steps since the last reset; NaN for steps the backward did not reach)."""
        link = self._link
        link.trace_compact()
        return torch.from_numpy(link.trace[0][1].copy()) if link.trace else torch.zeros(0, dtype=torch.float64)

    def truncate_graph(self) -> None:
        """Cut the graph at the current state (truncated backprop through time): the state and the
        current controls keep their values but no longer carry gradients from earlier steps."""
        self._require_built("truncate_graph")
        self._flush()
        self._st.q, self._st.v = self._st.q.detach(), self._st.v.detach()
        self._ctl.detach()
        self._kin = None
        self._version += 1
        self._params.new_graph()

    # ---- state (see _state.StateStore) ----
    @property
    def _qpos(self) -> torch.Tensor:
        self._flush()
        return self._st.q

    @_qpos.setter
    def _qpos(self, q: torch.Tensor) -> None:
        self._set_q(q)

    @property
    def _qvel(self) -> torch.Tensor:
        self._flush()
        return self._st.v

    @_qvel.setter
    def _qvel(self, v: torch.Tensor) -> None:
        self._set_v(v)

    def _set_q(self, q: torch.Tensor) -> None:
        self._flush()
        self._st.written(q=q)
        self._version += 1

    def _set_v(self, v: torch.Tensor) -> None:
        self._flush()
        self._st.written(v=v)
        self._version += 1

    @property
    def _ctrl_mode(self) -> torch.Tensor:
        """Control mode of every dof (N, nv) int8 (the codes of ``_native.CONTROL_MODES``); a copy (the
        mode arrays are shared between segments and never written in place)."""
        return torch.from_numpy(self._ctl.mode.copy())

    @_ctrl_mode.setter
    def _ctrl_mode(self, m) -> None:
        self._ctl.mode = np.ascontiguousarray(torch.as_tensor(m).numpy(), dtype=np.int8).copy()

    def _drop_pending(self) -> None:
        """Forget the pending steps without running them (for a write of the whole state, which
        would overwrite their results); the controls they set stay in effect."""
        T, self._pend = self._pend, 0
        if T:
            self._ctl.drop(T)

    def _push_state(self) -> None:
        """Give the native sim the Python state (after a write to it)."""
        try:
            self._native.set_state(*self._st.start_np(_np))
            self._push_act()
        except ValueError:
            _autograd.check_inputs(self.t, [("qpos", self._st.q), ("dofs_vel", self._st.v)])  # names the entry
            raise
        self._st.synced, self._st.np = True, None

    def _push_act(self) -> None:
        """Give the native sim the activations written from Python, if any."""
        st = self._st
        if st.a_dirty:
            self._native.set_act(_np(st.a))
            st.a_dirty = False

    def _flush(self) -> None:
        """Run the pending steps (one native call, each env's steps one parallel task) and bring
        the Python state up to date; in a ``requires_grad`` scene they become one autograd node
        (see the module docstring). If a step fails, the steps before it stand and its error is
        raised here, naming the step."""
        T = self._pend
        if T == 0:
            return
        if self._grad and self._pend_grad is not torch.is_grad_enabled():
            with torch.set_grad_enabled(self._pend_grad):
                return self._flush()
        q0, v0, a0 = self._st.q, self._st.v, self._st.a  # before anything changes (making a batched view may raise)
        self._pend = 0
        t0 = self.t - T
        ctl = self._ctl
        cur = ctl.take(T)
        try:
            mode, ctrl, U = ctl.segment_inputs(T, cur, t0)
        except RuntimeError:
            ctl.writes = []  # the steps did not run; the writes for later ones are dropped
            self.t = t0
            raise
        self._params.sync()
        names, params = self._params.grad_inputs() if self._grad else ((), ())
        record = self._grad and (
            U is not None or bool(names) or q0.requires_grad or v0.requires_grad or (a0 is not None and a0.requires_grad)
        )
        try:
            q_end, v_end, tape, done, err = self._native.segment(mode, ctrl, record)
        except BaseException:
            ctl.writes = []
            self.t = t0  # none of the steps ran
            raise
        if err is not None:
            err = self._step_error(err, t0 + done, ctrl[:, done], mode[:, done] if mode.ndim == 3 else mode)
        if done > 0:
            if done < T:
                ctrl, mode = ctrl[:, :done], (mode[:, :done] if mode.ndim == 3 else mode)
                U = None if U is None else U[..., :done, :]
            if record:
                seg = _autograd.Segment(tape, mode, ctrl)
                self._keep_tape(seg)
                run = (self._link, t0, seg, q_end, v_end, names)
                if a0 is None:
                    self._st.ran(*_autograd.SegmentFunction.apply(run, q0, v0, U, *params))
                else:  # the activations are an input and an output of the node
                    q, v, self._st.a = _autograd.SegmentActFunction.apply(run + (self._native.get_act(),), q0, v0, a0, U, *params)
                    self._st.ran(q, v)
            else:
                self._st.ran(torch.from_numpy(q_end), torch.from_numpy(v_end))
                if a0 is not None:
                    self._st.a = torch.from_numpy(self._native.get_act())
            ctl.ran(mode, ctrl, U)
            self._st.time += self.dt * done
            self._version += 1
        if err is None:
            return
        # the failing step and the ones called after it did not run; their writes are dropped
        ctl.writes = []
        self.t = t0 + done
        raise err

    def _step_error(self, err: Exception, t: int, ctrl: np.ndarray, mode: np.ndarray) -> Exception:
        """The exception of failed step ``t`` (controls ``ctrl``, ``mode`` (N, nv)), naming the
        step and, for a NaN or inf target, the control call, dof and env that set it. A
        KeyboardInterrupt (Ctrl-C stopped the native call) is raised as it came."""
        if not isinstance(err, Exception):
            return err
        msg = str(err)
        bad = np.argwhere(~np.isfinite(ctrl))
        if len(bad):
            e, d = (int(i) for i in bad[0])
            env = f" of env {e}" if self._batched else ""
            msg = f"control_dofs_{CTRL_NAMES[int(mode[e, d])]}: the target of dof {d}{env} is NaN or inf"
        return type(err)(f"scene.step (step {t}): {msg}")

    @property
    def graph_nbytes(self) -> int:
        """Bytes held by the native tapes of this scene's live autograd graph (recorded states
        and controls of the steps a backward pass can still reach)."""
        live = [t for t in (r() for r in self._tape_refs) if t is not None]
        return sum(t.nbytes for t in live)

    def _keep_tape(self, tape) -> None:
        """Remember ``tape`` (a native tape or a Segment) for graph_nbytes without keeping it alive."""
        refs = self._tape_refs
        refs.append(weakref.ref(tape))
        if len(refs) > 2 * self._tape_refs_kept + 64:  # drop the dead ones now and then
            self._tape_refs = [r for r in refs if r() is not None]
            self._tape_refs_kept = len(self._tape_refs)

    def _kinematics(self):
        """(pos, quat, vel, ang), each float64 (N, nbody, k), of the current state (cached when no grad)."""
        if self.requires_grad:
            names, params = self._params.grad_inputs()
            if names or self._qpos.requires_grad or self._qvel.requires_grad:
                return _autograd.KinematicsFunction.apply(self, self._params.snapshot(), self._qpos, self._qvel, names, *params)
        self._flush()
        if self._kin is None or self._kin[0] != self._version:
            self._params.sync()
            out = self._native.kinematics(_np(self._qpos), _np(self._qvel))
            self._kin = (self._version, _autograd.split_link_states(out))
        return self._kin[1]

    def _tendon_lengths(self):
        """Every tendon's length, float64 (N, ntendon), of the current state (a graph tensor in a
        ``requires_grad`` scene)."""
        if self.requires_grad:
            names, params = self._params.grad_inputs()
            if names or self._qpos.requires_grad:
                return _autograd.TendonLengthFunction.apply(self, self._params.snapshot(), self._qpos, names, *params)
        self._flush()
        self._params.sync()
        return torch.from_numpy(self._native.tendon_lengths(_np(self._qpos)))

    @self_locking
    def step(self, update_visualizer: bool = True, refresh_visualizer: bool = True) -> None:
        """Advance every env by dt, with the controls set so far.

        Steps run natively when something needs their result: a reading of the state, a link,
        the contacts or a camera, a write of the state or of a parameter, or after up to a
        thousand pending steps (fewer in large batches). The steps called in between run as one batch (each env's steps one parallel
        task), and in a ``requires_grad`` scene they become one autograd node. An error of a step
        (a NaN target, a diverging state) is therefore raised by the call that ran it, naming
        the step; the steps before it stand, and the scene is left after them. Steps still pending
        when the whole state is written (``reset()``, ``set_state``) are dropped unrun: their
        results would be overwritten (the controls they set stay in effect)."""
        lock = self._lock  # (see _threads: the per-step calls lock in their own body)
        lock.acquire()
        try:
            if self._native is None:
                self._require_built("step")
            if not self._st.synced:
                self._push_state()
            grad_mode = _grad_enabled()
            if grad_mode is not self._pend_grad:
                self._flush()  # a segment runs in one grad mode, the one its steps were called in
                self._pend_grad = grad_mode
            self._pend += 1
            self.t += 1
            if self._pend >= self._pend_max or self._xfrc_applied is not None:
                self._flush()
            if self._xfrc_applied is not None:  # external wrenches act for one step (Genesis's rule)
                self._xfrc_applied = None
                self._params.write("body_xfrc", None, torch.zeros_like(self._params.get("body_xfrc")))
        finally:
            lock.release()

    def rollout(self, controls, checkpoint: Optional[int] = None, trajectory: bool = True):
        """Run T steps as one autograd node; returns the trajectory (qpos, dofs_vel) after each step,
        (T, nq), (T, nv) or batched (n_envs, T, ...). ``controls`` (T, n_dofs) or, batched,
        (n_envs, T, n_dofs) are the per-step targets of every dof, in the modes currently set by
        ``control_dofs_*`` (force by default). ``checkpoint=K`` keeps only every K-th state for the
        backward pass and recomputes the others (memory ~T/K states instead of T).
        ``trajectory=False`` returns only the final (qpos, dofs_vel): the trajectory is then not
        held by the caller, which is where checkpointing saves memory on long horizons."""
        return _rollout.rollout(self, controls, checkpoint, trajectory)

    def get_state(self) -> SimState:
        self._require_built("get_state")
        rs = self.sim.rigid_solver
        links = (rs.link_states("pos")[:, 1:], rs.link_states("quat")[:, 1:])
        return SimState(self._qpos, self._qvel, self._st.time, self._batched, self._act, links)

    @property
    def _act(self) -> Optional[torch.Tensor]:
        """The activations (N, na) of the actuators with dynamics (MuJoCo's ``act``), in the
        units of their channels' targets; None when the model has none."""
        self._flush()
        return self._st.a

    def set_state(self, state: SimState) -> None:
        self._require_built("set_state")
        if not isinstance(state, SimState):
            raise InvalidArgument(f"state: expected a SimState from scene.get_state(), got {type(state).__name__}")
        self._drop_pending()  # their results would be overwritten
        q, v = self._init_q, self._init_v  # the shapes of the state
        if state._qpos.shape != q.shape or state._qvel.shape != v.shape:
            raise InvalidArgument(
                f"state: shapes qpos {tuple(state._qpos.shape)}, dofs_vel {tuple(state._qvel.shape)} do not match "
                f"this scene's {tuple(q.shape)}, {tuple(v.shape)}"
            )
        sq, sv = state._qpos, state._qvel
        if self._st.a is not None:  # the activations: the state's, or zeros (a state without them)
            sa = state._act if state._act is not None else torch.zeros_like(self._st.a)
            if tuple(sa.shape) != tuple(self._st.a.shape):
                raise InvalidArgument(f"state: activations of shape {tuple(sa.shape)} do not match this scene's {tuple(self._st.a.shape)}")
            self._st.written(a=sa.clone())
        if sq.requires_grad or sv.requires_grad or sq.dtype is not torch.float64 or sv.dtype is not torch.float64:
            self._st.written(sq.clone(), sv.clone())
        else:  # copies made in numpy, kept for the next native call to start from
            qn, vn = sq.numpy().copy(), sv.numpy().copy()
            self._st.written(torch.from_numpy(qn), torch.from_numpy(vn), (qn, vn))
        self._version += 1
        self._st.time = state.time

    def destroy(self) -> None:
        """Release the native simulator and the renderer (Genesis's ``scene.destroy()``); the
        scene is unusable afterwards (a call says it is not built)."""
        self._pend = 0
        self._native = self._link.native = None
        self._renderer = None

    def reset(self, state: Optional[SimState] = None, envs_idx=None) -> None:
        """Restore the state captured at build (or ``state``); controls are kept."""
        self._require_built("reset")
        src = state if state is not None else SimState(self._init_q, self._init_v, 0.0, self._batched)
        if envs_idx is None:
            self.set_state(src)
            self.t = 0
            # a new graph: controls keep their values but not their history; parameter tensors
            # that carry grad are re-assembled from the user's tensors at the next step
            self._ctl.detach()
            self._link.trace = []
            self._params.new_graph()
            return
        envs = self.sim.rigid_solver.select_envs(envs_idx)
        q, v = self._qpos.clone(), self._qvel.clone()
        q[envs], v[envs] = src._qpos[envs], src._qvel[envs]
        if self._st.a is not None:
            a = self._st.a.clone()
            a[envs] = 0.0 if src._act is None else src._act[envs]
            self._st.written(a=a)
        self._set_q(q)
        self._set_v(v)
