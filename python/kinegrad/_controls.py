"""The controls of a scene: the targets and modes in effect, and the ``control_dofs_*`` calls
not yet taken by a step, from which a segment's per-step controls are assembled.

``Controls.ctrl`` / ``Controls.mode`` (numpy, (N, nv)) hold the targets and modes in effect
after the last step run. Every ``control_dofs_*`` call is kept as a :class:`ControlWrite`; the
flush assembles the per-step modes and targets (N, T, nv) of the segment from the writes (a
value holds from its step until a later write of the same entries), as numpy arrays for the
native call and, when a value carries grad, as a graph tensor over the last step of
``Controls.src`` (the targets in effect at the segment's start). Only the graph of that tensor
matters: the reverse pass reads the target values from the numpy arrays it keeps with the tape.
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional

import numpy as np
import torch

from ._native import CONTROL_MODES
from ._errors import GenesisRuntimeError

#: the native codes of the control modes, and their names by code
CTRL_FORCE, CTRL_POSITION, CTRL_VELOCITY = (dict(CONTROL_MODES)[m] for m in ("force", "position", "velocity"))
CTRL_NAMES = tuple(name for name, _ in sorted(CONTROL_MODES, key=lambda m: m[1]))


class ControlWrite(NamedTuple):
    """One ``control_dofs_*`` call, kept until the steps it applies to run."""

    #: offset, in the pending steps, of the first step it applies to
    step: int
    #: control mode: CTRL_FORCE, CTRL_POSITION or CTRL_VELOCITY
    mode: int
    #: env rows (int64 tensor), or None: every env
    envs: Optional[torch.Tensor]
    #: global dof indices (int64 tensor)
    dofs: torch.Tensor
    #: the dofs as a slice when they are an entity's every dof, in order (a faster index), else None
    span: Optional[slice]
    #: the targets: (k,) for every env (``key[0] == 1``) or (n_sel, k) (``key[0] == 2``)
    values: torch.Tensor
    #: the version of a ``values`` tensor kept as given because it carries grad (checked at the
    #: flush: it must not change in place before its step runs), else None (``values`` is a copy)
    version: Optional[int]
    #: the entries written: writes with equal keys form a group
    key: tuple


# a ControlWrite from a tuple, without NamedTuple's keyword-parsing __new__ and _replace (writes
# are made every step of a control loop and moved at every flush)
make_write = tuple.__new__


def _moved(w: ControlWrite, step: int) -> ControlWrite:
    """``w`` applying from step offset ``step``."""
    return make_write(ControlWrite, (step,) + w[1:])


class Controls:
    """The controls of a built scene with ``n`` envs of ``nv`` dofs; ``grad``: whether the scene
    records gradients (targets that carry grad then become graph tensors)."""

    def __init__(self, n: int, nv: int, grad: bool):
        self.n, self.grad = n, grad
        self.mode = np.zeros((n, nv), dtype=np.int8)
        # every dof in one mode; shared, like every mode array here: never written in place
        self.uniform_mode = [np.full((n, nv), m, dtype=np.int8) for m in range(len(CTRL_NAMES))]
        self.ctrl = np.zeros((n, nv), dtype=np.float64)
        # graph tensor (N, T, nv), (T, nv) or (nv,) of the targets of the last steps run: the base of the
        # next segment is its last step (None when nothing upstream carries grad)
        self.src: Optional[torch.Tensor] = None
        self.writes: list = []  # ControlWrites, in order of their step offsets
        self.all_envs = torch.arange(n)

    def detach(self) -> None:
        """Controls keep their values but no longer carry gradients from before."""
        self.src = None
        self.writes = [make_write(ControlWrite, w[:5] + (w.values.detach().clone(), None, w.key)) for w in self.writes]

    def take(self, T: int) -> list:
        """The writes of the next ``T`` steps, removed; the later ones move up by T steps."""
        ws = self.writes
        if not ws or ws[-1].step < T:
            self.writes = []
            return ws
        self.writes = [_moved(w, w.step - T) for w in ws if w.step >= T]
        return [w for w in ws if w.step < T]

    def drop(self, T: int) -> None:
        """Forget the next ``T`` steps without running them: the controls they set stay in effect
        (the last write of each group of entries is kept for the next segment)."""
        last: Dict = {}
        rest = []
        for w in self.writes:
            if w.step < T:
                last.pop(w.key, None)  # re-inserted at the end: the order of the last writes
                last[w.key] = _moved(w, 0)
            else:
                rest.append(_moved(w, w.step - T))
        self.writes = list(last.values()) + rest

    def ran(self, mode: np.ndarray, ctrl: np.ndarray, U: Optional[torch.Tensor]) -> None:
        """Steps ran under ``mode`` (N, nv) or (N, T, nv), ``ctrl`` (N, T, nv) and the graph
        targets ``U`` (or None): their last step's controls are now in effect."""
        self.ctrl = np.ascontiguousarray(ctrl[:, -1])
        self.mode = np.ascontiguousarray(mode[:, -1] if mode.ndim == 3 else mode)
        if U is not None:
            self.src = U

    def _wix(self, w, ts=None):
        """Index of the entries of write ``w`` into an (N, nv) array, or with ``ts`` (a slice or
        an index array of steps) into an (N, T, nv) one."""
        envs, span = w.envs, w.span
        cols = span if span is not None else w.dofs.numpy()
        if envs is None and isinstance(cols, slice) and (ts is None or isinstance(ts, slice)):
            return (slice(None), cols) if ts is None else (slice(None), ts, cols)
        r = np.arange(self.n) if envs is None else envs.numpy()
        c = np.arange(cols.start, cols.stop) if isinstance(cols, slice) else cols
        if ts is None:
            return np.ix_(r, c)
        return np.ix_(r, np.arange(ts.start, ts.stop) if isinstance(ts, slice) else ts, c)

    def _sets_all(self, w) -> bool:
        """Whether write ``w`` sets every target of every env, in dof order."""
        span = w.span
        return w.envs is None and span is not None and span.stop - span.start == self.ctrl.shape[1]

    def _groups(self, cur: list) -> Optional[list]:
        """The writes grouped by key, or None when two groups share an entry (their order then
        matters step by step)."""
        k0 = cur[0].key
        if all(w.key is k0 or w.key == k0 for w in cur):
            return [cur]
        groups: Dict = {}
        for w in cur:
            groups.setdefault(w.key, []).append(w)
        seen = np.zeros(self.ctrl.shape, dtype=bool)
        for ws in groups.values():
            ix = self._wix(ws[0])
            if seen[ix].any():
                return None
            seen[ix] = True
        return list(groups.values())

    @staticmethod
    def _last_write(ws: list, T: int):
        """For the steps of a segment, the index in ``ws`` of the write in effect: (steps that
        have one, as a slice or an index array, and the write indices, None when write i is that
        of step i)."""
        if len(ws) == T and all(w.step == i for i, w in enumerate(ws)):
            return slice(0, T), None
        ks = np.array([w.step for w in ws])
        last = np.searchsorted(ks, np.arange(T), side="right") - 1
        tsel = np.nonzero(last >= 0)[0]
        return tsel, last[tsel]

    def _writes_graph(self, T: int, cur: list, t0: int) -> bool:
        """Whether the targets of a segment from the writes ``cur`` are a graph tensor: a write or
        the base carries grad, in a ``requires_grad`` scene. Raises if a tensor kept as given
        was changed in place since it was written."""
        src = self.src
        graph = src is not None and src.requires_grad
        for w in cur:
            if w.version is not None:  # a tensor carrying grad, kept as given
                if w.values._version != w.version:
                    raise GenesisRuntimeError(
                        f"control_dofs_{CTRL_NAMES[w.mode]} for step {t0 + w.step}: its tensor was changed in place "
                        "(it or the tensor it is a view of) before the step ran (steps run when a reading needs them); "
                        "give a copy, e.g. tensor.clone()"
                    )
                graph = True
            elif not graph and w.values.requires_grad:
                graph = True
        return graph and self.grad

    def segment_inputs(self, T: int, cur: list, t0: int):
        """(mode, ctrl, U) of T pending steps from their writes ``cur`` over the controls in
        effect before them: mode (N, nv) int8, or (N, T, nv) when a mode changes within the
        segment; ctrl (N, T, nv) float64; U the targets as a graph tensor (N, T, nv), or (T, nv)
        when every env has the same, when a write or the base carries grad, else None (only its
        graph matters: the values are ``ctrl``)."""
        if T > 1 and len(cur) == T and self._sets_all(cur[0]):
            fast = self._one_write_per_step(T, cur, t0)
            if fast is not None:
                return fast
        graph = self._writes_graph(T, cur, t0)
        base_mode, base_ctrl = self.mode, self.ctrl
        N, nv = base_ctrl.shape
        groups = self._groups(cur) if (cur and T > 1) else None
        if not cur:
            return base_mode, np.repeat(base_ctrl[:, None, :], T, axis=1), (self._graph_controls(T, [], None) if graph else None)
        if T == 1 and len(cur) == 1 and self._sets_all(cur[0]):  # a policy loop: one write, every dof
            w = cur[0]
            cc = np.empty((N, 1, nv))
            cc[:, 0] = w.values.detach().numpy()  # a copy: the segment keeps it for the backward
            v = w.values
            U = (v if v.dim() == 1 else v.unsqueeze(1)) if graph else None  # (nv,): see SegmentFunction
            return self.uniform_mode[w.mode], cc, U
        if T == 1:  # a loop that reads the state every step
            cm, cc = base_mode.copy(), base_ctrl.copy()
            for w in cur:
                ix = self._wix(w)
                cc[ix] = w.values.detach().numpy()
                cm[ix] = w.mode
            return cm, cc[:, None, :], (self._graph_controls(T, cur, None) if graph else None)
        if groups is None:  # replay the writes step by step (groups sharing entries)
            ctrl = np.empty((N, T, nv))
            steps_mode = np.empty((N, T, nv), dtype=np.int8)
            cm, cc = base_mode.copy(), base_ctrl.copy()
            j, changed = 0, False
            for t in range(T):
                while j < len(cur) and cur[j].step == t:
                    w = cur[j]
                    ix = self._wix(w)
                    cc[ix] = w.values.detach().numpy()
                    changed = changed or (t > 0 and bool((cm[ix] != w.mode).any()))
                    cm[ix] = w.mode
                    j += 1
                ctrl[:, t] = cc
                steps_mode[:, t] = cm
            mode = steps_mode if changed else cm
            return mode, ctrl, (self._graph_controls(T, cur, None) if graph else None)
        # each group on its own, vectorized over the steps
        ctrl = None
        mode2, per_step, graph_parts = base_mode.copy(), [], []
        for ws in groups:
            V = torch.stack([w.values for w in ws])  # (n_w, k) or (n_w, n_sel, k)
            ts, li = self._last_write(ws, T)
            Vn = V.detach().numpy()
            if li is None and len(groups) == 1 and Vn.ndim == 2 and self._sets_all(ws[0]):
                ctrl = Vn[None] if N == 1 else np.repeat(Vn[None], N, axis=0)  # every target of every step
            else:
                if ctrl is None:
                    ctrl = np.repeat(base_ctrl[:, None, :], T, axis=1)
                Vs = Vn if li is None else Vn[li]
                ctrl[self._wix(ws[0], ts)] = Vs[None] if Vs.ndim == 2 else Vs.transpose(1, 0, 2)
            m0 = ws[0].mode
            ix = self._wix(ws[0])
            if all(w.mode == m0 for w in ws) and (ws[0].step == 0 or bool((base_mode[ix] == m0).all())):
                mode2[ix] = m0  # the same mode at every step of the segment
            else:
                m = np.array([w.mode for w in ws], dtype=np.int8)
                per_step.append((self._wix(ws[0], ts), (m if li is None else m[li])[None, :, None]))
            if graph:
                graph_parts.append((ws[0], V, ts, li))
        mode = mode2
        if per_step:
            mode = np.repeat(mode2[:, None, :], T, axis=1)
            for ix3, m in per_step:
                mode[ix3] = m
        return mode, ctrl, (self._graph_controls(T, cur, graph_parts) if graph else None)

    def _one_write_per_step(self, T: int, cur: list, t0: int):
        """``segment_inputs`` for the open-loop pattern: write i at step i, each of the same
        entity's every dof in the same mode (``cur[0]`` sets every target of every env); None
        when the writes are not of that pattern. With a graph base, U is made even without grad
        in the writes, so that it replaces the base for the segments after this one."""
        k0, m0 = cur[0].key, cur[0].mode
        i = 0
        for w in cur:  # field reads only (the tensors are checked by _writes_graph)
            if w.step != i or w.mode != m0 or w.key is not k0:
                return None
            i += 1
        graph = self._writes_graph(T, cur, t0)
        N = self.ctrl.shape[0]
        V = torch.stack([w.values for w in cur])  # (T, nv): writes with the entity's own key hold (nv,) values
        Vn = V.detach().numpy()
        ctrl = Vn[None] if N == 1 else np.repeat(Vn[None], N, axis=0)
        return self.uniform_mode[m0], ctrl, (V if graph else None)  # (T, nv): the same for every env

    def _graph_controls(self, T: int, cur: list, parts: Optional[list]) -> torch.Tensor:
        """The per-step targets (N, T, nv) as a graph tensor over the base and the writes:
        from the vectorized ``parts`` (write, stacked values, steps, write indices) of disjoint
        groups, or else by replaying ``cur`` step by step."""
        N, nv = self.ctrl.shape

        def base() -> torch.Tensor:
            src = self.src  # (N, T, nv), (T, nv) the same controls for every env, or (nv,)
            if src is None:
                return torch.zeros(N, nv, dtype=torch.float64)
            return (src if src.dim() == 1 else src[..., -1, :]).expand(N, nv)

        if parts is not None:
            U = None
            for w, V, ts, li in parts:
                vals = V if li is None else V[torch.from_numpy(li)]
                vals = vals.unsqueeze(0) if vals.dim() == 2 else vals.transpose(0, 1)  # (1 or n_sel, n_t, k)
                if li is None and len(parts) == 1 and self._sets_all(w):
                    U = vals.expand(N, T, nv)  # one group setting every target of every step
                else:
                    if U is None:
                        U = base().unsqueeze(1).expand(N, T, nv)
                    steps = np.arange(ts.start, ts.stop) if isinstance(ts, slice) else ts
                    r, t, c = (torch.from_numpy(i) for i in self._wix(w, steps))
                    U = U.index_put((r, t, c), vals)
            return U if U is not None else base().unsqueeze(1).expand(N, T, nv)
        row, out, j = None, [], 0
        for t in range(T):
            while j < len(cur) and cur[j].step == t:
                w = cur[j]
                if self._sets_all(w):
                    row = w.values.expand(N, nv)
                else:
                    r, c = (self.all_envs if w.envs is None else w.envs), w.dofs
                    row = (base() if row is None else row).index_put((r[:, None], c[None, :]), w.values.expand(len(r), len(c)))
                j += 1
            if row is None:
                row = base()
            out.append(row)
        return out[0].unsqueeze(1) if T == 1 else torch.stack(out, dim=1)

    def current_ctrl(self) -> np.ndarray:
        """The control targets in effect now (after the writes not yet taken by a step), (N, nu)."""
        c = self.ctrl.copy()
        for w in self.writes:
            c[self._wix(w)] = w.values.detach().numpy()
        return c

    def current_mode(self) -> np.ndarray:
        """The control modes in effect now (after the writes not yet taken by a step)."""
        m = self.mode.copy()
        for w in self.writes:
            m[self._wix(w)] = w.mode
        return m
