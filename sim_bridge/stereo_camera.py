"""A simulated rectified stereo camera pair rendered with PyBullet's TINY_RENDERER.

The pair models the overhead stereo rig that tracked the Baoding balls on the real ShadowHand in
PDDM (Nagabandi et al., CoRL 2019, Sec. 6 "Baoding balls": a stereo camera pair at 280×180 RGB).
Both cameras share the pinhole intrinsics ``K`` and differ by a pure translation of
``baseline_m`` along the left camera's optical x axis, so the images are rectified and the ROS
``camera_info`` projection matrices are ``P_left = K [I | 0]`` and
``P_right = K [I | (-baseline, 0, 0)]`` (REP 104 / ``sensor_msgs/CameraInfo``: ``Tx = -fx * B``).

Pixel convention: ROS/OpenCV, the centre of pixel ``(col, row)`` is at ``(u, v) = (col, row)``.
The OpenGL projection below is built so that a world point projects to the same ``(u, v)`` in the
rendered image as ``P @ X`` (tested in ``tests/sim_bridge/test_stereo_camera.py``).

Optical frame (REP 103): x right, y down, z forward along the viewing direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

__all__ = ["StereoCameraConfig", "StereoCamera", "StereoFrame", "look_at_rotation"]


def _vec3(owner: str, name: str, value: object) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be 3 numbers, got {value!r}") from None
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{owner}.{name} must be 3 finite numbers, got {value!r}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class StereoCameraConfig:
    """Geometry, intrinsics and image model of the stereo pair (SI units, pixels).

    ``position_m`` is the left camera's optical centre in the world; it looks at ``look_at_m``
    with the image "up" direction closest to ``up_vector``. ``fx_px``/``fy_px`` focal lengths;
    the principal point is the image centre. ``noise_std`` is the std of additive Gaussian pixel
    noise (0..255 scale); ``light_jitter`` enables random light direction/colour per episode.
    """

    width_px: int = 280
    height_px: int = 180
    fx_px: float = 300.0
    fy_px: float = 300.0
    baseline_m: float = 0.08
    position_m: tuple[float, float, float] = (0.02, 0.0, 0.50)
    look_at_m: tuple[float, float, float] = (0.02, 0.0, 0.20)
    up_vector: tuple[float, float, float] = (0.0, 1.0, 0.0)
    near_m: float = 0.05
    far_m: float = 2.0
    noise_std: float = 0.0
    light_jitter: bool = False
    frame_prefix: str = "stereo"

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key in ("width_px", "height_px"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or not 8 <= v <= 4096:
                raise ValueError(f"{name}.{key} must be an int in 8..4096, got {v!r}")
        for key in ("fx_px", "fy_px", "baseline_m", "near_m", "far_m"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}.{key} must be a finite number > 0, got {v!r}")
        if self.far_m <= self.near_m:
            raise ValueError(f"{name}.far_m must exceed near_m, got near {self.near_m}, far {self.far_m}")
        if not (math.isfinite(self.noise_std) and self.noise_std >= 0):
            raise ValueError(f"{name}.noise_std must be finite and >= 0, got {self.noise_std!r}")
        for key in ("position_m", "look_at_m", "up_vector"):
            object.__setattr__(self, key, _vec3(name, key, getattr(self, key)))
        fwd = np.subtract(self.look_at_m, self.position_m)
        if np.linalg.norm(fwd) < 1e-6:
            raise ValueError(f"{name}.look_at_m must differ from position_m")
        if np.linalg.norm(np.cross(fwd, self.up_vector)) < 1e-6 * np.linalg.norm(fwd):
            raise ValueError(f"{name}.up_vector must not be parallel to the viewing direction")

    @property
    def K(self) -> np.ndarray:
        """3×3 intrinsic matrix, principal point at the image centre (ROS pixel-centre convention)."""
        cx, cy = (self.width_px - 1) / 2.0, (self.height_px - 1) / 2.0
        return np.array([[self.fx_px, 0.0, cx], [0.0, self.fy_px, cy], [0.0, 0.0, 1.0]])


def look_at_rotation(position: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """world_R_optical (3×3): columns are the optical x (right), y (down), z (forward) axes in the world."""
    z = np.asarray(target, float) - np.asarray(position, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, float))  # right = forward × up, so "up" maps to -y (image top)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


@dataclass(frozen=True)
class StereoFrame:
    """One rendered stereo pair: RGB images ``(H, W, 3)`` uint8 and the sim time they show (s)."""

    left: np.ndarray
    right: np.ndarray
    stamp_s: float


class StereoCamera:
    """Renders the stereo pair from an injected PyBullet client; exposes ROS-style calibration.

    ``pose_offset`` (position offset m, small rotation vector rad) perturbs the rig for domain
    randomization without changing the published calibration, like a rig knocked out of its
    calibrated pose.
    """

    def __init__(self, client: BulletClient, config: StereoCameraConfig) -> None:
        self.client = client
        self.config = config
        self._offset_pos = np.zeros(3)
        self._offset_rot = np.eye(3)
        self._light: dict[str, object] = {}
        self._proj_gl = self._gl_projection()
        self._update_views()

    # ----------------------------------------------------------------- calibration
    @property
    def world_R_left(self) -> np.ndarray:
        """Calibrated orientation of the left optical frame in the world (3×3)."""
        c = self.config
        return look_at_rotation(np.array(c.position_m), np.array(c.look_at_m), np.array(c.up_vector))

    @property
    def left_position(self) -> np.ndarray:
        """Calibrated left optical centre in the world (m), (3,)."""
        return np.array(self.config.position_m)

    def projection_matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """ROS ``camera_info.P`` (3×4) of the left and right camera, points in the left optical frame."""
        K = self.config.K
        P_left = K @ np.hstack([np.eye(3), np.zeros((3, 1))])
        P_right = K @ np.hstack([np.eye(3), np.array([[-self.config.baseline_m], [0.0], [0.0]])])
        return P_left, P_right

    def frame_ids(self) -> tuple[str, str]:
        """Optical frame names of the left and right camera."""
        p = self.config.frame_prefix
        return f"{p}_left_optical_frame", f"{p}_right_optical_frame"

    # ----------------------------------------------------------------- randomization
    def set_pose_offset(self, position_m: np.ndarray, rotvec_rad: np.ndarray) -> None:
        """Perturb the true rig pose (the calibration stays nominal)."""
        from scipy.spatial.transform import Rotation

        self._offset_pos = np.asarray(position_m, float).reshape(3).copy()
        self._offset_rot = Rotation.from_rotvec(np.asarray(rotvec_rad, float).reshape(3)).as_matrix()
        self._update_views()

    def set_lighting(self, rng: np.random.Generator | None) -> None:
        """Random light direction, colour and ambient/diffuse mix; ``None`` restores the default."""
        self._light = random_light(rng)

    # ----------------------------------------------------------------- rendering
    def _gl_projection(self) -> list[float]:
        c = self.config
        return gl_projection(c.K, c.width_px, c.height_px, c.near_m, c.far_m)

    def _update_views(self) -> None:
        R = self._offset_rot @ self.world_R_left
        eye_l = self.left_position + self._offset_pos
        eye_r = eye_l + self.config.baseline_m * R[:, 0]
        self._views = [self._gl_view(eye, R) for eye in (eye_l, eye_r)]

    @staticmethod
    def _gl_view(eye: np.ndarray, world_R_opt: np.ndarray) -> list[float]:
        """OpenGL view matrix (column-major 16): camera x right, y up, z backward."""
        R_gl = world_R_opt * np.array([1.0, -1.0, -1.0])  # optical -> GL axes
        m = np.eye(4)
        m[:3, :3] = R_gl.T
        m[:3, 3] = -R_gl.T @ eye
        return m.T.reshape(-1).tolist()

    def render(self, stamp_s: float = 0.0, rng: np.random.Generator | None = None) -> StereoFrame:
        """Render both images (TINY_RENDERER, no shadows); optional Gaussian pixel noise from ``rng``."""
        c = self.config
        images = []
        for view in self._views:
            _, _, rgba, _, _ = self.client.getCameraImage(
                c.width_px, c.height_px, viewMatrix=view, projectionMatrix=self._proj_gl,
                renderer=pybullet.ER_TINY_RENDERER, shadow=0,
                flags=pybullet.ER_NO_SEGMENTATION_MASK, **self._light)
            img = np.asarray(rgba, dtype=np.uint8).reshape(c.height_px, c.width_px, 4)[:, :, :3]
            if c.noise_std > 0 and rng is not None:
                noisy = img.astype(np.float32) + rng.normal(0.0, c.noise_std, img.shape).astype(np.float32)
                img = np.clip(noisy, 0, 255).astype(np.uint8)
            images.append(np.ascontiguousarray(img))
        return StereoFrame(images[0], images[1], float(stamp_s))

    def project_world(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates ``(N, 2)`` of world points in the left and right image (calibrated pose)."""
        X = (np.atleast_2d(points_world) - self.left_position) @ self.world_R_left  # into left optical
        Xh = np.hstack([X, np.ones((len(X), 1))])
        out = []
        for P in self.projection_matrices():
            x = Xh @ P.T
            out.append(x[:, :2] / x[:, 2:3])
        return out[0], out[1]


