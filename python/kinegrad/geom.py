"""Geoms as Genesis exposes them: ``entity.geoms`` (collision), ``entity.vgeoms`` (visual),
``link.geoms`` / ``link.vgeoms``, ``scene.rigid_solver.geoms``, and ``gs.GEOM_TYPE``.

A geom's pose is its link's composed with its fixed local pose, so ``get_pos`` / ``get_quat``
carry the gradients the link readings carry. kinegrad's model holds collision and visual geoms
in one table (``describe()["geom_visual"]`` flags the visual ones); an entity or link without
visual geoms is drawn with its collision geoms, which are then its ``vgeoms`` too.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch

from ._convert import quat_mul, quat_rotate, rows
from ._errors import InvalidArgument
from ._threads import serialized

if TYPE_CHECKING:
    from .entity import RigidEntity, RigidLink


class GEOM_TYPE(enum.IntEnum):
    """Geom kinds, with Genesis's names and values."""

    PLANE = 0
    SPHERE = 1
    ELLIPSOID = 2
    CYLINDER = 3
    CAPSULE = 4
    BOX = 5
    MESH = 6
    TERRAIN = 7


_GEOM_TYPES = {
    "plane": GEOM_TYPE.PLANE,
    "sphere": GEOM_TYPE.SPHERE,
    "ellipsoid": GEOM_TYPE.ELLIPSOID,
    "cylinder": GEOM_TYPE.CYLINDER,
    "capsule": GEOM_TYPE.CAPSULE,
    "box": GEOM_TYPE.BOX,
    "mesh": GEOM_TYPE.MESH,
}


class GeomMesh:
    """A mesh geom's triangles in its geom frame (scaled as loaded): ``verts`` (n, 3),
    ``faces`` (m, 3); ``trimesh`` builds a ``trimesh.Trimesh`` when that package is installed."""

    def __init__(self, verts: np.ndarray, faces: np.ndarray):
        self.verts, self.faces = verts, faces

    @property
    def trimesh(self):
        import trimesh  # optional: only for this conversion

        return trimesh.Trimesh(vertices=self.verts, faces=self.faces, process=False)


@serialized
class RigidGeom:
    """One geom of a link: its kind, size, local pose, contact settings, and its world pose."""

    def __init__(self, link: "RigidLink", idx: int):
        self._link, self._idx, self._lock = link, idx, link._lock
        d = link.entity._desc
        self._type = _GEOM_TYPES[d["geom_type"][idx]]
        self._visual = bool(d["geom_visual"][idx])

    def _d(self):
        return self._link.entity._desc

    @property
    def idx(self) -> int:
        """The geom's index in the scene (kinegrad's table, visual geoms included)."""
        return self._idx

    @property
    def uid(self) -> str:
        return f"{self._link.entity.uid}-g{self._idx}"

    @property
    def type(self) -> GEOM_TYPE:
        return self._type

    @property
    def link(self) -> "RigidLink":
        return self._link

    @property
    def entity(self) -> "RigidEntity":
        return self._link.entity

    @property
    def solver(self):
        return self._link.entity._solver

    @property
    def is_visual(self) -> bool:
        """A visual-only geom (never collides, adds no mass)."""
        return self._visual

    @property
    def name(self) -> str:
        return self._d()["geom_name"][self._idx]

    @property
    def data(self) -> np.ndarray:
        """Its size parameters (MuJoCo's ``size``: radius, half-lengths, ...)."""
        return np.asarray(self._d()["geom_size"][self._idx], dtype=np.float64)

    @property
    def metadata(self) -> dict:
        return {}

    @property
    def is_convex(self) -> bool:
        """Always: kinegrad collides a mesh through its convex hull."""
        return True

    @property
    def contype(self) -> int:
        return int(self._d()["geom_contype"][self._idx])

    @property
    def conaffinity(self) -> int:
        return int(self._d()["geom_conaffinity"][self._idx])

    @property
    def init_pos(self) -> np.ndarray:
        """Position in its link's frame."""
        return np.asarray(self._d()["geom_pos"][self._idx], dtype=np.float64)

    @property
    def init_quat(self) -> np.ndarray:
        """Orientation in its link's frame (w, x, y, z)."""
        return np.asarray(self._d()["geom_quat"][self._idx], dtype=np.float64)

    @property
    def friction(self) -> float:
        """Sliding friction coefficient (env 0)."""
        return float(self.solver.get_param("geom_friction")[0, self._idx, 0])

    def set_friction(self, friction) -> None:
        """Sliding friction coefficient in every env; may carry grad."""
        solver = self.solver
        vals = rows(friction, "friction", 1, solver.n_rows, False, allow_scalar=True)
        if bool((vals < 0).any()):
            raise InvalidArgument(f"friction: must be >= 0, got {float(vals.min())}")
        solver.write_param("geom_friction", vals, torch.tensor([self._idx]), None, 0)

    @property
    def mesh(self) -> Optional[GeomMesh]:
        """A mesh geom's triangles (None for a primitive)."""
        m = self._d()["geom_mesh"][self._idx]
        if m < 0:
            return None
        verts, faces = self.entity._scene._native.mesh(m)
        return GeomMesh(verts, faces)

    vmesh = mesh

    @property
    def init_verts(self) -> np.ndarray:
        """A mesh's vertices in the geom frame; a box's 8 corners; (0, 3) for other kinds."""
        m = self.mesh
        if m is not None:
            return m.verts
        if self._type == GEOM_TYPE.BOX:
            h = self.data
            return np.array([[sx * h[0], sy * h[1], sz * h[2]] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        return np.zeros((0, 3))

    @property
    def init_faces(self) -> np.ndarray:
        m = self.mesh
        return m.faces if m is not None else np.zeros((0, 3), dtype=np.int64)

    def get_pos(self, envs_idx=None) -> torch.Tensor:
        """World position, (3,) or (n_envs, 3); carries the link reading's gradient."""
        p, q = self._link.get_pos(envs_idx), self._link.get_quat(envs_idx)
        return p + quat_rotate(q, torch.as_tensor(self.init_pos, dtype=p.dtype))

    def get_quat(self, envs_idx=None) -> torch.Tensor:
        """World orientation (w, x, y, z)."""
        q = self._link.get_quat(envs_idx)
        return quat_mul(q, torch.as_tensor(self.init_quat, dtype=q.dtype).expand_as(q))

    def get_verts(self, envs_idx=None) -> torch.Tensor:
        """World vertices (see :attr:`init_verts`), (n, 3) or (n_envs, n, 3)."""
        v = torch.as_tensor(self.init_verts)
        p, q = self.get_pos(envs_idx), self.get_quat(envs_idx)
        v = v.to(p.dtype)
        return p.unsqueeze(-2) + quat_rotate(q.unsqueeze(-2).expand(*q.shape[:-1], len(v), 4), v)

    def get_AABB(self, envs_idx=None) -> torch.Tensor:
        """World axis-aligned bounding box ((min xyz), (max xyz)), (2, 3) or (n_envs, 2, 3)."""
        scene = self.entity._scene
        solver = self.solver
        boxes = torch.from_numpy(scene._native.geom_aabbs(scene._qpos.detach().numpy()))[:, self._idx]
        return solver.reading(boxes, solver.select_envs(envs_idx))

    def __repr__(self) -> str:
        kind = "vgeom" if self._visual else "geom"
        return f"<kinegrad {kind} {self._idx} ({self._type.name.lower()}) of link '{self._link.name}'>"
