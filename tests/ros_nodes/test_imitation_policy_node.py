"""imitation_policy over real DDS: it stands the robot up, then publishes the policy's targets at
the policy's rate with the clip's phase on its own clock, pauses on stale sensors, and refuses
policy files made for another motion, robot or observation size (and corrupt ones) in one line.

The test process is the robot: it publishes ``joint_states`` and ``imu/data`` and reads
``joint_targets`` and ``imitation_policy/phase``. The policy file's actor has zero weights and a
constant bias b, so every target it gives is known: the default motor pose + b, in URDF angles.

The walking assertion (the shipped pace policy keeps the robot up and moves it forward) needs a
trained policy and is in tests/ros_nodes/test_laikago_imitation_stack.py once one is shipped.
"""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray

from anima.controllers.leg_kinematics import laikago_motor_to_urdf
from anima.controllers.robot_config import load_robot_config
from anima.models.imitation.observation import DEFAULT_MOTOR_POSE
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS
from anima.ros_nodes._conversions import joint_state_msg

pytestmark = [pytest.mark.ros]
CFG = load_robot_config("laikago")
BIAS = 0.1
STAND = laikago_motor_to_urdf(DEFAULT_MOTOR_POSE)


class FakeRobot:
    def __init__(self, domain_id: int, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("fake_robot", context=self.ctx)
        self.names = list(CFG.joint_names)
        self.q = np.asarray(CFG.crouch_pose, dtype=float).copy()
        self.targets: list[tuple[float, np.ndarray]] = []
        self.phases: list[tuple[float, float, float]] = []
        self.js = self.node.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.imu = self.node.create_publisher(Imu, "imu/data", SENSOR_QOS)
        self.node.create_subscription(JointState, "joint_targets", self._on_targets, COMMAND_QOS)
        self.node.create_subscription(Float64MultiArray, "imitation_policy/phase", self._on_phase, SENSOR_QOS)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.sending = True

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _on_targets(self, msg: JointState) -> None:
        assert list(msg.name) == self.names
        self.targets.append((time.monotonic(), np.asarray(msg.position)))

    def _on_phase(self, msg: Float64MultiArray) -> None:
        self.phases.append((time.monotonic(), msg.data[0], msg.data[1]))

    def publish(self) -> None:
        stamp = self.node.get_clock().now().to_msg()
        self.js.publish(joint_state_msg(stamp, self.names, self.q, np.zeros(12), np.zeros(12)))
        imu = Imu()
        imu.header.stamp = stamp
        imu.orientation.w = 1.0
        self.imu.publish(imu)

    def run_until(self, condition, what: str, timeout: float = 30.0) -> None:
        """Publish sensors at ~100 Hz (wall clock) while waiting for ``condition``."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, "imitation_policy died:\n" + "\n".join(self.lines[-40:])
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n" + "\n".join(self.lines[-40:])
            if self.sending:
                self.publish()
            self.executor.spin_once(timeout_sec=0.01)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


def _start(venv_bin, ros_env, policy, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    args = [str(venv_bin / "imitation_policy"), "--ros-args", "-p", f"policy:={policy}", "-p", "motion:=pace",
            "-p", "rise_time_s:=0.5", "-p", "settle_s:=0.3", "-p", "warmup_s:=0.25", *extra]
    return subprocess.Popen(args, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)


def test_stands_up_then_publishes_the_policys_targets_on_its_own_clock(ros_env, venv_bin, make_policy_file) -> None:
    policy = make_policy_file(scale=0.0, action_bias=BIAS)
    proc = _start(venv_bin, ros_env, policy)
    robot = FakeRobot(int(ros_env["ROS_DOMAIN_ID"]), proc)
    try:
        robot.run_until(lambda: robot.targets, "the first joint_targets")
        # Stand-up first: the first target is the measured (crouched) pose, not the policy's.
        np.testing.assert_allclose(robot.targets[0][1], robot.q, atol=0.02)
        robot.run_until(lambda: len(robot.phases) >= 40, "40 phase messages")
        expected = laikago_motor_to_urdf(DEFAULT_MOTOR_POSE + BIAS)
        policy_targets = [t for _, t in robot.targets if np.allclose(t, expected, atol=1e-5)]
        assert len(policy_targets) >= 40, "the policy's targets (default pose + bias) were not published"
        # Rise (0.5 s) passes through poses between the crouch and the standing pose.
        rising = [t for _, t in robot.targets if not np.allclose(t, expected, atol=1e-5)]
        moving = np.abs(STAND - robot.q) > 0.05  # the joints the crouch bends
        lo, hi = np.minimum(robot.q, STAND)[moving], np.maximum(robot.q, STAND)[moving]
        assert any(np.all((t[moving] > lo + 1e-3) & (t[moving] < hi - 1e-3)) for t in rising)
        # Motion time: starts in the warm-up, grows with the clock (not with sensor messages), phase in [0, 1).
        times = np.array([m for _, m, _ in robot.phases])
        assert times[0] == pytest.approx(-0.25, abs=0.05) and np.all(np.diff(times) > 0)
        assert all(0.0 <= p < 1.0 for _, _, p in robot.phases)
        # Stale sensors pause the output (and the node says so).
        robot.sending = False
        mark = len(robot.lines)
        robot.run_until(lambda: any("output paused" in line for line in robot.lines[mark:]), "the stale-sensor warning")
        count = len(robot.targets)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            robot.executor.spin_once(timeout_sec=0.02)
        assert len(robot.targets) <= count + 1
    finally:
        robot.close()
        proc.send_signal(2)
        proc.wait(timeout=10)
    assert proc.returncode == 0, "\n".join(robot.lines[-40:])


@pytest.mark.parametrize("kind,message", [
    ("motion", "policy is for motion 'dog_trot', not 'dog_pace'"),
    ("robot", "policy is for robot 'a1', not 'laikago'"),
    ("obs", "policy is for observation size 150, not 160"),
    ("corrupt", "corrupt.pt: cannot read the policy"),
])
def test_refuses_a_policy_for_something_else(ros_env, venv_bin, make_policy_file, kind: str, message: str) -> None:
    path = {
        "motion": lambda: make_policy_file("trot.pt", motion="dog_trot"),
        "robot": lambda: make_policy_file("a1.pt", robot="a1"),
        "obs": lambda: make_policy_file("obs.pt", obs_dim=150),
        "corrupt": lambda: make_policy_file("good.pt"),
    }[kind]()
    if kind == "corrupt":
        bad = path.with_name("corrupt.pt")
        bad.write_bytes(path.read_bytes()[:300])
        path = bad
    proc = _start(venv_bin, ros_env, path)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out
    fatal = [line for line in out.splitlines() if line.startswith("[fatal]")]
    assert len(fatal) == 1 and message in fatal[0], out
    assert "Traceback" not in out
