"""Stereo geometry: exact triangulation of synthetic projections and calibration checks."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.triangulation import StereoCalibration, project, reprojection_error, triangulate

# Rectified pair: fx = fy = 300 px, principal point (139.5, 89.5), baseline 0.08 m.
K = np.array([[300.0, 0.0, 139.5], [0.0, 300.0, 89.5], [0.0, 0.0, 1.0]])
P_L = K @ np.hstack([np.eye(3), np.zeros((3, 1))])
P_R = K @ np.hstack([np.eye(3), np.array([[-0.08], [0.0], [0.0]])])


def test_projection_by_hand() -> None:
    # X = (0.03, -0.015, 0.3): u_L = 139.5 + 300 * 0.03 / 0.3 = 169.5, v = 89.5 - 300 * 0.05 = 74.5;
    # right camera sees x - 0.08 = -0.05: u_R = 139.5 - 300 * 0.05 / 0.3 = 89.5 (disparity f B / Z = 80).
    X = np.array([[0.03, -0.015, 0.3]])
    np.testing.assert_allclose(project(P_L, X), [[169.5, 74.5]])
    np.testing.assert_allclose(project(P_R, X), [[89.5, 74.5]])


def test_triangulation_is_exact_on_noise_free_projections() -> None:
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.uniform(-0.1, 0.1, 50), rng.uniform(-0.08, 0.08, 50), rng.uniform(0.2, 0.5, 50)])
    X_hat = triangulate(P_L, P_R, project(P_L, X), project(P_R, X))
    np.testing.assert_allclose(X_hat, X, atol=1e-9)
    assert reprojection_error(P_L, P_R, project(P_L, X), project(P_R, X), X_hat).max() < 1e-6


def test_depth_from_disparity() -> None:
    # Z = f B / d: a 60 px disparity at f = 300 px, B = 0.08 m is Z = 0.4 m.
    X = triangulate(P_L, P_R, np.array([[139.5, 89.5]]), np.array([[79.5, 89.5]]))
    np.testing.assert_allclose(X, [[0.0, 0.0, 0.4]], atol=1e-12)


def test_calibration_baseline_and_errors() -> None:
    cal = StereoCalibration.from_camera_info(P_L.ravel(), (280, 180), P_R.ravel(), (280, 180), "left")
    assert cal.baseline_m == pytest.approx(0.08)
    with pytest.raises(ValueError, match="width/height"):
        StereoCalibration.from_camera_info(P_L, (280, 180), P_R, (320, 240))
    with pytest.raises(ValueError, match="singular"):
        StereoCalibration(np.zeros((3, 4)), P_R, 280, 180)
    with pytest.raises(ValueError, match="no stereo baseline"):
        StereoCalibration(P_L, P_L, 280, 180)
    with pytest.raises(ValueError, match="intrinsics differ"):
        StereoCalibration(P_L, P_R * np.array([[1.1], [1.0], [1.0]]), 280, 180)
    with pytest.raises(ValueError, match="12 values"):
        StereoCalibration(P_L[:2], P_R, 280, 180)
