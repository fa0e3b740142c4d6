"""Stereo tracking of coloured balls: segmentation, occlusion-robust sphere fitting, triangulation.

PDDM tracked the two Baoding balls on the real ShadowHand with a stereo pair at 280×180 RGB
(Nagabandi et al., CoRL 2019, Sec. 6); this module is our version of that tracker:

1. **Segmentation** per ball colour in HSV (hue band(s), minimum saturation and value), so
   skin (low saturation) and white background never match.
2. **Blob grouping over time**: the colour's blobs (a finger lying over a ball can split it in
   two) are grouped around the blob nearest the ball's previous image position (or the largest
   blob when there is no history), within a few ball radii.
3. **Occlusion-robust fit**: a sphere of known radius images as the intersection of the image
   plane with the cone of rays tangent to it, so unit rays ``d_i`` through silhouette points
   satisfy ``d_i · a = cos(alpha)`` with ``a`` the exact direction of the ball centre (free of
   the perspective bias of a circle centre). Three rays fix the cone; RANSAC over such cones,
   scored by the contour points on the cone and refusing cones that leave visible ball pixels
   outside, ignores the edges a finger cuts into the silhouette (they lie inside the true cone).
   Least squares on the inliers (``D x = 1``, ``a = x/|x|``, ``cos(alpha) = 1/|x|``) refines it.
4. **Stereo association and triangulation**: the two views of a colour must agree with the
   rectified epipolar geometry (same row within ``max_row_error_px``, positive disparity);
   the centre pixels are triangulated (DLT, :mod:`anima.controllers.triangulation`) and
   checked against the monocular depth from the cone angle, ``r / sin(alpha)``.

A ball that is not found in both views, or fails a check, is reported missing (NaN position)
with the reason, never as a wrong position. Output points are in the left optical frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from anima.controllers.spatial import cross
from anima.controllers.triangulation import StereoCalibration, triangulate

__all__ = ["BALL_COLORS", "BallColor", "BallTrackerConfig", "BallTracker", "StereoDetections", "ViewDetection",
           "check_image", "detect_in_view", "transform_points"]


@dataclass(frozen=True)
class BallColor:
    """HSV acceptance region of one ball (OpenCV scales: H 0..179, S and V 0..255).

    ``hue_ranges``: inclusive ``(low, high)`` bands; red needs two (it wraps around 0).
    """

    name: str
    hue_ranges: tuple[tuple[int, int], ...]
    min_saturation: int = 120
    min_value: int = 40

    def __post_init__(self) -> None:
        bands = tuple(tuple(int(h) for h in band) for band in self.hue_ranges)
        if not bands or any(len(b) != 2 or not 0 <= b[0] <= b[1] <= 179 for b in bands):
            raise ValueError(f"BallColor {self.name!r}: hue_ranges must be (low, high) pairs with 0 <= low <= high <= 179, got {self.hue_ranges!r}")
        object.__setattr__(self, "hue_ranges", bands)
        for key in ("min_saturation", "min_value"):
            if not 0 <= int(getattr(self, key)) <= 255:
                raise ValueError(f"BallColor {self.name!r}: {key} must be in 0..255, got {getattr(self, key)!r}")


# Presets. Skin (about H 7, S 80) and a white or grey background have low saturation and never match.
RED = BallColor("red", ((0, 8), (170, 179)))
BLUE = BallColor("blue", ((100, 130),))
GREEN = BallColor("green", ((45, 85),))
YELLOW = BallColor("yellow", ((22, 35),))
BALL_COLORS = {c.name: c for c in (RED, BLUE, GREEN, YELLOW)}


@dataclass(frozen=True)
class BallTrackerConfig:
    """Tracker settings. ``colors[i]`` is ball ``i``; ``ball_radius_m`` is their true radius."""

    colors: tuple[BallColor, ...] = (RED, BLUE)
    ball_radius_m: float = 0.022
    min_area_px: int = 20
    min_edge_points: int = 8
    group_radius_factor: float = 2.5
    max_row_error_px: float = 2.0
    max_depth_mismatch: float = 0.25
    inlier_px: float = 0.8
    ransac_iterations: int = 64
    min_inlier_fraction: float = 0.3

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not self.colors or not all(isinstance(c, BallColor) for c in self.colors):
            raise ValueError(f"{name}.colors must be a non-empty tuple of BallColor")
        for key in ("ball_radius_m", "group_radius_factor", "max_row_error_px", "max_depth_mismatch",
                    "inlier_px", "min_inlier_fraction"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}.{key} must be a finite number > 0, got {v!r}")
        if self.min_area_px < 1 or self.min_edge_points < 3 or self.ransac_iterations < 1:
            raise ValueError(f"{name}: min_area_px and ransac_iterations must be >= 1, min_edge_points >= 3")


@dataclass(frozen=True)
class ViewDetection:
    """A ball in one image: centre pixel ``uv`` (projection of the sphere centre), cone half-angle
    ``alpha_rad``, image radius ``radius_px`` and the number of silhouette points used."""

    uv: np.ndarray
    alpha_rad: float
    radius_px: float
    n_points: int


@dataclass(frozen=True)
class StereoDetections:
    """One stereo pair's result. ``positions`` (N, 3) m in the left optical frame, NaN rows for
    balls not found; ``found`` (N,) bool; ``reasons[i]`` says why ball i is missing ("" if found);
    ``left``/``right``: per-ball :class:`ViewDetection` or None."""

    positions: np.ndarray
    found: np.ndarray
    reasons: tuple[str, ...]
    left: tuple[ViewDetection | None, ...]
    right: tuple[ViewDetection | None, ...]


def check_image(image: np.ndarray, width: int, height: int, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``image`` is ``(height, width, 3)`` uint8."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != (height, width, 3):
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{name}: expected a {width}x{height} 3-channel uint8 image (rgb8), got {got}")


def _mask(hsv: np.ndarray, color: BallColor) -> np.ndarray:
    mask = None
    for lo, hi in color.hue_ranges:
        m = cv2.inRange(hsv, (lo, color.min_saturation, color.min_value), (hi, 255, 255))
        mask = m if mask is None else cv2.bitwise_or(mask, m)
    return mask


def _group_points(contours: list[np.ndarray], cfg: BallTrackerConfig, prev_uv: np.ndarray | None) -> np.ndarray | None:
    """Contour points of the blob chosen for this ball plus its neighbours (split silhouettes)."""
    blobs = []
    for c in contours:
        area = cv2.contourArea(c) + len(c) / 2.0  # include the boundary pixels themselves
        if area >= cfg.min_area_px:
            m = c.reshape(-1, 2).astype(float)
            blobs.append((area, m.mean(axis=0), m))
    if not blobs:
        return None
    if prev_uv is not None:
        seed = min(blobs, key=lambda b: float(np.linalg.norm(b[1] - prev_uv)))
    else:
        seed = max(blobs, key=lambda b: b[0])
    reach = cfg.group_radius_factor * math.sqrt(sum(b[0] for b in blobs) / math.pi)
    pts = [b[2] for b in blobs if np.linalg.norm(b[1] - seed[1]) <= reach]
    return np.vstack(pts)


def _cone_from_rays(rays: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Least-squares cone ``rays @ a = cos(alpha)`` -> (unit axis, alpha) or None if degenerate."""
    x, *_ = np.linalg.lstsq(rays, np.ones(len(rays)), rcond=None)
    norm = float(np.linalg.norm(x))
    if not math.isfinite(norm) or norm <= 1.0 or x[2] <= 0:
        return None
    return x / norm, math.acos(1.0 / norm)


