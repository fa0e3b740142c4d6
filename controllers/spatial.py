"""Spatial math shared by the cores: cross products and ``xyzw`` quaternions (PyBullet and ROS order).

The one home of quaternion math in the cores. Single transforms convert with transforms3d
(:func:`quat_to_matrix`, :func:`anima.controllers.urdf.rpy_to_matrix`), batches with
``scipy.spatial.transform.Rotation``. The hot-path helpers here broadcast over leading axes; for
single vectors they compute with Python floats, which is several times faster than numpy or
either library on 3- and 4-element arrays (the 500 Hz control and estimation paths call these
thousands of times per second).
"""

from __future__ import annotations

import math

import numpy as np
import transforms3d

__all__ = ["cross", "quat_conjugate", "quat_from_rotvec", "quat_multiply", "quat_rotate", "quat_rotate_inverse",
           "quat_to_matrix"]


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` of ``xyzw`` quaternions, shapes ``(..., 4)``."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    single = a.ndim == 1 and b.ndim == 1
    # one quaternion each: Python floats are ~10x faster than 0-d numpy arithmetic
    ax, ay, az, aw = a.tolist() if single else (a[..., 0], a[..., 1], a[..., 2], a[..., 3])
    bx, by, bz, bw = b.tolist() if single else (b[..., 0], b[..., 1], b[..., 2], b[..., 3])
    out = [
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ]
    return np.array(out) if single else np.stack(out, axis=-1)


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    """Inverse of a unit ``xyzw`` quaternion, shape ``(..., 4)``."""
    q = np.asarray(q, dtype=float)
    return np.concatenate([-q[..., :3], q[..., 3:]], axis=-1)


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis, shapes ``(..., 3)`` (np.cross is slow on small arrays)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    single = a.ndim == 1 and b.ndim == 1
    ax, ay, az = a.tolist() if single else (a[..., 0], a[..., 1], a[..., 2])
    bx, by, bz = b.tolist() if single else (b[..., 0], b[..., 1], b[..., 2])
    out = [ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx]
    return np.array(out) if single else np.stack(out, axis=-1)


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)``: ``R(q) v``."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    u, w = q[..., :3], q[..., 3:]
    t = 2.0 * cross(u, v)
    return v + w * t + cross(u, t)


def quat_rotate_inverse(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v (..., 3)`` by the inverse of ``q (..., 4)``: ``R(q)ᵀ v``."""
    return quat_rotate(quat_conjugate(q), v)


def quat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """Unit ``xyzw`` quaternion of a rotation vector (axis × angle in rad), ``(..., 3) -> (..., 4)``."""
    rotvec = np.asarray(rotvec, dtype=float)
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(θ/2)/θ -> 1/2 as θ -> 0 (first two Taylor terms keep full precision for tiny angles)
    small = angle < 1e-8
    scale = np.where(small, 0.5 - angle**2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([rotvec * scale, np.cos(half)], axis=-1)


def quat_to_matrix(q_xyzw) -> np.ndarray:
    """One ``xyzw`` quaternion (normalised here) -> 3x3 rotation matrix (transforms3d, which orders ``wxyz``)."""
    x, y, z, w = (float(v) for v in q_xyzw)
    if not math.isfinite(x + y + z + w) or x * x + y * y + z * z + w * w < 1e-18:
        raise ValueError(f"quaternion must be finite and non-zero, got {[x, y, z, w]}")
    return transforms3d.quaternions.quat2mat((w, x, y, z))
