"""Surfaces (Genesis ``gs.surfaces``): the appearance of an entity in camera images."""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Sequence
from ._errors import InvalidArgument


class Default:
    """Appearance of an entity. ``color`` (r, g, b) or (r, g, b, a) in [0, 1], or in 0..255
    when a component is above 1, colours every geom of the entity in camera images (instead of
    the colours of its model file); alpha 0 hides it. Genesis's other options (textures,
    roughness, ...) are not used by kinegrad's renderer: each given is named in a warning."""

    def __init__(self, color: Optional[Sequence[float]] = None, **kwargs: Any) -> None:
        if color is not None:
            msg = f"color: expected 3 or 4 numbers in [0, 1] (or in 0..255), got {color!r}"
            try:
                color = tuple(float(c) for c in color)
            except (TypeError, ValueError):
                raise InvalidArgument(msg) from None
            if len(color) not in (3, 4) or not all(math.isfinite(c) and 0.0 <= c <= 255.0 for c in color):
                raise InvalidArgument(msg)
            if any(c > 1.0 for c in color):  # 0..255
                color = tuple(c / 255.0 for c in color)
        self.color = color
        self.options = kwargs
        for key in kwargs:
            warnings.warn(f"{type(self).__name__}: option {key}={kwargs[key]!r} is not used by kinegrad's renderer", stacklevel=2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(color={self.color})"


class Smooth(Default):
    """Alias of Default."""


class Rough(Default):
    """Alias of Default."""


class Plastic(Default):
    """Alias of Default."""


class Reflective(Default):
    """Alias of Default."""


class Collision(Default):
    """Alias of Default."""


class Glass(Default):
    """Alias of Default."""


class Water(Default):
    """Alias of Default."""


class Metal(Default):
    """Alias of Default."""


class Iron(Default):
    """Alias of Default."""


class Aluminium(Default):
    """Alias of Default."""


class Copper(Default):
    """Alias of Default."""


class Gold(Default):
    """Alias of Default."""


class Emission(Default):
    """Alias of Default."""
