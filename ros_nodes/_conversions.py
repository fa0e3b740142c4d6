"""Message <-> numpy conversions shared by the nodes (no math beyond frame bookkeeping)."""

from __future__ import annotations

import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Transform, Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState, MultiDOFJointState

from anima.controllers.spatial import quat_rotate, quat_rotate_inverse
from anima.ros_nodes._cdr import JointStateArrays


def _f64(values: np.ndarray) -> array.array:
    return array.array("d", np.ascontiguousarray(values, dtype=np.float64).tobytes())


@dataclass(frozen=True)
class JointArrays:
    """A JointState as arrays; empty arrays where the message leaves a field empty."""

    names: tuple[str, ...]
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


def joint_state_msg(
    stamp: Time,
    names: Sequence[str],
    position: np.ndarray | None = None,
    velocity: np.ndarray | None = None,
    effort: np.ndarray | None = None,
) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(names)
    if position is not None:
        msg.position = _f64(position)
    if velocity is not None:
        msg.velocity = _f64(velocity)
    if effort is not None:
        msg.effort = _f64(effort)
    return msg


def joint_arrays(msg: JointState | JointStateArrays) -> JointArrays:
    """Names and float arrays of a JointState, or of one read from its serialized form (``_cdr``)."""
    if isinstance(msg, JointStateArrays):
        return JointArrays(names=msg.names, position=msg.position, velocity=msg.velocity, effort=msg.effort)
    return JointArrays(
        names=tuple(msg.name),
        position=np.asarray(msg.position, dtype=np.float64),
        velocity=np.asarray(msg.velocity, dtype=np.float64),
        effort=np.asarray(msg.effort, dtype=np.float64),
    )


class MalformedMessage(ValueError):
    """A message whose fields do not fit together (names without positions, a short array).

    Nodes reject such a message with a throttled warning and keep running (issue 20, item 9):
    one bad message must not kill a node, which would make the launcher stop the whole stack.
    """


JOINT_FIELDS = ("position", "velocity", "effort")


def checked_joint_arrays(msg: JointState | JointStateArrays, topic: str, required: Sequence[str] = ("position",)) -> JointArrays:
    """``joint_arrays`` of a JointState whose fields agree with its names.

    Each field in ``required`` must hold one value per name; every other field must be empty (the
    message leaves it out, as sensor_msgs/JointState allows) or hold one value per name. Raises
    MalformedMessage naming ``topic``, the field and both lengths. Values are not checked for
    finiteness: what a NaN means (damp, skip) is the core's decision.
    """
    j = joint_arrays(msg)
    n = len(j.names)
    for field in JOINT_FIELDS:
        size = len(getattr(j, field))
        if size == n or (size == 0 and field not in required):
            continue
        need = "one per name (required)" if field in required else "one per name or none"
        raise MalformedMessage(f"{topic}: {n} names but {size} {field} values; expected {need}")
    return j


def multi_dof_positions(msg: MultiDOFJointState, names: Sequence[str], topic: str) -> tuple[np.ndarray, np.ndarray]:
    """(translations (k, 3), linear velocities (k, 3)) of the joints ``names`` in a MultiDOFJointState.

    ``transforms`` must hold one entry per joint name; ``twist`` one per name or none (velocities are
    then zero). Raises MalformedMessage naming ``topic`` and what is wrong (missing joint, short array).
    """
    n = len(msg.joint_names)
    if len(msg.transforms) != n:
        raise MalformedMessage(f"{topic}: {n} joint_names but {len(msg.transforms)} transforms; expected one per name")
    if len(msg.twist) not in (0, n):
        raise MalformedMessage(f"{topic}: {n} joint_names but {len(msg.twist)} twists; expected one per name or none")
    where = {name: i for i, name in enumerate(msg.joint_names)}
    missing = [name for name in names if name not in where]
    if missing:
        raise MalformedMessage(f"{topic}: needs joints {list(names)}, lacks {missing}")
    pos = np.empty((len(names), 3))
    vel = np.zeros((len(names), 3))
    for k, name in enumerate(names):
        t = msg.transforms[where[name]].translation
        pos[k] = (t.x, t.y, t.z)
        if msg.twist:
            v = msg.twist[where[name]].linear
            vel[k] = (v.x, v.y, v.z)
    return pos, vel


