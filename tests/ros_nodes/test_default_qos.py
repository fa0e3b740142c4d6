"""QoS: a default-QoS subscriber (reliable, volatile, as rviz, nav2 and recorders use) receives
every output topic of each simulated stack, over real DDS.

Stream publishers are reliable (``STREAM_QOS``); our own stream subscribers are best effort and
still match them. The DDS rule this relies on, and which made the old best-effort publishers
invisible to default subscribers, is checked first, so that test fails if the rule is misread.
Latched topics (``robot_description``) are read as rviz reads them: reliable, transient local.
"""

from __future__ import annotations

import ast
import signal
import subprocess
import time
from pathlib import Path

import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray, PoseStamped
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState, MultiDOFJointState
from std_msgs.msg import Bool, String

from anima.ros_nodes._common import LATCHED_QOS, SENSOR_QOS, STREAM_QOS

REPO = Path(__file__).resolve().parents[2]
DEFAULT_QOS = 10  # rclpy's default: reliable, volatile, keep last 10

LAIKAGO_OUTPUTS = {
    "/clock": Clock,
    "joint_states": JointState,
    "imu/data": Imu,
    "joint_commands": JointState,
    "joint_targets": JointState,
    "odom": Odometry,
    "sim/ground_truth/odom": Odometry,
    "sim/ground_truth/non_foot_contacts": String,
    "/diagnostics": DiagnosticArray,  # state_estimator's IMU check
}
BAODING_OUTPUTS = {
    "/clock": Clock,
    "joint_states": JointState,
    "joint_commands": JointState,
    "joint_targets": JointState,
    "stereo/left/image_raw": Image,
    "stereo/right/image_raw": Image,
    "stereo/left/camera_info": CameraInfo,
    "stereo/right/camera_info": CameraInfo,
    "balls/detections": PoseArray,
    "balls/state": MultiDOFJointState,
    "sim/ground_truth/balls": MultiDOFJointState,
    "sim/ground_truth/balls_dropped": String,
    "/diagnostics": DiagnosticArray,  # ball_state_estimator and pddm_planner
}
SAWYER_OUTPUTS = {
    "/clock": Clock,
    "joint_states": JointState,
    "joint_commands": JointState,
    "joint_targets": JointState,
    "ee_pose": PoseStamped,
    "camera/image_raw": Image,
    "camera/camera_info": CameraInfo,
    "sim/ground_truth/objects": MultiDOFJointState,
    "sim/ground_truth/success": Bool,
    "gripper/joint_states": JointState,
    "/diagnostics": DiagnosticArray,  # cartesian_controller
}
LATCHED_OUTPUTS = {"robot_description": String}


class Probe:
    """Subscribers in the test's own context and ROS domain; counts messages per topic."""

    def __init__(self, domain_id: int) -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("qos_probe", context=self.ctx)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.counts: dict[str, int] = {}

    def listen(self, msg_type, topic: str, qos) -> None:
        self.counts[topic] = 0
        self.node.create_subscription(msg_type, topic, lambda _m, t=topic: self._count(t), qos)

    def _count(self, topic: str) -> None:
        self.counts[topic] += 1

    def spin_until(self, done, timeout_s: float, alive=lambda: True) -> bool:
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline and alive():
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


def test_reliable_stream_publisher_reaches_default_and_best_effort_subscribers(ros_env) -> None:
    probe = Probe(int(ros_env["ROS_DOMAIN_ID"]))
    try:
        old_qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        reliable = probe.node.create_publisher(String, "stream", STREAM_QOS)
        best_effort = probe.node.create_publisher(String, "old_stream", old_qos)
        probe.listen(String, "stream", DEFAULT_QOS)
        probe.counts["stream/sensor_qos"] = 0
        probe.node.create_subscription(String, "stream", lambda _m: probe._count("stream/sensor_qos"), SENSOR_QOS)
        probe.listen(String, "old_stream", DEFAULT_QOS)

        def publish_and_check() -> bool:
            reliable.publish(String(data="x"))
            best_effort.publish(String(data="x"))
            return probe.counts["stream"] >= 20 and probe.counts["stream/sensor_qos"] >= 20

        assert probe.spin_until(publish_and_check, 30.0), probe.counts
        # the same number of sends on the best-effort publisher reached the default subscriber: none
        assert probe.counts["old_stream"] == 0
        assert best_effort.get_subscription_count() == 0 and reliable.get_subscription_count() == 2
    finally:
        probe.close()


def _probe_stack(ros_env, venv_bin, launch_file: str, outputs: dict, *args: str, timeout_s: float = 120.0) -> None:
    probe = Probe(int(ros_env["ROS_DOMAIN_ID"]))
    for topic, msg_type in outputs.items():
        probe.listen(msg_type, topic, DEFAULT_QOS)
    for topic, msg_type in LATCHED_OUTPUTS.items():
        probe.listen(msg_type, topic, LATCHED_QOS)
    launch = subprocess.Popen(
        [str(venv_bin / "anima"), "launch", str(REPO / "launch" / launch_file), *args, "--timeout", str(timeout_s + 30)],
        env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        # two messages of each stream; the latched description is published once
        need = {t: 1 if t in LATCHED_OUTPUTS else 2 for t in probe.counts}
        ok = probe.spin_until(lambda: all(probe.counts[t] >= n for t, n in need.items()), timeout_s,
                              alive=lambda: launch.poll() is None)
        counts = dict(probe.counts)
    finally:
        probe.close()
        if launch.poll() is None:
            launch.send_signal(signal.SIGINT)
        try:
            log, _ = launch.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            launch.kill()
            log, _ = launch.communicate()
    missing = sorted(t for t, n in counts.items() if n < need[t])
    assert ok, f"no messages for a default-QoS subscriber on {missing} (counts {counts}):\n{log[-4000:]}"
    assert launch.returncode == 0, f"anima launch exited {launch.returncode}:\n{log[-4000:]}"


@pytest.mark.ros
@pytest.mark.sim
@pytest.mark.slow
def test_default_subscriber_receives_every_laikago_output(ros_env, venv_bin) -> None:
    _probe_stack(ros_env, venv_bin, "laikago_sim.launch.xml", LAIKAGO_OUTPUTS)


@pytest.mark.ros
@pytest.mark.sim
@pytest.mark.slow
def test_default_subscriber_receives_every_baoding_output(ros_env, venv_bin) -> None:
    _probe_stack(ros_env, venv_bin, "shadowhand_baoding_sim.launch.xml", BAODING_OUTPUTS)


@pytest.mark.ros
@pytest.mark.sim
@pytest.mark.slow
def test_default_subscriber_receives_every_sawyer_output(ros_env, venv_bin) -> None:
    _probe_stack(ros_env, venv_bin, "sawyer_sim.launch.xml", SAWYER_OUTPUTS, "scene:=push")


def test_no_node_publishes_with_the_best_effort_subscriber_profile() -> None:
    # SENSOR_QOS is for subscriptions; a publisher with it is invisible to default subscribers.
    offenders = []
    for path in sorted((REPO / "ros_nodes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "create_publisher"
                    and any(isinstance(a, ast.Name) and a.id == "SENSOR_QOS" for a in [*node.args, *(k.value for k in node.keywords)])):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, f"publishers with the best-effort SENSOR_QOS: {offenders} (use STREAM_QOS)"
