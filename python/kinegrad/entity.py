"""Rigid entities, links and joints (Genesis ``RigidEntity``, ``RigidLink``, ``RigidJoint``).

Local indices (``dofs_idx_local``, ``qs_idx_local``, ``links_idx_local``) count
within the entity; the ``*_idx`` properties are global. Link indices exclude the
world body (global link i is kinegrad body i + 1).
"""

from __future__ import annotations

import enum
import uuid
from typing import TYPE_CHECKING, Dict, List, Optional

import numpy as np
import torch

from . import _globals
from ._controls import CTRL_FORCE, CTRL_POSITION, CTRL_VELOCITY
from ._convert import env_rows, indices, quat_mul, quat_rotate, rows
from ._threads import self_locking, serialized
from ._errors import GenesisRuntimeError, InvalidArgument
from .geom import RigidGeom

if TYPE_CHECKING:
    from .scene import Scene


class JOINT_TYPE(enum.IntEnum):
    """Joint kinds, named as in Genesis."""

    FIXED = 0
    REVOLUTE = 1
    PRISMATIC = 2
    SPHERICAL = 3
    FREE = 4


_JOINT_TYPES = {"hinge": JOINT_TYPE.REVOLUTE, "slide": JOINT_TYPE.PRISMATIC, "ball": JOINT_TYPE.SPHERICAL, "free": JOINT_TYPE.FREE}


@serialized
class RigidSite:
    """A site (MJCF ``<site>``): a named frame fixed on a link; its pose is the link's composed
    with the site's local pose, and carries gradients as the link's does."""

    def __init__(self, entity: "RigidEntity", idx_local: int, name: str, link: "RigidLink", pos, quat):
        self.entity, self.idx_local, self.name, self.link = entity, idx_local, name, link
        self._lock = entity._lock
        self.pos_local = torch.tensor(pos, dtype=torch.float64)
        self.quat_local = torch.tensor(quat, dtype=torch.float64)

    def get_pos(self, envs_idx=None) -> torch.Tensor:
        """Position of the site (world), (3,) or (n_envs, 3)."""
        return self.link.get_pos(envs_idx) + quat_rotate(self.link.get_quat(envs_idx), self.pos_local)

    def get_quat(self, envs_idx=None) -> torch.Tensor:
        """Orientation (w, x, y, z) of the site frame, (4,) or (n_envs, 4)."""
        return quat_mul(self.link.get_quat(envs_idx), self.quat_local.expand(*self.link.get_quat(envs_idx).shape))

    def __repr__(self) -> str:
        return f"RigidSite(name={self.name!r}, link={self.link.name!r})"


class RigidLink:
    """One body of an entity."""

    def __init__(self, entity: "RigidEntity", idx_local: int, name: str):
        self.entity, self.idx_local, self.name = entity, idx_local, name
        self._lock = entity._lock
        self._geoms: Optional[List["RigidGeom"]] = None

    @property
    def idx(self) -> int:
        return self.entity.link_start + self.idx_local

    def _all_geoms(self) -> List["RigidGeom"]:
        if self._geoms is None:
            d = self.entity._built("geoms")
            body = self._body
            self._geoms = [RigidGeom(self, g) for g, b in enumerate(d["geom_body"]) if b == body]
        return self._geoms

    @property
    def geoms(self) -> List["RigidGeom"]:
        """The link's collision geoms."""
        return [g for g in self._all_geoms() if not g.is_visual]

    @property
    def vgeoms(self) -> List["RigidGeom"]:
        """The link's visual geoms, or its collision geoms when it has none."""
        vis = [g for g in self._all_geoms() if g.is_visual]
        return vis if vis else self.geoms

    @property
    def n_geoms(self) -> int:
        return len(self.geoms)

    @property
    def n_vgeoms(self) -> int:
        return len(self.vgeoms)

    @property
    def _body(self) -> int:
        return self.idx + 1

    def _reading(self, which: str, envs_idx) -> torch.Tensor:
        solver = self.entity._solver
        return solver.reading(solver.link_states(which)[:, self._body], solver.select_envs(envs_idx))

    def get_pos(self, envs_idx=None) -> torch.Tensor:
        """Position of the link frame (world), (3,) or (n_envs, 3)."""
        return self._reading("pos", envs_idx)

    def get_quat(self, envs_idx=None) -> torch.Tensor:
        """Orientation (w, x, y, z), (4,) or (n_envs, 4)."""
        return self._reading("quat", envs_idx)

    def get_vel(self, envs_idx=None) -> torch.Tensor:
        """Linear velocity of the link origin (world), (3,) or (n_envs, 3)."""
        return self._reading("vel", envs_idx)

    def get_ang(self, envs_idx=None) -> torch.Tensor:
        """Angular velocity (world), (3,) or (n_envs, 3)."""
        return self._reading("ang", envs_idx)

    def get_mass(self) -> float:
        return float(self.entity._solver.get_param("body_mass")[0, self._body])

    @property
    def inertial_mass(self) -> float:
        """Mass of the link (kg), env 0's (Genesis's ``link.inertial_mass``)."""
        return self.get_mass()

    @property
    def is_fixed(self) -> bool:
        """Whether the link is fixed with respect to the world: neither it nor an ancestor has a
        joint (a mocap body is not fixed: it is moved by its pose)."""
        d = self.entity._built("is_fixed")
        b = self._body
        while b != 0:
            if d["body_jnt_num"][b] > 0 or d["body_mocap"][b] >= 0:
                return False
            b = d["body_parent"][b]
        return True

    def set_mass(self, mass, envs_idx=None) -> None:
        """Set the link's mass (kg), scalar or (n_envs,), its inertia scaled with it (Genesis's
        rule: the mass distribution is kept); may carry grad."""
        solver = self.entity._solver
        envs = solver.select_envs(envs_idx, write=True)
        vals = rows(mass, "mass", 1, solver.n_selected(envs), solver.batched, allow_scalar=True)
        if bool((vals <= 0).any()):
            raise InvalidArgument(f"mass: must be > 0, got {float(vals.min())}")
        _scale_masses(solver, torch.tensor([self._body]), vals, envs)

    def set_com(self, pos, envs_idx=None) -> None:
        """Centre of mass in the link frame (m), (3,) or (n_envs, 3); may carry grad."""
        solver = self.entity._solver
        envs = solver.select_envs(envs_idx, write=True)
        vals = env_rows(pos, "pos", (3,), solver.n_selected(envs), solver.batched)
        solver.write_param("body_ipos", vals.unsqueeze(1), torch.tensor([self._body]), envs)

    def get_com(self) -> torch.Tensor:
        """Centre of mass in the link frame (m), env 0."""
        return torch.as_tensor(self.entity._solver.get_param("body_ipos")[0, self._body])

    def set_inertia(self, inertia, envs_idx=None) -> None:
        """Rotational inertia about the centre of mass, link axes (kg m^2), (3, 3) or
        (n_envs, 3, 3); symmetric positive semi-definite; may carry grad."""
        solver = self.entity._solver
        envs = solver.select_envs(envs_idx, write=True)
        vals = env_rows(inertia, "inertia", (3, 3), solver.n_selected(envs), solver.batched)
        solver.write_param("body_inertia", vals.unsqueeze(1), torch.tensor([self._body]), envs)

    def get_inertia(self) -> torch.Tensor:
        """Rotational inertia about the centre of mass, link axes (kg m^2), env 0."""
        return torch.as_tensor(self.entity._solver.get_param("body_inertia")[0, self._body])

    def __repr__(self) -> str:
        return f"RigidLink(name={self.name!r}, idx={self.idx})"


