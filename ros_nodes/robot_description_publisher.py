"""robot_description_publisher: the robot's URDF on ``robot_description``, latched, for rviz and robot_state_publisher.

Reads the URDF named by the robot config (``config/robots/<robot>.yaml`` key ``urdf``: the
package's ``urdf/`` or PyBullet's data folder for the Laikago), makes relative mesh files absolute
``file://`` URIs, publishes it once with transient-local durability (a subscriber that starts later
still gets it) and then only serves it. It works the same under ``ros2 launch`` and ``anima launch``.

Topics: publishes ``robot_description`` (std_msgs/String, reliable, transient local, depth 1).
Parameters: ``robot`` (str, "laikago"), ``urdf`` (str, "" = the robot config's URDF; a path, or
``pybullet_data/<file>``).
"""

from __future__ import annotations

from rclpy.node import Node
from std_msgs.msg import String

from anima.controllers.robot_config import load_robot_config
from anima.controllers.urdf import description_xml, resolve_urdf_path
from anima.ros_nodes._common import LATCHED_QOS, run_node


class RobotDescriptionPublisherNode(Node):
    def __init__(self) -> None:
        super().__init__("robot_description_publisher")
        robot = str(self.declare_parameter("robot", "laikago").value)
        urdf = str(self.declare_parameter("urdf", "").value) or load_robot_config(robot).urdf
        path = resolve_urdf_path(urdf)
        text = description_xml(path)
        self._pub = self.create_publisher(String, "robot_description", LATCHED_QOS)
        self._pub.publish(String(data=text))
        self.get_logger().info(f"robot_description: {path} ({len(text)} characters, latched)")


def main(args: list[str] | None = None) -> int:
    return run_node(RobotDescriptionPublisherNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
