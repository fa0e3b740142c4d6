"""The 160-D imitation observation: layout, history order, target frames, reference alignment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anima.controllers.leg_kinematics import LAIKAGO_STANDING_URDF
from anima.controllers.spatial import quat_multiply, quat_rotate
from anima.models.imitation.observation import (OBS_DIM, OBS_LAYOUT, ObservationBuilder, ReferenceTracker,
                                                body_heading, imu_features, urdf_heading)
from anima.models.motion.format import ReferenceMotion

LOAD = np.array([0.5, 0.5, 0.5, 0.5])  # URDF base level, heading +x (body frame = world)
SPEED = 1.0  # m/s along +x


def _walk(num_frames: int = 31, dt: float = 0.02, loop: str = "Wrap") -> ReferenceMotion:
    """A clip moving straight along +x at SPEED with joints that ramp linearly (joint k: 0.01·k·t)."""
    t = np.arange(num_frames) * dt
    frames = np.zeros((num_frames, 19))
    frames[:, 0] = SPEED * t
    frames[:, 2] = 0.45
    frames[:, 3:7] = LOAD
    frames[:, 7:] = LAIKAGO_STANDING_URDF + 0.01 * np.arange(12) * t[:, None]
    return ReferenceMotion(frames, dt, loop_mode=loop)


def _default_frame() -> np.ndarray:
    return np.concatenate([[0.0, 0.0, 0.44], LOAD, LAIKAGO_STANDING_URDF])


def test_layout_covers_160_values_in_order():
    parts = list(OBS_LAYOUT.values())
    assert parts[0].start == 0 and parts[-1].stop == OBS_DIM == 160
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    assert [p.stop - p.start for p in parts] == [36, 12, 36, 76]


def test_target_frames_are_relative_and_in_the_robot_heading_frame():
    tracker = ReferenceTracker(_walk(), _default_frame())
    tracker.reset(0.1, np.array([0.0, 0.0, 0.45]), LOAD)
    dt = 0.03
    # The reset aligned the reference (moving +x) with a robot facing +x; seen from the robot
    # after it has turned to face +y, the reference moves along -y of its heading frame.
    frames = tracker.target_frames(0.1, dt, heading=math.pi / 2).reshape(4, 19)
    for k, row in zip((1, 2, 10, 30), frames):
        assert row[0:3] == pytest.approx([0.0, -SPEED * k * dt, 0.0], abs=1e-9)
        # quaternion: the level URDF base turned by -90° about z, standardised to w >= 0
        assert row[6] >= 0.0
        assert urdf_heading(row[3:7]) == pytest.approx(-math.pi / 2)
        # joints of the clip at that time (wrapping after 0.6 s)
        t = (0.1 + k * dt) % 0.6
        assert row[7:] == pytest.approx(LAIKAGO_STANDING_URDF + 0.01 * np.arange(12) * t, abs=1e-9)


def test_reset_aligns_the_reference_root_with_the_robot():
    tracker = ReferenceTracker(_walk(), _default_frame())
    robot_quat = quat_multiply(np.array([0.0, 0.0, math.sin(0.3), math.cos(0.3)]), LOAD)  # level, heading 0.6
    tracker.reset(0.2, np.array([3.0, -1.0, 0.5]), robot_quat)
    state = tracker.state(0.2)
    assert state.root_position == pytest.approx([3.0, -1.0, 0.45])  # x, y moved; height kept
    assert urdf_heading(state.root_quat_urdf) == pytest.approx(0.6)
    assert state.root_linear_velocity == pytest.approx([SPEED * math.cos(0.6), SPEED * math.sin(0.6), 0.0])


def test_cycle_sync_moves_the_reference_onto_the_robot_when_the_clip_wraps():
    tracker = ReferenceTracker(_walk(), _default_frame())
    tracker.reset(0.5, np.zeros(3), LOAD)
    assert tracker.sync(0.55, np.array([5.0, 5.0, 0.4])) is None
    assert tracker.state(0.55).root_position[:2] == pytest.approx([0.05, 0.0])
    # phase wrapped (0.92 -> 0.02): the reference root, aligned at reset (x 0.5 -> 0), is at
    # x = 0.61 - 0.5 = 0.11; the robot at (0.2, 0.3) is sqrt(0.09² + 0.3²) away; the reference moves onto it
    assert tracker.sync(0.61, np.array([0.2, 0.3, 0.4])) == pytest.approx(math.hypot(0.09, 0.3))
    assert tracker.state(0.61).root_position == pytest.approx([0.2, 0.3, 0.45])


def test_warmup_holds_the_standing_pose_until_the_clip_starts():
    tracker = ReferenceTracker(_walk(), _default_frame())
    tracker.reset(-0.1, np.zeros(3), LOAD, warmup=True)
    warm = tracker.state(-0.05)
    assert warm.joints == pytest.approx(LAIKAGO_STANDING_URDF)
    assert np.all(warm.joint_velocities == 0.0) and np.all(warm.root_linear_velocity == 0.0)
    assert tracker.state(0.1).joints == pytest.approx(LAIKAGO_STANDING_URDF + 0.01 * np.arange(12) * 0.1)


def test_builder_keeps_three_steps_newest_first_and_zero_last_action_at_reset():
    builder = ObservationBuilder(ReferenceTracker(_walk(), _default_frame()), 0.033)
    builder.tracker.reset(0.0, np.zeros(3), LOAD)
    builder.reset(np.full(12, 1.0), np.array([0.1, 0.2, 0.3, 0.4]))
    builder.push(np.full(12, 2.0), np.array([1.0, 2.0, 3.0, 4.0]), np.full(12, 7.0))
    obs = builder.build(0.0, 0.0)
    assert obs.shape == (OBS_DIM,)
    motor = obs[OBS_LAYOUT["motor_angles"]].reshape(3, 12)
    assert motor[:, 0] == pytest.approx([2.0, 1.0, 1.0])
    assert obs[OBS_LAYOUT["imu"]].reshape(3, 4)[0] == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert obs[OBS_LAYOUT["last_action"]].reshape(3, 12)[:, 5] == pytest.approx([7.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="motor angles"):
        builder.push(np.zeros(11), np.zeros(4), np.zeros(12))


def test_imu_features_and_heading_from_a_body_quaternion():
    # roll 0.1 then pitch 0.2 then yaw 0.3 (extrinsic x-y-z, PyBullet's Euler convention)
    import pybullet

    q = np.array(pybullet.getQuaternionFromEuler([0.1, 0.2, 0.3]))
    assert imu_features(q, np.array([0.5, -0.5, 9.0])) == pytest.approx([0.1, 0.2, 0.5, -0.5])
    assert body_heading(q) == pytest.approx(math.atan2(*reversed(_x_axis(q)[:2])))


def _x_axis(q: np.ndarray) -> np.ndarray:
    return quat_rotate(q, np.array([1.0, 0.0, 0.0]))
