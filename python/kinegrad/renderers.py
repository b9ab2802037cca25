"""Genesis's renderer choices (``gs.Scene(renderer=...)``). kinegrad's cameras always use its
CPU rasterizer (``kinegrad-render``): ``Rasterizer`` is that; ``RayTracer`` and
``BatchRenderer`` are accepted and named in a warning (their images are the rasterizer's)."""

from __future__ import annotations

from .options import _Options


class Rasterizer(_Options):
    """kinegrad's renderer (the default)."""

    _defaults: dict = {}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)


class RayTracer(_Options):
    """Genesis's path tracer: not available; kinegrad rasterizes."""

    _defaults: dict = {}

    def __init__(self, **kwargs):
        self._given = dict(kwargs)
        super().__init__()


class BatchRenderer(RayTracer):
    """Genesis's batched GPU renderer: not available; kinegrad rasterizes."""
