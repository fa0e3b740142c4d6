"""Animal keypoint trajectories: the Anima format and the 27-marker dog motion-capture CSV.

Internally every trajectory is ``positions (T, K, 3)`` in metres, **z up, x forward** (REP-103
world), with keypoint ``names`` and a frame rate. Readers convert on load.

Anima keypoint format (JSON)::

    {"format": "anima-keypoints/1", "fps": 60.0, "units": "m" | "cm" | "mm",
     "up_axis": "z" | "y", "names": ["pelvis", ...],
     "times": [0.0, 0.0167, ...],          # optional; strictly increasing, else fps is used
     "frames": [[[x, y, z], ...], ...]}    # T frames x K keypoints

With ``up_axis: "y"`` the data are y up and z forward (as in the dog mocap) and map to
z-up as (x, y, z) -> (z, x, y).

Dog mocap CSV (the layout of the public dog motion capture used by Peng et al., RSS 2020,
Sec. IV-A): each row is one frame of 81 numbers = 27 markers x (x, y, z), metres, y up,
forward roughly +z, 60 Hz; an optional leading column of times (82 columns) is accepted.
The original capture files are named ``*_joint_pos.txt`` (comma-separated); ``.txt`` is read the
same way as ``.csv``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anima.models.checkpoint import write_text_atomic
from anima.models.jsonio import read_json_file

FORMAT_TAG = "anima-keypoints/1"
_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}

# Keypoints the retargeting uses (names used across Anima).
RETARGET_KEYPOINTS = (
    "pelvis", "neck", "left_shoulder", "right_shoulder", "left_hip", "right_hip",
    "left_fore_toe", "right_fore_toe", "left_hind_toe", "right_hind_toe",
)

DOG27_FPS = 60.0
# Spine 0-5, left foreleg 6-10, right foreleg 11-15, left hind 16-19, right hind 20-23, tail 24-26.
DOG27_NAMES = (
    "pelvis", "spine_1", "spine_2", "neck", "head", "nose",
    "left_shoulder", "left_elbow", "left_wrist", "left_fore_paw", "left_fore_toe",
    "right_shoulder", "right_elbow", "right_wrist", "right_fore_paw", "right_fore_toe",
    "left_hip", "left_knee", "left_hock", "left_hind_toe",
    "right_hip", "right_knee", "right_hock", "right_hind_toe",
    "tail_1", "tail_2", "tail_3",
)


@dataclass(frozen=True, eq=False)
class KeypointTrajectory:
    """Named 3D keypoints over time: ``positions (T, K, 3)`` metres, z up, x forward."""

    names: tuple[str, ...]
    positions: np.ndarray
    fps: float
    source: str = "<memory>"

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions, dtype=float)
        if pos.ndim != 3 or pos.shape[2] != 3:
            raise ValueError(f"{self.source}: positions must have shape (T, K, 3), got {pos.shape}")
        if pos.shape[0] < 2:
            raise ValueError(f"{self.source}: need at least 2 frames, got {pos.shape[0]}")
        if len(self.names) != pos.shape[1] or len(set(self.names)) != len(self.names):
            raise ValueError(
                f"{self.source}: need one unique name per keypoint ({pos.shape[1]}), got {list(self.names)}"
            )
        bad = np.argwhere(~np.isfinite(pos))
        if bad.size:
            f, k = int(bad[0, 0]), int(bad[0, 1])
            raise ValueError(f"{self.source}: frame {f} keypoint '{self.names[k]}' is NaN or infinite")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"{self.source}: fps must be positive, got {self.fps}")
        pos.setflags(write=False)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "names", tuple(self.names))

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    def get(self, name: str) -> np.ndarray:
        """``(T, 3)`` trajectory of one keypoint; ValueError naming the missing keypoint."""
        if name not in self.names:
            raise ValueError(f"{self.source}: unknown keypoint '{name}' (have {list(self.names)})")
        return self.positions[:, self.names.index(name)]

    def require(self, names: tuple[str, ...] | list[str]) -> None:
        missing = [n for n in names if n not in self.names]
        if missing:
            raise ValueError(f"{self.source}: missing keypoints {missing} (have {list(self.names)})")

    def slice(self, start: int | None, stop: int | None) -> "KeypointTrajectory":
        """Frames ``[start:stop]`` (Python slice semantics)."""
        pos = self.positions[start:stop]
        if pos.shape[0] < 2:
            raise ValueError(f"{self.source}: frame range {start}:{stop} leaves {pos.shape[0]} frames (need 2)")
        return KeypointTrajectory(self.names, pos, self.fps, self.source)


def y_up_to_z_up(points: np.ndarray) -> np.ndarray:
    """(x, y, z) with y up, z forward -> (z, x, y): x forward, y left, z up (a proper rotation)."""
    return np.asarray(points)[..., [2, 0, 1]]


def z_up_to_y_up(points: np.ndarray) -> np.ndarray:
    """Inverse of :func:`y_up_to_z_up`."""
    return np.asarray(points)[..., [1, 2, 0]]


def _fps_from_times(times: np.ndarray, source: str, row_offset: int = 0) -> float:
    dt = np.diff(times)
    if np.any(~np.isfinite(times)):
        raise ValueError(f"{source}: row {int(np.argmax(~np.isfinite(times))) + row_offset}: time is NaN")
    if np.any(dt <= 0):
        raise ValueError(f"{source}: row {int(np.argmax(dt <= 0)) + 1 + row_offset}: time is not increasing")
    if np.any(np.abs(dt - dt.mean()) > 0.1 * dt.mean()):
        row = int(np.argmax(np.abs(dt - dt.mean()))) + 1 + row_offset
        raise ValueError(f"{source}: row {row}: frames not evenly spaced")
    return float(1.0 / dt.mean())


def read_dog_csv(path: str | Path, fps: float = DOG27_FPS) -> KeypointTrajectory:
    """Read a 27-marker dog mocap CSV (81 columns, or 82 with a leading time column)."""
    path = Path(path)
    src = str(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{src}: cannot read ({exc.strerror})") from exc
    rows: list[list[float]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = line.replace(";", ",").split(",")
        if len(cells) not in (81, 82):
            raise ValueError(f"{src}: row {i}: expected 81 values (27 markers x 3) or 82 with time, got {len(cells)}")
        try:
            values = [float(c) for c in cells]
        except ValueError as exc:
            raise ValueError(f"{src}: row {i}: not a number ({exc})") from exc
        if rows and len(values) != len(rows[0]):
            raise ValueError(f"{src}: row {i}: {len(values)} values, earlier rows have {len(rows[0])}")
        bad = [j for j, v in enumerate(values) if not math.isfinite(v)]
        if bad:
            raise ValueError(f"{src}: row {i}: column {bad[0] + 1} is NaN or infinite")
        rows.append(values)
    if not rows:
        raise ValueError(f"{src}: file is empty (no data rows)")
    data = np.asarray(rows)
    if data.shape[1] == 82:
        fps = _fps_from_times(data[:, 0], src, row_offset=1)
        data = data[:, 1:]
    pos = y_up_to_z_up(data.reshape(-1, 27, 3))
    return KeypointTrajectory(DOG27_NAMES, pos, fps, src)


def write_dog_csv(traj: KeypointTrajectory, path: str | Path, with_time: bool = False) -> None:
    """Write a trajectory that has all 27 dog marker names as a dog mocap CSV (y up)."""
    traj.require(list(DOG27_NAMES))
    pos = z_up_to_y_up(np.stack([traj.get(n) for n in DOG27_NAMES], axis=1)).reshape(traj.num_frames, 81)
    if with_time:
        pos = np.concatenate([np.arange(traj.num_frames)[:, None] / traj.fps, pos], axis=1)
    np.savetxt(path, pos, delimiter=",", fmt="%.6f")


def read_keypoints_json(path: str | Path) -> KeypointTrajectory:
    """Read the Anima keypoint JSON format (see module docstring)."""
    src = str(path)
    data = read_json_file(path)
    for key in ("names", "frames"):
        if key not in data:
            raise ValueError(f"{src}: missing key '{key}'")
    units, up = data.get("units", "m"), data.get("up_axis", "z")
    if units not in _UNITS:
        raise ValueError(f"{src}: units must be one of {sorted(_UNITS)}, got '{units}'")
    if up not in ("z", "y"):
        raise ValueError(f"{src}: up_axis must be 'z' or 'y', got '{up}'")
    names = tuple(data["names"])
    for i, frame in enumerate(data["frames"]):
        if not isinstance(frame, list) or len(frame) != len(names) or any(len(p) != 3 for p in frame):
            raise ValueError(f"{src}: frame {i}: expected {len(names)} keypoints of 3 values")
    pos = np.asarray(data["frames"], dtype=float) * _UNITS[units]
    if up == "y":
        pos = y_up_to_z_up(pos)
    fps = float(data.get("fps", 0.0))
    if "times" in data:
        times = np.asarray(data["times"], dtype=float)
        if times.shape != (pos.shape[0],):
            raise ValueError(f"{src}: 'times' has {times.size} entries for {pos.shape[0]} frames")
        fps = _fps_from_times(times, src)
    return KeypointTrajectory(names, pos, fps, src)


def write_keypoints_json(traj: KeypointTrajectory, path: str | Path) -> None:
    """Write ``traj`` in the Anima keypoint JSON format (z up, metres)."""
    data = {
        "format": FORMAT_TAG, "fps": traj.fps, "units": "m", "up_axis": "z", "names": list(traj.names),
        "frames": np.round(traj.positions, 6).tolist(),
    }
    write_text_atomic(path, json.dumps(data, separators=(",", ":")) + "\n")  # temporary file + os.replace


DOG_CSV_SUFFIXES = (".csv", ".txt")  # .txt: the original capture's *_joint_pos.txt


def read_keypoints(path: str | Path, fps: float | None = None) -> KeypointTrajectory:
    """Dispatch on the suffix: ``.csv``/``.txt`` -> dog mocap (at ``fps``, default 60 Hz, unless the
    file has a time column), ``.json`` -> Anima keypoint format."""
    suffix = Path(path).suffix.lower()
    if suffix in DOG_CSV_SUFFIXES:
        return read_dog_csv(path, DOG27_FPS if fps is None else fps)
    if suffix == ".json":
        return read_keypoints_json(path)
    raise ValueError(f"{path}: unknown keypoint file type '{suffix}' (expected .csv, .txt (*_joint_pos.txt) "
                     f"or .json)")
