"""Surfaces (Genesis ``gs.surfaces``): the appearance of an entity in camera images."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence


class Default:
    """Appearance of an entity. ``color`` (r, g, b) or (r, g, b, a) in [0, 1], when given,
    colours every geom of the entity in camera images (instead of the colours of its model
    file); alpha 0 hides it. Other Genesis options (textures, roughness, ...) are stored and
    not used by kinegrad's renderer."""

    def __init__(self, color: Optional[Sequence[float]] = None, **kwargs: Any) -> None:
        if color is not None:
            try:
                color = tuple(float(c) for c in color)
            except (TypeError, ValueError):
                raise ValueError(f"color: expected 3 or 4 numbers in [0, 1], got {color!r}") from None
            if len(color) not in (3, 4) or not all(math.isfinite(c) and 0.0 <= c <= 1.0 for c in color):
                raise ValueError(f"color: expected 3 or 4 numbers in [0, 1], got {color!r}")
        self.color = color
        self.options = kwargs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(color={self.color})"


class Smooth(Default):
    """Alias of Default."""


class Rough(Default):
    """Alias of Default."""


class Plastic(Default):
    """Alias of Default."""
