"""Stereo camera: rendered geometry agrees with the published calibration."""

from __future__ import annotations

import numpy as np
import pybullet
import pytest
from pybullet_utils.bullet_client import BulletClient

from anima.sim_bridge.stereo_camera import StereoCamera, StereoCameraConfig, look_at_rotation

pytestmark = pytest.mark.sim


@pytest.fixture
def client():
    c = BulletClient(connection_mode=pybullet.DIRECT)
    yield c
    c.disconnect()


def _sphere(c: BulletClient, pos, radius=0.02, rgba=(1, 0, 0, 1)) -> int:
    vis = c.createVisualShape(pybullet.GEOM_SPHERE, radius=radius, rgbaColor=list(rgba))
    return c.createMultiBody(0.0, -1, vis, list(pos))


def test_calibration_matrices_by_hand(client) -> None:
    cfg = StereoCameraConfig(width_px=280, height_px=180, fx_px=300.0, fy_px=300.0, baseline_m=0.08)
    # Principal point at the image centre in the pixel-centre convention: ((280-1)/2, (180-1)/2).
    np.testing.assert_allclose(cfg.K, [[300, 0, 139.5], [0, 300, 89.5], [0, 0, 1]])
    P_l, P_r = StereoCamera(client, cfg).projection_matrices()
    assert P_l[0, 3] == 0.0 and P_r[0, 3] == pytest.approx(-300 * 0.08)  # Tx = -fx B (REP 104)


def test_look_at_rotation_straight_down() -> None:
    # Looking down (-z) with image "up" = +y: optical z = (0,0,-1), x = z × up = (1,0,0), y = (0,-1,0).
    R = look_at_rotation(np.array([0, 0, 1.0]), np.zeros(3), np.array([0, 1.0, 0]))
    np.testing.assert_allclose(R, [[1, 0, 0], [0, -1, 0], [0, 0, -1]], atol=1e-12)


def test_rendered_sphere_centre_matches_projection(client) -> None:
    cfg = StereoCameraConfig(position_m=(0.0, 0.0, 0.5), look_at_m=(0.0, 0.0, 0.0), up_vector=(0, 1, 0))
    cam = StereoCamera(client, cfg)
    centre = np.array([0.03, -0.02, 0.2])
    _sphere(client, centre)
    frame = cam.render()
    assert frame.left.shape == (180, 280, 3) and frame.left.dtype == np.uint8
    uv_l, uv_r = cam.project_world(centre[None])
    # Depth 0.3 m: disparity = f B / Z = 300 * 0.08 / 0.3 = 80 px, same row.
    assert uv_l[0, 0] - uv_r[0, 0] == pytest.approx(80.0)
    assert uv_l[0, 1] == pytest.approx(uv_r[0, 1])
    for img, uv in ((frame.left, uv_l[0]), (frame.right, uv_r[0])):
        red = (img[:, :, 0] > 150) & (img[:, :, 1] < 80)
        rows, cols = np.nonzero(red)
        # Centroid of the silhouette = projected centre within 0.5 px. Off the optical axis the
        # silhouette is an ellipse whose centroid moves outward by ~ (r/Z)^2 * offset: here at most
        # (0.02/0.3)^2 * 0.05 m * 300 px/0.3 m ~ 0.2 px, plus pixel quantisation. A half-pixel
        # convention error would show as exactly 0.5 px on every sphere.
        assert abs(cols.mean() - uv[0]) < 0.5 and abs(rows.mean() - uv[1]) < 0.5
        # Radius of the silhouette ~ f r / Z = 300 * 0.02 / 0.3 = 20 px.
        assert np.sqrt(red.sum() / np.pi) == pytest.approx(20.0, abs=1.0)


def test_noise_and_pose_offset_change_images(client) -> None:
    cfg = StereoCameraConfig(position_m=(0.0, 0.0, 0.5), look_at_m=(0.0, 0.0, 0.0), noise_std=3.0)
    cam = StereoCamera(client, cfg)
    _sphere(client, (0.0, 0.0, 0.2))
    clean = cam.render()
    noisy = cam.render(rng=np.random.default_rng(0))
    assert np.abs(noisy.left.astype(int) - clean.left.astype(int)).mean() > 1.0
    cam.set_pose_offset(np.array([0.01, 0.0, 0.0]), np.zeros(3))
    moved = cam.render()
    assert not np.array_equal(moved.left, clean.left)


def test_bad_config_names_the_field() -> None:
    with pytest.raises(ValueError, match="width_px"):
        StereoCameraConfig(width_px=0)
    with pytest.raises(ValueError, match="up_vector"):
        StereoCameraConfig(position_m=(0, 0, 1), look_at_m=(0, 0, 0), up_vector=(0, 0, 1))
    with pytest.raises(ValueError, match="far_m"):
        StereoCameraConfig(near_m=1.0, far_m=0.5)