def _fit_cone(points_uv: np.ndarray, K: np.ndarray, cfg: BallTrackerConfig,
              rng: np.random.Generator) -> tuple[np.ndarray, float, float] | None:
    """Robust sphere-silhouette fit: (centre pixel, half-angle, inlier fraction) or None.

    RANSAC over 3-point cones (three rays fix ``x`` in ``r_i · x = 1`` exactly), scored by the
    silhouette points within ``inlier_px`` of the cone; a hypothesis that leaves visible ball
    pixels clearly *outside* its silhouette is impossible and is discarded. The cone is refined
    by least squares on the inliers. Occluder edges lie inside the true silhouette, so they are
    outliers and do not pull the fit.
    """
    rays = np.hstack([points_uv, np.ones((len(points_uv), 1))]) @ np.linalg.inv(K).T
    rays /= np.sqrt(np.einsum("ij,ij->i", rays, rays))[:, None]
    f = float(K[0, 0])
    # Fast path (no occlusion): the least-squares cone over all points already fits them all.
    cone = _cone_from_rays(rays)
    if cone is not None:
        axis, alpha = cone
        res = f * (np.arccos(np.clip(rays @ axis, -1.0, 1.0)) - alpha)
        if np.mean(np.abs(res) < cfg.inlier_px) >= 0.95:
            uvw = K @ axis
            return uvw[:2] / uvw[2], alpha, 1.0
    idx = rng.integers(0, len(rays), size=(cfg.ransac_iterations, 3))
    r1, r2, r3 = rays[idx[:, 0]], rays[idx[:, 1]], rays[idx[:, 2]]
    c23, c31, c12 = cross(r2, r3), cross(r3, r1), cross(r1, r2)
    det = np.einsum("ij,ij->i", r1, c23)
    ok = np.abs(det) > 1e-12
    x = (c23 + c31 + c12)[ok] / det[ok, None]
    norm = np.sqrt(np.einsum("ij,ij->i", x, x))
    good = (norm > 1.0) & (x[:, 2] > 0)
    if not good.any():
        return None
    axes, alphas = x[good] / norm[good, None], np.arccos(1.0 / norm[good])
    theta = np.arccos(np.clip(rays @ axes.T, -1.0, 1.0))  # (M, T) angle of each point from each axis
    res_px = f * (theta - alphas)
    inliers = np.abs(res_px) < cfg.inlier_px
    outside = (res_px > 2.0 * cfg.inlier_px).mean(axis=0)
    score = np.where(outside <= 0.02, inliers.sum(axis=0), -1)
    best = int(np.argmax(score))
    if score[best] < cfg.min_edge_points:
        return None
    mask = inliers[:, best]
    for _ in range(2):
        cone = _cone_from_rays(rays[mask])
        if cone is None:
            return None
        axis, alpha = cone
        mask = np.abs(f * (np.arccos(np.clip(rays @ axis, -1.0, 1.0)) - alpha)) < cfg.inlier_px
        if mask.sum() < cfg.min_edge_points:
            return None
    uvw = K @ axis
    return uvw[:2] / uvw[2], alpha, float(mask.mean())


