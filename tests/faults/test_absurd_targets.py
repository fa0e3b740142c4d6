"""Absurd joint targets sent to ``pd_controller`` over DDS (issue 20, item 11).

A target of 1e9 rad used to be clamped quietly to the joint limit, driving the joint into its
stop. It must be refused with a reason naming the joint, and the robot keeps its last safe
target; a target only a little beyond the limit is still clamped and tracked. The test process
is the robot: it publishes ``joint_states`` with its own stamps and reads the answers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import JointState

from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, stamp_key, to_time_msg
from anima.ros_nodes._conversions import joint_state_msg

_spec = importlib.util.spec_from_file_location("_control_harness", Path(__file__).with_name("_control_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = [pytest.mark.ros]
ROBOT = load_robot_config("laikago")
NAMES = list(ROBOT.joint_names)
KNEE = NAMES.index("FR_lower_leg_2_upper_leg_joint")  # limits [-2.164, 0.0]


class Robot:
    def __init__(self, ros_env: dict[str, str], venv_bin: Path) -> None:
        self.node = harness.Proc([str(venv_bin / "pd_controller")], ros_env)
        self.peer = harness.Peer(int(ros_env["ROS_DOMAIN_ID"]))
        self.commands: list[tuple[int, np.ndarray]] = []
        self.peer.record(JointState, "joint_commands", COMMAND_QOS, self.commands,
                         lambda m: (stamp_key(m.header.stamp), np.asarray(m.effort)))
        self.js = self.peer.node.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.targets = self.peer.node.create_publisher(JointState, "joint_targets", COMMAND_QOS)
        self.q = np.asarray(ROBOT.standing_pose, dtype=float)
        self.t = 0.0

    def tick(self, timeout: float = 10.0) -> np.ndarray:
        """Publish one joint_states sample (re-sent until answered); the command answering it."""
        self.t += 0.002
        stamp = to_time_msg(self.t)
        key = stamp_key(stamp)
        msg = joint_state_msg(stamp, NAMES, self.q, np.zeros(12), np.zeros(12))
        for _ in range(int(timeout / 0.05)):
            self.js.publish(msg)
            try:
                self.peer.wait_for(lambda: any(k == key for k, _ in self.commands[-20:]), 0.05, "answer")
                break
            except AssertionError:
                continue
        with self.peer.cond:
            found = [e for k, e in self.commands if k == key]
        assert found, f"pd_controller never answered joint_states at t={self.t:.3f}:\n{self.node.output()[-2000:]}"
        return found[-1]

    def send_until_logged(self, positions: np.ndarray, text: str, timeout: float = 20.0) -> str:
        since = self.node.mark()
        for _ in range(int(timeout / 0.1)):
            self.targets.publish(joint_state_msg(to_time_msg(self.t), NAMES, np.asarray(positions, dtype=float)))
            self.tick()
            try:
                return self.node.wait_line(text, timeout=0.1, since=since)
            except AssertionError:
                continue
        raise AssertionError(f"pd_controller never logged {text!r}:\n{self.node.output()[-3000:]}")

    def close(self) -> None:
        self.peer.close()
        assert self.node.stop() == 0, self.node.output()[-3000:]


@pytest.fixture
def robot(ros_env, venv_bin):
    r = Robot(ros_env, venv_bin)
    yield r
    r.close()


def test_absurd_target_refused_with_reason_and_pose_held(robot: Robot) -> None:
    np.testing.assert_allclose(robot.tick(timeout=60.0), 0.0, atol=1e-9)  # WAITING: holds the measured pose
    absurd = robot.q.copy()
    absurd[KNEE] = 1e9
    line = robot.send_until_logged(absurd, "beyond the joint limits")
    assert "FR_lower_leg_2_upper_leg_joint=1e+09" in line and "limits [-2.164, 0]" in line
    for _ in range(20):  # still holding: at the measured pose with qd = 0 the torque stays 0
        np.testing.assert_allclose(robot.tick(), 0.0, atol=1e-9)


def test_target_slightly_beyond_the_limit_clamped_and_tracked(robot: Robot) -> None:
    robot.tick(timeout=60.0)
    near = robot.q.copy()
    near[KNEE] = 0.3  # 0.3 rad beyond the knee's upper limit 0.0: clamped to 0.0, not refused
    line = robot.send_until_logged(near, "clamped to limits")
    assert NAMES[KNEE] in line
    for _ in range(30):
        tau = robot.tick()
    assert tau[KNEE] > 1.0, "the clamped target is not tracked (knee torque toward 0.0 rad expected)"
