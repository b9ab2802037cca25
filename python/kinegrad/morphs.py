"""Morphs (Genesis ``gs.morphs``): what an entity is made from and where it starts.

Angles follow Genesis: ``euler`` is in degrees, extrinsic x-y-z (scipy's
``'xyz'``), ``quat`` is (w, x, y, z). Relative file paths are looked up in the
current directory, then in the asset search path (see :func:`asset_search_path`).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
from ._errors import InvalidArgument, MissingFile

_REPO_ROOT = Path(__file__).resolve().parents[2]


def asset_search_path() -> List[Path]:
    """Folders searched for relative morph files, in order: each entry of
    ``$KINEGRAD_ASSET_PATH`` (os.pathsep separated), a kinegrad checkout's
    ``.cache/assets/genesis`` and ``.cache/assets`` (when running from one), the user asset cache
    (:mod:`kinegrad.assets`: ``~/.cache/kinegrad/assets/genesis`` and ``.../assets``), and
    pybullet_data's folder when pybullet is installed."""
    from . import assets

    paths = [Path(p) for p in os.environ.get("KINEGRAD_ASSET_PATH", "").split(os.pathsep) if p]
    repo = _REPO_ROOT / ".cache" / "assets"
    if repo.is_dir():
        paths += [repo / "genesis", repo]
    paths += [assets.genesis_dir(), assets.cache_dir()]
    try:
        import pybullet_data

        paths.append(Path(pybullet_data.getDataPath()))
    except ImportError:
        pass
    return paths


def resolve_file(file: str) -> str:
    """Absolute path of a morph file, or FileNotFoundError listing the places tried. A Genesis
    asset path (``xml/...``, ``urdf/...``, ``meshes/...``) not found anywhere fetches Genesis's
    assets into the user cache once (see :mod:`kinegrad.assets`) and is looked up again."""
    from . import assets

    p = Path(os.path.expanduser(str(file)))
    if p.is_absolute():
        if p.is_file():
            return str(p)
        raise MissingFile(f"file: '{file}' does not exist")

    def find():
        tried = [Path.cwd() / p] + [base / p for base in asset_search_path()]
        return next((c for c in tried if c.is_file()), None), tried

    hit, tried = find()
    note = ""
    # fetched once: not when some folder searched already holds Genesis's assets (a checkout's)
    have = any((base / "xml" / "franka_emika_panda").is_dir() for base in asset_search_path())
    if hit is None and p.parts and p.parts[0] in assets.GENESIS_FOLDERS and not have:
        if os.environ.get("KINEGRAD_NO_FETCH"):
            note = "\n(KINEGRAD_NO_FETCH is set: Genesis's assets were not downloaded)"
        else:
            try:
                assets.fetch()
                hit, tried = find()
            except (RuntimeError, OSError) as e:
                note = f"\n(fetching Genesis's assets failed: {e})"
    if hit is not None:
        return str(hit.resolve())
    places = "\n  ".join(str(t) for t in tried)
    raise MissingFile(
        f"file: '{file}' not found; tried:\n  {places}{note}\n"
        f"(Genesis's robot files go into {assets.genesis_dir()} with `python -m kinegrad.assets fetch`; "
        "in a kinegrad checkout `make setup` fetches them; KINEGRAD_ASSET_PATH adds folders)"
    )


def _vec(name: str, value, n: int) -> Tuple[float, ...]:
    try:
        out = tuple(float(x) for x in value)
    except TypeError:
        raise InvalidArgument(f"{name}: expected {n} numbers, got {value!r}") from None
    if len(out) != n:
        raise InvalidArgument(f"{name}: expected {n} numbers, got {len(out)}")
    if not all(math.isfinite(x) for x in out):
        raise InvalidArgument(f"{name}: must be finite, got {out}")
    return out


def _positive(name: str, value) -> float:
    v = float(value)
    if not (v > 0 and math.isfinite(v)):
        raise InvalidArgument(f"{name}: expected a positive number, got {value!r}")
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


