"""cartesian_controller: end-effector pose / velocity targets -> joint position targets (IK).

The arm's kinematics come from the URDF (chain ``base_link`` -> ``tip_link``); the core is
:class:`anima.controllers.cartesian_controller.CartesianController` (damped least squares with
joint limits and a nullspace pull to the rest posture), the same object the Sawyer training
environments use. The joint targets go to pd_controller.

Topics: subscribes ``joint_states`` (sensor_msgs/JointState, best effort; the first one sets the
held pose), ``ee_target`` (geometry_msgs/PoseStamped, frame ``base_link`` or empty, reliable) and
``ee_velocity`` (geometry_msgs/TwistStamped, base frame, reliable; integrated until it is
``velocity_timeout_s`` old); publishes ``joint_targets`` (sensor_msgs/JointState, position = target,
at ``rate_hz``) and ``ee_pose`` (geometry_msgs/PoseStamped: forward kinematics of the latest
``joint_states``, at ``rate_hz``) and ``/diagnostics`` (diagnostic_msgs/DiagnosticArray at 1 Hz:
WARN with the reason while targets were refused in the last second, counts of accepted and
refused pose targets). An unreachable or non-finite ``ee_target`` is rejected with a
throttled warning and the last safe target is kept.

Parameters: ``robot`` (str, "sawyer": config/robots/<robot>.yaml for joints, URDF and rest pose),
``base_link`` (str, "base_link"), ``tip_link`` (str, "ee"), ``rate_hz`` (float, 0 = the robot
config's target_rate_hz), and the IK settings of :class:`CartesianConfig` (``damping``,
``orientation_weight``, ``position_tolerance_m``, ``orientation_tolerance_rad``,
``max_iterations``, ``nullspace_gain``, ``workspace_min_m``, ``workspace_max_m`` (3 values each,
empty = no box), ``max_linear_speed_mps``, ``max_angular_speed_radps``, ``velocity_timeout_s``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState

from anima.controllers.cartesian_controller import CartesianConfig, CartesianController, matrix_to_quat
from anima.controllers.robot_config import load_robot_config
from anima.controllers.serial_chain import SerialChain
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, STREAM_QOS, declare_params, run_node
from anima.ros_nodes._conversions import joint_state_msg, reorder_index


class CartesianControllerNode(Node):
    def __init__(self) -> None:
        super().__init__("cartesian_controller")
        p = declare_params(self, {"robot": "sawyer", "base_link": "base_link", "tip_link": "ee", "rate_hz": 0.0})
        robot = load_robot_config(p["robot"])
        urdf = Path(robot.urdf)
        if not urdf.is_absolute():
            from anima.controllers.paths import share_dir

            urdf = share_dir() / urdf
        self.chain = SerialChain.from_urdf(urdf, p["base_link"], p["tip_link"])
        if self.chain.joint_names != robot.joint_names:
            raise ValueError(f"URDF chain joints {self.chain.joint_names} differ from {robot.source} {robot.joint_names}")
        self.core = CartesianController(self.chain, self._cartesian_config(), robot.standing_pose)
        self._frame = p["base_link"]
        self._names = self.chain.joint_names
        self._state_names: tuple[str, ...] = ()
        self._index: np.ndarray | None = None
        self._q: np.ndarray | None = None
        self._stamp = None
        rate = p["rate_hz"] or robot.target_rate_hz
        self._targets_pub = self.create_publisher(JointState, "joint_targets", COMMAND_QOS)
        self._pose_pub = self.create_publisher(PoseStamped, "ee_pose", STREAM_QOS)
        self.create_subscription(JointState, "joint_states", self._on_state, SENSOR_QOS)
        self.create_subscription(PoseStamped, "ee_target", self._on_target, COMMAND_QOS)
        self.create_subscription(TwistStamped, "ee_velocity", self._on_velocity, COMMAND_QOS)
        self.create_timer(1.0 / rate, self._on_timer)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._rejected_before = 0
        self.create_timer(1.0, self._on_diagnostics)
        self.get_logger().info(f"{p['robot']}: IK {p['base_link']} -> {p['tip_link']} over {len(self._names)} joints, "
                               f"joint_targets at {rate:g} Hz")

    def _cartesian_config(self) -> CartesianConfig:
        defaults = CartesianConfig()
        spec = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(CartesianConfig)}
        spec["workspace_min_m"] = spec["workspace_max_m"] = [0.0]  # declared as double arrays; [] / [0.0] = none
        p = declare_params(self, spec)
        for key in ("workspace_min_m", "workspace_max_m"):
            p[key] = tuple(p[key]) if len(p[key]) == 3 else None
        p["max_iterations"] = int(p["max_iterations"])
        return CartesianConfig(**p)

    def _on_state(self, msg: JointState) -> None:
        names = tuple(msg.name)
        if names != self._state_names:
            try:
                self._index = reorder_index(names, self._names)
            except ValueError as err:
                self.get_logger().error(f"joint_states: {err}", throttle_duration_sec=1.0)
                return
            self._state_names = names
        q = np.asarray(msg.position, dtype=float)
        if q.shape != (len(names),) or not np.isfinite(q[self._index]).all():
            self.get_logger().warn("joint_states without finite positions: ignored", throttle_duration_sec=1.0)
            return
        self._q, self._stamp = q[self._index], msg.header.stamp
        if not self.core.ready:
            self.core.reset(self._q)

    def _on_target(self, msg: PoseStamped) -> None:
        if msg.header.frame_id not in ("", self._frame):
            self.get_logger().warn(f"ee_target rejected: frame '{msg.header.frame_id}' is not '{self._frame}'; "
                                   "keeping the last safe target", throttle_duration_sec=1.0)
            return
        p, o = msg.pose.position, msg.pose.orientation
        update = self.core.set_pose_target([p.x, p.y, p.z], [o.x, o.y, o.z, o.w])
        if not update.accepted:
            self.get_logger().warn(f"ee_target rejected: {update.reason}; keeping the last safe target",
                                   throttle_duration_sec=1.0)

    def _on_velocity(self, msg: TwistStamped) -> None:
        if msg.header.frame_id not in ("", self._frame):
            self.get_logger().warn(f"ee_velocity rejected: frame '{msg.header.frame_id}' is not '{self._frame}'",
                                   throttle_duration_sec=1.0)
            return
        v, w = msg.twist.linear, msg.twist.angular
        now = self.get_clock().now().nanoseconds * 1e-9
        update = self.core.set_velocity([v.x, v.y, v.z], [w.x, w.y, w.z], now)
        if not update.accepted:
            self.get_logger().warn(f"ee_velocity rejected: {update.reason}", throttle_duration_sec=1.0)

    def _on_timer(self) -> None:
        if self._q is None:
            return
        now = self.get_clock().now()
        q_target = self.core.step(now.nanoseconds * 1e-9)
        if q_target is not None:
            self._targets_pub.publish(joint_state_msg(now.to_msg(), self._names, position=q_target))
        T = self.chain.forward(self._q)
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = self._stamp, self._frame
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in T[:3, 3])
        q = matrix_to_quat(T[:3, :3])
        pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z, pose.pose.orientation.w = (
            float(v) for v in q)
        self._pose_pub.publish(pose)


    def _on_diagnostics(self) -> None:
        core = self.core
        refused = core.targets_rejected > self._rejected_before
        self._rejected_before = core.targets_rejected
        status = DiagnosticStatus(name=f"{self.get_name()}: cartesian targets", hardware_id=self._frame,
                                  level=DiagnosticStatus.WARN if refused else DiagnosticStatus.OK,
                                  message=core.last_reject_reason if refused else
                                  ("tracking" if core.ready else "waiting for joint_states"))
        status.values = [KeyValue(key="targets_accepted", value=str(core.targets_accepted)),
                         KeyValue(key="targets_rejected", value=str(core.targets_rejected)),
                         KeyValue(key="last_reject_reason", value=core.last_reject_reason)]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    return run_node(CartesianControllerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
