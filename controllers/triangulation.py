"""Stereo geometry: projection, linear (DLT) triangulation and calibration checks.

Triangulation is the homogeneous linear method (Hartley & Zisserman, *Multiple View Geometry*,
2nd ed., Sec. 12.2): each view contributes two rows ``u p3 - p1``, ``v p3 - p2`` of ``A X = 0``;
the solution is the right singular vector of the smallest singular value. It is exact for
noise-free projections, which the tests check.

Projection matrices are ROS ``sensor_msgs/CameraInfo.P`` (3×4, row-major), so triangulated points
are in the frame of the first (left) camera's rectified optical frame. Shapes are batch-first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["StereoCalibration", "project", "triangulate", "reprojection_error"]


@dataclass(frozen=True, eq=False)
class StereoCalibration:
    """A rectified stereo pair from two ``camera_info`` messages, validated.

    ``P_left``/``P_right``: 3×4 projection matrices; ``width``/``height``: image size (px);
    ``frame_id``: frame of the triangulated points (the left camera's header frame).
    Raises ``ValueError`` naming the field when the pair is missing or inconsistent: non-finite
    or rank-deficient P, different image sizes or intrinsics, or no baseline.
    """

    P_left: np.ndarray
    P_right: np.ndarray
    width: int
    height: int
    frame_id: str = ""

    def __post_init__(self) -> None:
        for name in ("P_left", "P_right"):
            P = np.asarray(getattr(self, name), dtype=float)
            if P.size != 12:
                raise ValueError(f"camera_info {name}: expected 12 values (3x4), got {P.size}")
            P = P.reshape(3, 4)
            if not np.isfinite(P).all():
                raise ValueError(f"camera_info {name}: contains non-finite values")
            if np.linalg.matrix_rank(P[:, :3]) < 3:
                raise ValueError(f"camera_info {name}: left 3x3 block is singular (missing or zero calibration)")
            P = P.copy()
            P.setflags(write=False)
            object.__setattr__(self, name, P)
        if not (isinstance(self.width, int) and isinstance(self.height, int) and self.width > 0 and self.height > 0):
            raise ValueError(f"camera_info width/height: must be positive ints, got {self.width}x{self.height}")
        if not np.allclose(self.P_left[:, :3], self.P_right[:, :3], rtol=1e-6, atol=1e-9):
            raise ValueError("camera_info P: left and right intrinsics differ (pair is not rectified)")
        if abs(self.baseline_m) < 1e-6:
            raise ValueError("camera_info P_right: Tx is zero, so there is no stereo baseline")

    @classmethod
    def from_camera_info(cls, p_left: np.ndarray, size_left: tuple[int, int], p_right: np.ndarray,
                         size_right: tuple[int, int], frame_id: str = "") -> "StereoCalibration":
        """Build from two camera_info ``P`` arrays and ``(width, height)`` pairs, checking they agree."""
        if tuple(size_left) != tuple(size_right):
            raise ValueError(f"camera_info width/height: left {tuple(size_left)} != right {tuple(size_right)}")
        return cls(np.asarray(p_left, float), np.asarray(p_right, float), int(size_left[0]), int(size_left[1]), frame_id)

    @property
    def baseline_m(self) -> float:
        """Baseline B from ``P_right[0, 3] = -fx * B`` (m); positive for a right camera."""
        return float(-self.P_right[0, 3] / self.P_left[0, 0]) if math.isfinite(self.P_left[0, 0]) else 0.0


def project(P: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixel coordinates ``(N, 2)`` of 3D points ``(N, 3)`` through a 3×4 projection ``P``."""
    X = np.atleast_2d(np.asarray(points, dtype=float))
    x = X @ P[:, :3].T + P[:, 3]
    return x[:, :2] / x[:, 2:3]


def triangulate(P1: np.ndarray, P2: np.ndarray, uv1: np.ndarray, uv2: np.ndarray) -> np.ndarray:
    """Linear (DLT) triangulation of ``N`` correspondences ``uv1``, ``uv2`` ``(N, 2)`` -> ``(N, 3)``."""
    uv1 = np.atleast_2d(np.asarray(uv1, dtype=float))
    uv2 = np.atleast_2d(np.asarray(uv2, dtype=float))
    if uv1.shape != uv2.shape or uv1.shape[-1] != 2:
        raise ValueError(f"uv1 and uv2 must both have shape (N, 2), got {uv1.shape} and {uv2.shape}")
    A = np.empty((len(uv1), 4, 4))
    for k, (P, uv) in enumerate(((P1, uv1), (P2, uv2))):
        A[:, 2 * k] = uv[:, :1] * P[2] - P[0]
        A[:, 2 * k + 1] = uv[:, 1:2] * P[2] - P[1]
    # Normalise rows so the smallest singular vector is not dominated by pixel magnitudes.
    A /= np.linalg.norm(A, axis=2, keepdims=True)
    _, _, vt = np.linalg.svd(A)
    X = vt[:, -1]
    return X[:, :3] / X[:, 3:4]


def reprojection_error(P1: np.ndarray, P2: np.ndarray, uv1: np.ndarray, uv2: np.ndarray,
                       points: np.ndarray) -> np.ndarray:
    """Largest pixel distance ``(N,)`` between observed and reprojected points over both views."""
    e1 = np.linalg.norm(project(P1, points) - uv1, axis=1)
    e2 = np.linalg.norm(project(P2, points) - uv2, axis=1)
    return np.maximum(e1, e2)
