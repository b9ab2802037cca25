"""The physical parameters of a scene's envs, and the graph of those that carry grad.

``ParamStore.cur`` (name -> (N, *shape) float64 array) is the authoritative copy; every change
makes a new dict and bumps ``ver``. Graph nodes keep the ``(version, dict)`` snapshot they ran
with and push it to the native sim before running again (forward recomputation or backward),
so parameters may change between steps. Writes with tensors that require grad are kept as
"overlays" (index, values) and re-assembled into full tensors once per graph (after each
reset or truncation), so a parameter leaf set once keeps receiving gradients across episodes.
"""

from __future__ import annotations

from typing import Dict

import numpy as np
import torch


def _covered(shape, idx) -> torch.Tensor:
    """Boolean mask of the entries of a parameter of ``shape`` that a write at ``idx`` sets (None: all)."""
    m = torch.zeros(shape, dtype=torch.bool)
    m[... if idx is None else idx] = True
    return m


class ParamStore:
    """The parameters of a built scene (see the module docstring); ``link`` is the scene's
    :class:`kinegrad._autograd.SceneLink`, whose native sim holds the values steps use."""

    def __init__(self, link):
        native = link.native
        self._link = link
        self.cur: Dict[str, np.ndarray] = {name: np.ascontiguousarray(native.get_param(name)) for name in native.param_names()}
        self.ver = 0
        self.overlays: Dict[str, tuple] = {}  # name -> (value before the first grad write, [(idx, values)])
        self._epoch = 0  # graph generation: bumped by new_graph
        self._assembled = None  # ((epoch, ver), names, tensors) of grad_inputs

    def snapshot(self) -> tuple:
        """(version, dict): what a graph node runs with."""
        return (self.ver, self.cur)

    def synced(self) -> bool:
        """Whether the native sim holds the current values."""
        return self._link.params_ver == self.ver

    def sync(self) -> None:
        """Make the native sim hold the current values."""
        self._link.sync_params((self.ver, self.cur))

    def get(self, name: str) -> torch.Tensor:
        """A copy of parameter ``name`` of every env, float64 (N, *shape)."""
        if name not in self.cur:
            self._link.native.get_param(name)  # raises naming the known parameters
        return torch.from_numpy(self.cur[name].copy())

    def write(self, name: str, idx, values: torch.Tensor) -> None:
        """Write ``values`` into parameter ``name`` at ``idx`` (None: the whole (N, *shape)
        tensor); the native sim validates them (ValueError naming the parameter). A tensor that
        carries grad becomes an input of the graph's nodes from now on."""
        cur = torch.from_numpy(self.cur[name].copy())
        new = cur.clone()
        if idx is None:
            new = values.detach().to(torch.float64).clone()
        else:
            new[idx] = values.detach().to(torch.float64)
        self.sync()
        arr = np.ascontiguousarray(new.numpy())
        self._link.native.set_param(name, arr)
        self.cur = {**self.cur, name: arr}
        self.ver += 1
        self._link.params_ver = self.ver
        ov = self.overlays
        if values.requires_grad or name in ov:
            if idx is None or name not in ov:
                ov[name] = (cur, [])
            if idx is None:
                ov[name] = (cur, [(None, values)])
            else:
                # drop the earlier writes this one fully overwrites: a parameter set again every
                # episode from a fresh tensor must not keep (and backward into) the earlier graphs
                mask = _covered(cur.shape, idx)
                base, writes = ov[name]
                kept = [(i, v) for i, v in writes if bool((_covered(cur.shape, i) & ~mask).any())]
                ov[name] = (base, kept + [(idx, values)])
            if not any(v.requires_grad for _, v in ov[name][1]):
                del ov[name]
        self._assembled = None

    def grad_inputs(self):
        """(names, full (N, *shape) tensors) of the parameters that carry grad, assembled once per graph."""
        if not self.overlays:
            return (), ()
        key = (self._epoch, self.ver)
        if self._assembled is None or self._assembled[0] != key:
            names, tensors = [], []
            for name, (base, writes) in self.overlays.items():
                p = base.clone()
                for idx, vals in writes:
                    vals = vals.to(torch.float64)
                    if idx is None:
                        p = vals.expand_as(p).clone()
                    else:
                        p = p.clone()
                        p[idx] = vals
                names.append(name)
                tensors.append(p)
            self._assembled = (key, tuple(names), tuple(tensors))
        return self._assembled[1], self._assembled[2]

    def new_graph(self) -> None:
        """A new graph starts: the grad inputs are assembled afresh from the user's tensors."""
        self._epoch += 1
        self._assembled = None