def random_light(rng: np.random.Generator | None) -> dict[str, object]:
    """``getCameraImage`` light keywords: random direction, colour and coefficients; ``{}`` (default) for None."""
    if rng is None:
        return {}
    d = rng.normal(size=3)
    d[2] = abs(d[2]) + 0.5
    return {
        "lightDirection": (d / np.linalg.norm(d)).tolist(),
        "lightColor": rng.uniform(0.8, 1.0, 3).tolist(),
        "lightAmbientCoeff": float(rng.uniform(0.4, 0.8)),
        "lightDiffuseCoeff": float(rng.uniform(0.3, 0.6)),
        "lightSpecularCoeff": float(rng.uniform(0.0, 0.2)),
    }


def gl_projection(K: np.ndarray, W: int, H: int, n: float, f: float) -> list[float]:
    """OpenGL projection (column-major 16) that reproduces ``K`` with the ROS pixel-centre convention.

    TINY_RENDERER samples pixel (col, row) at window x = col and (after its vertical flip)
    y = H - 1 - row; these offsets make the rendered pixel centres land on (u, v) = (col, row)
    (measured: sphere silhouette centroids vs. P X agree to < 0.1 px, see the tests).
    """
    cx_gl, cy_gl = K[0, 2], K[1, 2] + 1.0
    m = np.array([
        [2 * K[0, 0] / W, 0.0, 1.0 - 2 * cx_gl / W, 0.0],
        [0.0, 2 * K[1, 1] / H, 2 * cy_gl / H - 1.0, 0.0],
        [0.0, 0.0, -(f + n) / (f - n), -2 * f * n / (f - n)],
        [0.0, 0.0, -1.0, 0.0],
    ])
    return m.T.reshape(-1).tolist()
