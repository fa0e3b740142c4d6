"""pose_hold: a scripted policy that publishes ``joint_targets`` for a standing robot.

Starts from the measured joint positions once the controller answers (the first ``joint_states``
after a ``joint_commands`` message), rises to the standing pose over ``rise_time_s``, then holds
it, or cycles stand -> crouch -> stand with period ``cycle_period_s`` (core:
``anima.controllers.pose_schedule``). Runs on the node clock, so under the simulator it follows
``/clock`` (``use_sim_time``). Waiting for the controller matters when it starts late: a schedule
started on the first ``joint_states`` would run ahead while nothing controls the robot, and the
controller would then chase a target far from where the robot is (issue 20, item 6).

Topics: subscribes ``joint_commands`` (until the first one) and ``joint_states`` (for the start
pose); both subscriptions are dropped once the schedule starts; publishes ``joint_targets``
(sensor_msgs/JointState, position = target) at ``rate_hz``. Parameters: ``robot`` (str,
"laikago"), ``stand_pose`` (str, "standing"), ``crouch_pose`` (str, "crouch"), ``rate_hz`` (float,
30), ``rise_time_s`` (float, 1.5), ``cycle_period_s`` (float, 0 = hold; e.g. 4.0 for the
crouch-stand cycle).
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState

from anima.controllers.pose_schedule import PoseSchedule, named_pose
from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, declare_params, run_node
from anima.ros_nodes._conversions import checked_joint_arrays, joint_state_msg, reorder_index


class PoseHoldNode(Node):
    def __init__(self) -> None:
        super().__init__("pose_hold")
        robot = load_robot_config(self.declare_parameter("robot", "laikago").value)
        self._names = tuple(robot.joint_names)
        stand_name = self.declare_parameter("stand_pose", "standing").value
        crouch_name = self.declare_parameter("crouch_pose", "crouch").value
        self._stand = tuple(float(x) for x in named_pose(robot, stand_name))
        self._crouch = tuple(float(x) for x in named_pose(robot, crouch_name))
        p = declare_params(self, {"rate_hz": 30.0, "rise_time_s": 1.5, "cycle_period_s": 0.0})
        self._rate, self._rise, self._period = p["rate_hz"], p["rise_time_s"], p["cycle_period_s"]
        if self._rate <= 0:
            raise ValueError(f"rate_hz must be > 0, got {self._rate}")
        self._schedule: PoseSchedule | None = None
        self._t0 = None
        self._pub = self.create_publisher(JointState, "joint_targets", COMMAND_QOS)
        self._commands_flow = False
        self._cmd_sub = self.create_subscription(JointState, "joint_commands", self._on_first_command, COMMAND_QOS)
        self._sub = self.create_subscription(JointState, "joint_states", self._on_first_state, SENSOR_QOS)
        self.create_timer(1.0 / self._rate, self._on_timer)
        mode = "hold" if self._period == 0 else f"crouch-stand cycle {self._period:g} s"
        self.get_logger().info(f"rise to '{stand_name}' over {self._rise:g} s, then {mode}, {self._rate:g} Hz")

    def _on_first_command(self, _msg: JointState) -> None:
        if not self._commands_flow:
            self._commands_flow = True
            self.get_logger().info("the controller answers: starting from the next measured pose")

    def _on_first_state(self, msg: JointState) -> None:
        if not self._commands_flow or self._schedule is not None:
            return  # no controller yet: the robot is not under control, do not start the schedule
        if self.get_clock().now().nanoseconds == 0:
            return  # use_sim_time and no /clock yet: wait for a valid time base
        try:  # a malformed message (MalformedMessage, a ValueError) is rejected like a wrong joint set
            j = checked_joint_arrays(msg, "joint_states")
            start = j.position[reorder_index(j.names, self._names)]
        except ValueError as err:
            self.get_logger().error(str(err), throttle_duration_sec=1.0)
            return
        if not np.all(np.isfinite(start)):
            return
        self._schedule = PoseSchedule(tuple(start), self._stand, self._crouch, self._rise, self._period)
        self._t0 = self.get_clock().now()
        self.destroy_subscription(self._sub)  # only the start pose is needed: save the CPU
        self.destroy_subscription(self._cmd_sub)

    def _on_timer(self) -> None:
        if self._schedule is None:
            return
        now = self.get_clock().now()
        t = (now - self._t0).nanoseconds * 1e-9
        self._pub.publish(joint_state_msg(now.to_msg(), self._names, position=self._schedule.at(t)))


def main(args: list[str] | None = None) -> int:
    return run_node(PoseHoldNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