def detect_in_view(image_rgb: np.ndarray, K: np.ndarray, cfg: BallTrackerConfig,
                   prev_uv: tuple[np.ndarray | None, ...] | None = None) -> tuple[ViewDetection | None, ...]:
    """Detect every configured ball in one RGB image; ``prev_uv[i]`` steers blob choice for ball i."""
    hsv = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2HSV)
    rng = np.random.default_rng(0)  # fixed: the same image always gives the same answer
    out: list[ViewDetection | None] = []
    for i, color in enumerate(cfg.colors):
        contours, _ = cv2.findContours(_mask(hsv, color), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        pts = _group_points(list(contours), cfg, None if prev_uv is None else prev_uv[i])
        if pts is None:
            out.append(None)
            continue
        # Points on the image border are where the image ends, not the ball's silhouette.
        h, w = image_rgb.shape[:2]
        pts = pts[(pts[:, 0] > 0) & (pts[:, 0] < w - 1) & (pts[:, 1] > 0) & (pts[:, 1] < h - 1)]
        fit = _fit_cone(pts, K, cfg, rng) if len(pts) >= cfg.min_edge_points else None
        if fit is None or fit[2] < cfg.min_inlier_fraction:
            out.append(None)
            continue
        uv, alpha, _ = fit
        if not (0.0 <= uv[0] <= w - 1 and 0.0 <= uv[1] <= h - 1):
            out.append(None)  # centre outside the image: too little of the ball is seen to fit it
            continue
        out.append(ViewDetection(uv, alpha, float(K[0, 0] * math.tan(alpha)), len(pts)))
    return tuple(out)


@dataclass
class BallTracker:
    """Stereo ball tracker with per-ball image-position memory (association over time)."""

    config: BallTrackerConfig
    calibration: StereoCalibration
    _prev: list[list[np.ndarray | None]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the previous image positions."""
        n = len(self.config.colors)
        self._prev = [[None] * n, [None] * n]

    def step(self, left: np.ndarray, right: np.ndarray) -> StereoDetections:
        """Detect, associate and triangulate the balls in one rectified RGB pair."""
        cal, cfg = self.calibration, self.config
        check_image(left, cal.width, cal.height, "left image")
        check_image(right, cal.width, cal.height, "right image")
        K = cal.P_left[:, :3]
        views = [detect_in_view(img, K, cfg, tuple(prev)) for img, prev in ((left, self._prev[0]), (right, self._prev[1]))]
        n = len(cfg.colors)
        positions = np.full((n, 3), np.nan)
        reasons = []
        for i in range(n):
            dl, dr = views[0][i], views[1][i]
            self._prev[0][i] = None if dl is None else dl.uv
            self._prev[1][i] = None if dr is None else dr.uv
            reason = self._check_pair(dl, dr)
            if not reason:
                X = triangulate(cal.P_left, cal.P_right, dl.uv[None], dr.uv[None])[0]
                reason = self._check_depth(X, dl, dr)
                if not reason:
                    positions[i] = X
            reasons.append(reason)
        found = np.isfinite(positions).all(axis=1)
        return StereoDetections(positions, found, tuple(reasons), views[0], views[1])

    def _check_pair(self, dl: ViewDetection | None, dr: ViewDetection | None) -> str:
        if dl is None or dr is None:
            return "not visible in " + ("both views" if dl is None and dr is None else "left view" if dl is None else "right view")
        if abs(dl.uv[1] - dr.uv[1]) > self.config.max_row_error_px:
            return f"epipolar mismatch: rows {dl.uv[1]:.1f} vs {dr.uv[1]:.1f}"
        if (dl.uv[0] - dr.uv[0]) * np.sign(self.calibration.baseline_m) <= 0:
            return "non-positive disparity"
        return ""

    def _check_depth(self, X: np.ndarray, dl: ViewDetection, dr: ViewDetection) -> str:
        depth_stereo = float(np.linalg.norm(X))
        depth_mono = self.config.ball_radius_m / math.sin(0.5 * (dl.alpha_rad + dr.alpha_rad))
        if not math.isfinite(depth_stereo) or abs(depth_stereo - depth_mono) > self.config.max_depth_mismatch * depth_mono:
            return f"stereo depth {depth_stereo:.3f} m disagrees with apparent size ({depth_mono:.3f} m)"
        return ""


def transform_points(points: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``R @ p + t`` for rows of ``points`` (N, 3); NaN rows stay NaN."""
    return np.asarray(points, float) @ np.asarray(R, float).T + np.asarray(t, float)
