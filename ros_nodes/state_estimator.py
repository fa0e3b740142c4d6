"""state_estimator: Laikago base state (orientation, position, velocities) as ``odom``.

A Kalman filter fusing the IMU with leg kinematics and contacts (core:
``anima.controllers.base_estimator``). One prediction per ``imu/data`` message, one correction and
one ``odom`` message per ``joint_states`` message; time is the message stamps.

Topics: subscribes ``imu/data`` (sensor_msgs/Imu) and ``joint_states`` (sensor_msgs/JointState,
effort used for contact detection); publishes ``odom`` (nav_msgs/Odometry, ``odom`` ->
``base_link``, twist in ``base_link``). Parameters: ``initial_height_m`` (float, 0.0 = from the
core config), ``gravity_mps2`` (float, 9.81; the simulator uses 10), ``foot_velocity_source``
(str, "joint_velocity" | "differentiated"), ``odom_frame`` (str, "odom"), ``base_frame``
(str, "base_link").
"""

from __future__ import annotations

from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import Imu, JointState

from anima.controllers.base_estimator import BaseEstimator, BaseEstimatorConfig
from anima.controllers.leg_kinematics import LegKinematics
from anima.ros_nodes._common import SENSOR_QOS, STREAM_QOS, declare_params, from_time_msg, run_node
from anima.ros_nodes._conversions import imu_arrays, joint_arrays, odometry_msg, reorder_index


class StateEstimatorNode(Node):
    def __init__(self) -> None:
        super().__init__("state_estimator")
        p = declare_params(
            self, {"initial_height_m": 0.0, "gravity_mps2": 9.81, "foot_velocity_source": "joint_velocity"}
        )
        self._odom_frame = self.declare_parameter("odom_frame", "odom").value
        self._base_frame = self.declare_parameter("base_frame", "base_link").value
        self.kinematics = LegKinematics.laikago()
        overrides = {"gravity_mps2": p["gravity_mps2"], "foot_velocity_source": p["foot_velocity_source"]}
        if p["initial_height_m"] > 0:
            overrides["initial_height_m"] = p["initial_height_m"]
        config = BaseEstimatorConfig(**overrides)
        self.core = BaseEstimator(config, self.kinematics)
        self.core.reset()
        self._state_names: tuple[str, ...] = ()
        self._index = None
        self._have_imu = False
        self._pub = self.create_publisher(Odometry, "odom", STREAM_QOS)
        self.create_subscription(Imu, "imu/data", self._on_imu, SENSOR_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS)
        self.get_logger().info("Laikago base Kalman filter: imu/data + joint_states -> odom")

    def _on_imu(self, msg: Imu) -> None:
        orientation, gyro, accel = imu_arrays(msg)
        self.core.update_imu(from_time_msg(msg.header.stamp), orientation, gyro, accel)
        self._have_imu = True

    def _on_joints(self, msg: JointState) -> None:
        if not self._have_imu:
            return
        j = joint_arrays(msg)
        if j.names != self._state_names:
            try:
                self._index = reorder_index(j.names, self.kinematics.joint_names)
            except ValueError as err:
                self.get_logger().error(str(err), throttle_duration_sec=1.0)
                return
            self._state_names = j.names
        idx = self._index
        self.core.update_joints(from_time_msg(msg.header.stamp), j.position[idx], j.velocity[idx], j.effort[idx])
        s = self.core.state()
        self._pub.publish(
            odometry_msg(
                msg.header.stamp,
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
