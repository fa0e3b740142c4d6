"""pd_controller: the joint command path (filter, interpolation, limits, PD, e-stop) as a node.

Runs one control step per ``joint_states`` message (500 Hz on Laikago), so commands follow the
robot's own sample clock with one message of latency and no timer jitter; time for timeouts and
interpolation is the ``joint_states`` stamp (sim time under the bridge, the driver's clock on a
robot).

Topics: subscribes ``joint_states`` (sensor_msgs/JointState, best effort) and ``joint_targets``
(sensor_msgs/JointState, position = target, by name, reliable); publishes ``joint_commands``
(sensor_msgs/JointState, effort = torque N·m, header stamp = the joint_states stamp it answers).
Services: ``emergency_stop`` (std_srvs/Trigger: damping until reset), ``reset_emergency_stop``
(std_srvs/Trigger). Parameters: ``robot`` (str, "laikago": config/robots/<robot>.yaml),
``robot_config`` (str, "": explicit path overriding ``robot``).
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from anima.controllers.command_path import JointCommandPath
from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, from_time_msg, run_node
from anima.ros_nodes._conversions import joint_state_msg, reorder_index


class PdControllerNode(Node):
    def __init__(self) -> None:
        super().__init__("pd_controller")
        robot = self.declare_parameter("robot", "laikago").value
        path = self.declare_parameter("robot_config", "").value
        self.config = load_robot_config(path or robot)
        self.core = JointCommandPath(self.config)
        self._names = tuple(self.config.joint_names)
        self._state_names: tuple[str, ...] = ()
        self._index = None
        self._now = None
        self._cmd_pub = self.create_publisher(JointState, "joint_commands", COMMAND_QOS)
        self.create_subscription(JointState, "joint_states", self._on_state, SENSOR_QOS)
        self.create_subscription(JointState, "joint_targets", self._on_targets, COMMAND_QOS)
        self.create_service(Trigger, "emergency_stop", self._on_estop)
        self.create_service(Trigger, "reset_emergency_stop", self._on_reset)
        self.get_logger().info(f"robot {robot}: {len(self._names)} joints, commands per joint_states message")

    def _on_state(self, msg: JointState) -> None:
        names = tuple(msg.name)
        if names != self._state_names:
            try:
                self._index = reorder_index(names, self._names)
            except ValueError as err:
                self.get_logger().error(str(err), throttle_duration_sec=1.0)
                return
            self._state_names = names
        self._now = from_time_msg(msg.header.stamp)
        q = self._take(msg.position)
        qd = self._take(msg.velocity)
        tau = self.core.compute(q, qd, self._now)
        self._cmd_pub.publish(joint_state_msg(msg.header.stamp, self._names, effort=tau))

    def _take(self, values) -> np.ndarray:
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (len(self._state_names),):
            return np.full(len(self._names), np.nan)  # missing field: the core damps those joints
        return arr[self._index]

    def _on_targets(self, msg: JointState) -> None:
        if self._now is None:
            self.get_logger().warn("joint_targets before any joint_states: ignored", throttle_duration_sec=2.0)
            return
        update = self.core.set_targets(list(msg.name), msg.position, self._now)
        if not update.accepted:
            self.get_logger().warn(f"joint_targets rejected: {update.reason}", throttle_duration_sec=1.0)
        elif update.clamped:
            self.get_logger().warn(f"joint_targets clamped to limits: {list(update.clamped)}", throttle_duration_sec=1.0)

    def _on_estop(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        self.core.emergency_stop()
        self.get_logger().error("EMERGENCY STOP: damping until reset_emergency_stop")
        resp.success, resp.message = True, "emergency stop active: damping"
        return resp

    def _on_reset(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        self.core.reset()
        self.get_logger().info("emergency stop reset")
        resp.success, resp.message = True, "emergency stop cleared"
        return resp


def main(args: list[str] | None = None) -> int:
    return run_node(PdControllerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
