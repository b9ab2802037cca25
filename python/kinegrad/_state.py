"""The scene's state on the Python side.

The values of the state are the native sim's: every native call (a flushed segment, a rollout)
leaves them there, and ``StateStore.q`` / ``.v`` are the same values as float64 torch tensors,
which carry the autograd graph of the steps that made them. The one exception is a write from
Python (``set_state``, ``set_dofs_position``, ...): it lands here first (``synced`` False), and
the next native call takes it as its start state (``start_np``), so the native sim never runs
from a state other than this one. Nothing else writes either side.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
from ._errors import GenesisRuntimeError


def _batch_view(t: torch.Tensor) -> torch.Tensor:
    """``t[None]`` as a plain tensor (also of a gs.Tensor), in the same graph."""
    with torch._C.DisableTorchFunctionSubclass():
        return t.unsqueeze(0)


def _version(t: torch.Tensor) -> int:
    """``t._version``, for a gs.Tensor without the ``__torch_function__`` round trip that a
    property read of a tensor subclass takes (several microseconds)."""
    if type(t) is torch.Tensor:
        return t._version
    with torch._C.DisableTorchFunctionSubclass():
        return t._version


def _check_rollout_state(watch) -> None:
    """``watch``: (a state tensor that is, or views, a tensor the last rollout returned, its
    version then). Refuse the state if the caller changed it in place: the native sim would not
    know (set_state is the way to write the state)."""
    if _version(watch[0]) != watch[1]:
        raise GenesisRuntimeError(
            "scene.rollout returned the scene's state (its final qpos and dofs_vel), and it was "
            "changed in place; clone() it before changing it, or write the state with "
            "set_state / set_dofs_position (scene.reset() also recovers)"
        )


class StateStore:
    """qpos (N, nq) and qvel (N, nv) as float64 tensors, the simulated time, and whether the
    native sim holds them too. After a rollout of an unbatched scene the state is held as the
    (nq,), (nv,) tensors the rollout returned, and the batched views are made when first needed
    (often never: a reset replaces them); after any rollout the versions of the tensors the
    caller got are watched (see ``_check_rollout_state``)."""

    __slots__ = ("_qb", "_vb", "_qu", "_vu", "_qw", "_vw", "synced", "np", "time", "a", "a_dirty")

    def __init__(self, q: torch.Tensor, v: torch.Tensor, a: Optional[torch.Tensor] = None):
        self._qb, self._vb = q, v
        #: the activations (N, na) of a model with actuator dynamics, else None; ``a_dirty``:
        #: written from Python and not yet given to the native sim
        self.a, self.a_dirty = a, False
        self._qu = self._vu = self._qw = self._vw = None
        self.synced = True  # the native sim holds (q, v)
        #: (qpos, qvel) as numpy when a write gave them so (the next native call's start)
        self.np: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self.time = 0.0

    @property
    def q(self) -> torch.Tensor:
        if self._qw is not None:
            _check_rollout_state(self._qw)
        q = self._qb
        if q is None:
            q = self._qb = _batch_view(self._qu)
        return q

    @q.setter
    def q(self, q: torch.Tensor) -> None:
        self._qb, self._qu, self._qw = q, None, None

    @property
    def v(self) -> torch.Tensor:
        if self._vw is not None:
            _check_rollout_state(self._vw)
        v = self._vb
        if v is None:
            v = self._vb = _batch_view(self._vu)
        return v

    @v.setter
    def v(self, v: torch.Tensor) -> None:
        self._vb, self._vu, self._vw = v, None, None

    def written(self, q=None, v=None, np_qv=None, a=None) -> None:
        """A write from Python: the native sim no longer holds the state."""
        if q is not None:
            self.q = q
        if v is not None:
            self.v = v
        if a is not None:
            self.a, self.a_dirty = a, True
        self.synced, self.np = False, np_qv

    def ran(self, q: torch.Tensor, v: torch.Tensor, unbatched: bool = False, watch: bool = False) -> None:
        """A native call left (q, v); ``unbatched``: they are a rollout's (nq,), (nv,) outputs;
        ``watch``: they are the caller's, whose in-place changes are refused."""
        if unbatched:
            self._qb = self._vb = None
            self._qu, self._vu = q, v
        else:
            self._qb, self._vb = q, v
        self._qw = self._vw = None
        if watch:
            with torch._C.DisableTorchFunctionSubclass():  # (see _version)
                self._qw, self._vw = (q, q._version), (v, v._version)  # the caller's tensors share these versions
        self.synced, self.np = True, None

    def start_np(self, to_np) -> tuple:
        """(qpos, qvel, time) as numpy, for a native call to start from."""
        return (self.np or (to_np(self.q), to_np(self.v))) + (self.time,)
