"""pddm_planner over real DDS: publishes joint_targets at 10 Hz from joint_states + balls/state,
holds the rest grip until the balls are at rest, holds still when the state goes stale, switches task
by parameter, refuses a mismatched model. Faults (NaN state, a failing or slow planner) are in
``tests/faults/test_planner_faults.py``.

The test process is the hand and the ball estimator; the node runs as its own process in this
test's ROS_DOMAIN_ID (``ros_env``), loopback only.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from sensor_msgs.msg import JointState, MultiDOFJointState

from anima.controllers.robot_config import load_robot_config
from anima.models.dynamics_ensemble import DynamicsEnsemble, EnsembleConfig
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS
from anima.ros_nodes._conversions import joint_state_msg
from anima.ros_nodes._diagnostics import DIAGNOSTICS_TOPIC, OK, WARN, find_status, level_of, status_values
from anima.ros_nodes._conversions import ball_state_msg

pytestmark = [pytest.mark.ros]
ROBOT = load_robot_config("shadowhand")
BALLS = np.array([[0.03, 0.01, 0.21], [0.075, 0.005, 0.21]])
TRAINED_WITH = {"env_kwargs": {"task": "ccw", "action_scale": 0.5}}  # as `anima train pddm` records it


def _model(path: Path, state_dim: int = 36) -> Path:
    model = DynamicsEnsemble(state_dim, 24, EnsembleConfig(hidden_sizes=(16, 16)), joint_names=ROBOT.joint_names)
    model.save(path, extra=TRAINED_WITH)
    return path


def _start(ros_env: dict, model: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-P", "-m", "anima.ros_nodes.pddm_planner", "--ros-args", "-p", f"model_path:={model}",
           "-p", "num_samples:=64", "-p", "stale_timeout_s:=0.5", *extra]
    return subprocess.Popen(cmd, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class FakeHand:
    def __init__(self, domain_id: int) -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("fake_hand", context=self.ctx)
        self.targets: list[np.ndarray] = []
        self.stamps: list[float] = []  # header stamps of the targets (the node's clock at publishing)
        self.ball_velocity = np.zeros((2, 3))
        self.status: list[dict[str, str]] = []  # values of the planner's /diagnostics status, and its level
        self.js = self.node.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.balls = self.node.create_publisher(MultiDOFJointState, "balls/state", SENSOR_QOS)
        self.node.create_subscription(JointState, "joint_targets", self._on_targets, COMMAND_QOS)
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diagnostics, SENSOR_QOS)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        status = find_status(msg, "pddm_planner: planner")
        if status is not None:
            assert status.hardware_id == "shadowhand"
            self.status.append({**status_values(status), "level": level_of(status)})

    def _on_targets(self, msg: JointState) -> None:
        # Only the hand's joints: another test run on this shared machine may, rarely, land on the same
        # ROS_DOMAIN_ID (conftest picks ids from the pid); its Laikago targets are not ours.
        if tuple(msg.name) == tuple(ROBOT.joint_names):
            self.targets.append(np.asarray(msg.position))
            self.stamps.append(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)

    def run(self, seconds: float, publish: bool) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if publish:
                stamp = self.node.get_clock().now().to_msg()
                self.js.publish(joint_state_msg(stamp, ROBOT.joint_names, ROBOT.standing_pose, np.zeros(24)))
                self.balls.publish(ball_state_msg(stamp, "world", BALLS, self.ball_velocity))
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.shutdown(context=self.ctx)


def test_plans_holds_and_switches_task(ros_env: dict, tmp_path: Path) -> None:
    proc = _start(ros_env, _model(tmp_path / "m.pt"))
    hand = FakeHand(int(ros_env["ROS_DOMAIN_ID"]))
    try:
        # Balls rolling at 3 cm/s: the node holds the rest grip and says it is settling.
        hand.ball_velocity[0, 0] = 0.03
        deadline = time.monotonic() + 30.0
        while len(hand.targets) < 5 or not hand.status or hand.status[-1]["stale"] != "false":
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "no joint_targets from pddm_planner"
            hand.run(0.2, publish=True)
        hand.targets.clear()
        hand.run(1.0, publish=True)
        assert len(hand.targets) >= 5 and all(np.allclose(t, ROBOT.standing_pose) for t in hand.targets)
        assert hand.status[-1]["settling"] == "true" and hand.status[-1]["level"] == OK
        # At rest: after settle_time_s (0.5 s) the task starts and the targets are planned.
        hand.ball_velocity[:] = 0.0
        hand.run(1.0, publish=True)
        hand.targets.clear()
        hand.stamps.clear()
        hand.run(2.0, publish=True)
        assert hand.status[-1]["settling"] == "false"
        # At 10 Hz of the node's clock: the median interval between the targets' stamps is 0.1 s
        # however many of them this machine managed in 2 s of wall time (one per tick: a plan's
        # result, or on an overrun the previous plan's next action). Planned targets stay inside
        # the joint limits and vary (MPPI sampling).
        assert len(hand.targets) >= 5
        assert np.median(np.diff(hand.stamps)) == pytest.approx(0.1, abs=0.03)
        planned = np.array(hand.targets)
        assert np.all(planned >= ROBOT.position_lower - 1e-9) and np.all(planned <= ROBOT.position_upper + 1e-9)
        assert np.ptp(planned, axis=0).max() > 0
        assert any(float(s["last_plan_ms"]) > 0 for s in hand.status)  # planning time reported
        # State stops: after the 0.5 s timeout every target repeats the last one (hand held still).
        hand.run(1.0, publish=False)
        hand.targets.clear()
        hand.run(1.0, publish=False)
        assert len(hand.targets) >= 5
        assert all(np.array_equal(t, hand.targets[0]) for t in hand.targets)
        assert hand.status[-1]["stale"] == "true" and hand.status[-1]["level"] == WARN
        # Task switch at run time, and a bad task refused.
        client = AsyncParameterClient(hand.node, "pddm_planner")
        assert client.wait_for_services(timeout_sec=10.0)
        for value, ok in (("cw", True), ("spin", False)):
            future = client.set_parameters([Parameter("task", value=value)])
            hand.executor.spin_until_future_complete(future, timeout_sec=10.0)
            assert future.result().results[0].successful is ok, value
        hand.status.clear()
        hand.run(1.5, publish=True)
        last = hand.status[-1] if hand.status else {}
        assert (last.get("task"), last.get("stale"), last.get("settling")) == ("cw", "false", "false")  # cw, fresh, started
    finally:
        hand.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_refuses_model_for_another_robot(ros_env: dict, tmp_path: Path) -> None:
    proc = _start(ros_env, _model(tmp_path / "m40.pt", state_dim=40))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out
    assert "state_dim is 40 in the checkpoint, 36 expected" in out


def test_refuses_an_action_scale_other_than_the_models(ros_env: dict, tmp_path: Path) -> None:
    proc = _start(ros_env, _model(tmp_path / "m.pt"), "-p", "action_scale:=1.0")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out
    assert "action_scale 1.0 differs from 0.5, the scale this checkpoint was trained with" in out


def test_refuses_a_target_lead_of_half_a_turn_or_more(ros_env: dict, tmp_path: Path) -> None:
    proc = _start(ros_env, _model(tmp_path / "m.pt"), "-p", "target_lead_rad:=[0.0, 3.5]")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out
    assert "target_lead_rad must be 2 values (ccw, cw) in [0, pi) rad, got [0.0, 3.5]" in out
