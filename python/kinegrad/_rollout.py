"""``scene.rollout``: T steps as one native call and, when something carries grad, one autograd
node (:class:`kinegrad._autograd.RolloutFunction`); then the scene's state is the rollout's last.

After a rollout of an unbatched scene the state is held as the (nq,), (nv,) tensors the rollout
returned (the caller's), batched when first needed; the scene watches their versions so that an
in-place change of them is reported rather than silently desynchronizing (see
``_state._check_rollout_state``).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from . import _autograd, _globals
from ._convert import check_dense
from .tensor import wrap as _wrap
from ._errors import InvalidArgument


def rollout(scene, controls, checkpoint: Optional[int], trajectory: bool):
    """The body of :meth:`kinegrad.Scene.rollout` (see its docstring)."""
    if scene._native is None:
        scene._require_built("rollout")
    if type(controls) is torch.Tensor and controls.dtype is torch.float64 and controls.is_cpu and controls.layout is torch.strided:
        U = controls
    else:
        scene._check_owner(controls, "controls")
        check_dense(controls, "controls")
        U = controls if isinstance(controls, torch.Tensor) else torch.as_tensor(np.asarray(controls, dtype=np.float64))
        U = U.to(device="cpu", dtype=torch.float64)
    N, nv = scene._ctl.mode.shape
    shape = U.shape
    if len(shape) == 2 and shape[1] == nv and shape[0] >= 1:
        pass  # the same controls for every env
    elif not (scene._batched and len(shape) == 3 and shape[0] == N and shape[2] == nv and shape[1] >= 1):
        expected = f"(T, {nv})" + (f" or ({N}, T, {nv})" if scene._batched else "")
        raise InvalidArgument(f"controls: expected shape {expected} with T >= 1, got {tuple(shape)}")
    if checkpoint is not None and (int(checkpoint) != checkpoint or checkpoint < 1):
        raise InvalidArgument(f"checkpoint: expected an integer >= 1 or None, got {checkpoint!r}")
    scene._flush()
    # a state written since the last native call goes with the rollout call itself
    start = None if scene._st.synced else scene._st.start_np(_autograd._np)
    scene._push_act()  # activations written since the last native call
    if not scene._params.synced():
        scene._params.sync()
    grad = scene._grad and torch.is_grad_enabled()
    names, params = scene._params.grad_inputs() if grad else ((), ())
    Un = U.detach().numpy()
    if Un.ndim == 2:
        Un = Un[None] if N == 1 else np.broadcast_to(Un, (N,) + Un.shape)
    ctl = scene._ctl
    mode = ctl.current_mode() if ctl.writes else ctl.mode
    t0, T = scene.t, Un.shape[1]
    try:
        q0, v0, a0 = scene._st.q, scene._st.v, scene._st.a
        if grad and (U.requires_grad or names or q0.requires_grad or v0.requires_grad or (a0 is not None and a0.requires_grad)):
            ck = None if checkpoint is None else int(checkpoint)
            unbatched = a0 is None and not scene._batched and _globals.tc_float is torch.float64
            run = (scene, t0, mode, ck, bool(trajectory), Un, start, names, unbatched)
            if a0 is None:
                Q, V = _autograd.RolloutFunction.apply(run, q0, v0, U, *params)
            else:  # the activations are an input and an output of the node
                Q, V, scene._st.a = _autograd.RolloutActFunction.apply(run, q0, v0, a0, U, *params)
        else:  # nothing to differentiate: no node, no tape
            Q, V = (torch.from_numpy(a) for a in _autograd.rollout_native(scene, t0, mode, Un, bool(trajectory), False, 1, start)[:2])
            unbatched = False
            if a0 is not None:
                scene._st.a = torch.from_numpy(scene._native.get_act())
    except ValueError:
        if start is not None:
            _autograd.check_inputs(t0, [("qpos", scene._st.q), ("dofs_vel", scene._st.v)])  # names a NaN entry
        bad = np.argwhere(~np.isfinite(Un))
        if not len(bad):
            raise
        e, k, d = (int(i) for i in bad[0])
        raise InvalidArgument(f"scene.rollout: controls contain NaN or inf at step {t0 + k} (rollout index {k}, env {e}, dof {d})") from None
    if trajectory:
        tq, tv = (Q[-1], V[-1]) if unbatched else (Q[:, -1], V[:, -1])
    else:
        tq, tv = Q, V
    # the outputs are the caller's tensors (gs.Tensors when unbatched); the state is their last step
    scene._st.ran(tq, tv, unbatched=unbatched, watch=True)
    ctl.mode, ctl.ctrl, ctl.src, ctl.writes = mode, Un[:, -1].copy(), (U if scene._grad else None), []
    scene._version += 1
    scene._st.time += scene.dt * T
    scene.t = t0 + T
    if unbatched:
        return Q, V
    if Q.dtype is not _globals.tc_float:
        Q, V = Q.to(_globals.tc_float), V.to(_globals.tc_float)
    if not scene._batched:
        Q, V = Q[0], V[0]
    if scene._grad:
        Q, V = _wrap(Q, scene), _wrap(V, scene)
    return Q, V
