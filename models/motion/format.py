"""Reference-motion file format (JSON), compatible with the original motion-imitation clips.

Peng et al., "Learning Agile Robotic Locomotion Skills by Imitating Animals", RSS 2020, Sec. IV:
a reference motion is a sequence of robot poses, root pose plus joint angles, played back at a
fixed frame duration. The JSON layout is the one of the authors' public code, so clips made
there load here and clips made here load there::

    {
      "LoopMode": "Wrap" | "Clamp",
      "FrameDuration": 0.01667,                # seconds per frame
      "EnableCycleOffsetPosition": true,       # next cycle starts where this one ended (x, y)
      "EnableCycleOffsetRotation": true,       # ... and with the heading it ended with (yaw)
      "Frames": [[x, y, z, qx, qy, qz, qw, q_1 ... q_12], ...]
    }

Root convention (as in the original retargeting, which multiplies the animal's root rotation by
the URDF's initial rotation):

* ``x, y, z``: world position (z up, metres) of the PyBullet base, i.e. what is passed to
  ``resetBasePositionAndOrientation``; PyBullet puts it at the chassis' inertial origin.
* ``qx, qy, qz, qw``: world orientation of the **y-up URDF base**, ``world_R_urdfbase``. The
  REP-103 body orientation is ``world_R_body = world_R_urdfbase @ R_load.T``; use
  :meth:`ReferenceMotion.root_quat_urdf` / :meth:`ReferenceMotion.root_quat_body`.
* joints: URDF order FR, FL, RR, RL × (hip abduction, upper, lower), radians.

Anima adds optional keys (ignored by the original loader): ``AnimaToeTargets`` (N × 4 × 3 world
toe targets the retargeting aimed at), ``AnimaContacts`` (N × 4 stance flags),
``AnimaKeypointNames`` / ``AnimaKeypoints`` (source keypoints mapped into the robot's world),
and ``AnimaInfo`` (free-form provenance).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from anima.controllers.leg_kinematics import R_LOAD
from anima.models.jsonio import read_json_file

LOOP_WRAP = "Wrap"
LOOP_CLAMP = "Clamp"
ROOT_SIZE = 7


def _readonly(a: np.ndarray | None, dtype: type = float) -> np.ndarray | None:
    if a is None:
        return None
    out = np.array(a, dtype=dtype)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class ReferenceMotion:
    """A reference motion: ``frames (N, 7 + J)`` at ``frame_duration`` seconds per frame.

    Optional per-frame extras: ``toe_targets (N, F, 3)`` world, ``contacts (N, F)`` bool,
    ``keypoints (N, K, 3)`` world with ``keypoint_names``.
    """

    frames: np.ndarray
    frame_duration: float
    loop_mode: str = LOOP_WRAP
    enable_cycle_offset_position: bool = True
    enable_cycle_offset_rotation: bool = True
    toe_targets: np.ndarray | None = None
    contacts: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    keypoint_names: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames, dtype=float)
        if frames.ndim != 2 or frames.shape[0] < 2 or frames.shape[1] <= ROOT_SIZE:
            raise ValueError(
                f"Frames: expected at least 2 rows of more than {ROOT_SIZE} values, got shape {frames.shape}"
            )
        if not np.all(np.isfinite(frames)):
            row = int(np.argwhere(~np.isfinite(frames))[0, 0])
            raise ValueError(f"Frames: row {row} contains NaN or infinity")
        norms = np.linalg.norm(frames[:, 3:7], axis=1)
        if np.any(np.abs(norms - 1.0) > 1e-3):
            raise ValueError(f"Frames: row {int(np.argmax(np.abs(norms - 1.0)))} has a non-unit root quaternion")
        frames = frames.copy()
        frames[:, 3:7] /= norms[:, None]
        if not (math.isfinite(self.frame_duration) and self.frame_duration > 0):
            raise ValueError(f"FrameDuration: must be a positive number of seconds, got {self.frame_duration}")
        if self.loop_mode not in (LOOP_WRAP, LOOP_CLAMP):
            raise ValueError(f"LoopMode: must be '{LOOP_WRAP}' or '{LOOP_CLAMP}', got '{self.loop_mode}'")
        n = frames.shape[0]
        for name, arr, tail in (("AnimaToeTargets", self.toe_targets, 3), ("AnimaKeypoints", self.keypoints, 3)):
            if arr is not None and (np.ndim(arr) != 3 or np.shape(arr)[0] != n or np.shape(arr)[2] != tail):
                raise ValueError(f"{name}: expected shape ({n}, *, {tail}), got {np.shape(arr)}")
        if self.contacts is not None and np.shape(self.contacts)[0] != n:
            raise ValueError(f"AnimaContacts: expected {n} rows, got {np.shape(self.contacts)[0]}")
        if self.keypoints is not None and len(self.keypoint_names) != np.shape(self.keypoints)[1]:
            raise ValueError("AnimaKeypointNames: one name per keypoint required")
        object.__setattr__(self, "frames", _readonly(frames))
        object.__setattr__(self, "toe_targets", _readonly(self.toe_targets))
        object.__setattr__(self, "contacts", _readonly(self.contacts, bool))
        object.__setattr__(self, "keypoints", _readonly(self.keypoints))
        object.__setattr__(self, "keypoint_names", tuple(self.keypoint_names))

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.frames.shape[1] - ROOT_SIZE)

    @property
    def duration(self) -> float:
        """Length of one cycle, seconds: ``(N - 1) * frame_duration`` (last frame = cycle end)."""
        return (self.num_frames - 1) * self.frame_duration

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.num_frames) * self.frame_duration

    def root_position(self) -> np.ndarray:
        """``(N, 3)`` world position of the PyBullet base (chassis inertial origin)."""
        return self.frames[:, 0:3]

    def root_quat_urdf(self) -> np.ndarray:
        """``(N, 4)`` xyzw world orientation of the y-up URDF base (the stored quaternion)."""
        return self.frames[:, 3:7]

    def root_quat_body(self, urdf_to_body: np.ndarray = R_LOAD) -> np.ndarray:
        """``(N, 4)`` xyzw REP-103 body orientation: ``world_R_urdfbase @ urdf_to_body.T``."""
        rot = Rotation.from_quat(self.root_quat_urdf()) * Rotation.from_matrix(np.asarray(urdf_to_body).T)
        return rot.as_quat()

    def body_origin(self, base_inertial_offset_urdf: np.ndarray) -> np.ndarray:
        """``(N, 3)`` world position of the URDF base link origin (the body-frame origin).

        ``base_inertial_offset_urdf`` is the root link's inertial origin in the URDF frame
        (:attr:`anima.controllers.leg_kinematics.LegKinematics.base_inertial_offset_urdf`).
        """
        return self.root_position() - Rotation.from_quat(self.root_quat_urdf()).apply(base_inertial_offset_urdf)

    def joints(self) -> np.ndarray:
        """``(N, J)`` joint angles, URDF order."""
        return self.frames[:, ROOT_SIZE:]

    def with_frames(self, frames: np.ndarray, **changes: Any) -> "ReferenceMotion":
        """A copy with new frames (and any other field changed)."""
        return replace(self, frames=frames, **changes)

    def to_json_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "LoopMode": self.loop_mode,
            "FrameDuration": float(self.frame_duration),
            "EnableCycleOffsetPosition": bool(self.enable_cycle_offset_position),
            "EnableCycleOffsetRotation": bool(self.enable_cycle_offset_rotation),
            "Frames": np.round(self.frames, 6).tolist(),
        }
        if self.toe_targets is not None:
            out["AnimaToeTargets"] = np.round(self.toe_targets, 5).tolist()
        if self.contacts is not None:
            out["AnimaContacts"] = self.contacts.astype(int).tolist()
        if self.keypoints is not None:
            out["AnimaKeypointNames"] = list(self.keypoint_names)
            out["AnimaKeypoints"] = np.round(self.keypoints, 4).tolist()
        if self.info:
            out["AnimaInfo"] = self.info
        return out


def save_motion(motion: ReferenceMotion, path: str | Path) -> None:
    """Write ``motion`` as JSON (frames rounded to 1e-6), atomically: a temporary file beside
    ``path``, then ``os.replace``. OSError if the folder is not writable."""
    import os
    import tempfile

    path = Path(path)
    text = json.dumps(motion.to_json_dict(), separators=(",", ":")) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def motion_from_dict(data: dict[str, Any], source: str = "<dict>") -> ReferenceMotion:
    """Parse the JSON layout; errors name ``source`` and the offending key or row."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object at top level")
    for key in ("LoopMode", "FrameDuration", "Frames"):
        if key not in data:
            what = f" ('{LOOP_WRAP}' or '{LOOP_CLAMP}')" if key == "LoopMode" else ""
            raise ValueError(f"{source}: missing key '{key}'{what}")
    rows = data["Frames"]
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{source}: 'Frames' must be a non-empty list of rows")
    width = len(rows[0]) if isinstance(rows[0], list) else -1
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            got = len(row) if isinstance(row, list) else "no"
            raise ValueError(f"{source}: Frames row {i} has {got} values, expected {width}")
    try:
        return ReferenceMotion(
            frames=np.asarray(rows, dtype=float),
            frame_duration=float(data["FrameDuration"]),
            loop_mode=str(data["LoopMode"]),
            enable_cycle_offset_position=bool(data.get("EnableCycleOffsetPosition", False)),
            enable_cycle_offset_rotation=bool(data.get("EnableCycleOffsetRotation", False)),
            toe_targets=data.get("AnimaToeTargets"),
            contacts=data.get("AnimaContacts"),
            keypoints=data.get("AnimaKeypoints"),
            keypoint_names=tuple(data.get("AnimaKeypointNames", ())),
            info=dict(data.get("AnimaInfo", {})),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: {exc}") from exc


def load_motion(path: str | Path) -> ReferenceMotion:
    """Read a reference-motion JSON file (original motion-imitation layout plus Anima extras)."""
    return motion_from_dict(read_json_file(path), str(path))
