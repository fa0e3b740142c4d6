"""Message <-> numpy conversions and node plumbing (in-process, no DDS traffic)."""

from __future__ import annotations

import numpy as np
import pytest

from anima.ros_nodes._common import from_time_msg, stamp_key, to_time_msg
from anima.ros_nodes._conversions import (
    diagonal_covariance,
    imu_arrays,
    imu_msg,
    joint_arrays,
    joint_state_msg,
    odometry_arrays,
    odometry_msg,
    reorder_index,
)
from anima.controllers.spatial import quat_rotate


def test_time_round_trip_is_exact_to_the_nanosecond() -> None:
    # 1234.000000002 s: 1234 s + 2 ns; stamp_key is the integer nanosecond count.
    stamp = to_time_msg(1234.000000002)
    assert (stamp.sec, stamp.nanosec) == (1234, 2)
    assert stamp_key(stamp) == 1_234_000_000_002
    assert from_time_msg(to_time_msg(0.002 * 4097)) == pytest.approx(8.194, abs=1e-9)
    # the bridge and the estimator compute the same key for the same step
    assert stamp_key(to_time_msg(3 * 0.001 * 1000)) == stamp_key(to_time_msg(3.0))


def test_joint_state_round_trip_and_reorder() -> None:
    msg = joint_state_msg(to_time_msg(1.0), ["b", "a", "c"], np.array([2.0, 1.0, 3.0]), effort=np.array([0.2, 0.1, 0.3]))
    j = joint_arrays(msg)
    assert j.names == ("b", "a", "c")
    idx = reorder_index(j.names, ("a", "b", "c"))
    np.testing.assert_array_equal(j.position[idx], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(j.effort[idx], [0.1, 0.2, 0.3])
    assert j.velocity.size == 0
    with pytest.raises(ValueError, match=r"lacks joints \['d'\]"):
        reorder_index(j.names, ("a", "d"))


def test_quat_rotate_quarter_turn_about_z() -> None:
    # q = (0, 0, sin 45°, cos 45°): +90° about z takes x to y.
    q = np.array([0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)])
    np.testing.assert_allclose(quat_rotate(q, np.array([1.0, 0.0, 0.0])), [0.0, 1.0, 0.0], atol=1e-12)


def test_odometry_twist_is_in_body_frame_and_round_trips_to_world() -> None:
    q = np.array([0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)])  # yawed +90°
    v_world = np.array([0.0, 1.0, 0.0])  # moving along world y = body forward
    msg = odometry_msg(to_time_msg(2.0), np.array([1.0, 2.0, 0.4]), q, v_world, np.array([0.0, 0.0, 0.5]))
    assert (msg.header.frame_id, msg.child_frame_id) == ("odom", "base_link")
    lin = msg.twist.twist.linear
    np.testing.assert_allclose([lin.x, lin.y, lin.z], [1.0, 0.0, 0.0], atol=1e-12)
    p, q2, v2, w2 = odometry_arrays(msg)
    np.testing.assert_allclose(v2, v_world, atol=1e-12)
    np.testing.assert_allclose(p, [1.0, 2.0, 0.4])
    np.testing.assert_allclose(w2, [0.0, 0.0, 0.5])


def test_imu_round_trip_with_covariances() -> None:
    cov = (diagonal_covariance(1e-4), diagonal_covariance(1e-5), diagonal_covariance(1e-3))
    msg = imu_msg(to_time_msg(0.5), "imu_link", np.array([0, 0, 0, 1.0]), np.array([0.1, 0.2, 0.3]),
                  np.array([0.0, 0.0, 10.0]), cov)
    o, w, a = imu_arrays(msg)
    np.testing.assert_allclose(w, [0.1, 0.2, 0.3])
    np.testing.assert_allclose(a, [0.0, 0.0, 10.0])
    assert msg.angular_velocity_covariance[0] == pytest.approx(1e-5)
    assert msg.angular_velocity_covariance[1] == 0.0


def test_checked_joint_arrays_rejects_fields_that_do_not_match_the_names() -> None:
    from sensor_msgs.msg import JointState

    from anima.ros_nodes._conversions import MalformedMessage, checked_joint_arrays

    names = ["a", "b", "c"]
    ok = checked_joint_arrays(joint_state_msg(to_time_msg(0.0), names, np.zeros(3)), "js")  # velocity, effort left out
    assert ok.position.shape == (3,) and ok.velocity.size == 0
    with pytest.raises(MalformedMessage, match="js: 3 names but 0 position values"):
        checked_joint_arrays(JointState(name=names), "js")
    with pytest.raises(MalformedMessage, match="js: 3 names but 2 velocity values; expected one per name or none"):
        checked_joint_arrays(joint_state_msg(to_time_msg(0.0), names, np.zeros(3), np.zeros(2)), "js")
    with pytest.raises(MalformedMessage, match="0 effort values; expected one per name \\(required\\)"):
        checked_joint_arrays(joint_state_msg(to_time_msg(0.0), names, np.zeros(3)), "js", required=("position", "effort"))


def test_multi_dof_positions_checks_lengths_and_names() -> None:
    from sensor_msgs.msg import MultiDOFJointState

    from anima.ros_nodes._conversions import MalformedMessage, multi_dof_positions
    from anima.ros_nodes._conversions import ball_state_msg

    p, v = np.array([[1.0, 2, 3], [4, 5, 6]]), np.array([[0.1, 0, 0], [0, 0.2, 0]])
    msg = ball_state_msg(to_time_msg(0.0), "world", p, v)
    pos, vel = multi_dof_positions(msg, ("ball_1", "ball_0"), "balls/state")  # by name, in the order asked
    np.testing.assert_array_equal(pos, p[::-1])
    np.testing.assert_array_equal(vel, v[::-1])
    msg.twist = []  # no twists: velocities zero
    assert not multi_dof_positions(msg, ("ball_0",), "b")[1].any()
    with pytest.raises(MalformedMessage, match="2 joint_names but 0 transforms"):
        multi_dof_positions(MultiDOFJointState(joint_names=["ball_0", "ball_1"]), ("ball_0",), "b")
    with pytest.raises(MalformedMessage, match="lacks \\['ball_2'\\]"):
        multi_dof_positions(ball_state_msg(to_time_msg(0.0), "w", p, v), ("ball_2",), "b")
