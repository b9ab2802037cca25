"""Genesis's debug drawing (``scene.draw_debug_*``, ``clear_debug_object(s)``): markers drawn
with the model in every camera image, not part of the physics.

Each call returns a :class:`DebugObject` (its handle for ``clear_debug_object``) made of
primitives (spheres, capsules as lines, boxes) that the native renderer draws after the geoms
(``Renderer.set_debug``); they have no segmentation index (background, -1). A colour's alpha
only hides the object when 0 (the renderer draws opaque surfaces).
"""

from __future__ import annotations

import itertools
from typing import List, Tuple

import numpy as np

from ._errors import InvalidArgument

_ids = itertools.count()


def _vec(x, name: str, n: int = 3) -> np.ndarray:
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64).reshape(-1)
    if a.shape != (n,) or not np.isfinite(a).all():
        raise InvalidArgument(f"{name}: expected {n} finite numbers, got {x!r}")
    return a


def _color(c) -> List[float]:
    a = _vec(c, "color", len(c) if len(c) in (3, 4) else 4)
    a = np.concatenate([a, [1.0]]) if a.size == 3 else a
    if (a > 1.0).any():
        a = a / 255.0  # Genesis also takes 0-255 colours
    return [float(x) for x in np.clip(a, 0.0, 1.0)]


def _z_to(v: np.ndarray) -> np.ndarray:
    """A rotation (row-major 9) taking +z to the direction of ``v``."""
    n = np.linalg.norm(v)
    z = v / n if n > 0 else np.array([0.0, 0.0, 1.0])
    a = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(a, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1).reshape(-1)


_EYE = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]


class DebugObject:
    """A drawn debug object: its primitives (kind, size, pos, rot, rgba)."""

    def __init__(self, items: List[Tuple]):
        self.uid = next(_ids)
        self.items = items


def line(start, end, radius, color) -> List[Tuple]:
    a, b = _vec(start, "start"), _vec(end, "end")
    return [("capsule", [float(radius), 0.5 * float(np.linalg.norm(b - a)), 0.0], list(0.5 * (a + b)), list(_z_to(b - a)), color)]


def arrow(pos, vec, radius, color) -> List[Tuple]:
    p, v = _vec(pos, "pos"), _vec(vec, "vec")
    n = float(np.linalg.norm(v))
    if n == 0.0:
        return [("sphere", [2 * radius, 0, 0], list(p), _EYE, color)]
    head = min(0.25 * n, 6 * radius)
    tip = p + v
    shaft_end = tip - head * v / n
    out = line(p, shaft_end, radius, color)
    # the head: a wider, shorter cylinder
    out.append(("cylinder", [2.0 * radius, 0.5 * head, 0.0], list(0.5 * (shaft_end + tip)), list(_z_to(v)), color))
    return out


def frame(T, axis_length, origin_size, axis_radius) -> List[Tuple]:
    T = np.asarray(T.detach().cpu().numpy() if hasattr(T, "detach") else T, dtype=np.float64)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        raise InvalidArgument(f"T: expected a finite (4, 4) transform, got shape {T.shape}")
    o = T[:3, 3]
    out = [("sphere", [origin_size, 0, 0], list(o), _EYE, [1.0, 1.0, 1.0, 1.0])]
    for k, c in enumerate(([1.0, 0, 0, 1.0], [0, 1.0, 0, 1.0], [0, 0, 1.0, 1.0])):
        out += arrow(o, T[:3, k] * axis_length, axis_radius, c)
    return out


def sphere(pos, radius, color) -> List[Tuple]:
    return [("sphere", [float(radius), 0, 0], list(_vec(pos, "pos")), _EYE, color)]


