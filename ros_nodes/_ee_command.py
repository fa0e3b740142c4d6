"""Publishing an end-effector setpoint and a finger opening: ``ee_target`` + ``gripper_command``.

Shared by the image policies that drive the Sawyer through ``cartesian_controller``
(``solar_planner``, ``vice_raq_policy``): the pose in ``base_link`` with the hand pointing down
(``anima.controllers.sawyer_arm.EE_DOWN_XYZW``), the finger position (m) on the gripper joint.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState

from anima.controllers.sawyer_arm import EE_DOWN_XYZW, GRIPPER_JOINT
from anima.ros_nodes._common import COMMAND_QOS
from anima.ros_nodes._conversions import joint_state_msg


class EeCommandPublisher:
    """``publish(stamp, position_m, gripper_m)`` on ``ee_target`` (PoseStamped) and ``gripper_command`` (JointState)."""

    def __init__(self, node: Node, base_link: str) -> None:
        self.base_link = base_link
        self._ee_pub = node.create_publisher(PoseStamped, "ee_target", COMMAND_QOS)
        self._gripper_pub = node.create_publisher(JointState, "gripper_command", COMMAND_QOS)

    def listened(self) -> bool:
        """True once a subscriber (``cartesian_controller``) has matched ``ee_target``.

        A setpoint published before discovery matched is lost (volatile durability), so a policy
        waits for this before its episode starts instead of acting into the void.
        """
        return self._ee_pub.get_subscription_count() > 0

    def publish(self, stamp, position_m: np.ndarray, gripper_m: float) -> None:
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, self.base_link
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in np.ravel(position_m)[:3])
        o = pose.pose.orientation
        o.x, o.y, o.z, o.w = EE_DOWN_XYZW
        self._ee_pub.publish(pose)
        self._gripper_pub.publish(joint_state_msg(stamp, (GRIPPER_JOINT,), position=[float(gripper_m)]))
