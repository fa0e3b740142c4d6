"""An mp4 of a simulated run from a fixed viewpoint (``video:=PATH`` on the simulated launch files).

Frames come from PyBullet's TINY_RENDERER (``getCameraImage``, no display needed) at ``fps`` frames
per second of sim time and go straight to OpenCV's ``mp4v`` writer, so memory stays flat however
long the run. The file is written under a hidden temporary name in the target folder and moved into
place (``os.replace``) when the recorder closes; a bad path is refused when it is constructed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pybullet_utils.bullet_client import BulletClient


@dataclass(frozen=True)
class VideoConfig:
    """Viewpoint and format. Angles in degrees (PyBullet's yaw/pitch convention), lengths in m."""

    target_xyz: tuple[float, float, float] = (0.0, 0.0, 0.3)
    distance_m: float = 1.4
    yaw_deg: float = 50.0
    pitch_deg: float = -20.0
    fov_deg: float = 60.0
    width_px: int = 640
    height_px: int = 360
    fps: float = 30.0

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.distance_m <= 0 or not 0 < self.fov_deg < 180:
            raise ValueError(f"video: fps and distance_m must be > 0 and fov_deg in (0, 180), got {self}")
        if self.width_px < 16 or self.height_px < 16 or self.width_px % 2 or self.height_px % 2:
            raise ValueError(f"video: width_px and height_px must be even and >= 16, got {self.width_px}x{self.height_px}")


def check_video_target(path: str | os.PathLike) -> Path:
    """Validate where the video will go before the run starts; returns the absolute path."""
    target = Path(path).expanduser().absolute()
    if target.suffix.lower() != ".mp4":
        raise ValueError(f"video path '{path}' must end in .mp4")
    if not target.parent.is_dir():
        raise ValueError(f"video path '{path}': folder '{target.parent}' does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise ValueError(f"video path '{path}': folder '{target.parent}' is not writable")
    return target


class VideoRecorder:
    """Renders the world at ``config.fps`` of sim time and streams the frames into an mp4."""

    def __init__(self, client: BulletClient, path: str | os.PathLike, config: VideoConfig = VideoConfig()) -> None:
        import cv2

        self.path = check_video_target(path)
        self.config = config
        self._client = client
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{os.getpid()}.mp4")
        size = (config.width_px, config.height_px)
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(config.fps), size)
        if not self._writer.isOpened():
            self._tmp.unlink(missing_ok=True)
            raise ValueError(f"video path '{path}': OpenCV cannot open an mp4v writer there")
        self._view = client.computeViewMatrixFromYawPitchRoll(
            list(config.target_xyz), config.distance_m, config.yaw_deg, config.pitch_deg, 0.0, 2)
        self._proj = client.computeProjectionMatrixFOV(config.fov_deg, config.width_px / config.height_px, 0.01, 20.0)
        self.frames = 0

    def frame_due(self, sim_time_s: float) -> bool:
        """True when the next frame's sim time has come (frame k shows t = k / fps)."""
        return sim_time_s + 1e-9 >= self.frames / self.config.fps

    def capture(self, sim_time_s: float) -> bool:
        """Render and write a frame if one is due; returns True when one was written."""
        if not self.frame_due(sim_time_s):
            return False
        import cv2

        c = self.config
        rgba = self._client.getCameraImage(c.width_px, c.height_px, self._view, self._proj,
                                           renderer=self._client.ER_TINY_RENDERER)[2]
        rgba = np.reshape(np.asarray(rgba, dtype=np.uint8), (c.height_px, c.width_px, 4))
        self._writer.write(cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR))
        self.frames += 1
        return True

    def close(self) -> Path | None:
        """Finish the file and move it into place; returns its path (None when no frame was written)."""
        self._writer.release()
        if self.frames == 0:
            self._tmp.unlink(missing_ok=True)
            return None
        os.replace(self._tmp, self.path)
        return self.path


def default_view(world, yaw_deg: float = 45.0, pitch_deg: float = -30.0) -> VideoConfig:
    """A fixed viewpoint: the world's own ``video_view()`` if it has one, else one framing everything
    in the world but the ground: aimed at the centre of the bodies' bounding boxes, far enough to
    see their whole extent (bodies over 5 m wide, the ground plane, are left out)."""
    own = getattr(world, "video_view", None)
    if own is not None:
        return own()
    client = world.client
    lows, highs = [], []
    for i in range(client.getNumBodies()):
        body = client.getBodyUniqueId(i)
        for link in range(-1, client.getNumJoints(body)):
            lo, hi = (np.asarray(v, dtype=float) for v in client.getAABB(body, link))
            if np.all(hi - lo < 5.0):
                lows.append(lo)
                highs.append(hi)
    if not lows:
        return VideoConfig(yaw_deg=yaw_deg, pitch_deg=pitch_deg)
    lo, hi = np.min(lows, axis=0), np.max(highs, axis=0)
    extent = float(np.linalg.norm(hi - lo))
    return VideoConfig(target_xyz=tuple(float(x) for x in (lo + hi) / 2), distance_m=max(0.2, 0.8 * extent),
                       yaw_deg=yaw_deg, pitch_deg=pitch_deg)
