"""Rotation and transform helpers with the names and conventions of Genesis's
``genesis.utils.geom`` (``import kinegrad.utils.geom as gu``), for numpy arrays and torch
tensors alike (torch keeps gradients); quaternions are (w, x, y, z), batched over leading
dimensions.

Euler angles ``xyz`` = (roll, pitch, yaw): with ``rpy=True`` the rotation is
``Rz(yaw) Ry(pitch) Rx(roll)`` (extrinsic x, y, z), with ``rpy=False`` (Genesis's default)
``Rx(roll) Ry(pitch) Rz(yaw)`` (intrinsic x, y, z).
"""

from __future__ import annotations

import numpy as np
import torch

from .._errors import InvalidArgument


__all__ = [
    "quat_mul", "transform_quat_by_quat", "inv_quat", "transform_by_quat", "inv_transform_by_quat",
    "transform_by_trans_quat", "inv_transform_by_trans_quat", "transform_pos_quat_by_trans_quat",
    "inv_transform_pos_quat_by_trans_quat", "xyz_to_quat", "euler_to_quat", "quat_to_R", "R_to_quat",
    "quat_to_xyz", "axis_angle_to_quat", "quat_to_rotvec", "rotvec_to_quat", "trans_quat_to_T",
    "trans_to_T", "T_to_trans", "T_to_quat",
]


def _lib(*xs):
    if all(isinstance(x, torch.Tensor) for x in xs):
        return torch
    if all(isinstance(x, np.ndarray) for x in xs):
        return np
    raise InvalidArgument(f"expected all torch tensors or all numpy arrays, got {[type(x).__name__ for x in xs]}")


def _stack(lib, xs, axis=-1):
    return torch.stack(xs, dim=axis) if lib is torch else np.stack(xs, axis=axis)


def quat_mul(u, v):
    """The Hamilton product u v."""
    lib = _lib(u, v)
    uw, ux, uy, uz = (u[..., i] for i in range(4))
    vw, vx, vy, vz = (v[..., i] for i in range(4))
    return _stack(
        lib,
        [
            uw * vw - ux * vx - uy * vy - uz * vz,
            uw * vx + ux * vw + uy * vz - uz * vy,
            uw * vy - ux * vz + uy * vw + uz * vx,
            uw * vz + ux * vy - uy * vx + uz * vw,
        ],
    )


def transform_quat_by_quat(v, u):
    """``v`` turned by ``u``: the product u v (R_u R_v)."""
    return quat_mul(u, v)


def inv_quat(quat):
    """The inverse of a unit quaternion (its conjugate)."""
    lib = _lib(quat)
    return _stack(lib, [quat[..., 0], -quat[..., 1], -quat[..., 2], -quat[..., 3]])


def transform_by_quat(v, quat):
    """Vectors ``v`` (..., 3) rotated by ``quat``."""
    lib = _lib(v, quat)
    w, u = quat[..., :1], quat[..., 1:]
    if lib is torch:
        shape = torch.broadcast_shapes(u.shape, v.shape)
        u, v = u.expand(shape), v.expand(shape)
        cross = lambda a, b: torch.cross(a, b, dim=-1)  # noqa: E731
    else:
        cross = np.cross
    t = 2.0 * cross(u, v)
    return v + w * t + cross(u, t)


def inv_transform_by_quat(pos, quat):
    return transform_by_quat(pos, inv_quat(quat))


def transform_by_trans_quat(pos, trans, quat):
    return transform_by_quat(pos, quat) + trans


def inv_transform_by_trans_quat(pos, trans, quat):
    return inv_transform_by_quat(pos - trans, quat)


def transform_pos_quat_by_trans_quat(pos, quat, t_trans, t_quat):
    return t_trans + transform_by_quat(pos, t_quat), quat_mul(t_quat, quat)


def inv_transform_pos_quat_by_trans_quat(pos, quat, t_trans, t_quat):
    inv = inv_quat(t_quat)
    return transform_by_quat(pos - t_trans, inv), quat_mul(inv, quat)


def xyz_to_quat(xyz, rpy=False, degrees=False):
    """Quaternions of Euler angles (..., 3) (see the module docstring for the conventions)."""
    lib = _lib(xyz)
    if degrees:
        xyz = xyz * (np.pi / 180.0)
    h = 0.5 * xyz
    cr, sr = lib.cos(h[..., 0]), lib.sin(h[..., 0])
    cp, sp = lib.cos(h[..., 1]), lib.sin(h[..., 1])
    cy, sy = lib.cos(h[..., 2]), lib.sin(h[..., 2])
    s = 1.0 if rpy else -1.0
    return _stack(
        lib,
        [
            cr * cp * cy + s * sr * sp * sy,
            sr * cp * cy - s * cr * sp * sy,
            cr * sp * cy + s * sr * cp * sy,
            cr * cp * sy - s * sr * sp * cy,
        ],
    )


def euler_to_quat(euler_xyz):
    """Genesis's ``euler_to_quat``: extrinsic x-y-z angles in degrees (``rpy=True``)."""
    return xyz_to_quat(np.asarray(euler_xyz, dtype=np.float64), rpy=True, degrees=True)


def quat_to_R(quat):
    """Rotation matrices (..., 3, 3) of quaternions (normalized first)."""
    lib = _lib(quat)
    n = (quat * quat).sum(-1) if lib is torch else np.sum(quat * quat, axis=-1)
    s = 2.0 / n
    w, x, y, z = (quat[..., i] for i in range(4))
    rows = [
        [1 - s * (y * y + z * z), s * (x * y - w * z), s * (x * z + w * y)],
        [s * (x * y + w * z), 1 - s * (x * x + z * z), s * (y * z - w * x)],
        [s * (x * z - w * y), s * (y * z + w * x), 1 - s * (x * x + y * y)],
    ]
    return _stack(lib, [_stack(lib, r) for r in rows], axis=-2)