def _flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgument(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _mask(name: str, value) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 0xFFFFFFFF:
        raise InvalidArgument(f"{name}: expected a 32-bit bitmask (an integer in 0..0xFFFFFFFF), got {value!r}")
    return int(value)


#: Genesis morph options kinegrad accepts without effect, and why (each warned about when given)
_NO_EFFECT = {
    "batch_fixed_verts": "kinegrad keeps one copy of a fixed entity's geometry for every env",
    "decimate": "kinegrad collides with the convex hull of a collision mesh and draws it as written",
    "decimate_face_num": "kinegrad collides with the convex hull of a collision mesh and draws it as written",
    "decimate_aggressiveness": "kinegrad collides with the convex hull of a collision mesh and draws it as written",
    "prioritize_urdf_material": "kinegrad draws a URDF's own colours",
    "requires_jac_and_IK": "every entity has link Jacobians",
    "plane_size": "kinegrad draws a plane out to the camera's far distance",
    "tile_size": "kinegrad draws a plane's checker in 0.5 m cells",
}


class Morph:
    """Pose of an entity's root: ``pos`` (m) and either ``euler`` (deg) or ``quat`` (w, x, y, z).
    ``collision=False``: the entity collides with nothing; ``visualization=False``: it is not
    drawn. Options of Genesis's that kinegrad does not apply are warned about, naming each."""

    def __init__(self, pos=(0.0, 0.0, 0.0), euler=None, quat=None, fixed: bool = False, visualization=True, collision=True, **kwargs):
        self.pos = _vec(f"{type(self).__name__}.pos", pos, 3)
        if euler is not None and quat is not None:
            raise InvalidArgument(f"{type(self).__name__}: give euler or quat, not both")
        if quat is not None:
            q = _vec(f"{type(self).__name__}.quat", quat, 4)
            n = math.sqrt(sum(x * x for x in q))
            if n < 1e-12:
                raise InvalidArgument(f"{type(self).__name__}.quat: must be non-zero (w, x, y, z)")
            self.quat = tuple(x / n for x in q)
        else:
            self.euler = _vec(f"{type(self).__name__}.euler", euler if euler is not None else (0.0, 0.0, 0.0), 3)
            self.quat = euler_to_quat(self.euler)
        self.fixed = _flag(f"{type(self).__name__}.fixed", fixed)
        self.visualization = _flag(f"{type(self).__name__}.visualization", visualization)
        self.collision = _flag(f"{type(self).__name__}.collision", collision)
        self.options = kwargs
        for key in kwargs:
            why = _NO_EFFECT.get(key, "not supported by kinegrad")
            warnings.warn(f"{type(self).__name__}: option {key}={kwargs[key]!r} is ignored ({why})", stacklevel=3)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pos={self.pos}, quat={self.quat}, fixed={self.fixed})"


