"""state_estimator: Laikago base state (orientation, position, velocities) as ``odom``.

A Kalman filter fusing the IMU with leg kinematics and contacts (core:
``anima.controllers.base_estimator``). One prediction per ``imu/data`` message, one correction and
one ``odom`` message per ``joint_states`` message; time is the message stamps.

Topics: subscribes ``imu/data`` (sensor_msgs/Imu) and ``joint_states`` (sensor_msgs/JointState,
effort used for contact detection); publishes ``odom`` (nav_msgs/Odometry, ``odom`` ->
``base_link``, twist in ``base_link``) once the IMU gravity check passed (``controllers.imu_check``:
at rest at start, gravity must read along +z of the IMU frame; if not, no ``odom`` is ever published
and the reason is logged as an error); ``/diagnostics`` (diagnostic_msgs/DiagnosticArray, status
"state_estimator: imu gravity check": level WARN waiting, OK passed, ERROR failed; values ``verdict``,
``reason``, ``odom_published``) at start, at the verdict and every second of ``joint_states`` time. Malformed ``joint_states`` (names without positions or velocities, short arrays)
are rejected with a throttled warning. Parameters: ``robot`` (str, "laikago": config/robots/<robot>.yaml names the URDF, the legs' joints and
feet, and the URDF-to-body rotation of the leg kinematics), ``hardware_id`` (str, "" = the robot name),
``initial_height_m`` (float, 0.0 = from the
core config), ``gravity_mps2`` (float, 9.81; the simulator uses 10), ``foot_velocity_source``
(str, "joint_velocity" | "differentiated"), ``odom_frame`` (str, "odom"), ``base_frame``
(str, "base_link"), ``imu_max_tilt_deg`` (float, 30.0: allowed angle between gravity and +z at start).
"""

from __future__ import annotations

import math

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import Imu, JointState

from anima.controllers.base_estimator import BaseEstimator, BaseEstimatorConfig
from anima.controllers.imu_check import GravityCheck, GravityCheckConfig, ImuVerdict
from anima.controllers.leg_kinematics import LegKinematics
from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._cdr import CdrError, JointStateReader
from anima.ros_nodes._common import SENSOR_QOS, STREAM_QOS, declare_params, from_time_msg, run_node
from anima.ros_nodes._conversions import MalformedMessage, checked_joint_arrays, imu_arrays, odometry_msg, reorder_index
from anima.ros_nodes._diagnostics import (DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, ERROR, OK, WARN, diagnostic_array,
                                         diagnostic_status)

_LEVELS = {ImuVerdict.WAITING: WARN, ImuVerdict.PASSED: OK, ImuVerdict.FAILED: ERROR}
DIAGNOSTICS_PERIOD_S = 1.0


class StateEstimatorNode(Node):
    def __init__(self) -> None:
        super().__init__("state_estimator")
        p = declare_params(
            self, {"robot": "laikago", "hardware_id": "", "initial_height_m": 0.0, "gravity_mps2": 9.81,
                   "foot_velocity_source": "joint_velocity", "imu_max_tilt_deg": 30.0}
        )
        self._odom_frame = self.declare_parameter("odom_frame", "odom").value
        self._base_frame = self.declare_parameter("base_frame", "base_link").value
        self._hardware_id = str(p["hardware_id"]) or str(p["robot"])
        self.kinematics = LegKinematics.from_robot_config(load_robot_config(str(p["robot"])))
        overrides = {"gravity_mps2": p["gravity_mps2"], "foot_velocity_source": p["foot_velocity_source"]}
        if p["initial_height_m"] > 0:
            overrides["initial_height_m"] = p["initial_height_m"]
        config = BaseEstimatorConfig(**overrides)
        self.core = BaseEstimator(config, self.kinematics)
        self.core.reset()
        self.imu_check = GravityCheck(GravityCheckConfig(gravity_mps2=p["gravity_mps2"],
                                                         max_tilt_rad=math.radians(p["imu_max_tilt_deg"])))
        self._state_names: tuple[str, ...] = ()
        self._index = None
        self._have_imu = False
        self._pub = self.create_publisher(Odometry, "odom", STREAM_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS)
        self._diag_time = None
        self._report_imu_check()
        self.create_subscription(Imu, "imu/data", self._on_imu, SENSOR_QOS)
        self._reader = JointStateReader()  # joint_states (500 Hz) read from its serialized form (``_cdr``)
        self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS, raw=True)
        self.get_logger().info(f"{p['robot']} base Kalman filter: imu/data + joint_states -> odom")

    def _on_imu(self, msg: Imu) -> None:
        orientation, gyro, accel = imu_arrays(msg)
        if self.imu_check.verdict is ImuVerdict.WAITING and self.imu_check.add(gyro, accel) is not ImuVerdict.WAITING:
            self._report_imu_check()
        self.core.update_imu(from_time_msg(msg.header.stamp), orientation, gyro, accel)
        self._have_imu = True

    def _report_imu_check(self) -> None:
        check = self.imu_check
        if check.verdict is ImuVerdict.FAILED:
            self.get_logger().error(f"{check.reason}. Refusing to publish odom (fix the IMU frame and restart)")
        elif check.verdict is ImuVerdict.PASSED:
            self.get_logger().info(check.reason)
        self._publish_diagnostics(self.get_clock().now().to_msg())

    def _publish_diagnostics(self, stamp) -> None:
        check = self.imu_check
        values = {"verdict": check.verdict.value, "reason": check.reason,
                  "odom_published": check.verdict is ImuVerdict.PASSED}
        status = diagnostic_status(f"{self.get_name()}: imu gravity check", self._hardware_id, _LEVELS[check.verdict],
                                   f"{check.verdict.value}: {check.reason}", values)
        self._diag_pub.publish(diagnostic_array(stamp, [status]))

    def _on_joints(self, raw: bytes) -> None:
        if not self._have_imu:
            return
        try:
            msg = self._reader.read(raw)
            j = checked_joint_arrays(msg, "joint_states", required=("position", "velocity"))
        except (MalformedMessage, CdrError) as err:
            self.get_logger().warning(f"rejected: {err}", throttle_duration_sec=1.0)
            return
        if j.names != self._state_names:
            try:
                self._index = reorder_index(j.names, self.kinematics.joint_names)
            except ValueError as err:
                self.get_logger().error(str(err), throttle_duration_sec=1.0)
                return
            self._state_names = j.names
        idx = self._index
        effort = j.effort[idx] if len(j.effort) else None
        t = msg.stamp_s
        stamp = Time(sec=msg.sec, nanosec=msg.nanosec)
        self.core.update_joints(t, j.position[idx], j.velocity[idx], effort)
        if self._diag_time is None or t - self._diag_time >= DIAGNOSTICS_PERIOD_S:
            self._diag_time = t
            self._publish_diagnostics(stamp)
        if self.imu_check.verdict is not ImuVerdict.PASSED:
            return  # the filter runs, but its output is not trusted until the IMU frame checked out
        s = self.core.state()
        self._pub.publish(
            odometry_msg(
                stamp,
                s.position,
                s.orientation_xyzw,
                s.linear_velocity_world,
                s.angular_velocity_body,
                s.pose_covariance,
                s.twist_covariance,
                self._odom_frame,
                self._base_frame,
            )
        )


def main(args: list[str] | None = None) -> int:
    return run_node(StateEstimatorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