class RigidJoint:
    """One joint of an entity (kinegrad stores no fixed joints: a jointless link is welded to its parent)."""

    def __init__(self, entity: "RigidEntity", idx_local: int, desc: Dict, j: int):
        self.entity, self.idx_local = entity, idx_local
        self.name = desc["jnt_name"][j]
        self.idx = j
        self.type = _JOINT_TYPES[desc["jnt_type"][j]]
        self.n_dofs = desc["jnt_nv"][j]
        self.n_qs = desc["jnt_nq"][j]
        self.dof_start = desc["jnt_dof_adr"][j]
        self.q_start = desc["jnt_qpos_adr"][j]
        self.range = tuple(desc["jnt_range"][j])
        self.limited = bool(desc["jnt_limited"][j])
        self._link_idx = desc["jnt_body"][j] - 1

    @property
    def link(self) -> RigidLink:
        return self.entity.links[self._link_idx - self.entity.link_start]

    def get_anchor_pos(self, envs_idx=None) -> torch.Tensor:
        """The joint's anchor (world), (3,) or (n_envs, 3): where the joint sits before its own
        motion (a slide joint's does not slide; MuJoCo's ``xanchor``); a reading without gradient."""
        return self._anchor(envs_idx, slice(0, 3))

    def get_anchor_axis(self, envs_idx=None) -> torch.Tensor:
        """The joint's axis (world, unit; MuJoCo's ``xaxis``), (3,) or (n_envs, 3)."""
        return self._anchor(envs_idx, slice(3, 6))

    def _anchor(self, envs_idx, part: slice) -> torch.Tensor:
        self.entity._built("get_anchor_pos")
        scene = self.entity._scene
        solver = self.entity._solver
        x = torch.from_numpy(scene._native.joint_anchors(scene._qpos.detach().to(torch.float64).numpy()))
        return solver.reading(x[:, self.idx, part], solver.select_envs(envs_idx))

    @property
    def dofs_idx(self) -> List[int]:
        return list(range(self.dof_start, self.dof_start + self.n_dofs))

    @property
    def dofs_idx_local(self) -> List[int]:
        return [d - self.entity.dof_start for d in self.dofs_idx]

    @property
    def dof_idx(self):
        return self.dofs_idx[0] if self.n_dofs == 1 else self.dofs_idx

    @property
    def dof_idx_local(self):
        return self.dofs_idx_local[0] if self.n_dofs == 1 else self.dofs_idx_local

    @property
    def qs_idx(self) -> List[int]:
        return list(range(self.q_start, self.q_start + self.n_qs))

    @property
    def qs_idx_local(self) -> List[int]:
        return [q - self.entity.q_start for q in self.qs_idx]

    @property
    def q_idx_local(self):
        return self.qs_idx_local[0] if self.n_qs == 1 else self.qs_idx_local

    def __repr__(self) -> str:
        return f"RigidJoint(name={self.name!r}, type={self.type.name}, dofs_idx_local={self.dofs_idx_local})"


def _scale_masses(solver, bodies: torch.Tensor, mass: torch.Tensor, envs) -> None:
    """Set the masses of ``bodies`` to ``mass`` (n_sel, k), each body's inertia scaled by the same
    ratio (differentiably)."""
    cur_m = solver.get_param("body_mass")[:, bodies]
    cur_i = solver.get_param("body_inertia")[:, bodies]
    if envs is not None:
        cur_m, cur_i = cur_m[envs], cur_i[envs]
    if bool((cur_m <= 0).any()):
        raise InvalidArgument("mass: a link without mass cannot be scaled to one")
    ratio = mass.to(torch.float64) / cur_m
    solver.write_param("body_inertia", cur_i * ratio[..., None, None], bodies, envs)
    solver.write_param("body_mass", mass, bodies, envs)


class EntityState:
    """What ``entity.get_state()`` returns: the entity's readings at one moment."""

    def __init__(self, entity: "RigidEntity"):
        self.pos, self.quat = entity.get_pos(), entity.get_quat()
        self.qpos, self.dofs_vel = entity.get_qpos(), entity.get_dofs_velocity()
        self.links_pos, self.links_quat = entity.get_links_pos(), entity.get_links_quat()

    def __repr__(self) -> str:
        return f"EntityState(qpos={tuple(self.qpos.shape)}, links={tuple(self.links_pos.shape)})"


class _Uid(str):
    """A short unique id that is a string, with Genesis's ``uid.short()``."""

    def short(self) -> str:
        return str(self)


