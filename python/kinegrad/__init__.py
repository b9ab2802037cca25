"""kinegrad: differentiable rigid-body physics with a Genesis-compatible API.

``import kinegrad as gs`` runs Genesis-style scripts::

    gs.init(precision="64")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01))
    scene.add_entity(gs.morphs.Plane())
    ball = scene.add_entity(gs.morphs.Sphere(pos=(0, 0, 1), radius=0.1))
    scene.build()
    for _ in range(100):
        scene.step()
    print(ball.get_pos())
"""

from __future__ import annotations

import enum
import logging
import random
import warnings
from typing import Any, Optional

import numpy as np
import torch

from . import _globals, materials, morphs, options, renderers, surfaces, tools, utils
from ._globals import logger
from .camera import Camera
from .entity import JOINT_TYPE, RigidEntity, RigidJoint, RigidLink
from .geom import GEOM_TYPE, RigidGeom
from .utils.geom import *  # noqa: F401,F403  (Genesis exposes its geometry helpers as gs.<name>)
from .utils.geom import __all__ as _geom_names
from .scene import Scene, SimState
from ._errors import GenesisException, InvalidArgument
from .tensor import Tensor, from_numpy, from_torch, ones, rand, randn, tensor, zeros

__all__ = [
    "init", "destroy", "cpu", "gpu", "cuda", "metal", "vulkan", "device", "tc_float", "np_float",
    "options", "morphs", "materials", "renderers", "surfaces", "tools", "Camera", "Scene", "SimState", "RigidEntity", "RigidLink",
    "RigidJoint", "JOINT_TYPE", "RigidGeom", "GEOM_TYPE", "constraint_solver", "integrator", "logger", "utils",
    "Tensor", "tensor", "zeros", "ones", "rand", "randn", "from_numpy", "from_torch", "tc_int",
    "GenesisException", "EPS", "backend",
] + list(_geom_names)


class _Backend(enum.Enum):
    cpu = "cpu"
    gpu = "gpu"
    cuda = "cuda"
    metal = "metal"
    vulkan = "vulkan"


cpu, gpu, cuda, metal, vulkan = _Backend.cpu, _Backend.gpu, _Backend.cuda, _Backend.metal, _Backend.vulkan
#: Genesis's ``gs.EPS`` and ``gs.backend``, set by :func:`init` (None before)
EPS: Optional[float] = None
backend: Optional[_Backend] = None


class constraint_solver(enum.Enum):
    """Constraint solvers (Genesis names). kinegrad implements Newton."""

    CG = "CG"
    Newton = "Newton"


class integrator(enum.Enum):
    """Integrators (Genesis names)."""

    Euler = "Euler"
    implicitfast = "implicitfast"
    approximate_implicitfast = "implicitfast"
    RK4 = "RK4"


device = _globals.device


def init(
    backend: Optional[_Backend] = None,
    precision: str = "32",
    seed: Optional[int] = None,
    logging_level: Optional[Any] = None,
    debug: bool = False,
    eps: float = 1e-15,
    **kwargs: Any,
) -> None:
    """Initialize kinegrad: precision "32" or "64" sets ``gs.tc_float`` (the dtype of every reading),
    ``seed`` seeds Python and torch. Every backend runs on the CPU; unknown Genesis kwargs are ignored."""
    global tc_float, np_float, tc_int
    if logging_level is not None:
        level = logging.getLevelName(logging_level.upper()) if isinstance(logging_level, str) else logging_level
        if not isinstance(level, int):
            raise InvalidArgument(f"logging_level: unknown level {logging_level!r}")
        logger.setLevel(level)
    if debug:
        logger.setLevel(logging.DEBUG)
    precision = str(precision)
    if precision not in ("32", "64"):
        raise InvalidArgument(f"precision: expected '32' or '64', got {precision!r}")
    if backend is not None and backend != cpu:
        logger.warning("backend %s: kinegrad runs on the CPU; using gs.cpu", getattr(backend, "name", backend))
    for key in kwargs:
        warnings.warn(f"init: option {key}={kwargs[key]!r} is not supported by kinegrad, ignored", stacklevel=2)
    if _globals.initialized:
        logger.debug("init: already initialized; updating settings")
    _globals.precision = precision
    # Genesis's gs.EPS (a small number at least the float type's resolution, for user code's
    # guards) and gs.backend (``backend`` is this function's argument: set through globals())
    eps_floor = float(np.finfo(np.float64 if precision == "64" else np.float32).eps)
    globals().update(EPS=max(float(eps), eps_floor), backend=cpu)
    _globals.tc_float = torch.float64 if precision == "64" else torch.float32
    _globals.seed = seed
    if seed is not None:
        random.seed(seed)
        torch.manual_seed(seed)
    _globals.initialized = True
    tc_float = _globals.tc_float
    tc_int = torch.int64 if precision == "64" else torch.int32
    np_float = _np_float()


def destroy() -> None:
    """Forget the settings made by ``init``."""
    _globals.initialized = False
    globals().update(EPS=None, backend=None)


def _np_float():
    return np.float64 if _globals.precision == "64" else np.float32


tc_float = _globals.tc_float
tc_int = torch.int32
np_float = _np_float()
