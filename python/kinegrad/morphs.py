"""Morphs (Genesis ``gs.morphs``): what an entity is made from and where it starts.

Angles follow Genesis: ``euler`` is in degrees, extrinsic x-y-z (scipy's
``'xyz'``), ``quat`` is (w, x, y, z). Relative file paths are looked up in the
current directory, then in the asset search path (see :func:`asset_search_path`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

_REPO_ROOT = Path(__file__).resolve().parents[2]


def asset_search_path() -> List[Path]:
    """Folders searched for relative morph files, in order: each entry of
    ``$KINEGRAD_ASSET_PATH`` (os.pathsep separated), ``<repo>/.cache/assets/genesis``,
    ``<repo>/.cache/assets``, and pybullet_data's folder when pybullet is installed."""
    paths = [Path(p) for p in os.environ.get("KINEGRAD_ASSET_PATH", "").split(os.pathsep) if p]
    paths += [_REPO_ROOT / ".cache" / "assets" / "genesis", _REPO_ROOT / ".cache" / "assets"]
    try:
        import pybullet_data

        paths.append(Path(pybullet_data.getDataPath()))
    except ImportError:
        pass
    return paths


def resolve_file(file: str) -> str:
    """Absolute path of a morph file, or FileNotFoundError listing the places tried."""
    p = Path(os.path.expanduser(str(file)))
    if p.is_absolute():
        if p.is_file():
            return str(p)
        raise FileNotFoundError(f"file: '{file}' does not exist")
    tried = [Path.cwd() / p] + [base / p for base in asset_search_path()]
    for cand in tried:
        if cand.is_file():
            return str(cand.resolve())
    places = "\n  ".join(str(t) for t in tried)
    raise FileNotFoundError(
        f"file: '{file}' not found; tried:\n  {places}\n"
        "(set KINEGRAD_ASSET_PATH or run `make setup` to fetch the assets)"
    )


def _vec(name: str, value, n: int) -> Tuple[float, ...]:
    try:
        out = tuple(float(x) for x in value)
    except TypeError:
        raise ValueError(f"{name}: expected {n} numbers, got {value!r}") from None
    if len(out) != n:
        raise ValueError(f"{name}: expected {n} numbers, got {len(out)}")
    if not all(math.isfinite(x) for x in out):
        raise ValueError(f"{name}: must be finite, got {out}")
    return out


def _positive(name: str, value) -> float:
    v = float(value)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return v


def euler_to_quat(euler_deg: Sequence[float]) -> Tuple[float, float, float, float]:
    """Quaternion (w, x, y, z) of extrinsic x-y-z rotations in degrees (R = Rz Ry Rx)."""
    ax, ay, az = (math.radians(a) / 2 for a in euler_deg)
    cx, sx, cy, sy, cz, sz = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay), math.cos(az), math.sin(az)
    return (
        cz * cy * cx + sz * sy * sx,
        cz * cy * sx - sz * sy * cx,
        cz * sy * cx + sz * cy * sx,
        sz * cy * cx - cz * sy * sx,
    )


class Morph:
    """Pose of an entity's root: ``pos`` (m) and either ``euler`` (deg) or ``quat`` (w, x, y, z)."""

    def __init__(self, pos=(0.0, 0.0, 0.0), euler=None, quat=None, fixed: bool = False, visualization=True, collision=True, **kwargs):
        self.pos = _vec(f"{type(self).__name__}.pos", pos, 3)
        if euler is not None and quat is not None:
            raise ValueError(f"{type(self).__name__}: give euler or quat, not both")
        if quat is not None:
            q = _vec(f"{type(self).__name__}.quat", quat, 4)
            n = math.sqrt(sum(x * x for x in q))
            if n < 1e-12:
                raise ValueError(f"{type(self).__name__}.quat: must be non-zero (w, x, y, z)")
            self.quat = tuple(x / n for x in q)
        else:
            self.euler = _vec(f"{type(self).__name__}.euler", euler if euler is not None else (0.0, 0.0, 0.0), 3)
            self.quat = euler_to_quat(self.euler)
        self.fixed = bool(fixed)
        self.visualization = visualization
        self.collision = collision
        self.options = kwargs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pos={self.pos}, quat={self.quat}, fixed={self.fixed})"