class FileMorph(Morph):
    """A model file: ``file`` (resolved at construction), ``scale`` multiplying every length."""

    def __init__(self, file: str, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(file, (str, os.PathLike)):
            raise InvalidArgument(f"{type(self).__name__}.file: expected a path, got {file!r}")
        self.file = resolve_file(str(file))
        self.scale = _positive(f"{type(self).__name__}.scale", scale)


def _armature(name: str, value) -> Optional[float]:
    if value is None:
        return None
    try:
        a = float(value)
    except (TypeError, ValueError):
        a = float("nan")
    if not (a >= 0 and math.isfinite(a)):
        raise InvalidArgument(f"{name}: expected None or a finite number >= 0, got {value!r}")
    return a


class URDF(FileMorph):
    """A URDF robot. ``fixed=True`` welds its root link to the world; otherwise the root floats (free joint).
    ``default_armature`` (Genesis's option): the armature of every joint (kinegrad's default
    None leaves them at 0, as MuJoCo reads the file; Genesis's default is 0.1)."""

    def __init__(self, file: str, scale: float = 1.0, fixed: bool = False, default_armature=None, **kwargs):
        super().__init__(file, scale=scale, fixed=fixed, **kwargs)
        self.default_armature = _armature("URDF.default_armature", default_armature)


class MJCF(FileMorph):
    """An MJCF model; its roots keep the joints the file gives them. ``default_armature``
    (Genesis's option): the armature of every joint but free ones that the file leaves without
    one (kinegrad's default None: none added, as MuJoCo reads the file; Genesis's is 0.1)."""

    def __init__(self, file: str, scale: float = 1.0, default_armature=None, **kwargs):
        super().__init__(file, scale=scale, **kwargs)
        self.default_armature = _armature("MJCF.default_armature", default_armature)


class Mesh(FileMorph):
    """A mesh file (OBJ, STL, COLLADA) as one rigid body (Genesis's ``gs.morphs.Mesh``): its
    frame is the file's (``pos``/``euler``/``quat`` place it), ``scale`` a number or (sx, sy,
    sz), ``fixed=True`` welds it to the world; its mass and inertia are those of the solid the
    mesh encloses at the material's density (as MuJoCo computes a mesh geom's); it collides
    through its convex hull. ``contype``/``conaffinity`` as for primitives.

    Differs from Genesis: a non-convex mesh collides through one hull (Genesis splits it into
    convex parts with CoACD by default: ``decompose_object_error_threshold``), and the mesh is
    drawn as written (no decimation)."""

    def __init__(self, file: str, scale=1.0, fixed: bool = False, contype=None, conaffinity=None, **kwargs):
        for key in ("convexify", "decompose_object_error_threshold", "decompose_robot_error_threshold", "coacd_options"):
            if key in kwargs:
                v = kwargs.pop(key)
                warnings.warn(f"Mesh: option {key}={v!r} is ignored (kinegrad collides with the mesh's convex hull)", stacklevel=2)
        try:
            s3 = (float(scale),) * 3
        except (TypeError, ValueError):
            s3 = _vec("Mesh.scale", scale, 3)
        if not all(x > 0 and math.isfinite(x) for x in s3):
            raise InvalidArgument(f"Mesh.scale: expected a positive number or 3 of them, got {scale!r}")
        super().__init__(file, scale=1.0, fixed=fixed, **kwargs)
        self.scale3 = s3
        self.contype = _mask("Mesh.contype", contype)
        self.conaffinity = _mask("Mesh.conaffinity", conaffinity)

    def mjcf(self, rho: float) -> str:
        """The MJCF of this mesh as a body at the origin (free unless fixed), density ``rho``."""
        from xml.sax.saxutils import quoteattr

        masks = ""
        if self.contype is not None or self.conaffinity is not None:
            ct = 0xFFFF if self.contype is None else self.contype
            ca = 0xFFFF if self.conaffinity is None else self.conaffinity
            masks = f' contype="{ct}" conaffinity="{ca}"'
        joint = "" if self.fixed else "<freejoint/>"
        name = Path(self.file).stem
        return (
            f"<mujoco model={quoteattr(name)}><asset><mesh name=\"mesh\" file={quoteattr(str(Path(self.file).resolve()))}"
            f' scale="{self.scale3[0]!r} {self.scale3[1]!r} {self.scale3[2]!r}"/></asset>'
            f"<worldbody><body name={quoteattr(name)}>{joint}"
            f'<geom type="mesh" mesh="mesh" density="{rho!r}"{masks}/></body></worldbody></mujoco>'
        )


class Primitive(Morph):
    """A primitive shape. ``contype``/``conaffinity``: its collision bitmasks (two geoms collide
    when the contype of either shares a bit with the conaffinity of the other; Genesis's default
    0xFFFF for one not given, kinegrad's default 1 and 1 when neither is)."""

    def __init__(self, pos=(0.0, 0.0, 0.0), contype=None, conaffinity=None, **kwargs):
        super().__init__(pos=pos, **kwargs)
        self.contype = _mask(f"{type(self).__name__}.contype", contype)
        self.conaffinity = _mask(f"{type(self).__name__}.conaffinity", conaffinity)


class Plane(Primitive):
    """An infinite ground plane through ``pos`` with the given ``normal``; always fixed."""

    def __init__(self, pos=(0.0, 0.0, 0.0), normal=(0.0, 0.0, 1.0), **kwargs):
        kwargs.pop("fixed", None)
        super().__init__(pos=pos, fixed=True, **kwargs)
        self.normal = _vec("Plane.normal", normal, 3)
        if math.sqrt(sum(x * x for x in self.normal)) < 1e-12:
            raise InvalidArgument("Plane.normal: must be non-zero")


class Box(Primitive):
    """A box given by ``size`` (full extents, m) or by ``lower``/``upper`` corners (then ``pos`` is their midpoint)."""

    def __init__(self, pos=(0.0, 0.0, 0.0), size=None, lower=None, upper=None, **kwargs):
        if size is None and (lower is None or upper is None):
            size = (1.0, 1.0, 1.0) if lower is None and upper is None else None
            if size is None:
                raise InvalidArgument("Box: give both lower and upper, or size")
        if size is not None and (lower is not None or upper is not None):
            raise InvalidArgument("Box: give size, or lower and upper, not both")
        if size is None:
            lo, hi = _vec("Box.lower", lower, 3), _vec("Box.upper", upper, 3)
            size = tuple(h - l for l, h in zip(lo, hi))
            pos = tuple((l + h) / 2 for l, h in zip(lo, hi))
        super().__init__(pos=pos, **kwargs)
        self.size = _vec("Box.size", size, 3)
        if not all(s > 0 for s in self.size):
            raise InvalidArgument(f"Box.size: every extent must be positive, got {self.size}")


class Sphere(Primitive):
    """A sphere of ``radius`` (m)."""

    def __init__(self, pos=(0.0, 0.0, 0.0), radius: float = 0.5, **kwargs):
        super().__init__(pos=pos, **kwargs)
        self.radius = _positive("Sphere.radius", radius)


class Cylinder(Primitive):
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
