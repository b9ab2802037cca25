"""Tools (Genesis ``gs.tools``)."""

from __future__ import annotations

from .camera import animate

__all__ = ["animate"]
