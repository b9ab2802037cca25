"""Option objects (Genesis ``gs.options``): simulation, rigid solver, viewer, visualization.

Unknown keyword arguments from Genesis scripts are accepted, so scripts written for Genesis run
unchanged, and each is warned about (UserWarning, naming it): an option kinegrad does not
apply never changes results silently.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ._globals import logger
from ._errors import InvalidArgument


class _Options:
    """Keyword-only options with defaults; unknown keys are warned about and ignored."""

    _defaults: dict = {}

    def __init__(self, **kwargs: Any) -> None:
        for key, value in self._defaults.items():
            setattr(self, key, kwargs.pop(key, value))
        for key in kwargs:
            warnings.warn(f"{type(self).__name__}: option {key}={kwargs[key]!r} is not supported by kinegrad, ignored", stacklevel=2)
        self._ignored = dict(kwargs)
        self._check()

    def _check(self) -> None:
        pass

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._defaults)
        return f"{type(self).__name__}({body})"


def _positive(name: str, value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}: expected a positive number, got {value!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise InvalidArgument(f"{name}: expected a positive number, got {value!r}")
    return value


class SimOptions(_Options):
    """dt (s) per ``scene.step()``, split into ``substeps``; gravity (m/s^2);
    ``requires_grad``: every ``scene.step()`` is recorded in the torch autograd graph (the steps
    between two readings as one node) and readings carry grad."""

    _defaults = dict(dt=1e-2, substeps=1, gravity=(0.0, 0.0, -9.81), requires_grad=False, floor_height=0.0)

    def _check(self) -> None:
        self.dt = _positive("SimOptions.dt", self.dt)
        if int(self.substeps) != self.substeps or self.substeps < 1:
            raise InvalidArgument(f"SimOptions.substeps: expected an integer >= 1, got {self.substeps!r}")
        self.substeps = int(self.substeps)
        g = tuple(float(x) for x in self.gravity)
        if len(g) != 3 or not all(math.isfinite(x) for x in g):
            raise InvalidArgument(f"SimOptions.gravity: expected 3 finite numbers, got {self.gravity!r}")
        self.gravity = g
        if self.floor_height != 0.0:
            warnings.warn(
                f"SimOptions.floor_height={self.floor_height!r} is ignored: it bounds Genesis's particle solvers; "
                "add a gs.morphs.Plane for a rigid floor",
                stacklevel=3,
            )


class RigidOptions(_Options):
    """Rigid solver options (MuJoCo-style soft constraints solved by Newton).

    ``implicit_constraints`` (kinegrad's, default False): solve the contact and constraint
    forces against the implicit integrator's ``M + h D`` (joint damping, and under
    implicitfast the velocity gains and the tendons' damping and kv along J^T J) instead of
    MuJoCo's ``M``. MuJoCo's way (the default) matches MuJoCo's
    step; set it for stiff velocity servos in contact (``dt * kv`` well above the dof's
    inertia, e.g. light wheels), whose contact forces it keeps consistent with the servo.

    ``cone`` (kinegrad's, MuJoCo's ``<option cone>``): ``'pyramidal'`` (default: four rows per
    contact) or ``'elliptic'`` (the contact force in the cone ``|f_t| <= mu f_n``, with
    ``impratio`` its regularization of the friction), differentiable either way."""

    _defaults = dict(
        dt=None,
        enable_collision=True,
        enable_joint_limit=True,
        enable_self_collision=True,
        constraint_solver=None,
        iterations=100,
        tolerance=1e-8,
        ls_iterations=50,
        constraint_timeconst=None,
        integrator=None,
        impratio=1.0,
        cone="pyramidal",
        implicit_constraints=False,
    )

    def _check(self) -> None:
        from . import constraint_solver, integrator

        if self.constraint_solver is None:
            self.constraint_solver = constraint_solver.Newton
        if self.constraint_solver != constraint_solver.Newton:
            logger.warning("RigidOptions.constraint_solver: only Newton is implemented; using Newton")
        if self.integrator is None:
            self.integrator = integrator.implicitfast
        if self.integrator not in (integrator.Euler, integrator.implicitfast, integrator.RK4):
            raise InvalidArgument(
                f"RigidOptions.integrator: expected gs.integrator.Euler, implicitfast or RK4, got {self.integrator!r}"
            )
        if self.cone not in ("pyramidal", "elliptic"):
            raise InvalidArgument(f"RigidOptions.cone: expected 'pyramidal' or 'elliptic', got {self.cone!r}")
        if int(self.iterations) < 1:
            raise InvalidArgument(f"RigidOptions.iterations: expected >= 1, got {self.iterations!r}")
        if self.constraint_timeconst is not None:
            self.constraint_timeconst = _positive("RigidOptions.constraint_timeconst", self.constraint_timeconst)


class ViewerOptions(_Options):
    """Accepted for compatibility; kinegrad has no interactive viewer (use ``scene.add_camera``)."""

    _defaults = dict(res=None, camera_pos=(3.5, 0.5, 2.5), camera_lookat=(0.0, 0.0, 0.5), camera_fov=40, max_FPS=60)


class ProfilingOptions(_Options):
    """Genesis's profiling display. kinegrad prints no FPS line: ``show_FPS=True`` (Genesis's
    default) is named in a warning when a scene is given these options; pass ``show_FPS=False``
    as Genesis scripts do to silence Genesis's."""

    _defaults = dict(show_FPS=True, FPS_tracker_alpha=0.95)


class VisOptions(_Options):
    """Camera image options. Used: ``background_color`` (r, g, b in [0, 1]) and
    ``segmentation_level`` ('link', 'entity' or 'geom': what the segmentation image indexes).
    The others are accepted for compatibility and ignored by kinegrad's renderer."""

    _defaults = dict(
        show_world_frame=False,
        show_link_frame=False,
        plane_reflection=False,
        ambient_light=(0.1, 0.1, 0.1),
        background_color=(0.04, 0.08, 0.12),
        segmentation_level="link",
    )

    def _check(self) -> None:
        try:
            bg = tuple(float(x) for x in self.background_color)
        except (TypeError, ValueError):
            raise InvalidArgument(f"VisOptions.background_color: expected (r, g, b) in [0, 1], got {self.background_color!r}") from None
        if len(bg) not in (3, 4) or not all(0.0 <= x <= 1.0 for x in bg):
            raise InvalidArgument(f"VisOptions.background_color: expected (r, g, b) in [0, 1], got {self.background_color!r}")
        self.background_color = bg[:3]
        if self.segmentation_level not in ("link", "entity", "geom"):
            raise InvalidArgument(
                f"VisOptions.segmentation_level: expected 'link', 'entity' or 'geom', got {self.segmentation_level!r}"
            )

