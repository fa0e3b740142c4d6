"""pd_controller over real DDS: bad targets are rejected and the last safe command kept, targets
beyond the joint limits are clamped, silence means damping, the e-stop means damping until reset.

The test process is the robot: it publishes ``joint_states`` with stamps it chooses (so the
controller's time is deterministic) and reads ``joint_commands``; the node runs as its own process.
"""

from __future__ import annotations

import subprocess
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


class FakeRobot:
    def __init__(self, domain_id: int) -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("fake_robot", context=self.ctx)
        self.cfg = load_robot_config("laikago")
        self.names = list(self.cfg.joint_names)
        self.q = np.asarray(self.cfg.standing_pose, dtype=float).copy()
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

    def _on_cmd(self, msg: JointState) -> None:
        self.commands[round(msg.header.stamp.sec * 1e9 + msg.header.stamp.nanosec)] = np.asarray(msg.effort)

    def warm_up(self) -> None:
        """Publish until the first command comes back: discovery matched both ways."""
        deadline = time.monotonic() + 20.0
        while not self.commands:
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
            deadline = time.monotonic() + 2.0
            while key not in self.commands and time.monotonic() < deadline:
                self.executor.spin_once(timeout_sec=0.01)
            assert key in self.commands, f"no joint_commands answered joint_states at t={self.t:.3f}"
        return self.commands[key]

    def send_targets(self, names: list[str], positions: list[float]) -> None:
        self.targets.publish(joint_state_msg(to_time_msg(self.t), names, np.asarray(positions, dtype=float)))
        time.sleep(0.05)  # let it arrive before the next joint_states sample

    def call(self, client) -> bool:
        assert client.wait_for_service(timeout_sec=5.0)
        future = client.call_async(Trigger.Request())
        self.executor.spin_until_future_complete(future, timeout_sec=5.0)
        return bool(future.result() and future.result().success)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


@pytest.fixture
def robot(ros_env, venv_bin):
    proc = subprocess.Popen([str(venv_bin / "pd_controller")], env=ros_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    fake = FakeRobot(int(ros_env["ROS_DOMAIN_ID"]))
    deadline = time.monotonic() + 20
    while fake.js.get_subscription_count() == 0 or fake.targets.get_subscription_count() == 0:
        assert time.monotonic() < deadline, "pd_controller did not come up"
        assert proc.poll() is None, proc.stdout.read()
        fake.executor.spin_once(timeout_sec=0.05)
    yield fake
    fake.close()
    proc.send_signal(2)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out


def test_rejects_bad_targets_clamps_times_out_and_estops(robot: FakeRobot) -> None:
    cfg = robot.cfg
    kp, damp = np.asarray(cfg.kp), np.asarray(cfg.damping_kd)
    robot.warm_up()
    robot.tick(5)  # WAITING: holds the first measured pose
    target = robot.q + 0.05  # 0.05 rad from the measured pose: a steady PD torque kp * 0.05
    robot.send_targets(robot.names, list(target))
    # the Butterworth filter (4 Hz at 30 Hz) settles in well under 1 s; keep re-sending like a policy
    for _ in range(40):
        robot.send_targets(robot.names, list(target))
        robot.tick(8)
    settled = robot.tick()
    np.testing.assert_allclose(settled, kp * 0.05, rtol=0.02)  # qd = 0: tau = kp (target - q)

    robot.send_targets(robot.names, [np.nan] + list(target[1:]))
    np.testing.assert_allclose(robot.tick(), settled, rtol=1e-6, err_msg="NaN target changed the command")
    robot.send_targets(["no_such_joint"] + robot.names[1:], list(target))
    np.testing.assert_allclose(robot.tick(), settled, rtol=1e-6, err_msg="unknown joint changed the command")
    robot.send_targets(robot.names[:3], list(target))  # wrong length: 3 names, 12 positions
    np.testing.assert_allclose(robot.tick(), settled, rtol=1e-6, err_msg="length mismatch changed the command")

    # beyond the knee's upper limit (0.0 rad): clamped to 0.0; the change limit caps |q_des - q| at 0.2
    knee = robot.names.index("FR_lower_leg_2_upper_leg_joint")
    for _ in range(40):
        robot.send_targets([robot.names[knee]], [0.5])
        robot.tick(8)
    tau = robot.tick()
    expected = kp[knee] * min(0.0 - robot.q[knee], cfg.max_change_per_step)
    assert tau[knee] == pytest.approx(expected, rel=0.02)

    # silence on joint_targets beyond the timeout -> damping only: tau = -damping_kd * qd
    robot.qd = np.full(12, 0.1)
    robot.tick(int(cfg.command_timeout_s / DT) + 20)
    np.testing.assert_allclose(robot.tick(), -damp * 0.1, atol=1e-9)

    # back to tracking, then the e-stop: damping until reset, targets refused meanwhile
    for _ in range(10):
        robot.send_targets(robot.names, list(target))
        robot.tick(8)
    assert not np.allclose(robot.tick(), -damp * 0.1)
    assert robot.call(robot.estop)
    robot.send_targets(robot.names, list(target))
    np.testing.assert_allclose(robot.tick(3), -damp * 0.1, atol=1e-9)
    assert robot.call(robot.reset)
    robot.qd = np.zeros(12)
    # WAITING again: holds the pose measured at reset, so with qd = 0 the torque is kp * 0 - kd * 0 = 0
    np.testing.assert_allclose(robot.tick(2), np.zeros(12), atol=1e-6)
