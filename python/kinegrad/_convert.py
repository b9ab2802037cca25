"""Checking and converting user inputs (tensors, arrays, lists, scalars) and index arguments."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from ._errors import InvalidArgument


def check_dense(value, name: str) -> None:
    """ValueError naming ``name`` if ``value`` is None or a tensor without plain dense data
    (meta, sparse, nested or quantized), which the numeric conversions cannot read."""
    if value is None:
        raise InvalidArgument(f"{name}: expected numbers (tensor, array, list or scalar), got None")
    if isinstance(value, torch.Tensor) and (value.layout is not torch.strided or value.is_nested or value.is_quantized or value.is_meta):
        kind = "meta" if value.is_meta else "nested" if value.is_nested else "quantized" if value.is_quantized else str(value.layout).replace("torch.", "")
        raise InvalidArgument(f"{name}: expected a dense tensor of numbers, got a {kind} tensor (convert it first, e.g. with .to_dense())")


def as_f64(value, name: str) -> torch.Tensor:
    """A float64 tensor of ``value``; ValueError naming ``name`` if it is not real numbers
    (booleans and complex numbers are refused rather than silently converted) or not finite."""
    check_dense(value, name)
    dtype = value.dtype if isinstance(value, (torch.Tensor, np.ndarray)) else None
    if dtype is not None and (dtype in (torch.bool, np.bool_) or (dtype.is_complex if isinstance(dtype, torch.dtype) else np.issubdtype(dtype, np.complexfloating))):
        raise InvalidArgument(f"{name}: expected real numbers, got dtype {dtype}")
    try:
        if isinstance(value, torch.Tensor):
            t = value.to(dtype=torch.float64, device="cpu")
        else:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError, RuntimeError) as e:
        raise InvalidArgument(f"{name}: expected numbers (tensor, array, list or scalar), got {type(value).__name__}: {e}") from None
    if not bool(torch.isfinite(t).all()):
        raise InvalidArgument(f"{name}: contains NaN or inf")
    return t


def indices(value, name: str, size: int, what: str, unique: bool = False) -> torch.Tensor:
    """Validated int64 indices in [0, size) from None (all), an int, a ``slice`` (of range(size),
    as Genesis takes them), or a sequence/array/tensor of ints.

    ``unique``: the indices say where a write goes, so each may appear once. A repeated index
    would make the write ambiguous (only one of its values could land) and the gradient of the
    values that did not land wrong (autograd credits every one of them), so it is refused."""
    if value is None:
        return torch.arange(size, dtype=torch.int64)
    if isinstance(value, slice):
        return torch.arange(size, dtype=torch.int64)[value]
    if isinstance(value, torch.Tensor):
        arr = value.detach().cpu().numpy()
    else:
        arr = np.asarray(value)
    if arr.dtype == bool:
        raise InvalidArgument(f"{name}: expected integer indices, got booleans")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0):
            arr = arr.astype(np.int64)
        else:
            raise InvalidArgument(f"{name}: expected integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64).reshape(-1)
    bad = arr[(arr < 0) | (arr >= size)]
    if bad.size:
        raise InvalidArgument(f"{name}: index {int(bad[0])} out of range for {size} {what}")
    if unique and arr.size > 1 and len(set(arr.tolist())) < arr.size:  # (a set: cheaper than np.unique on a few entries)
        seen, counts = np.unique(arr, return_counts=True)
        raise InvalidArgument(
            f"{name}: index {int(seen[counts > 1][0])} appears {int(counts[counts > 1][0])} times; a write takes each of "
            f"the {what} at most once (with a repeated index only one value could be written, and the gradient of the "
            "others would be wrong)"
        )
    return torch.from_numpy(arr.copy())


def rows(value, name: str, k: int, n_sel: int, batched: bool, allow_scalar: bool = False) -> torch.Tensor:
    """``value`` as an (n_sel, k) float64 tensor.

    Accepted shapes: (k,) (broadcast to every selected env), and, in a batched
    scene, (n_sel, k). A scalar is accepted when ``allow_scalar``.
    """
    t = as_f64(value, name)
    if allow_scalar and t.dim() == 0:
        return t.expand(n_sel, k).clone()
    if t.dim() == 1 and t.shape[0] == k:
        return t.unsqueeze(0).expand(n_sel, k).clone()
    if batched and t.dim() == 2 and tuple(t.shape) == (n_sel, k):
        return t.clone()
    expected = f"({k},)" + (f" or ({n_sel}, {k})" if batched else "")
    raise InvalidArgument(f"{name}: expected shape {expected}, got {tuple(t.shape)}")


def env_rows(value, name: str, shape: Sequence[int], n_sel: int, batched: bool) -> torch.Tensor:
    """``value`` of per-env shape ``shape`` as (n_sel, *shape); unbatched values broadcast."""
    t = as_f64(value, name)
    shape = tuple(shape)
    if tuple(t.shape) == shape:
        return t.unsqueeze(0).expand(n_sel, *shape).clone()
    if batched and tuple(t.shape) == (n_sel, *shape):
        return t.clone()
    expected = f"{shape}" + (f" or {(n_sel, *shape)}" if batched else "")
    raise InvalidArgument(f"{name}: expected shape {expected}, got {tuple(t.shape)}")


def quat_to_xyz(q: torch.Tensor) -> torch.Tensor:
    """Extrinsic x-y-z Euler angles (rad) of quaternions (..., 4) in (w, x, y, z)."""
    w, x, y, z = q.unbind(-1)
    roll = torch.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = torch.asin(torch.clamp(2 * (w * y - z * x), -1.0, 1.0))
    yaw = torch.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return torch.stack([roll, pitch, yaw], dim=-1)


def xyz_to_quat(e: torch.Tensor) -> torch.Tensor:
    """Quaternions (w, x, y, z) of extrinsic x-y-z Euler angles (..., 3) in rad (R = Rz Ry Rx)."""
    h = e / 2
    cx, cy, cz = torch.cos(h).unbind(-1)
    sx, sy, sz = torch.sin(h).unbind(-1)
    return torch.stack(
        [
            cz * cy * cx + sz * sy * sx,
            cz * cy * sx - sz * sy * cx,
            cz * sy * cx + sz * cy * sx,
            sz * cy * cx - cz * sy * sx,
        ],
        dim=-1,
    )


def maybe_index(t: torch.Tensor, idx: Optional[torch.Tensor]) -> torch.Tensor:
    return t if idx is None else t[idx]


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton products a b of quaternions (..., 4) in (w, x, y, z)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def quat_rotate(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Vectors v (..., 3) rotated by the unit quaternions q (..., 4) in (w, x, y, z)."""
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * torch.cross(u, v.expand_as(u), dim=-1)
    return v + w * t + torch.cross(u, t, dim=-1)
