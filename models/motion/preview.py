"""Preview a reference motion: a rendered video of the robot playing it, and a joint-angle plot.

Rendering uses PyBullet's CPU TINY_RENDERER on an injected DIRECT client (the Laikago meshes
render slowly, so the default is a small image and a subsampled frame rate). Frames are put on
the robot with ``resetBasePositionAndOrientation`` exactly as the original motion-imitation code
does (root position = PyBullet base, root quaternion = URDF base). Source keypoints and toe
targets stored in the motion are projected with the same camera matrices and drawn on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from anima.models.motion.format import ReferenceMotion


@dataclass(frozen=True)
class PreviewConfig:
    """Camera and video settings."""

    width_px: int = 320
    height_px: int = 240
    video_fps: float = 15.0
    camera_distance_m: float = 1.3
    camera_yaw_deg: float = 40.0
    camera_pitch_deg: float = -20.0
    fov_deg: float = 60.0
    max_frames: int = 300

    def __post_init__(self) -> None:
        if self.width_px < 16 or self.height_px < 16 or self.video_fps <= 0 or self.max_frames < 1:
            raise ValueError("preview: width/height >= 16 px, video_fps > 0 and max_frames >= 1 required")


def project_points(
    points: np.ndarray, view: Sequence[float], proj: Sequence[float], width: int, height: int
) -> np.ndarray:
    """World points ``(K, 3)`` -> pixel coordinates ``(K, 2)`` (NaN behind the camera).

    PyBullet's matrices are column-major 4x4 lists (OpenGL convention).
    """
    v = np.asarray(view, dtype=float).reshape(4, 4).T
    p = np.asarray(proj, dtype=float).reshape(4, 4).T
    homo = np.concatenate([np.asarray(points, dtype=float), np.ones((len(points), 1))], axis=1)
    clip = homo @ (p @ v).T
    w = clip[:, 3:4]
    ndc = np.where(w > 1e-9, clip[:, :3] / np.where(w > 1e-9, w, 1.0), np.nan)
    return np.stack([(ndc[:, 0] + 1.0) * 0.5 * width, (1.0 - ndc[:, 1]) * 0.5 * height], axis=-1)


def _load_robot(client: Any, urdf_path: str, joint_names: Sequence[str]) -> tuple[int, list[int]]:
    import pybullet_data

    client.setAdditionalSearchPath(pybullet_data.getDataPath())
    client.loadURDF("plane_implicit.urdf")
    robot = client.loadURDF(urdf_path, [0, 0, 0.48], useFixedBase=True)
    index = {client.getJointInfo(robot, i)[1].decode(): i for i in range(client.getNumJoints(robot))}
    missing = [n for n in joint_names if n not in index]
    if missing:
        raise ValueError(f"{urdf_path}: joints {missing} not found")
    return robot, [index[n] for n in joint_names]


def render_video(
    motion: ReferenceMotion,
    out_path: str | Path,
    client: Any,
    urdf_path: str,
    joint_names: Sequence[str],
    cfg: PreviewConfig = PreviewConfig(),
) -> int:
    """Render the motion to an mp4 (``mp4v``); returns the number of video frames written."""
    import cv2

    robot, joints = _load_robot(client, urdf_path, joint_names)
    step = max(1, int(round(1.0 / (cfg.video_fps * motion.frame_duration))))
    indices = list(range(0, motion.num_frames, step))[: cfg.max_frames]
    fps = 1.0 / (step * motion.frame_duration)
    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (cfg.width_px, cfg.height_px))
    if not writer.isOpened():
        raise ValueError(f"{out_path}: cannot open video writer (mp4v)")
    proj = client.computeProjectionMatrixFOV(cfg.fov_deg, cfg.width_px / cfg.height_px, 0.05, 20.0)
    try:
        for i in indices:
            frame = motion.frames[i]
            client.resetBasePositionAndOrientation(robot, frame[:3], frame[3:7])
            for j, angle in zip(joints, frame[7:]):
                client.resetJointState(robot, j, float(angle))
            target = [float(frame[0]), float(frame[1]), 0.3]
            view = client.computeViewMatrixFromYawPitchRoll(target, cfg.camera_distance_m, cfg.camera_yaw_deg,
                                                            cfg.camera_pitch_deg, 0.0, 2)
            img = client.getCameraImage(cfg.width_px, cfg.height_px, view, proj, renderer=client.ER_TINY_RENDERER)[2]
            bgr = cv2.cvtColor(np.reshape(np.asarray(img, dtype=np.uint8), (cfg.height_px, cfg.width_px, 4)),
                               cv2.COLOR_RGBA2BGR)
            _overlay(bgr, motion, i, view, proj, cfg)
            writer.write(bgr)
    finally:
        writer.release()
    return len(indices)


def _overlay(img: np.ndarray, motion: ReferenceMotion, i: int, view: Any, proj: Any, cfg: PreviewConfig) -> None:
    import cv2

    layers = []
    if motion.keypoints is not None:
        layers.append((motion.keypoints[i], (0, 200, 255), 3))  # orange: source keypoints
    if motion.toe_targets is not None:
        layers.append((motion.toe_targets[i], (255, 80, 0), 2))  # blue: toe targets
    for points, colour, radius in layers:
        for x, y in project_points(points, view, proj, cfg.width_px, cfg.height_px):
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(img, (int(round(x)), int(round(y))), radius, colour, -1)


def plot_joints(
    motion: ReferenceMotion, out_path: str | Path, joint_names: Sequence[str],
    lower: np.ndarray | None = None, upper: np.ndarray | None = None,
) -> None:
    """PNG of the joint trajectories, one panel per joint kind (abduction, upper, lower)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    q, t = motion.joints(), motion.times
    legs = q.shape[1] // 3
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    for k, ax in enumerate(axes):
        for leg in range(legs):
            j = 3 * leg + k
            ax.plot(t, q[:, j], label=joint_names[j].split("_")[0] if joint_names else str(j))
        if lower is not None and upper is not None:
            ax.axhline(lower[k], color="k", ls="--", lw=0.8)
            ax.axhline(upper[k], color="k", ls="--", lw=0.8)
        ax.set_ylabel(["abduction", "upper", "lower"][k] + " (rad)")
        ax.legend(loc="upper right", fontsize=7, ncol=legs)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(str(motion.info.get("source", "reference motion")))
    fig.tight_layout()
    fig.savefig(str(out_path), dpi=80)
    plt.close(fig)
