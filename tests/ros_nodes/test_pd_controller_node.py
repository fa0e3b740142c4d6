"""pd_controller over real DDS, one behaviour per test: it tracks a target with the PD law, rejects
bad targets (NaN, unknown joint, length mismatch) keeping the last safe command, clamps targets
beyond the joint limits, damps on silence, damps on e-stop until reset.

The test process is the robot: it publishes ``joint_states`` with stamps it chooses (so the
controller's time is deterministic) and waits for the ``joint_commands`` answering each sample; the
node runs as its own process, its output read line by line. A rejected target is proven delivered
by the node's own warning naming the reason, and only then is the unchanged command asserted.
"""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, to_time_msg
from anima.ros_nodes._conversions import joint_state_msg

pytestmark = [pytest.mark.ros]
DT = 0.002  # joint_states period of the fake robot (500 Hz of its clock)
CFG = load_robot_config("laikago")
KP, DAMP = np.asarray(CFG.kp), np.asarray(CFG.damping_kd)


class FakeRobot:
    def __init__(self, domain_id: int, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("fake_robot", context=self.ctx)
        self.names = list(CFG.joint_names)
        self.q = np.asarray(CFG.standing_pose, dtype=float).copy()
        self.qd = np.zeros(12)
        self.t = 0.0
        self.commands: dict[int, np.ndarray] = {}
        self.js = self.node.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.targets = self.node.create_publisher(JointState, "joint_targets", COMMAND_QOS)
        self.node.create_subscription(JointState, "joint_commands", self._on_cmd, COMMAND_QOS)
        self.estop = self.node.create_client(Trigger, "emergency_stop")
        self.reset = self.node.create_client(Trigger, "reset_emergency_stop")
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _on_cmd(self, msg: JointState) -> None:
        self.commands[round(msg.header.stamp.sec * 1e9 + msg.header.stamp.nanosec)] = np.asarray(msg.effort)

    def wait_for(self, condition, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, "pd_controller died:\n" + "\n".join(self.lines[-40:])
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + "\n".join(self.lines[-40:])
            self.executor.spin_once(timeout_sec=0.01)

    def warm_up(self) -> None:
        """Publish until the first command comes back: discovery matched both ways."""
        deadline = time.monotonic() + 30.0
        while not self.commands:
            assert self.proc.poll() is None, "pd_controller died:\n" + "\n".join(self.lines[-40:])
            assert time.monotonic() < deadline, "pd_controller never answered joint_states"
            self.t += DT
            self.js.publish(joint_state_msg(to_time_msg(self.t), self.names, self.q, self.qd, np.zeros(12)))
            self.executor.spin_once(timeout_sec=0.05)

    def tick(self, n: int = 1) -> np.ndarray:
        """Publish n joint_states samples; return the command answering the last one."""
        for _ in range(n):
            self.t += DT
            stamp = to_time_msg(self.t)
            self.js.publish(joint_state_msg(stamp, self.names, self.q, self.qd, np.zeros(12)))
            key = stamp.sec * 1_000_000_000 + stamp.nanosec
            self.wait_for(lambda: key in self.commands, f"joint_commands answering joint_states at t={self.t:.3f}", timeout=5.0)
        return self.commands[key]

    def send_targets(self, names: list[str], positions) -> None:
        self.targets.publish(joint_state_msg(to_time_msg(self.t), names, np.asarray(positions, dtype=float)))

    def expect_log(self, text: str, send) -> None:
        """Call ``send`` (which publishes), then wait for the node to log ``text``: the message arrived."""
        mark = len(self.lines)
        send()
        self.wait_for(lambda: any(text in line for line in self.lines[mark:]), f"the node to log '{text}'")

    def track(self, target: np.ndarray, rounds: int = 120) -> np.ndarray:
        """Re-send ``target`` like a 30 Hz policy (every 8 samples) until the command settles on the PD
        law's steady state for q = const, qd = 0: tau = kp (target - q)."""
        expected, prev = KP * (target - self.q), None
        for _ in range(rounds):
            self.send_targets(self.names, target)
            tau = self.tick(8)
            steady = prev is not None and np.allclose(tau, prev, rtol=1e-7, atol=1e-9)  # the filter has converged
            if steady and np.allclose(tau, expected, rtol=0.02, atol=0.05):
                return tau
            prev = tau
        pytest.fail(f"command never settled on kp * (target - q): last {tau}, expected {expected}")

    def call(self, client) -> bool:
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(Trigger.Request())
        self.executor.spin_until_future_complete(future, timeout_sec=10.0)
        return bool(future.result() and future.result().success)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


@pytest.fixture
def robot(ros_env, venv_bin):
    proc = subprocess.Popen([str(venv_bin / "pd_controller")], env=ros_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    fake = FakeRobot(int(ros_env["ROS_DOMAIN_ID"]), proc)
    fake.wait_for(lambda: fake.js.get_subscription_count() and fake.targets.get_subscription_count(),
                  "pd_controller's subscriptions", timeout=30.0)
    try:
        fake.warm_up()
        fake.tick(5)  # WAITING: holds the first measured pose
        yield fake
    finally:
        fake.close()
        proc.send_signal(2)
        proc.wait(timeout=10)
    assert proc.returncode == 0, "\n".join(fake.lines[-40:])


TARGET_OFFSET = 0.05  # rad from the measured pose: a steady PD torque kp * 0.05


def test_tracks_a_target_with_the_pd_law(robot: FakeRobot) -> None:
    # The Butterworth filter (4 Hz at 30 Hz) settles in well under 1 s of the robot's clock.
    tau = robot.track(robot.q + TARGET_OFFSET)
    np.testing.assert_allclose(tau, KP * TARGET_OFFSET, rtol=0.02)


def test_waits_with_zero_torque_at_the_measured_pose_before_any_target(robot: FakeRobot) -> None:
    # WAITING holds the pose measured first; q unchanged and qd = 0: tau = kp * 0 - kd * 0 = 0.
    np.testing.assert_allclose(robot.tick(3), np.zeros(12), atol=1e-6)


@pytest.mark.parametrize("case,expected_log", [
    ("nan", "non-finite positions for joints"),
    ("unknown_joint", "unknown joint names ['no_such_joint']"),
    ("length_mismatch", "length mismatch: 3 names but 12 positions"),
])
def test_bad_target_is_rejected_and_the_last_command_kept(robot: FakeRobot, case: str, expected_log: str) -> None:
    target = robot.q + TARGET_OFFSET
    settled = robot.track(target)
    bad = {
        "nan": (robot.names, [np.nan] + list(target[1:])),
        "unknown_joint": (["no_such_joint"] + robot.names[1:], target),
        "length_mismatch": (robot.names[:3], target),
    }[case]
    robot.expect_log(f"joint_targets rejected: {expected_log}", lambda: robot.send_targets(*bad))
    np.testing.assert_allclose(robot.tick(), settled, rtol=1e-6, err_msg=f"{case} target changed the command")


def test_target_beyond_a_joint_limit_is_clamped(robot: FakeRobot) -> None:
    # 0.5 rad against the knee's upper limit of 0.0 rad: clamped to 0.0; the per-step change limit
    # then caps |q_des - q| at max_change_per_step, so tau = kp * min(0 - q, max_change).
    knee = robot.names.index("FR_lower_leg_2_upper_leg_joint")
    robot.expect_log("joint_targets clamped to limits", lambda: robot.send_targets([robot.names[knee]], [0.5]))
    expected = KP[knee] * min(0.0 - robot.q[knee], CFG.max_change_per_step)
    for _ in range(120):
        robot.send_targets([robot.names[knee]], [0.5])
        tau = robot.tick(8)
        if tau[knee] == pytest.approx(expected, rel=0.02):
            break
    assert tau[knee] == pytest.approx(expected, rel=0.02)


def test_silence_on_targets_means_damping(robot: FakeRobot) -> None:
    robot.track(robot.q + TARGET_OFFSET)
    robot.qd = np.full(12, 0.1)
    tracking = robot.tick()
    assert not np.allclose(tracking, -DAMP * 0.1), "tracking command already looks like damping"
    # no joint_targets for longer than command_timeout_s of the robot's clock: tau = -damping_kd * qd
    robot.tick(int(CFG.command_timeout_s / DT) + 20)
    np.testing.assert_allclose(robot.tick(), -DAMP * 0.1, atol=1e-9)


def test_estop_damps_and_refuses_targets_until_reset(robot: FakeRobot) -> None:
    target = robot.q + TARGET_OFFSET
    robot.track(target)
    robot.qd = np.full(12, 0.1)
    assert robot.call(robot.estop)
    robot.expect_log("joint_targets rejected: emergency stop active", lambda: robot.send_targets(robot.names, target))
    np.testing.assert_allclose(robot.tick(3), -DAMP * 0.1, atol=1e-9)
    assert robot.call(robot.reset)
    robot.qd = np.zeros(12)
    # WAITING again: holds the pose measured at reset, so with qd = 0 the torque is 0
    np.testing.assert_allclose(robot.tick(2), np.zeros(12), atol=1e-6)
    tau = robot.track(target)  # and tracks again
    np.testing.assert_allclose(tau, KP * TARGET_OFFSET, rtol=0.02)
