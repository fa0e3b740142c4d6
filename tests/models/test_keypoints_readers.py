"""Keypoint readers: Anima JSON and the 27-marker dog CSV, on synthetic files made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anima.models.retarget.generator import GaitParams, generate_gait
from anima.models.retarget.keypoints import (
    DOG27_NAMES,
    KeypointTrajectory,
    read_dog_csv,
    read_keypoints,
    read_keypoints_json,
    write_dog_csv,
    write_keypoints_json,
    y_up_to_z_up,
)


@pytest.fixture(scope="module")
def trot() -> KeypointTrajectory:
    return generate_gait(GaitParams("trot", speed_m_s=0.8, stride_m=0.4, cycles=1))


def test_dog_marker_layout() -> None:
    # Issue 3: pelvis 0, neck 3, left shoulder 6, right shoulder 11, left hip 16, right hip 20,
    # toes left-fore 10, right-fore 15, left-hind 19, right-hind 23.
    expected = {"pelvis": 0, "neck": 3, "left_shoulder": 6, "right_shoulder": 11, "left_hip": 16, "right_hip": 20,
                "left_fore_toe": 10, "right_fore_toe": 15, "left_hind_toe": 19, "right_hind_toe": 23}
    assert len(DOG27_NAMES) == 27
    assert {n: DOG27_NAMES.index(n) for n in expected} == expected


def test_y_up_conversion() -> None:
    # y-up, forward +z, left +x: forward (0,0,1) -> x; up (0,1,0) -> z; left (1,0,0) -> y.
    np.testing.assert_array_equal(y_up_to_z_up(np.eye(3)), [[0, 1, 0], [0, 0, 1], [1, 0, 0]])


def test_csv_round_trip(tmp_path: Path, trot: KeypointTrajectory) -> None:
    path = tmp_path / "dog.csv"
    write_dog_csv(trot, path)
    rows = path.read_text().splitlines()
    assert len(rows) == trot.num_frames and len(rows[0].split(",")) == 81
    # Row 0, marker 0 (pelvis) columns are y-up: (left, up, forward) = (y, z, x) of the z-up data.
    x, y, z = (float(v) for v in rows[0].split(",")[:3])
    np.testing.assert_allclose([z, x, y], trot.get("pelvis")[0], atol=1e-6)
    back = read_dog_csv(path)
    assert back.fps == 60.0 and back.names == DOG27_NAMES
    np.testing.assert_allclose(back.positions, trot.positions, atol=1e-6)


def test_csv_with_time_column(tmp_path: Path, trot: KeypointTrajectory) -> None:
    path = tmp_path / "dog_t.csv"
    write_dog_csv(KeypointTrajectory(trot.names, trot.positions, 30.0), path, with_time=True)
    assert read_keypoints(path).fps == pytest.approx(30.0)


def _csv(tmp_path: Path, rows: list[list[float]], name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(",".join(str(v) for v in r) for r in rows) + ("\n" if rows else ""))
    return path


def test_csv_errors_name_file_and_row(tmp_path: Path) -> None:
    good = [0.1] * 81
    with pytest.raises(ValueError, match=r"bad\.csv: row 2: expected 81 values .* got 80"):
        read_dog_csv(_csv(tmp_path, [good, [0.1] * 80]))
    with pytest.raises(ValueError, match=r"bad\.csv: row 3: column 5 is NaN"):
        read_dog_csv(_csv(tmp_path, [good, good, [0.1] * 4 + [float("nan")] + [0.1] * 76]))
    with pytest.raises(ValueError, match=r"bad\.csv: file is empty"):
        read_dog_csv(_csv(tmp_path, []))
    timed = [[t] + good for t in (0.0, 0.1, 0.05)]
    with pytest.raises(ValueError, match=r"bad\.csv: row 3: time is not increasing"):
        read_dog_csv(_csv(tmp_path, timed))
    with pytest.raises(ValueError, match=r"bad\.csv: row 1: not a number"):
        (tmp_path / "bad.csv").write_text("a," * 80 + "b\n")
        read_dog_csv(tmp_path / "bad.csv")


def test_json_round_trip_and_units(tmp_path: Path, trot: KeypointTrajectory) -> None:
    path = tmp_path / "kp.json"
    write_keypoints_json(trot, path)
    back = read_keypoints(path)
    np.testing.assert_allclose(back.positions, trot.positions, atol=1e-6)
    # Same data in cm with y up: x_y-up = y_z-up, y_y-up = z_z-up, z_y-up = x_z-up.
    pos_cm = trot.positions[:, :, [1, 2, 0]] * 100.0
    data = {"fps": 60, "units": "cm", "up_axis": "y", "names": list(trot.names), "frames": pos_cm.tolist()}
    path.write_text(json.dumps(data))
    np.testing.assert_allclose(read_keypoints_json(path).positions, trot.positions, atol=1e-9)


def test_json_errors(tmp_path: Path) -> None:
    path = tmp_path / "kp.json"
    path.write_text("")
    with pytest.raises(ValueError, match="kp.json: file is empty"):
        read_keypoints_json(path)
    frames = [[[0, 0, 0]], [[0, 0, float("nan")]]]
    path.write_text(json.dumps({"fps": 60, "names": ["pelvis"], "frames": frames}).replace("NaN", "NaN"))
    with pytest.raises(ValueError, match="kp.json: frame 1 keypoint 'pelvis' is NaN"):
        read_keypoints_json(path)
    path.write_text(json.dumps({"names": ["a"], "frames": [[[0, 0, 0]], [[0, 0, 0]]], "times": [0.0, 0.0]}))
    with pytest.raises(ValueError, match="kp.json: row 1: time is not increasing"):
        read_keypoints_json(path)
    path.write_text(json.dumps({"fps": 60, "names": ["a", "b"], "frames": [[[0, 0, 0]], [[0, 0, 0]]]}))
    with pytest.raises(ValueError, match="kp.json: frame 0: expected 2 keypoints"):
        read_keypoints_json(path)


def test_unknown_keypoint(trot: KeypointTrajectory) -> None:
    with pytest.raises(ValueError, match="unknown keypoint 'tail_9'"):
        trot.get("tail_9")
    with pytest.raises(ValueError, match=r"missing keypoints \['withers'\]"):
        trot.require(["pelvis", "withers"])