@serialized
class RigidEntity:
    """A robot or object in a scene. Structure and state are available after ``scene.build()``."""

    def __init__(self, scene: "Scene", idx: int, morph, material, surface, name: Optional[str] = None):
        self._scene, self.idx, self.morph, self.material, self.surface = scene, idx, morph, material, surface
        #: a short unique id (7 hex digits, as Genesis's ``uid.short()``)
        self.uid = _Uid(uuid.uuid4().hex[:7])
        self._user_name = name
        # the name given, else (until build names it after its model) the morph's kind
        self.name = name if name is not None else f"{type(morph).__name__.lower()}_{self.uid}"
        self._lock = scene._lock
        self._desc: Optional[Dict] = None
        self._probe_desc: Optional[Dict] = None  # this entity's model alone, for queries before the build
        self._attach: Optional[tuple] = None  # (parent entity, its link's local index) of attach()
        self._links: List[RigidLink] = []
        self._joints: List[RigidJoint] = []
        self._all_dofs: Optional[torch.Tensor] = None
        self._dof_span: Optional[slice] = None
        self._dof_key: Optional[tuple] = None
        self._dof_shape: Optional[torch.Size] = None
        self._rs = None

    def _bind(self, desc: Dict, probe: bool = False) -> None:
        """Take the entity's structure from ``desc``: the built scene's, or (``probe``) that of a
        model of this entity alone, for the structural queries before ``scene.build()``. The
        links and joints made by a probe stay the same objects after the build."""
        i = 0 if probe else self.idx
        old = (self._links, self._joints) if self._probe_desc is not None and not probe else None
        if probe:
            self._probe_desc = desc
        else:
            self._desc = desc
            self.name = self._user_name if self._user_name is not None else desc["entity_name"][i]
        self.link_start = desc["entity_body_adr"][i] - 1
        self._n_links = desc["entity_body_num"][i]
        self.dof_start, self._n_dofs = desc["entity_dof_adr"][i], desc["entity_dof_num"][i]
        self._all_dofs = torch.arange(self.dof_start, self.dof_start + self._n_dofs, dtype=torch.int64)
        self._dof_span = slice(self.dof_start, self.dof_start + self._n_dofs)
        self._dof_key = (1, self.dof_start, self.dof_start + self._n_dofs)  # see RigidSolver._write_control
        self._dof_shape = torch.Size([self._n_dofs])
        self._rs = self._scene.sim.rigid_solver  # the per-step control calls skip the property
        self.q_start, self._n_qs = desc["entity_qpos_adr"][i], desc["entity_qpos_num"][i]
        self.geom_start, self._n_geoms = desc["entity_geom_adr"][i], desc["entity_geom_num"][i]
        self._links = [RigidLink(self, k, desc["body_name"][self.link_start + 1 + k]) for k in range(self._n_links)]
        j0, nj = desc["entity_jnt_adr"][i], desc["entity_jnt_num"][i]
        self._joints = [RigidJoint(self, k, desc, j0 + k) for k in range(nj)]
        s0, ns = desc.get("entity_site_adr", [0] * (i + 1))[i], desc.get("entity_site_num", [0] * (i + 1))[i]
        self._sites = [
            RigidSite(
                self,
                k,
                desc["site_name"][s0 + k],
                self._links[desc["site_body"][s0 + k] - 1 - self.link_start],
                desc["site_pos"][s0 + k],
                desc["site_quat"][s0 + k],
            )
            for k in range(ns)
        ]
        # tendons (MJCF <tendon><fixed> and <spatial>) of this entity: their control channels follow the
        # dofs' (channel nv + the tendon's global index)
        self._tendons = [t for t, e in enumerate(desc.get("tendon_entity", [])) if e == i]
        if old is not None:  # the objects handed out before the build, rebound in place
            for before, now in zip(old[0], self._links):
                before.__dict__.update(now.__dict__)
            for before, now in zip(old[1], self._joints):
                before.__dict__.update(now.__dict__)
            if len(old[0]) == len(self._links):
                self._links = old[0]
            if len(old[1]) == len(self._joints):
                self._joints = old[1]

    def _structure(self, what: str) -> Dict:
        """The description the structural queries read: the built scene's, else (before the
        build) that of this entity's model alone, loaded once."""
        if self._desc is not None:
            return self._desc
        if self._probe_desc is None:
            scene = self._scene
            builder = scene._new_builder()
            scene._add_to_builder(builder, self, warn=False)
            self._bind(builder.build(1).describe(), probe=True)
        return self._probe_desc

    def _built(self, what: str) -> Dict:
        if self._desc is None:
            raise GenesisRuntimeError(f"{what}: the scene is not built yet; call scene.build() first")
        return self._desc

    @property
    def _solver(self):
        return self._scene.sim.rigid_solver

    @property
    def scene(self) -> "Scene":
        return self._scene

    @property
    def is_built(self) -> bool:
        return self._desc is not None

    # ---- structure ----
    @property
    def n_dofs(self) -> int:
        self._structure("n_dofs")
        return self._n_dofs

    @property
    def n_qs(self) -> int:
        self._structure("n_qs")
        return self._n_qs

    @property
    def n_links(self) -> int:
        self._structure("n_links")
        return self._n_links

    @property
    def n_joints(self) -> int:
        return len(self.joints)

    @property
    def n_geoms(self) -> int:
        """Collision geoms (Genesis's count; the visual ones are :attr:`n_vgeoms`)."""
        return len(self.geoms)

    @property
    def geoms(self) -> List["RigidGeom"]:
        """The entity's collision geoms, link by link."""
        return [g for link in self.links for g in link.geoms]

    @property
    def vgeoms(self) -> List["RigidGeom"]:
        """The geoms the entity is drawn with: each link's visual geoms, or its collision geoms
        when it has none."""
        return [g for link in self.links for g in link.vgeoms]

    @property
    def n_vgeoms(self) -> int:
        return len(self.vgeoms)

    @property
    def links(self) -> List[RigidLink]:
        self._structure("links")
        return list(self._links)

    @property
    def joints(self) -> List[RigidJoint]:
        self._structure("joints")
        return list(self._joints)

    @property
    def base_link(self) -> RigidLink:
        return self.links[0]

    @property
    def base_joint(self) -> RigidJoint:
        """The joint of the base link (its free joint for a floating base)."""
        joints = [j for j in self.joints if j.link is self._links[0]]
        if not joints:
            raise InvalidArgument(f"base_joint: entity '{self.name}' has a fixed base (its base link has no joint)")
        return joints[0]

    @property
    def dof_end(self) -> int:
        return self.dof_start + self.n_dofs

    @property
    def q_end(self) -> int:
        return self.q_start + self.n_qs

    @property
    def link_end(self) -> int:
        return self.link_start + self.n_links

    def get_link(self, name: str) -> RigidLink:
        for link in self.links:
            if link.name == name:
                return link
        raise InvalidArgument(f"name: no link '{name}' in entity '{self.name}'; available: {[l.name for l in self._links]}")

    @property
    def sites(self) -> List["RigidSite"]:
        """The entity's sites (MJCF ``<site>``): named frames fixed on its links."""
        self._built("sites")
        return list(self._sites)

    def get_site(self, name: str) -> "RigidSite":
        for site in self.sites:
            if site.name == name:
                return site
        raise InvalidArgument(f"name: no site '{name}' in entity '{self.name}'; available: {[s.name for s in self._sites]}")

    def get_sites_pos(self, sites_idx_local=None, envs_idx=None) -> torch.Tensor:
        """World positions of sites (all by default), (n_sites, 3) or (n_envs, n_sites, 3); carry gradients."""
        sites = self.sites if sites_idx_local is None else [self.sites[int(k)] for k in sites_idx_local]
        return torch.stack([s.get_pos(envs_idx) for s in sites], dim=-2)

    def get_sites_quat(self, sites_idx_local=None, envs_idx=None) -> torch.Tensor:
        """World orientations (w, x, y, z) of sites, (n_sites, 4) or (n_envs, n_sites, 4); carry gradients."""
        sites = self.sites if sites_idx_local is None else [self.sites[int(k)] for k in sites_idx_local]
        return torch.stack([s.get_quat(envs_idx) for s in sites], dim=-2)

    @property
    def keyframes(self) -> List[str]:
        """Names of the entity's keyframes (MJCF ``<keyframe><key>``), in file order."""
        return [k["name"] for k in self._keys()]

    def _keys(self) -> List[Dict]:
        return [k for k in self._built("keyframes").get("keyframes", []) if k["entity"] == self.idx]

    def get_keyframe(self, name: str) -> Dict[str, torch.Tensor]:
        """A keyframe's ``qpos`` (n_qs,), ``qvel`` (n_dofs,) and ``ctrl`` (the file's actuator
        controls, as written; empty if unsaid). Positions are in the file's coordinates: a free
        base's keyframe ignores the morph's ``pos``/``quat``."""
        for k in self._keys():
            if k["name"] == name:
                return {f: torch.tensor(k[f], dtype=torch.float64) for f in ("qpos", "qvel", "ctrl")}
        raise InvalidArgument(f"name: no keyframe '{name}' in entity '{self.name}'; available: {self.keyframes}")

    def set_keyframe(self, name: str, envs_idx=None) -> None:
        """Set the entity's positions and velocities to keyframe ``name`` (controls are not
        applied: see ``get_keyframe(name)["ctrl"]``)."""
        k = self.get_keyframe(name)
        self.set_qpos(k["qpos"], envs_idx=envs_idx, zero_velocity=False)
        self.set_dofs_velocity(k["qvel"], envs_idx=envs_idx)

    def get_joint(self, name: str) -> RigidJoint:
        for joint in self.joints:
            if joint.name == name:
                return joint
        raise InvalidArgument(f"name: no joint '{name}' in entity '{self.name}'; available: {[j.name for j in self._joints]}")

    # ---- index helpers ----
    def _dofs(self, dofs_idx_local, write: bool = False) -> torch.Tensor:
        """Global indices of the entity's dofs ``dofs_idx_local`` (None: all); ``write``: they
        say where a write goes, so none may repeat."""
        if dofs_idx_local is None and self._all_dofs is not None:
            return self._all_dofs  # the per-step control calls: no index work (callers never write into it)
        self._built("dofs_idx_local")
        return indices(dofs_idx_local, "dofs_idx_local", self._n_dofs, f"dofs of entity '{self.name}'", unique=write) + self.dof_start

    def _qs(self, qs_idx_local, write: bool = False) -> torch.Tensor:
        self._built("qs_idx_local")
        what = f"position coordinates of entity '{self.name}'"
        return indices(qs_idx_local, "qs_idx_local", self._n_qs, what, unique=write) + self.q_start

    def _links_global(self, links_idx_local) -> torch.Tensor:
        self._built("links_idx_local")
        return indices(links_idx_local, "links_idx_local", self._n_links, f"links of entity '{self.name}'") + self.link_start

    def _free_base(self, what: str) -> RigidJoint:
        joints = self.joints
        if not joints or joints[0].type != JOINT_TYPE.FREE:
            raise InvalidArgument(f"{what}: entity '{self.name}' has a fixed base (no free joint); its base pose cannot be set")
        return joints[0]

    # ---- state readings ----
    def get_qpos(self, qs_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._solver.get_qpos(self._qs(qs_idx_local), envs_idx)

    def get_dofs_position(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._solver.get_dofs_position(self._dofs(dofs_idx_local), envs_idx)

    def get_dofs_velocity(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._solver.get_dofs_velocity(self._dofs(dofs_idx_local), envs_idx)

    def get_pos(self, envs_idx=None) -> torch.Tensor:
        """Base link position (world), (3,) or (n_envs, 3)."""
        return self.base_link.get_pos(envs_idx)

    def get_quat(self, envs_idx=None) -> torch.Tensor:
        """Base link orientation (w, x, y, z)."""
        return self.base_link.get_quat(envs_idx)

    def get_vel(self, envs_idx=None) -> torch.Tensor:
        """Base link origin linear velocity (world)."""
        return self.base_link.get_vel(envs_idx)

    def get_ang(self, envs_idx=None) -> torch.Tensor:
        """Base link angular velocity (world)."""
        return self.base_link.get_ang(envs_idx)

    def get_links_pos(self, links_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._solver.get_links_pos(self._links_global(links_idx_local), envs_idx)

    def get_links_quat(self, links_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._solver.get_links_quat(self._links_global(links_idx_local), envs_idx)

    def get_links_vel(self, links_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._solver.get_links_vel(self._links_global(links_idx_local), envs_idx)

    def get_links_ang(self, links_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._solver.get_links_ang(self._links_global(links_idx_local), envs_idx)

    def get_links_acc(self, links_idx_local=None, envs_idx=None) -> torch.Tensor:
        """Classical linear acceleration of the links' origins (world, gravity not included) under
        the last step's accelerations; a reading without gradient."""
        return self._solver.get_links_acc(self._links_global(links_idx_local), envs_idx)

    def get_links_acc_ang(self, links_idx_local=None, envs_idx=None) -> torch.Tensor:
        """Angular acceleration of the links (world); a reading without gradient."""
        return self._solver.get_links_acc_ang(self._links_global(links_idx_local), envs_idx)

    def get_dofs_force(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        """The total force on each dof in the last step (smooth plus constraint forces); a
        reading without gradient."""
        return self._solver.get_dofs_force(self._dofs(dofs_idx_local), envs_idx)

    def get_dofs_control_force(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        """The force the controls in effect give each dof at the current state (clamped to its
        force range); a reading without gradient."""
        return self._solver.get_dofs_control_force(self._dofs(dofs_idx_local), envs_idx)

    def attach(self, parent_entity: "RigidEntity", parent_link_name: Optional[str] = None) -> None:
        """Merge this entity into ``parent_entity`` before the build (Genesis's ``attach``): its
        base link becomes a welded child of the parent's link ``parent_link_name`` (its last
        link by default), at the base link's pose in its file; its root joints are removed."""
        if self._desc is not None:
            raise GenesisRuntimeError("attach: the scene is already built; attach before scene.build()")
        if self._attach is not None:
            raise InvalidArgument(f"attach: entity '{self.name}' is already attached")
        if not isinstance(parent_entity, RigidEntity) or parent_entity._scene is not self._scene:
            raise InvalidArgument("parent_entity: expected an entity of this scene")
        if parent_entity is self:
            raise InvalidArgument("attach: an entity cannot be attached to itself")
        if parent_entity.idx > self.idx:
            raise InvalidArgument("attach: the parent entity must be added to the scene before the child")
        link = parent_entity.links[-1] if parent_link_name is None else parent_entity.get_link(parent_link_name)
        self._attach = (parent_entity, link.idx_local)

    # ---- kinematic queries (see kinegrad._kinematic_tools) ----
    def get_jacobian(self, link, local_point=None) -> torch.Tensor:
        """The Jacobian (6, n_dofs) or (n_envs, 6, n_dofs) of a point of ``link`` (``local_point``
        in its frame, its origin by default) at the current state: the point's linear velocity,
        then the link's angular velocity, world frame, per unit velocity of the entity's dofs."""
        from . import _kinematic_tools

        return _kinematic_tools.get_jacobian(self, link, local_point)

    def forward_kinematics(self, qpos, qs_idx_local=None, links_idx_local=None, envs_idx=None):
        """(links_pos, links_quat) of the entity's links at the positions ``qpos`` of its
        coordinates ``qs_idx_local`` (the rest from the current state); the state is untouched."""
        from . import _kinematic_tools

        return _kinematic_tools.forward_kinematics(self, qpos, qs_idx_local, links_idx_local, envs_idx)

    def get_dofs_invweight(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        """MuJoCo's ``dof_invweight0`` of the dofs (inverse inertia at the reference configuration)."""
        from . import _kinematic_tools

        return _kinematic_tools.get_dofs_invweight(self, dofs_idx_local, envs_idx)

    def get_links_invweight(self, links_idx_local=None, envs_idx=None) -> torch.Tensor:
        """MuJoCo's ``body_invweight0`` of the links, (n_links, 2): translational, rotational."""
        from . import _kinematic_tools

        return _kinematic_tools.get_links_invweight(self, links_idx_local, envs_idx)

    # ---- inverse kinematics ----
    def inverse_kinematics(
        self,
        link,
        pos=None,
        quat=None,
        local_point=None,
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
        """The entity's qpos (n_qs,) or (n_envs, n_qs) that brings ``link`` (its ``local_point``,
        the origin by default) to ``pos`` and/or its frame to ``quat`` (w, x, y, z), from the
        current state or ``init_qpos`` (Genesis's signature and solver: damped least squares,
        ``max_samples`` restarts drawn in the joint ranges). The scene's state is not changed.
        With ``return_error`` also the final error (6,): position (world) and orientation (rotation
        vector in the link's frame). Differentiable in ``pos`` and ``quat`` (see ``kinegrad._ik``)."""
        from . import _ik

        out = _ik.inverse_kinematics_multilink(
            self, [link], [pos] if pos is not None else None, [quat] if quat is not None else None,
            [local_point] if local_point is not None else None, init_qpos, respect_joint_limit, max_samples,
            max_solver_iters, damping, pos_tol, rot_tol, pos_mask, rot_mask, max_step_size, dofs_idx_local,
            return_error, envs_idx,
        )
        if return_error:
            return out[0], out[1][..., 0, :]
        return out

    def inverse_kinematics_multilink(
        self,
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
        """:meth:`inverse_kinematics` for several links at once (``poss``, ``quats``,
        ``local_points``: one entry per link, or empty); the error is (n_links, 6)."""
        from . import _ik

        return _ik.inverse_kinematics_multilink(
            self, links, poss, quats, local_points, init_qpos, respect_joint_limit, max_samples, max_solver_iters,
            damping, pos_tol, rot_tol, pos_mask, rot_mask, max_step_size, dofs_idx_local, return_error, envs_idx,
        )

    def plan_path(
        self,
        qpos_goal,
        qpos_start=None,
        max_nodes=2000,
        resolution=0.05,
        timeout=None,
        max_retry=1,
        smooth_path=True,
        num_waypoints=300,
        ignore_collision=False,
        planner="RRTConnect",
        envs_idx=None,
        return_valid_mask=False,
        *,
        ee_link_name=None,
        with_entity=None,
        **kwargs,
    ):
        """A collision-free path of the entity's qpos from ``qpos_start`` (default: the current
        state) to ``qpos_goal``: (num_waypoints, n_qs) or (num_waypoints, n_envs, n_qs), with
        ``return_valid_mask`` also whether each env's path was found (Genesis's signature; see
        ``kinegrad._plan``). The scene's state is not changed."""
        from . import _plan

        return _plan.plan_path(
            self, qpos_goal, qpos_start, max_nodes, resolution, timeout, max_retry, smooth_path, num_waypoints,
            ignore_collision, planner, envs_idx, return_valid_mask, ee_link_name, with_entity, **kwargs,
        )

    # ---- state writes ----
    def set_qpos(self, qpos, qs_idx_local=None, envs_idx=None, zero_velocity: bool = True) -> None:
        self._solver.set_qpos(qpos, self._qs(qs_idx_local, write=True), envs_idx)
        if zero_velocity:
            self._solver.set_dofs_velocity(torch.zeros(self.n_dofs, dtype=torch.float64), self._dofs(None), envs_idx)

    def set_dofs_position(self, position, dofs_idx_local=None, envs_idx=None, zero_velocity: bool = True) -> None:
        self._solver.set_dofs_position(position, self._dofs(dofs_idx_local, write=True), envs_idx, zero_velocity)

    def set_dofs_velocity(self, velocity, dofs_idx_local=None, envs_idx=None) -> None:
        self._solver.set_dofs_velocity(velocity, self._dofs(dofs_idx_local, write=True), envs_idx)

    def set_pos(self, pos, envs_idx=None, zero_velocity: bool = True) -> None:
        """Move the free base to ``pos`` (3,) or (n_envs, 3)."""
        base = self._free_base("set_pos")
        self._set_base(pos, "pos", base.qs_idx[:3], envs_idx, zero_velocity)

    def set_quat(self, quat, envs_idx=None, zero_velocity: bool = True) -> None:
        """Rotate the free base to ``quat`` (w, x, y, z), (4,) or (n_envs, 4)."""
        base = self._free_base("set_quat")
        self._set_base(quat, "quat", base.qs_idx[3:], envs_idx, zero_velocity)

    def _set_base(self, value, name: str, qs: List[int], envs_idx, zero_velocity: bool) -> None:
        solver = self._solver
        envs = solver.select_envs(envs_idx, write=True)
        vals = rows(value, name, len(qs), solver.n_selected(envs), solver.batched)
        if name == "quat":
            norm = vals.norm(dim=-1, keepdim=True)
            if bool((norm < 1e-12).any()):
                raise InvalidArgument("quat: must be non-zero (w, x, y, z)")
            vals = vals / norm
        solver.set_qpos(vals if solver.batched else vals[0], torch.tensor(qs), envs_idx)
        if zero_velocity:
            solver.set_dofs_velocity(torch.zeros(self.n_dofs, dtype=torch.float64), self._dofs(None), envs_idx)

    # ---- control ----
    @self_locking  # the lock is taken in _write_control
    def control_dofs_force(self, force, dofs_idx_local=None, envs_idx=None) -> None:
        """Drive the dofs with generalized forces (N or N m); kept until changed."""
        (self._rs or self._solver)._write_control(CTRL_FORCE, force, "force", self, dofs_idx_local, envs_idx)

    @self_locking  # the lock is taken in _write_control
    def control_dofs_position(self, position, dofs_idx_local=None, envs_idx=None) -> None:
        """PD control towards ``position``: force = kp (target - q) - kv v."""
        (self._rs or self._solver)._write_control(CTRL_POSITION, position, "position", self, dofs_idx_local, envs_idx)

    def control_dofs_position_velocity(self, position, velocity, dofs_idx_local=None, envs_idx=None) -> None:
        """PD control towards a position and a velocity: force = kp (position - q) + kv (velocity -
        v) (Genesis's), set as the position target ``position + (kv / kp) velocity`` (the same
        force, and the gradient reaches both targets); every dof needs kp > 0."""
        self._built("control_dofs_position_velocity")
        kp = self.get_dofs_kp(dofs_idx_local, envs_idx).to(torch.float64)
        kv = self.get_dofs_kv(dofs_idx_local, envs_idx).to(torch.float64)
        if bool((kp <= 0).any()):
            raise InvalidArgument("control_dofs_position_velocity: a dof has kp = 0 (no position gain): use control_dofs_velocity for it")
        p = position if isinstance(position, torch.Tensor) else torch.as_tensor(np.asarray(position, dtype=np.float64))
        v = velocity if isinstance(velocity, torch.Tensor) else torch.as_tensor(np.asarray(velocity, dtype=np.float64))
        self.control_dofs_position(p.to(torch.float64) + kv / kp * v.to(torch.float64), dofs_idx_local, envs_idx)

    @self_locking  # the lock is taken in _write_control
    def control_dofs_velocity(self, velocity, dofs_idx_local=None, envs_idx=None) -> None:
        """Velocity control: force = kv (target - v)."""
        (self._rs or self._solver)._write_control(CTRL_VELOCITY, velocity, "velocity", self, dofs_idx_local, envs_idx)

    # ---- tendons (MJCF fixed and spatial tendons) ----
    @property
    def n_tendons(self) -> int:
        """Number of tendons of the entity (each a control channel of its own)."""
        return len(self._tendons_of("n_tendons"))

    @property
    def tendon_names(self) -> list:
        """The entity's tendons, in order (``tendons_idx_local`` counts in it)."""
        d = self._built("tendon_names")
        return [d["tendon_name"][t] for t in self._tendons]

    def _tendons_of(self, what: str) -> list:
        self._built(what)
        return self._tendons

    def _tendon_cols(self, tendons_idx_local, what: str) -> torch.Tensor:
        own = self._tendons_of(what)
        if not own:
            raise InvalidArgument(f"{what}: entity '{self.name}' has no tendons")
        local = indices(tendons_idx_local, "tendons_idx_local", len(own), f"tendons of entity '{self.name}'", unique=True)
        return torch.tensor([self._desc["nv"] + own[int(k)] for k in local], dtype=torch.int64)

    @self_locking  # the lock is taken in _write_control
    def control_tendons_force(self, force, tendons_idx_local=None, envs_idx=None) -> None:
        """Pull along tendons with forces (N, or N m for tendons of hinges); kept until
        changed (MuJoCo's motor on a tendon). Not in Genesis, which has no tendons."""
        cols = self._tendon_cols(tendons_idx_local, "control_tendons_force")
        self._solver._write_control(CTRL_FORCE, force, "force", self, None, envs_idx, cols=cols)

    @self_locking  # the lock is taken in _write_control
    def control_tendons_position(self, length, tendons_idx_local=None, envs_idx=None) -> None:
        """PD control of tendons' lengths towards ``length``: force = kp (target - L) -
        kv dL/dt along the tendon, with the gains ``set_tendons_kp`` / ``set_tendons_kv`` (from the
        file's actuator on the tendon: the Menagerie Panda's gripper)."""
        cols = self._tendon_cols(tendons_idx_local, "control_tendons_position")
        self._solver._write_control(CTRL_POSITION, length, "length", self, None, envs_idx, cols=cols)

    @self_locking  # the lock is taken in _write_control
    def control_tendons_velocity(self, velocity, tendons_idx_local=None, envs_idx=None) -> None:
        """Velocity control of tendons (fixed or spatial): force = kv (target - dL/dt)."""
        cols = self._tendon_cols(tendons_idx_local, "control_tendons_velocity")
        self._solver._write_control(CTRL_VELOCITY, velocity, "velocity", self, None, envs_idx, cols=cols)

    def _tendon_param(self, param: str, values, tendons_idx_local, envs_idx, name: str) -> None:
        cols = self._tendon_cols(tendons_idx_local, f"set_tendons_{name}") - self._desc["nv"]
        envs = self._solver.select_envs(envs_idx, write=True)
        vals = rows(values, name, len(cols), self._solver.n_selected(envs), self._solver.batched)
        self._solver.write_param(param, vals, cols, envs)

    def set_tendons_kp(self, kp, tendons_idx_local=None, envs_idx=None) -> None:
        """Position gain of tendon control (``tendon_kp``)."""
        self._tendon_param("tendon_kp", kp, tendons_idx_local, envs_idx, "kp")

    def set_tendons_kv(self, kv, tendons_idx_local=None, envs_idx=None) -> None:
        """Velocity gain of tendon control (``tendon_kv``)."""
        self._tendon_param("tendon_kv", kv, tendons_idx_local, envs_idx, "kv")

    def _get_tendon_param(self, param: str, tendons_idx_local, envs_idx, name: str) -> torch.Tensor:
        cols = self._tendon_cols(tendons_idx_local, f"get_tendons_{name}") - self._desc["nv"]
        return self._solver.reading(self._solver.get_param(param)[:, cols], self._solver.select_envs(envs_idx))

    def get_tendons_kp(self, tendons_idx_local=None, envs_idx=None) -> torch.Tensor:
        """Position gain of tendon control (``tendon_kp``; an MJCF actuator's on the tendon)."""
        return self._get_tendon_param("tendon_kp", tendons_idx_local, envs_idx, "kp")

    def get_tendons_kv(self, tendons_idx_local=None, envs_idx=None) -> torch.Tensor:
        """Velocity gain of tendon control (``tendon_kv``)."""
        return self._get_tendon_param("tendon_kv", tendons_idx_local, envs_idx, "kv")

    def get_tendons_length(self, tendons_idx_local=None, envs_idx=None) -> torch.Tensor:
        """Lengths of the entity's tendons (carries gradients): a fixed tendon's sum of coef * q
        over its joints, a spatial tendon's path through its sites and around its wrap geoms."""
        cols = self._tendon_cols(tendons_idx_local, "get_tendons_length") - self._desc["nv"]
        d = self._desc
        if any(d["tendon_spatial"][int(t)] for t in cols):
            sc = self._solver._scene
            lengths = sc._tendon_lengths()[:, cols]
            return self._solver.reading(lengths, self._solver.select_envs(envs_idx))
        q = self._solver.get_qpos(None, envs_idx)
        terms = d["tendon_terms"]
        out = [sum(c * q[..., a] for a, c in terms[int(t)]) for t in cols]
        return torch.stack(out, dim=-1)

    # ---- parameters ----
    def _set_dof_param(self, name: str, param: str, values, dofs_idx_local, envs_idx, col=None) -> None:
        dofs = self._dofs(dofs_idx_local, write=True)
        envs = self._solver.select_envs(envs_idx, write=True)
        vals = rows(values, name, len(dofs), self._solver.n_selected(envs), self._solver.batched)
        self._solver.write_param(param, vals, dofs, envs, col)

    def _get_dof_param(self, param: str, dofs_idx_local, envs_idx) -> torch.Tensor:
        dofs = self._dofs(dofs_idx_local)
        return self._solver.reading(self._solver.get_param(param)[:, dofs], self._solver.select_envs(envs_idx))

    def set_dofs_kp(self, kp, dofs_idx_local=None, envs_idx=None) -> None:
        self._set_dof_param("kp", "dof_kp", kp, dofs_idx_local, envs_idx)

    def set_dofs_kv(self, kv, dofs_idx_local=None, envs_idx=None) -> None:
        self._set_dof_param("kv", "dof_kv", kv, dofs_idx_local, envs_idx)

    def set_dofs_damping(self, damping, dofs_idx_local=None, envs_idx=None) -> None:
        self._set_dof_param("damping", "dof_damping", damping, dofs_idx_local, envs_idx)

    def set_dofs_armature(self, armature, dofs_idx_local=None, envs_idx=None) -> None:
        self._set_dof_param("armature", "dof_armature", armature, dofs_idx_local, envs_idx)

    def set_dofs_stiffness(self, stiffness, dofs_idx_local=None, envs_idx=None) -> None:
        self._set_dof_param("stiffness", "dof_stiffness", stiffness, dofs_idx_local, envs_idx)

    def set_dofs_force_range(self, lower, upper, dofs_idx_local=None, envs_idx=None) -> None:
        """Clamp actuator forces of the dofs to [lower, upper]."""
        dofs = self._dofs(dofs_idx_local, write=True)
        envs = self._solver.select_envs(envs_idx, write=True)
        n = self._solver.n_selected(envs)
        lo = rows(lower, "lower", len(dofs), n, self._solver.batched)
        hi = rows(upper, "upper", len(dofs), n, self._solver.batched)
        if bool((lo > hi).any()):
            raise InvalidArgument("lower: must not exceed upper")
        self._solver.write_param("dof_force_range", lo, dofs, envs, 0)
        self._solver.write_param("dof_force_range", hi, dofs, envs, 1)

    def get_dofs_kp(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._get_dof_param("dof_kp", dofs_idx_local, envs_idx)

    def get_dofs_kv(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._get_dof_param("dof_kv", dofs_idx_local, envs_idx)

    def get_dofs_damping(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._get_dof_param("dof_damping", dofs_idx_local, envs_idx)

    def get_dofs_armature(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        return self._get_dof_param("dof_armature", dofs_idx_local, envs_idx)

    def get_dofs_stiffness(self, dofs_idx_local=None, envs_idx=None) -> torch.Tensor:
        """Joint stiffness (spring to the reference position) of the dofs."""
        return self._get_dof_param("dof_stiffness", dofs_idx_local, envs_idx)

    def get_dofs_limit(self, dofs_idx_local=None, envs_idx=None):
        """(lower, upper) position limits of the dofs, shape (n_dofs,) or (n_envs, n_dofs):
        a limited hinge's or slide's range, -inf and inf for a dof without one (a free or ball
        joint's, an unlimited hinge's)."""
        self._built("get_dofs_limit")
        lo = torch.full((self._n_dofs,), -torch.inf, dtype=torch.float64)
        hi = torch.full((self._n_dofs,), torch.inf, dtype=torch.float64)
        for j in self._joints:
            if j.limited and j.n_dofs == 1:
                lo[j.dof_start - self.dof_start], hi[j.dof_start - self.dof_start] = j.range
        local = self._dofs(dofs_idx_local) - self.dof_start
        n = max(self._scene.n_envs, 1)
        envs = self._solver.select_envs(envs_idx)
        return tuple(self._solver.reading(t[local].expand(n, -1), envs) for t in (lo, hi))

    def get_mass_mat(self, envs_idx=None, decompose: bool = False) -> torch.Tensor:
        """The joint-space mass matrix of the entity's dofs (armature included) at the current
        positions, (n_dofs, n_dofs) or (n_envs, n_dofs, n_dofs); a reading without gradient."""
        self._built("get_mass_mat")
        if decompose:
            raise InvalidArgument("get_mass_mat: decompose=True is not supported (take torch.linalg.cholesky of the matrix)")
        solver, scene = self._solver, self._scene
        envs = solver.select_envs(envs_idx)
        rows_ = range(max(scene.n_envs, 1)) if envs is None else [int(e) for e in envs]
        mass_params = ("body_mass", "body_ipos", "body_inertia", "dof_armature")
        for name in mass_params:
            p = solver.get_param(name)
            if any(not torch.equal(p[e], p[0]) for e in rows_):
                raise InvalidArgument(
                    f"get_mass_mat: the envs' {name} differ; the mass matrix is computed with env 0's parameters"
                )
        q = scene._qpos.detach().numpy()
        d = self._dof_span
        mats = [torch.from_numpy(scene._native.mass_matrix(q[e].copy()))[d, d] for e in rows_]
        out = torch.stack(mats).to(_globals.tc_float)
        return out if scene._batched else out[0]

    def _aabb(self, visual: bool, envs_idx, what: str) -> torch.Tensor:
        d = self._built(what)
        g0, ng = self.geom_start, self._n_geoms
        vis = np.asarray(d["geom_visual"][g0 : g0 + ng], dtype=bool)
        pick = vis if visual and vis.any() else ~vis
        if not pick.any():
            raise InvalidArgument(f"{what}: entity '{self.name}' has no {'visual' if visual else 'collision'} geoms")
        scene = self._scene
        boxes = torch.from_numpy(scene._native.geom_aabbs(scene._qpos.detach().numpy()))[:, g0 : g0 + ng][:, pick]
        out = torch.stack([boxes[:, :, 0].amin(1), boxes[:, :, 1].amax(1)], dim=1)
        return self._solver.reading(out, self._solver.select_envs(envs_idx))

    def get_AABB(self, envs_idx=None) -> torch.Tensor:
        """World axis-aligned bounding box of the entity's collision geoms, ((min xyz), (max
        xyz)): (2, 3) or (n_envs, 2, 3); a mesh's is its hull's, a plane's infinite where it is
        unbounded; a reading without gradient."""
        return self._aabb(False, envs_idx, "get_AABB")

    def get_vAABB(self, envs_idx=None) -> torch.Tensor:
        """As :meth:`get_AABB`, over the entity's visual geoms (its collision geoms when it has none)."""
        return self._aabb(True, envs_idx, "get_vAABB")

    def zero_all_dofs_velocity(self, envs_idx=None) -> None:
        """Set every dof's velocity to 0."""
        self._built("zero_all_dofs_velocity")
        self.set_dofs_velocity(torch.zeros(self._n_dofs, dtype=torch.float64), None, envs_idx)

    def get_dofs_force_range(self, dofs_idx_local=None, envs_idx=None):
        """(lower, upper) actuator force limits."""
        r = self._get_dof_param("dof_force_range", dofs_idx_local, envs_idx)
        return r[..., 0], r[..., 1]

    def set_friction(self, friction) -> None:
        """Sliding friction coefficient of every geom of the entity, in every env."""
        self._built("set_friction")
        vals = rows(friction, "friction", 1, self._solver.n_rows, False, allow_scalar=True)
        if bool((vals < 0).any()):
            raise InvalidArgument(f"friction: must be >= 0, got {float(vals[0, 0])}")
        geoms = torch.arange(self.geom_start, self.geom_start + self._n_geoms)
        self._solver.write_param("geom_friction", vals.expand(-1, len(geoms)), geoms, None, 0)

    def _link_shift(self, name: str, param: str, shift, k: int, links_idx_local, envs_idx) -> None:
        """Set ``param`` of the chosen links to the model's value plus ``shift`` (Genesis's *_shift setters)."""
        self._built(name)
        links = indices(links_idx_local, "links_idx_local", self.n_links, "links", unique=True)
        envs = self._solver.select_envs(envs_idx, write=True)
        n_sel = self._solver.n_selected(envs)
        shape = (len(links),) if k == 1 else (len(links), k)
        vals = env_rows(shift, name, shape, n_sel, self._solver.batched)
        bodies = links + self.link_start + 1
        base = torch.as_tensor(self._solver.param_default(param))[bodies]
        vals = vals + base
        self._solver.write_param(param, vals, bodies, envs)

    def set_mass_shift(self, mass_shift, links_idx_local=None, envs_idx=None) -> None:
        """Link masses = model masses + ``mass_shift`` (n_links,) or (n_envs, n_links); may carry grad."""
        self._link_shift("mass_shift", "body_mass", mass_shift, 1, links_idx_local, envs_idx)

    def set_COM_shift(self, com_shift, links_idx_local=None, envs_idx=None) -> None:
        """Link centres of mass = model values + ``com_shift`` (n_links, 3) or (n_envs, n_links, 3),
        link frames; may carry grad."""
        self._link_shift("com_shift", "body_ipos", com_shift, 3, links_idx_local, envs_idx)

    def get_mass(self) -> float:
        """Total mass of the entity's links (kg), env 0."""
        m = self._solver.get_param("body_mass")[0]
        return float(m[self.link_start + 1 : self.link_start + 1 + self.n_links].sum())

    def set_mass(self, mass, envs_idx=None) -> None:
        """Scale every link's mass so that the entity weighs ``mass`` (kg), scalar or (n_envs,)
        (Genesis's ``set_mass``: the links keep their proportions); may carry grad."""
        self._built("set_mass")
        solver = self._solver
        envs = solver.select_envs(envs_idx, write=True)
        n_sel = solver.n_selected(envs)
        vals = rows(mass, "mass", 1, n_sel, solver.batched, allow_scalar=True)
        if bool((vals <= 0).any()):
            raise InvalidArgument(f"mass: must be > 0, got {float(vals.min())}")
        bodies = torch.arange(self.link_start + 1, self.link_start + 1 + self.n_links)
        cur = solver.get_param("body_mass")[:, bodies]
        cur = cur if envs is None else cur[envs]
        total = cur.sum(dim=1, keepdim=True)
        if bool((total <= 0).any()):
            raise InvalidArgument(f"set_mass: entity '{self.name}' has no mass to scale")
        keep = cur > 0  # (massless links stay so)
        _scale_masses(solver, bodies[keep.all(0)], (cur * (vals / total))[:, keep.all(0)], envs)

    def get_links_inertial_mass(self, links_idx_local=None, envs_idx=None) -> torch.Tensor:
        """Link masses (kg), (n_links,) or (n_envs, n_links)."""
        bodies = self._links_global(links_idx_local) + 1
        solver = self._solver
        return solver.reading(solver.get_param("body_mass")[:, bodies], solver.select_envs(envs_idx))

    def set_links_inertial_mass(self, inertial_mass, links_idx_local=None, envs_idx=None) -> None:
        """Link masses (kg), (n_links,) or (n_envs, n_links); may carry grad."""
        self._built("set_links_inertial_mass")
        links = indices(links_idx_local, "links_idx_local", self.n_links, "links", unique=True)
        solver = self._solver
        envs = solver.select_envs(envs_idx, write=True)
        vals = env_rows(inertial_mass, "inertial_mass", (len(links),), solver.n_selected(envs), solver.batched)
        if bool((vals <= 0).any()):
            raise InvalidArgument(f"inertial_mass: must be > 0, got {float(vals.min())}")
        solver.write_param("body_mass", vals, links + self.link_start + 1, envs)

    def set_friction_ratio(self, friction_ratio, links_idx_local=None, envs_idx=None) -> None:
        """Sliding friction of the chosen links' collision geoms = the model's value times
        ``friction_ratio`` (n_links,) or (n_envs, n_links), one ratio per link (Genesis's
        domain randomization); may carry grad."""
        self._built("set_friction_ratio")
        links = indices(links_idx_local, "links_idx_local", self.n_links, "links", unique=True)
        solver = self._solver
        envs = solver.select_envs(envs_idx, write=True)
        ratio = env_rows(friction_ratio, "friction_ratio", (len(links),), solver.n_selected(envs), solver.batched)
        if bool((ratio < 0).any()):
            raise InvalidArgument(f"friction_ratio: must be >= 0, got {float(ratio.min())}")
        geoms, cols = [], []
        for c, k in enumerate(links.tolist()):
            for g in self._links[k].geoms:
                geoms.append(g.idx)
                cols.append(c)
        if not geoms:
            return
        base = torch.as_tensor(solver.param_default("geom_friction"))[geoms, 0]
        solver.write_param("geom_friction", ratio[:, cols] * base, torch.tensor(geoms), envs, 0)

    # ---- contacts ----
    def get_links_net_contact_force(self, envs_idx=None) -> torch.Tensor:
        """The net contact force on each link in the last step (world, normal and friction
        summed over its contacts), (n_links, 3) or (n_envs, n_links, 3); a reading without
        gradient."""
        self._built("get_links_net_contact_force")
        solver = self._solver
        b0 = self.link_start + 1
        out = torch.zeros(solver.n_rows, self._n_links, 3, dtype=torch.float64)
        for e in range(solver.n_rows):
            for c in solver.contacts_of_env(e):
                f = torch.tensor(c["force"], dtype=torch.float64)  # on geom2's body
                for body, sign in ((c["body2"], 1.0), (c["body1"], -1.0)):
                    if b0 <= body < b0 + self._n_links:
                        out[e, body - b0] += sign * f
        return solver.reading(out, solver.select_envs(envs_idx))

    def get_state(self) -> "EntityState":
        """A snapshot of the entity (Genesis's ``entity.get_state()``): ``pos``, ``quat`` (base
        link), ``qpos``, ``dofs_vel``, ``links_pos``, ``links_quat``; the tensors carry the
        readings' gradients."""
        return EntityState(self)

    def get_contacts(self, with_entity: Optional["RigidEntity"] = None) -> Dict[str, torch.Tensor]:
        """Contacts of the last step that involve this entity (and ``with_entity`` if given).

        Keys: geom_a, geom_b, link_a, link_b (global indices, -1 for the world),
        position (world), normal (from a to b), penetration (m, positive when overlapping),
        force_a, force_b (the contact force on a and on b, world: normal and friction). Unbatched: shape (n_contacts, ...);
        batched: (n_envs, max_contacts, ...) padded, with ``valid_mask``.
        """
        self._built("get_contacts")
        scene = self._scene
        if with_entity is not None and (not isinstance(with_entity, RigidEntity) or with_entity._scene is not scene):
            got = f"an entity of another scene ({with_entity.name!r})" if isinstance(with_entity, RigidEntity) else type(with_entity).__name__
            raise InvalidArgument(f"with_entity: expected an entity of this scene or None, got {got}")
        mine = set(range(self.link_start + 1, self.link_start + 1 + self._n_links))
        other = None if with_entity is None else set(range(with_entity.link_start + 1, with_entity.link_start + 1 + with_entity.n_links))
        per_env = []
        for e in range(self._solver.n_rows):
            cs = []
            for c in self._solver.contacts_of_env(e):
                b1, b2 = c["body1"], c["body2"]
                if b1 not in mine and b2 not in mine:
                    continue
                if other is not None and not ((b1 in mine and b2 in other) or (b2 in mine and b1 in other)):
                    continue
                cs.append(c)
            per_env.append(cs)
        width = max((len(cs) for cs in per_env), default=0)
        n = self._solver.n_rows
        ints = {k: torch.full((n, width), -1, dtype=torch.int64) for k in ("geom_a", "geom_b", "link_a", "link_b")}
        flt = {k: torch.zeros(n, width, 3, dtype=torch.float64) for k in ("position", "normal", "force_a", "force_b")}
        pen = torch.zeros(n, width, dtype=torch.float64)
        valid = torch.zeros(n, width, dtype=torch.bool)
        for e, cs in enumerate(per_env):
            for k, c in enumerate(cs):
                ints["geom_a"][e, k], ints["geom_b"][e, k] = c["geom1"], c["geom2"]
                ints["link_a"][e, k], ints["link_b"][e, k] = c["body1"] - 1, c["body2"] - 1
                normal = torch.tensor(c["normal"], dtype=torch.float64)
                flt["position"][e, k] = torch.tensor(c["pos"], dtype=torch.float64)
                flt["normal"][e, k] = normal
                force = torch.tensor(c["force"], dtype=torch.float64)
                flt["force_b"][e, k] = force
                flt["force_a"][e, k] = -force
                pen[e, k] = -c["dist"]
                valid[e, k] = True
        from . import _globals

        out: Dict[str, torch.Tensor] = dict(ints)
        out.update({k: v.to(_globals.tc_float) for k, v in flt.items()})
        out["penetration"] = pen.to(_globals.tc_float)
        if self._solver.batched:
            out["valid_mask"] = valid
            return out
        return {k: v[0] for k, v in out.items()}

    def __repr__(self) -> str:
        if self._desc is None:
            return f"RigidEntity(idx={self.idx}, morph={self.morph!r}, unbuilt)"
        return f"RigidEntity(idx={self.idx}, name={self.name!r}, n_links={self._n_links}, n_dofs={self._n_dofs})"