def reorder_index(source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """Index array ``idx`` such that ``values_in_source_order[idx]`` is in ``target`` order.

    Raises ValueError naming the joints that ``source`` lacks.
    """
    where = {name: i for i, name in enumerate(source)}
    missing = [name for name in target if name not in where]
    if missing:
        raise ValueError(f"joint_states lacks joints {missing}")
    return np.array([where[name] for name in target], dtype=np.intp)


def diagonal_covariance(variance: float) -> array.array:
    """Row-major 3x3 covariance with ``variance`` on the diagonal, ready for a message field."""
    return _f64(np.diag([variance] * 3).ravel())


def imu_msg(
    stamp: Time,
    frame_id: str,
    orientation_xyzw: np.ndarray,
    angular_velocity: np.ndarray,
    linear_acceleration: np.ndarray,
    covariances: tuple[array.array, array.array, array.array],
) -> Imu:
    """sensor_msgs/Imu; ``covariances`` (orientation, gyro, accel) from ``diagonal_covariance``,
    built once by the caller since they do not change between samples."""
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    o.x, o.y, o.z, o.w = (float(v) for v in orientation_xyzw)
    w.x, w.y, w.z = (float(v) for v in angular_velocity)
    a.x, a.y, a.z = (float(v) for v in linear_acceleration)
    msg.orientation_covariance, msg.angular_velocity_covariance, msg.linear_acceleration_covariance = covariances
    return msg


def imu_arrays(msg: Imu) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    return (
        np.array([o.x, o.y, o.z, o.w]),
        np.array([w.x, w.y, w.z]),
        np.array([a.x, a.y, a.z]),
    )


def odometry_msg(
    stamp: Time,
    position: np.ndarray,
    orientation_xyzw: np.ndarray,
    linear_velocity_world: np.ndarray,
    angular_velocity_body: np.ndarray,
    pose_covariance: np.ndarray | None = None,
    twist_covariance: np.ndarray | None = None,
    frame_id: str = "odom",
    child_frame_id: str = "base_link",
) -> Odometry:
    """nav_msgs/Odometry per REP-105: pose in ``odom``, twist in ``child_frame_id`` (body).

    The world-frame linear velocity is rotated into the body frame as the message requires.
    """
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.child_frame_id = child_frame_id
    p, o = msg.pose.pose.position, msg.pose.pose.orientation
    p.x, p.y, p.z = (float(v) for v in position)
    o.x, o.y, o.z, o.w = (float(v) for v in orientation_xyzw)
    v_body = quat_rotate_inverse(np.asarray(orientation_xyzw, dtype=float), np.asarray(linear_velocity_world, dtype=float))
    lin, ang = msg.twist.twist.linear, msg.twist.twist.angular
    lin.x, lin.y, lin.z = (float(v) for v in v_body)
    ang.x, ang.y, ang.z = (float(v) for v in angular_velocity_body)
    if pose_covariance is not None:
        msg.pose.covariance = _f64(np.asarray(pose_covariance).ravel())
    if twist_covariance is not None:
        msg.twist.covariance = _f64(np.asarray(twist_covariance).ravel())
    return msg


def odometry_arrays(msg: Odometry) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(position, orientation xyzw, linear velocity WORLD frame, angular velocity body)."""
    p, o = msg.pose.pose.position, msg.pose.pose.orientation
    q = np.array([o.x, o.y, o.z, o.w])
    lin, ang = msg.twist.twist.linear, msg.twist.twist.angular
    v_world = quat_rotate(q, np.array([lin.x, lin.y, lin.z]))
    return np.array([p.x, p.y, p.z]), q, v_world, np.array([ang.x, ang.y, ang.z])


def ball_state_msg(stamp, frame_id: str, positions: np.ndarray, velocities: np.ndarray) -> MultiDOFJointState:
    """MultiDOFJointState with ``ball_<i>``: translation = position (m), twist.linear = velocity (m/s)."""
    msg = MultiDOFJointState()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    for i, (p, v) in enumerate(zip(positions, velocities)):
        msg.joint_names.append(f"ball_{i}")
        tf = Transform()
        tf.translation.x, tf.translation.y, tf.translation.z = (float(x) for x in p)
        tf.rotation.w = 1.0
        tw = Twist()
        tw.linear.x, tw.linear.y, tw.linear.z = (float(x) for x in v)
        msg.transforms.append(tf)
        msg.twist.append(tw)
    return msg


def ball_state_arrays(msg: MultiDOFJointState) -> tuple[np.ndarray, np.ndarray]:
    """(positions (N, 3), velocities (N, 3)) of a ball-state message."""
    p = np.array([[t.translation.x, t.translation.y, t.translation.z] for t in msg.transforms]).reshape(-1, 3)
    v = np.array([[t.linear.x, t.linear.y, t.linear.z] for t in msg.twist]).reshape(-1, 3)
    return p, v