def box(bounds, color, wireframe, wireframe_radius) -> List[Tuple]:
    b = np.asarray(bounds.detach().cpu().numpy() if hasattr(bounds, "detach") else bounds, dtype=np.float64)
    if b.shape != (2, 3) or not np.isfinite(b).all() or (b[1] < b[0]).any():
        raise InvalidArgument(f"bounds: expected ((min x, y, z), (max x, y, z)), got {bounds!r}")
    lo, hi = b
    if not wireframe:
        return [("box", list(0.5 * (hi - lo)), list(0.5 * (lo + hi)), _EYE, color)]
    corners = [np.array([x, y, z]) for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    out = []
    for i, a in enumerate(corners):
        for c in corners[i + 1 :]:
            if np.count_nonzero(a != c) == 1:  # an edge
                out += line(a, c, wireframe_radius, color)
    return out


class DebugDrawing:
    """The scene's ``draw_debug_*`` methods (Genesis's signatures); mixed into ``Scene``."""

    def _add_debug(self, items: List[Tuple]) -> DebugObject:
        obj = DebugObject(items)
        self._debug[obj.uid] = obj
        self._debug_dirty = True
        return obj

    def draw_debug_line(self, start, end, radius=0.002, color=(1.0, 0.0, 0.0, 0.5)) -> DebugObject:
        return self._add_debug(line(start, end, radius, _color(color)))

    def draw_debug_arrow(self, pos, vec=(0, 0, 1), radius=0.01, color=(1.0, 0.0, 0.0, 0.5)) -> DebugObject:
        return self._add_debug(arrow(pos, vec, radius, _color(color)))

    def draw_debug_frame(self, T, axis_length=1.0, origin_size=0.015, axis_radius=0.01) -> DebugObject:
        return self._add_debug(frame(T, axis_length, origin_size, axis_radius))

    def draw_debug_frames(self, Ts, axis_length=1.0, origin_size=0.015, axis_radius=0.01) -> DebugObject:
        return self._add_debug([it for T in Ts for it in frame(T, axis_length, origin_size, axis_radius)])

    def draw_debug_sphere(self, pos, radius=0.01, color=(1.0, 0.0, 0.0, 0.5)) -> DebugObject:
        return self._add_debug(sphere(pos, radius, _color(color)))

    def draw_debug_spheres(self, poss, radius=0.01, color=(1.0, 0.0, 0.0, 0.5)) -> DebugObject:
        c = _color(color)
        return self._add_debug([it for p in _rows(poss, "poss") for it in sphere(p, radius, c)])

    def draw_debug_points(self, poss, colors=(1.0, 0.0, 0.0, 0.5)) -> DebugObject:
        """Points, drawn as spheres of 5 mm."""
        return self.draw_debug_spheres(poss, 0.005, colors)

    def draw_debug_box(self, bounds, color=(1.0, 0.0, 0.0, 1.0), wireframe=True, wireframe_radius=0.0015) -> DebugObject:
        return self._add_debug(box(bounds, _color(color), bool(wireframe), wireframe_radius))

    def draw_debug_path(self, qposs, entity, link_idx=-1, density=0.3, frame_scaling=1.0) -> DebugObject:
        """The path of ``entity``'s link ``link_idx`` (local index; the last by default) through
        the configurations ``qposs`` (N, n_qs): a line through its positions, a sphere at each."""
        Q = _rows(qposs, "qposs", entity.n_qs)
        pts = []
        for q in Q:
            pos = entity.forward_kinematics(q)[0].detach().double().numpy()
            pts.append((pos[0] if pos.ndim == 3 else pos)[link_idx])  # (env 0's)
        pts = np.asarray(pts)
        c = [1.0, 0.5, 0.0, 1.0]
        items = [it for a, b in zip(pts[:-1], pts[1:]) for it in line(a, b, 0.002 * frame_scaling, c)]
        items += [it for p in pts[:: max(1, int(round(1.0 / max(density, 1e-6))))] for it in sphere(p, 0.005 * frame_scaling, c)]
        return self._add_debug(items)

    def draw_debug_mesh(self, mesh, pos=np.zeros(3), T=None):
        raise InvalidArgument("draw_debug_mesh: drawing a mesh object is not supported by kinegrad (draw spheres, lines, arrows, frames or boxes)")

    def clear_debug_object(self, obj) -> None:
        if isinstance(obj, DebugObject) and self._debug.pop(obj.uid, None) is not None:
            self._debug_dirty = True

    def clear_debug_objects(self) -> None:
        if self._debug:
            self._debug.clear()
            self._debug_dirty = True

    def _debug_items(self) -> List[Tuple]:
        return [it for o in self._debug.values() for it in o.items]


def _rows(x, name: str, k: int = 3) -> np.ndarray:
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != k or not np.isfinite(a).all():
        raise InvalidArgument(f"{name}: expected a finite (N, {k}) array, got shape {a.shape}")
    return a