class FileMorph(Morph):
    """A model file: ``file`` (resolved at construction), ``scale`` multiplying every length."""

    def __init__(self, file: str, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(file, (str, os.PathLike)):
            raise ValueError(f"{type(self).__name__}.file: expected a path, got {file!r}")
        self.file = resolve_file(str(file))
        self.scale = _positive(f"{type(self).__name__}.scale", scale)


class URDF(FileMorph):
    """A URDF robot. ``fixed=True`` welds its root link to the world; otherwise the root floats (free joint)."""

    def __init__(self, file: str, scale: float = 1.0, fixed: bool = False, **kwargs):
        super().__init__(file, scale=scale, fixed=fixed, **kwargs)


class MJCF(FileMorph):
    """An MJCF model; its roots keep the joints the file gives them."""


class Plane(Morph):
    """An infinite ground plane through ``pos`` with the given ``normal``; always fixed."""

    def __init__(self, pos=(0.0, 0.0, 0.0), normal=(0.0, 0.0, 1.0), **kwargs):
        kwargs.pop("fixed", None)
        super().__init__(pos=pos, fixed=True, **kwargs)
        self.normal = _vec("Plane.normal", normal, 3)
        if math.sqrt(sum(x * x for x in self.normal)) < 1e-12:
            raise ValueError("Plane.normal: must be non-zero")


class Box(Morph):
    """A box given by ``size`` (full extents, m) or by ``lower``/``upper`` corners (then ``pos`` is their midpoint)."""

    def __init__(self, pos=(0.0, 0.0, 0.0), size=None, lower=None, upper=None, **kwargs):
        if size is None and (lower is None or upper is None):
            size = (1.0, 1.0, 1.0) if lower is None and upper is None else None
            if size is None:
                raise ValueError("Box: give both lower and upper, or size")
        if size is not None and (lower is not None or upper is not None):
            raise ValueError("Box: give size, or lower and upper, not both")
        if size is None:
            lo, hi = _vec("Box.lower", lower, 3), _vec("Box.upper", upper, 3)
            size = tuple(h - l for l, h in zip(lo, hi))
            pos = tuple((l + h) / 2 for l, h in zip(lo, hi))
        super().__init__(pos=pos, **kwargs)
        self.size = _vec("Box.size", size, 3)
        if not all(s > 0 for s in self.size):
            raise ValueError(f"Box.size: every extent must be positive, got {self.size}")


class Sphere(Morph):
    """A sphere of ``radius`` (m)."""

    def __init__(self, pos=(0.0, 0.0, 0.0), radius: float = 0.5, **kwargs):
        super().__init__(pos=pos, **kwargs)
        self.radius = _positive("Sphere.radius", radius)


class Cylinder(Morph):
    """A cylinder of ``radius`` and ``height`` (m) along its local z axis."""

    def __init__(self, pos=(0.0, 0.0, 0.0), radius: float = 0.5, height: float = 1.0, **kwargs):
        super().__init__(pos=pos, **kwargs)
        self.radius = _positive(f"{type(self).__name__}.radius", radius)
        self.height = _positive(f"{type(self).__name__}.height", height)


class Capsule(Cylinder):
    """A capsule: a cylinder of ``height`` (between the cap centres) capped by hemispheres of ``radius``."""


def native_primitive(morph: Morph) -> Optional[Tuple[str, List[float]]]:
    """(kind, dims) for the native ``add_primitive``, or None for file morphs."""
    if isinstance(morph, Plane):
        return "plane", list(morph.normal)
    if isinstance(morph, Box):
        return "box", list(morph.size)
    if isinstance(morph, Sphere):
        return "sphere", [morph.radius]
    if isinstance(morph, Capsule):
        return "capsule", [morph.radius, morph.height]
    if isinstance(morph, Cylinder):
        return "cylinder", [morph.radius, morph.height]
    return None
