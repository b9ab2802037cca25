"""Materials (Genesis ``gs.materials``): only rigid bodies exist in kinegrad."""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional
from ._errors import InvalidArgument


class Rigid:
    """Rigid material: density ``rho`` (kg/m^3) for primitives, and a friction
    coefficient overriding every geom of the entity when given."""

    def __init__(self, rho: float = 200.0, friction: Optional[float] = None, **kwargs: Any) -> None:
        rho = float(rho)
        if not (rho > 0 and math.isfinite(rho)):
            raise InvalidArgument(f"Rigid.rho: expected a positive density, got {rho!r}")
        if friction is not None:
            friction = float(friction)
            if not (friction >= 0 and math.isfinite(friction)):
                raise InvalidArgument(f"Rigid.friction: expected a finite value >= 0, got {friction!r}")
        for key in kwargs:
            warnings.warn(f"materials.Rigid: option {key}={kwargs[key]!r} is not supported by kinegrad, ignored", stacklevel=2)
        self.rho = rho
        self.friction = friction

    def __repr__(self) -> str:
        return f"Rigid(rho={self.rho}, friction={self.friction})"
