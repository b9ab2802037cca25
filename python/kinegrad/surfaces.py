"""Surfaces (Genesis ``gs.surfaces``): appearance only, kept for compatibility."""

from __future__ import annotations

from typing import Any, Optional, Sequence


class Default:
    """Appearance of an entity; kinegrad does not render, so this only stores the colour."""

    def __init__(self, color: Optional[Sequence[float]] = None, **kwargs: Any) -> None:
        self.color = None if color is None else tuple(float(c) for c in color)
        self.options = kwargs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(color={self.color})"


class Smooth(Default):
    """Alias of Default."""


class Rough(Default):
    """Alias of Default."""


class Plastic(Default):
    """Alias of Default."""
