"""Test helper: publishes one message of each stream the Foxglove bridge serves (joint_states,
odom, stereo and arm camera images, ee_pose, balls/state, /diagnostics) at 20 Hz until SIGINT; prints "ready" first."""

from __future__ import annotations

import signal

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, Transform
from nav_msgs.msg import Odometry
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image, JointState, MultiDOFJointState


def main() -> None:
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    node = rclpy.create_node("stream_publisher")
    js = JointState(name=["j0", "j1"], position=[0.25, -0.5], velocity=[0.0, 1.0], effort=[2.0, 3.0])
    odom = Odometry(child_frame_id="base_link")
    odom.header.frame_id = "odom"
    odom.pose.pose.position.x, odom.pose.pose.position.z, odom.pose.pose.orientation.w = 1.5, 0.45, 1.0
    img = Image(height=4, width=6, encoding="rgb8", step=18, data=bytes(range(72)))
    img.header.frame_id = "left_camera_optical_frame"
    balls = MultiDOFJointState(joint_names=["ball_0", "ball_1"], transforms=[Transform(), Transform()])
    balls.header.frame_id = "world"
    balls.transforms[1].translation.x = 0.04
    diag = DiagnosticArray(status=[DiagnosticStatus(level=DiagnosticStatus.WARN, name="pddm_planner: planning",
                                                    message="settling", hardware_id="shadowhand",
                                                    values=[KeyValue(key="plan_ms", value="14.2")])])
    ee = PoseStamped()
    ee.header.frame_id, ee.pose.position.y, ee.pose.orientation.w = "base_link", 0.3, 1.0
    pubs = [(node.create_publisher(Image, "camera/image_raw", 10), img),
            (node.create_publisher(PoseStamped, "ee_pose", 10), ee),
            (node.create_publisher(JointState, "joint_states", 10), js),
            (node.create_publisher(Odometry, "odom", 10), odom),
            (node.create_publisher(Image, "stereo/left/image_raw", 10), img),
            (node.create_publisher(Image, "stereo/right/image_raw", 10), img),
            (node.create_publisher(MultiDOFJointState, "balls/state", 10), balls),
            (node.create_publisher(DiagnosticArray, "/diagnostics", 10), diag)]
    print("ready", flush=True)
    while not stop:
        for pub, msg in pubs:
            pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.05)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
