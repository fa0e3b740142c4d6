"""vice_raq_policy as a process over DDS with a small randomly initialised policy file (the
``anima.models.vice_raq.policy`` format): the test is the robot (joint_states, camera frames) and
checks the node's ee_target / gripper_command against the same policy run here and the Sawyer env's
setpoint rule; frames of the wrong size or encoding are refused (counted in /diagnostics, proving
they arrived) and move nothing; a policy for another task is refused by name."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.context import Context
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState

from anima.controllers.robot_config import load_robot_config
from anima.models.vice_raq.networks import ConvEncoder, GaussianActor
from anima.models.vice_raq.policy import PolicySpec, load_policy, save_policy
from anima.ros_nodes._common import STREAM_QOS
from anima.ros_nodes._conversions import joint_state_msg
from anima.ros_nodes._diagnostics import find_status, status_values
from anima.ros_nodes._goal_query import rgb_image_msg
from anima.ros_nodes._goal_query_server import spin_in_thread

pytestmark = [pytest.mark.ros]
TIMEOUT_S = 60.0
SAWYER = load_robot_config("sawyer")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    spec = PolicySpec(task="push", image_size_px=48, action_dim=4, action_low=(-1.0,) * 4, action_high=(1.0,) * 4)
    path = tmp_path / "policy.pt"
    save_policy(path, spec, {"hidden_sizes": [32, 32], "feature_dim": 32, "conv_filters": 4, "conv_kernel": 5},
                ConvEncoder(48, 4, 5, 32), GaussianActor(32, 4, (32, 32)), {"note": "random, for node tests"})
    return path


class Robot:
    """The test's DDS participant: publishes joint_states and camera frames, records the node's output."""

    def __init__(self, domain_id: int) -> None:
        self.ctx = Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("fake_sawyer", context=self.ctx)
        self.targets: list[np.ndarray] = []
        self.grippers: list[float] = []
        self.diag: list[dict[str, str]] = []
        self.joints = self.node.create_publisher(JointState, "joint_states", STREAM_QOS)
        self.camera = self.node.create_publisher(Image, "camera/image_raw", STREAM_QOS)
        self.node.create_subscription(PoseStamped, "ee_target", self._on_target, 10)
        self.node.create_subscription(JointState, "gripper_command", lambda m: self.grippers.append(m.position[0]), 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)
        self.stop = threading.Event()
        self.thread = spin_in_thread(self.node, self.stop)

    def _on_target(self, msg: PoseStamped) -> None:
        assert msg.header.frame_id == "base_link"
        p = msg.pose.position
        self.targets.append(np.array([p.x, p.y, p.z]))

    def _on_diag(self, msg: DiagnosticArray) -> None:
        status = find_status(msg, "vice_raq_policy: policy")
        if status is not None:
            self.diag.append(status_values(status))

    def feed_until(self, frame: Image, condition, what: str, proc: subprocess.Popen, lines: list[str]) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not condition():
            assert proc.poll() is None, "vice_raq_policy died:\n" + "\n".join(lines[-30:])
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + "\n".join(lines[-30:])
            self.joints.publish(joint_state_msg(self.node.get_clock().now().to_msg(), SAWYER.joint_names,
                                                position=np.asarray(SAWYER.standing_pose)))
            self.camera.publish(frame)
            time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


@pytest.fixture
def robot(ros_env: dict[str, str]) -> Iterator[Robot]:
    r = Robot(int(ros_env["ROS_DOMAIN_ID"]))
    yield r
    r.close()


@pytest.fixture
def start_node(venv_bin: Path, ros_env: dict[str, str]) -> Iterator:
    procs: list[subprocess.Popen] = []

    def start(*params: str) -> tuple[subprocess.Popen, list[str]]:
        args = [str(venv_bin / "vice_raq_policy"), "--ros-args", *[a for p in params for a in ("-p", p)]]
        proc = subprocess.Popen(args, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: [lines.append(l.rstrip()) for l in proc.stdout], daemon=True)
        reader.start()
        procs.append(proc)
        proc.reader = reader
        return proc, lines

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(2)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def scene_frame(size: int = 48, encoding: str = "rgb8") -> tuple[np.ndarray, Image]:
    rgb = np.random.default_rng(5).integers(0, 256, (size, size, 3), dtype=np.uint8)
    msg = rgb_image_msg(0, rgb)
    msg.encoding = encoding
    return rgb, msg


def test_policy_moves_the_setpoint_as_the_env_does(policy_file: Path, robot: Robot, start_node) -> None:
    proc, lines = start_node(f"policy:={policy_file}")
    rgb, msg = scene_frame()
    robot.feed_until(msg, lambda: len(robot.targets) >= 3 and robot.grippers, "three ee_targets", proc, lines)
    action = load_policy(policy_file).act(rgb)  # the same frame every time: the same action every step
    steps = np.diff(np.array(robot.targets[:3]), axis=0)
    lo, hi = np.array([0.35, -0.35, 0.02]), np.array([0.85, 0.35, 0.35])
    expected = action[:3] * 0.02  # SawyerEnv: setpoint += action[:3] * max_step_m (inside the box)
    inside = (robot.targets[2] > lo + 1e-6) & (robot.targets[2] < hi - 1e-6)
    np.testing.assert_allclose(steps[:, inside], np.tile(expected[inside], (2, 1)), atol=1e-6)
    assert robot.grippers[-1] == pytest.approx((action[3] + 1) / 2 * 0.04, abs=1e-6)  # Sawyer finger limit 0.04 m


def test_wrong_frames_are_refused_and_move_nothing(policy_file: Path, robot: Robot, start_node) -> None:
    proc, lines = start_node(f"policy:={policy_file}")
    for size, encoding, why in ((64, "rgb8", "64x64"), (48, "bgr8", "bgr8")):
        _rgb, msg = scene_frame(size, encoding)
        robot.feed_until(msg, lambda: any(why in d["last_refusal"] for d in robot.diag), f"the {why} refusal",
                         proc, lines)
        assert any(why in line for line in lines)  # the node's warning names what arrived
    assert robot.targets == [] and robot.grippers == []


def test_policy_for_another_task_is_refused_by_name(policy_file: Path, start_node) -> None:
    proc, lines = start_node(f"policy:={policy_file}", "task:=bookshelf")
    assert proc.wait(timeout=TIMEOUT_S) == 2
    proc.reader.join(timeout=10)
    assert any(str(policy_file) in line and "'push'" in line and "'bookshelf'" in line for line in lines), lines
