"""Gradient helpers (``gs.utils``), and Genesis's ``utils.geom`` (rotations and transforms) and
``utils.misc`` helpers under their names."""

from __future__ import annotations

from .._errors import InvalidArgument
from . import geom, misc  # noqa: F401  (gs.utils.geom, as genesis.utils.geom)


def detach_state(scene) -> None:
    """Truncated backprop through time: cut the graph at the scene's current state.

    The state and current controls keep their values; gradients of later losses stop here.
    Same as ``scene.truncate_graph()``."""
    scene.truncate_graph()


def set_grad_clip(scene, max_norm) -> None:
    """Clip, in backward, the norm of the state gradient leaving each step to ``max_norm`` (None: off).

    In a batched scene the norm is taken per env (envs are independent trajectories);
    ``scene.grad_trace`` reports the norm over all envs."""
    if max_norm is not None and not float(max_norm) > 0:
        raise InvalidArgument(f"max_norm: expected a positive number or None, got {max_norm!r}")
    scene.grad_clip = None if max_norm is None else float(max_norm)
