"""ROS integration: vice_raq_policy moves the simulated Sawyer's hand by its actions (real DDS).

``anima launch launch/sawyer_vice_raq_policy_sim.launch.xml task:=push policy:=<file>`` (bridge with the
48x48 camera, pd_controller, cartesian_controller, vice_raq_policy) in this test's ROS_DOMAIN_ID.
The policy file is built here in the trainer's format with a constant action: the actor's output
layer has zero weights and a bias whose tanh is (1, 0, 0, 1) to 4 decimals, i.e. +2 cm along x per
step with the fingers open, whatever the camera shows. The test watches ``ee_pose`` until the hand
is 6 cm further along x, and checks it did not drift in y or z and that no frame was refused.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node

from anima.models.vice_raq.networks import ConvEncoder, GaussianActor
from anima.models.vice_raq.policy import PolicySpec, save_policy
from anima.ros_nodes._common import SENSOR_QOS
from anima.ros_nodes._diagnostics import DIAGNOSTICS_TOPIC, find_status, status_values

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]


def constant_policy(path: Path, action: tuple[float, ...]) -> Path:
    torch.manual_seed(0)
    actor = GaussianActor(16, 4, (16,))
    out = actor.net[-1]
    with torch.no_grad():
        out.weight.zero_()
        out.bias.copy_(torch.tensor([*np.arctanh(np.clip(action, -0.9999, 0.9999)), -5.0, -5.0, -5.0, -5.0]))
    spec = PolicySpec(task="push", image_size_px=48, action_dim=4, action_low=(-1.0,) * 4, action_high=(1.0,) * 4)
    save_policy(path, spec, {"hidden_sizes": [16], "feature_dim": 16, "conv_filters": 4, "conv_kernel": 5},
                ConvEncoder(48, 4, 5, 16), actor)
    return path


def test_the_policys_actions_move_the_hand(ros_env, venv_bin, tmp_path) -> None:
    policy = constant_policy(tmp_path / "push_policy.pt", (1.0, 0.0, 0.0, 1.0))
    launch = subprocess.Popen(
        [str(venv_bin / "anima"), "launch", str(REPO / "launch" / "sawyer_vice_raq_policy_sim.launch.xml"),
         "task:=push", f"policy:={policy}", "--timeout", "300"],
        env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    node = Node("sawyer_watcher", context=ctx)
    poses: list[np.ndarray] = []
    status: dict[str, str] = {}

    def on_pose(msg: PoseStamped) -> None:
        p = msg.pose.position
        poses.append(np.array([p.x, p.y, p.z]))

    def on_diag(msg: DiagnosticArray) -> None:
        s = find_status(msg, "vice_raq_policy: policy")
        if s is not None:
            status.update(status_values(s))

    node.create_subscription(PoseStamped, "ee_pose", on_pose, SENSOR_QOS)
    node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, on_diag, 10)
    executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
    executor.add_node(node)

    def spin_until(cond, what: str, wall_s: float = 240.0) -> None:
        end = time.monotonic() + wall_s
        while not cond():
            assert launch.poll() is None, f"the launch ended waiting for {what}:\n{launch.stdout.read()[-4000:]}"
            assert time.monotonic() < end, f"timed out waiting for {what} (status {status})"
            executor.spin_once(timeout_sec=0.05)

    try:
        spin_until(lambda: bool(poses), "ee_pose")
        start = poses[0]
        spin_until(lambda: poses[-1][0] - start[0] > 0.06, "the hand to move 6 cm along x")
        spin_until(lambda: int(status.get("actions", "0")) > 0, "the policy's diagnostics")
        end = poses[-1]
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        launch.terminate()
        log, _ = launch.communicate(timeout=60)
    assert abs(end[1] - start[1]) < 0.01 and abs(end[2] - start[2]) < 0.01, (start, end, log[-3000:])
    assert status["frames_refused"] == "0" and status["running"] == "true", status