def R_to_quat(R):
    """Quaternions (w >= 0) of rotation matrices (..., 3, 3)."""
    lib = _lib(R)
    Rn = R.detach().cpu().numpy() if lib is torch else np.asarray(R)
    flat = Rn.reshape(-1, 3, 3)
    out = np.empty((len(flat), 4))
    for i, m in enumerate(flat):
        tr = m[0, 0] + m[1, 1] + m[2, 2]
        if tr > 0:
            w = np.sqrt(1.0 + tr) / 2
            q = [w, (m[2, 1] - m[1, 2]) / (4 * w), (m[0, 2] - m[2, 0]) / (4 * w), (m[1, 0] - m[0, 1]) / (4 * w)]
        else:
            k = int(np.argmax([m[0, 0], m[1, 1], m[2, 2]]))
            a, b = (k + 1) % 3, (k + 2) % 3
            r = np.sqrt(1.0 + m[k, k] - m[a, a] - m[b, b])
            q = [0.0] * 4
            q[1 + k] = r / 2
            q[1 + a] = (m[a, k] + m[k, a]) / (2 * r)
            q[1 + b] = (m[b, k] + m[k, b]) / (2 * r)
            q[0] = (m[b, a] - m[a, b]) / (2 * r)
        q = np.asarray(q)
        out[i] = q if q[0] >= 0 else -q
    out = out.reshape(Rn.shape[:-2] + (4,))
    return torch.as_tensor(out, dtype=R.dtype) if lib is torch else out


def quat_to_xyz(quat, rpy=False, degrees=False):
    """Euler angles (roll in [-pi, pi], pitch in [-pi/2, pi/2], yaw in [-pi, pi]) of quaternions."""
    lib = _lib(quat)
    R = quat_to_R(quat)
    clip = (lambda a: torch.clamp(a, -1.0, 1.0)) if lib is torch else (lambda a: np.clip(a, -1.0, 1.0))
    atan2 = torch.atan2 if lib is torch else np.arctan2
    asin = torch.asin if lib is torch else np.arcsin
    if rpy:  # R = Rz Ry Rx
        out = _stack(lib, [atan2(R[..., 2, 1], R[..., 2, 2]), asin(clip(-R[..., 2, 0])), atan2(R[..., 1, 0], R[..., 0, 0])])
    else:  # R = Rx Ry Rz
        out = _stack(lib, [atan2(-R[..., 1, 2], R[..., 2, 2]), asin(clip(R[..., 0, 2])), atan2(-R[..., 0, 1], R[..., 0, 0])])
    return out * (180.0 / np.pi) if degrees else out


def axis_angle_to_quat(angle, axis):
    lib = _lib(angle, axis)
    norm = (axis * axis).sum(-1, keepdim=True) ** 0.5 if lib is torch else np.linalg.norm(axis, axis=-1, keepdims=True)
    h = 0.5 * angle
    s = (lib.sin(h))[..., None]
    w = (lib.cos(h))[..., None]
    return torch.cat([w, axis / norm * s], dim=-1) if lib is torch else np.concatenate([w, axis / norm * s], axis=-1)


def trans_quat_to_T(trans=None, quat=None):
    """4x4 homogeneous transforms from translations (..., 3) and/or quaternions (..., 4)."""
    ref = trans if trans is not None else quat
    lib = _lib(ref)
    batch = ref.shape[:-1]
    if lib is torch:
        T = torch.eye(4, dtype=ref.dtype).expand(*batch, 4, 4).clone()
    else:
        T = np.broadcast_to(np.eye(4), (*batch, 4, 4)).copy()
    if quat is not None:
        T[..., :3, :3] = quat_to_R(quat)
    if trans is not None:
        T[..., :3, 3] = trans
    return T


def trans_to_T(trans):
    return trans_quat_to_T(trans, None)


def T_to_trans(T):
    return T[..., :3, 3]


def T_to_quat(T):
    return R_to_quat(T[..., :3, :3])


def quat_to_rotvec(quat):
    """Rotation vectors (axis times angle in [0, pi]) of quaternions (..., 4)."""
    lib = _lib(quat)
    w, v = quat[..., :1], quat[..., 1:]
    sign = lib.where(w < 0, -1.0, 1.0) if lib is torch else np.where(w < 0, -1.0, 1.0)
    w, v = w * sign, v * sign
    n = (v * v).sum(-1, keepdim=True) ** 0.5 if lib is torch else np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * (torch.atan2(n, w) if lib is torch else np.arctan2(n, w))
    # angle / sin(angle / 2), 2 near zero
    small = n < 1e-12
    scale = lib.where(small, 2.0 + 0 * n, angle / lib.where(small, 1.0 + 0 * n, n))
    return v * scale


def rotvec_to_quat(rotvec):
    """Quaternions (..., 4) of rotation vectors (..., 3)."""
    lib = _lib(rotvec)
    n = (rotvec * rotvec).sum(-1, keepdim=True) ** 0.5 if lib is torch else np.linalg.norm(rotvec, axis=-1, keepdims=True)
    h = 0.5 * n
    small = n < 1e-12
    s = lib.where(small, 0.5 + 0 * n, lib.sin(h) / lib.where(small, 1.0 + 0 * n, n))
    w = lib.cos(h)
    return torch.cat([w, rotvec * s], dim=-1) if lib is torch else np.concatenate([w, rotvec * s], axis=-1)
