"""A fixed third-person RGB camera rendered with PyBullet's TINY_RENDERER, with ROS calibration.

The camera of the Sawyer scenes: SOLAR learns from 64×64 images (Zhang, Vikram et al., ICML 2019,
Sec. 6), VICE-RAQ from 48×48 (Singh et al., RSS 2019, Sec. VI; FACTS.md "SOLAR", "VICE-RAQ").
The field of view is given in degrees, so the same view renders at any resolution; the pinhole
intrinsics follow: ``fx = fy = (W / 2) / tan(fov / 2)``, principal point at the image centre
(ROS pixel-centre convention, as :mod:`anima.sim_bridge.stereo_camera`, whose GL view matrix and
projection layout this module reuses), ``P = K [I | 0]``.

Domain randomization: a pose offset (the camera knocked out of its calibrated pose; the published
calibration stays nominal) and random lighting. TINY_RENDERER is fast only with primitive shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from anima.sim_bridge.stereo_camera import StereoCamera, _vec3, gl_projection, look_at_rotation, random_light

__all__ = ["RgbCamera", "RgbCameraConfig"]


@dataclass(frozen=True)
class RgbCameraConfig:
    """Pose, field of view and image size of the camera (m, degrees, pixels).

    ``position_m`` is the optical centre, looking at ``look_at_m`` with image "up" closest to
    ``up_vector``. ``noise_std``: additive Gaussian pixel noise (0..255 scale).
    """

    width_px: int = 64
    height_px: int = 64
    horizontal_fov_deg: float = 50.0
    position_m: tuple[float, float, float] = (1.35, 0.45, 0.75)
    look_at_m: tuple[float, float, float] = (0.6, 0.0, 0.12)
    up_vector: tuple[float, float, float] = (0.0, 0.0, 1.0)
    near_m: float = 0.05
    far_m: float = 4.0
    noise_std: float = 0.0
    frame_id: str = "scene_camera_optical_frame"

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key in ("width_px", "height_px"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or not 8 <= v <= 4096:
                raise ValueError(f"{name}.{key} must be an int in 8..4096, got {v!r}")
        if not (isinstance(self.horizontal_fov_deg, (int, float)) and 1.0 <= self.horizontal_fov_deg <= 170.0):
            raise ValueError(f"{name}.horizontal_fov_deg must be in [1, 170], got {self.horizontal_fov_deg!r}")
        for key in ("near_m", "far_m"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}.{key} must be a finite number > 0, got {v!r}")
        if self.far_m <= self.near_m:
            raise ValueError(f"{name}.far_m must exceed near_m, got near {self.near_m}, far {self.far_m}")
        if not (isinstance(self.noise_std, (int, float)) and math.isfinite(self.noise_std) and self.noise_std >= 0):
            raise ValueError(f"{name}.noise_std must be finite and >= 0, got {self.noise_std!r}")
        for key in ("position_m", "look_at_m", "up_vector"):
            object.__setattr__(self, key, _vec3(name, key, getattr(self, key)))
        fwd = np.subtract(self.look_at_m, self.position_m)
        if np.linalg.norm(fwd) < 1e-6:
            raise ValueError(f"{name}.look_at_m must differ from position_m")
        if np.linalg.norm(np.cross(fwd, self.up_vector)) < 1e-6 * np.linalg.norm(fwd):
            raise ValueError(f"{name}.up_vector must not be parallel to the viewing direction")

    @property
    def fx_px(self) -> float:
        return (self.width_px / 2.0) / math.tan(math.radians(self.horizontal_fov_deg) / 2.0)

    @property
    def K(self) -> np.ndarray:
        """3×3 intrinsics (square pixels, principal point at the image centre)."""
        f = self.fx_px
        return np.array([[f, 0.0, (self.width_px - 1) / 2.0], [0.0, f, (self.height_px - 1) / 2.0], [0.0, 0.0, 1.0]])


class RgbCamera:
    """Renders ``(H, W, 3)`` uint8 RGB from an injected client; ``P`` projects world points to pixels."""

    def __init__(self, client: BulletClient, config: RgbCameraConfig) -> None:
        self.client = client
        self.config = config
        self._offset_pos = np.zeros(3)
        self._offset_rot = np.eye(3)
        self._light: dict[str, object] = {}
        self._proj_gl = self._gl_projection()
        self._update_view()

    @property
    def world_R_optical(self) -> np.ndarray:
        c = self.config
        return look_at_rotation(np.array(c.position_m), np.array(c.look_at_m), np.array(c.up_vector))

    @property
    def projection_matrix(self) -> np.ndarray:
        """ROS ``camera_info.P`` (3×4), points in the optical frame."""
        return self.config.K @ np.hstack([np.eye(3), np.zeros((3, 1))])

    def project_world(self, points_world: np.ndarray) -> np.ndarray:
        """Pixel coordinates ``(N, 2)`` of world points (calibrated pose)."""
        X = (np.atleast_2d(points_world) - np.array(self.config.position_m)) @ self.world_R_optical
        x = X @ self.config.K.T
        return x[:, :2] / x[:, 2:3]

    def set_pose_offset(self, position_m: np.ndarray, rotvec_rad: np.ndarray) -> None:
        """Perturb the true camera pose (the calibration stays nominal)."""
        from scipy.spatial.transform import Rotation

        self._offset_pos = np.asarray(position_m, float).reshape(3).copy()
        self._offset_rot = Rotation.from_rotvec(np.asarray(rotvec_rad, float).reshape(3)).as_matrix()
        self._update_view()

    def set_lighting(self, rng: np.random.Generator | None) -> None:
        """Random light direction, colour and coefficients; ``None`` restores the default light."""
        self._light = random_light(rng)

    def _gl_projection(self) -> list[float]:
        c = self.config
        return gl_projection(c.K, c.width_px, c.height_px, c.near_m, c.far_m)

    def _update_view(self) -> None:
        R = self._offset_rot @ self.world_R_optical
        self._view = StereoCamera._gl_view(np.array(self.config.position_m) + self._offset_pos, R)

    def render(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """One RGB image ``(H, W, 3)`` uint8; Gaussian pixel noise from ``rng`` if configured."""
        c = self.config
        _, _, rgba, _, _ = self.client.getCameraImage(
            c.width_px, c.height_px, viewMatrix=self._view, projectionMatrix=self._proj_gl,
            renderer=pybullet.ER_TINY_RENDERER, shadow=0, flags=pybullet.ER_NO_SEGMENTATION_MASK, **self._light)
        img = np.asarray(rgba, dtype=np.uint8).reshape(c.height_px, c.width_px, 4)[:, :, :3]
        if c.noise_std > 0 and rng is not None:
            noisy = img.astype(np.float32) + rng.normal(0.0, c.noise_std, img.shape).astype(np.float32)
            img = np.clip(noisy, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(img)
