"""Reference-motion JSON format and the player (interpolation, velocities, cycle offsets)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anima.controllers.leg_kinematics import R_LOAD
from anima.models.motion.format import LOOP_CLAMP, ReferenceMotion, load_motion, motion_from_dict, save_motion
from anima.models.motion.player import MotionPlayer


def urdf_quat(yaw: float) -> np.ndarray:
    """Stored quaternion for a body yawed by ``yaw``: world_R_urdf = Rz(yaw) @ R_load."""
    return (Rotation.from_euler("z", yaw) * Rotation.from_matrix(R_LOAD)).as_quat()


def make_motion(xs: list[float], yaws: list[float], dt: float = 0.5, **kw: object) -> ReferenceMotion:
    frames = [[x, 0.0, 0.45, *urdf_quat(yaw), *([float(i)] * 12)] for i, (x, yaw) in enumerate(zip(xs, yaws))]
    return ReferenceMotion(frames=np.array(frames), frame_duration=dt, **kw)


def test_json_round_trip(tmp_path: Path) -> None:
    m = make_motion([0.0, 1.0, 2.0], [0.0, 0.1, 0.2], toe_targets=np.zeros((3, 4, 3)), contacts=np.ones((3, 4)))
    path = tmp_path / "m.json"
    save_motion(m, path)
    data = json.loads(path.read_text())
    assert set(data) >= {"LoopMode", "FrameDuration", "EnableCycleOffsetPosition", "EnableCycleOffsetRotation", "Frames"}
    assert len(data["Frames"][0]) == 19
    back = load_motion(path)
    np.testing.assert_allclose(back.frames, m.frames, atol=1e-6)
    assert back.frame_duration == 0.5 and back.loop_mode == "Wrap" and back.contacts.all()


def test_original_layout_loads(tmp_path: Path) -> None:
    # A clip as the original code writes it: no Anima keys; root quaternion xyzw of the URDF base.
    frame = [0, 0, 0.48, *urdf_quat(0.0), *([0.0, 0.07, -0.59] * 4)]
    path = tmp_path / "orig.txt"
    path.write_text(json.dumps({"LoopMode": "Wrap", "FrameDuration": 0.01667, "EnableCycleOffsetPosition": True,
                                "EnableCycleOffsetRotation": True, "Frames": [frame, frame]}))
    m = load_motion(path)
    # URDF quaternion at load is Euler(pi/2, 0, pi/2) = (0.5, 0.5, 0.5, 0.5); the body one is identity.
    np.testing.assert_allclose(m.root_quat_urdf()[0], [0.5, 0.5, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(np.abs(m.root_quat_body()[0]), [0, 0, 0, 1], atol=1e-12)


def test_quaternion_accessors() -> None:
    m = make_motion([0.0, 0.0], [0.3, 0.3])
    yaw = Rotation.from_quat(m.root_quat_body()[0]).as_euler("ZYX")[0]
    assert yaw == pytest.approx(0.3)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"Frames": [[0] * 19]}, "missing key 'LoopMode'"),
        ({"LoopMode": "Wrap", "Frames": [[0] * 19]}, "missing key 'FrameDuration'"),
        ({"FrameDuration": 0.1, "Frames": [[0, 0, 0, 0, 0, 0, 1] + [0] * 12] * 2},
         "missing key 'LoopMode' ('Wrap' or 'Clamp')"),
        ({"LoopMode": "Wrap", "FrameDuration": 0.1, "Frames": []}, "'Frames' must be a non-empty list"),
        ({"LoopMode": "Wrap", "FrameDuration": 0.1, "Frames": [[0, 0, 0, 0, 0, 0, 1] + [0] * 12, [0] * 18]},
         "Frames row 1 has 18 values, expected 19"),
        ({"LoopMode": "Wrap", "FrameDuration": -1, "Frames": [[0, 0, 0, 0, 0, 0, 1] + [0] * 12] * 2},
         "FrameDuration: must be a positive"),
        ({"FrameDuration": 0.1, "LoopMode": "Loop", "Frames": [[0, 0, 0, 0, 0, 0, 1] + [0] * 12] * 2}, "LoopMode"),
        ({"LoopMode": "Clamp", "FrameDuration": 0.1, "Frames": [[0, 0, 0, 0, 0, 0, 2] + [0] * 12] * 2},
         "row 0 has a non-unit root quaternion"),
    ],
)
def test_malformed_motion(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match="clip.json: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        motion_from_dict(data, "clip.json")


def test_malformed_files(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("")
    with pytest.raises(ValueError, match="empty.json: file is empty"):
        load_motion(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="empty.json: invalid JSON at line 1"):
        load_motion(path)


def test_interpolation_and_velocity() -> None:
    # x = 0, 1, 2 at t = 0, 0.5, 1; joints = frame index. At t = 0.25: x 0.5, joints 0.5, v = 2 m/s, 2 rad/s.
    s = MotionPlayer(make_motion([0.0, 1.0, 2.0], [0.0, 0.0, 0.0])).sample(0.25)
    assert s.root_position[0, 0] == pytest.approx(0.5)
    np.testing.assert_allclose(s.joints[0], 0.5)
    np.testing.assert_allclose(s.root_linear_velocity[0], [2.0, 0.0, 0.0])
    np.testing.assert_allclose(s.joint_velocities[0], 2.0)


def test_slerp_and_angular_velocity() -> None:
    # Yaw 0 -> 0.4 rad over 0.5 s: halfway yaw 0.2, angular velocity 0.8 rad/s about z.
    s = MotionPlayer(make_motion([0.0, 0.0], [0.0, 0.4])).sample(0.25)
    body = Rotation.from_quat(s.root_quat_urdf[0]) * Rotation.from_matrix(R_LOAD.T)
    assert body.as_euler("ZYX")[0] == pytest.approx(0.2)
    np.testing.assert_allclose(s.root_angular_velocity[0], [0.0, 0.0, 0.8], atol=1e-12)


def test_cycle_offset_translation() -> None:
    # Cycle of 1 s moving 2 m in x: at t = 1.25 (cycle 1, phase 0.25) x = 0.5 + 2 = 2.5.
    s = MotionPlayer(make_motion([0.0, 1.0, 2.0], [0.0, 0.0, 0.0])).sample([1.25, -0.75])
    np.testing.assert_allclose(s.root_position[:, 0], [2.5, -1.5])
    np.testing.assert_allclose(s.root_position[:, 2], 0.45)  # height never accumulates
    np.testing.assert_allclose(s.joints[:, 0], 0.5)


def test_cycle_offset_rotation() -> None:
    # Cycle: (0,0) heading 0 -> (1,0) heading pi/2, i.e. T(z) = i z + 1 in complex form.
    # Start of cycle 2 = T(T(0)) = T(1) = 1 + i -> (1, 1), heading pi.
    player = MotionPlayer(make_motion([0.0, 1.0], [0.0, math.pi / 2], dt=1.0))
    s = player.sample(2.0)
    np.testing.assert_allclose(s.root_position[0, :2], [1.0, 1.0], atol=1e-12)
    body = Rotation.from_quat(s.root_quat_urdf[0]) * Rotation.from_matrix(R_LOAD.T)
    assert abs(body.as_euler("ZYX")[0]) == pytest.approx(math.pi)
    # Velocity at the start of cycle 1 (+x in the base cycle) is rotated to +y.
    v = player.sample(1.0).root_linear_velocity[0]
    np.testing.assert_allclose(v, [0.0, 1.0, 0.0], atol=1e-12)


def test_clamp_mode_holds_ends() -> None:
    m = make_motion([0.0, 1.0, 2.0], [0.0, 0.0, 0.0], loop_mode=LOOP_CLAMP)
    s = MotionPlayer(m).sample([-1.0, 5.0])
    np.testing.assert_allclose(s.root_position[:, 0], [0.0, 2.0])
    np.testing.assert_allclose(s.root_linear_velocity, 0.0)
