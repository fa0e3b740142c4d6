"""Floods ``joint_commands`` with commands the bridge must reject, as fast as it can, until SIGINT.

Cycles three kinds: unknown joint names, a NaN torque, a stamp 1000 s ahead of the clock. Prints
``sent N`` at exit. Run by tests/faults/test_bridge_faults.py (issue 20, item 13).
"""

from __future__ import annotations

import signal
import sys

import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import JointState

from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._common import COMMAND_QOS, to_time_msg
from anima.ros_nodes._conversions import joint_state_msg


def main() -> int:
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    rclpy.init(signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = Node("command_flood")
    pub = node.create_publisher(JointState, "joint_commands", COMMAND_QOS)
    names = list(load_robot_config("laikago").joint_names)
    effort = np.full(12, 1.0)
    nan = effort.copy()
    nan[0] = np.nan
    bad = [joint_state_msg(to_time_msg(0.0), ["no_such_joint"] + names[1:], effort=effort),
           joint_state_msg(to_time_msg(0.0), names, effort=nan),
           joint_state_msg(to_time_msg(1000.0), names, effort=effort)]
    print("flooding", flush=True)
    sent = 0
    while not stop:
        pub.publish(bad[sent % 3])
        sent += 1
    print(f"sent {sent}", flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
