"""solar_planner over real DDS, the node alone: the test process is the camera and the robot.

A policy built by the test (``conftest.solar_policy_file``: feed-forward ``u_t = k_t``) makes every
output known: joint torques for the reacher, end-effector setpoints for the Sawyer. Good frames
are answered with the step's action; frames of the wrong size or encoding are refused with a
warning and zero torque, in the same run (so the refusal is not a frame that never arrived).
A model for another task or latent size is refused at start, naming what differs. A policy of state
kind ``filtered`` acts on the Kalman-filtered latent, predicting through a lost frame, as in process.
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
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from anima.controllers.robot_config import load_robot_config
from anima.controllers.serial_chain import SerialChain
from anima.controllers.paths import share_dir
from anima.ros_nodes._bridge_baoding import image_msg
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, to_time_msg
from anima.ros_nodes._conversions import joint_state_msg
from anima.ros_nodes._diagnostics import DIAGNOSTICS_TOPIC, WARN, find_status, level_of, status_values

pytestmark = [pytest.mark.ros]
REACHER = load_robot_config("reacher")
SAWYER = load_robot_config("sawyer")
K_REACHER = np.array([[0.5, -0.25], [1.0, 1.0], [-0.5, 0.75], [0.25, 0.0]])  # 4 steps; torque = k * 0.1 N m (TORQUE)
TORQUE = 0.1  # N m per action unit: config/robots/reacher.yaml, the test policy's arm


def _start(ros_env: dict, model: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-P", "-m", "anima.ros_nodes.solar_planner", "--ros-args", "-p", f"model_path:={model}", *extra]
    return subprocess.Popen(cmd, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class FakeRobot:
    """Publishes camera frames and joint_states; records what the planner sends."""

    def __init__(self, domain_id: int, listen_ee: bool = True) -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("fake_robot", context=self.ctx)
        self.torques: list[tuple[float, np.ndarray]] = []  # (stamp, effort)
        self.ee: list[np.ndarray] = []
        self.gripper: list[float] = []
        self.status: dict[str, str] = {}
        self.level = -1
        self.camera = self.node.create_publisher(Image, "camera/image_raw", SENSOR_QOS)
        self.joints = self.node.create_publisher(JointState, "joint_states", SENSOR_QOS)
        self.node.create_subscription(JointState, "joint_commands", self._on_torque, COMMAND_QOS)
        if listen_ee:
            self.listen_ee()
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diag, 10)
        self.start = self.node.create_client(Trigger, "solar/start_episode")
        self.stop = self.node.create_client(Trigger, "solar/stop")
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)

    def listen_ee(self) -> None:
        self.node.create_subscription(PoseStamped, "ee_target", self._on_ee, COMMAND_QOS)
        self.node.create_subscription(JointState, "gripper_command", lambda m: self.gripper.append(m.position[0]), COMMAND_QOS)

    def _on_torque(self, msg: JointState) -> None:
        assert tuple(msg.name) == REACHER.joint_names
        self.torques.append((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, np.asarray(msg.effort)))

    def _on_ee(self, msg: PoseStamped) -> None:
        assert msg.header.frame_id == "base_link"
        p = msg.pose.position
        self.ee.append(np.array([p.x, p.y, p.z]))

    def _on_diag(self, msg: DiagnosticArray) -> None:
        status = find_status(msg, "solar_planner: controller")
        if status is not None:
            self.status, self.level = status_values(status), level_of(status)

    def spin_until(self, cond, proc: subprocess.Popen, what: str, wall_s: float = 30.0) -> None:
        end = time.monotonic() + wall_s
        while not cond():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < end, f"timed out waiting for {what}"
            self.executor.spin_once(timeout_sec=0.02)

    def call(self, client, proc: subprocess.Popen) -> str:
        self.spin_until(client.service_is_ready, proc, client.srv_name)
        future = client.call_async(Trigger.Request())
        self.spin_until(future.done, proc, f"{client.srv_name} answer")
        return future.result().message

    def frame(self, stamp_s: float, size: int = 64, encoding: str = "rgb8") -> None:
        msg = image_msg(to_time_msg(stamp_s), "cam", np.full((size, size, 3), 128, np.uint8))
        msg.encoding = encoding
        self.camera.publish(msg)

    def answer_to(self, stamp_s: float, proc: subprocess.Popen, **frame_kw) -> np.ndarray:
        """Send a frame (again every 0.5 s: best effort) until the torque stamped with it arrives."""
        def got() -> bool:
            return any(abs(s - stamp_s) < 1e-9 for s, _ in self.torques)

        end = time.monotonic() + 30.0
        while not got():
            assert time.monotonic() < end, f"no joint_commands for the frame at {stamp_s}"
            self.frame(stamp_s, **frame_kw)
            assert proc.poll() is None, proc.stdout.read()
            self._spin_for(0.5, got)
        return next(e for s, e in self.torques if abs(s - stamp_s) < 1e-9)

    def _spin_for(self, seconds: float, cond) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not cond():
            self.executor.spin_once(timeout_sec=0.02)

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.shutdown(context=self.ctx)


def test_reacher_torques_follow_the_steps_and_bad_frames_are_refused(ros_env, tmp_path, solar_policy_file) -> None:
    proc = _start(ros_env, solar_policy_file(tmp_path / "p.pt", "reacher", K_REACHER))
    robot = FakeRobot(int(ros_env["ROS_DOMAIN_ID"]))
    try:
        # No episode: a frame is answered with zero torque (hold).
        np.testing.assert_array_equal(robot.answer_to(1.0, proc), [0.0, 0.0])
        robot.call(robot.start, proc)
        # The first frame after start is step 0; a frame stamped 0.05 s later is step 1.
        np.testing.assert_allclose(robot.answer_to(2.0, proc), K_REACHER[0] * TORQUE)
        np.testing.assert_allclose(robot.answer_to(2.05, proc), K_REACHER[1] * TORQUE)
        # Refused frames in the same episode: zero torque, counted, and the reason on /diagnostics.
        np.testing.assert_array_equal(robot.answer_to(2.07, proc, size=48), [0.0, 0.0])
        np.testing.assert_array_equal(robot.answer_to(2.08, proc, encoding="bgr8"), [0.0, 0.0])
        robot.spin_until(lambda: robot.level == WARN, proc, "a WARN status")
        assert robot.status["last_refusal"] in ("image is 48x48, the policy takes 64x64", "encoding 'bgr8' is not rgb8")
        assert int(robot.status["frames_refused"]) >= 2
        # A good frame again acts at its step (stamp 2.15 s = step 3), by time since the episode's start.
        np.testing.assert_allclose(robot.answer_to(2.15, proc), K_REACHER[3] * TORQUE)
        assert robot.status["task"] == "reacher"
        # The horizon (4 steps) ends the episode: hold.
        np.testing.assert_array_equal(robot.answer_to(2.2, proc), [0.0, 0.0])
        robot.spin_until(lambda: robot.status.get("phase") == "done", proc, "phase done")
        robot.call(robot.start, proc)
        np.testing.assert_allclose(robot.answer_to(3.0, proc), K_REACHER[0] * TORQUE)
        assert "stopped (running before)" in robot.call(robot.stop, proc)
        np.testing.assert_array_equal(robot.answer_to(3.05, proc), [0.0, 0.0])
    finally:
        robot.close()
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "camera/image_raw frames refused, holding" in out
    assert "image is 48x48, the policy takes 64x64" in out or "encoding 'bgr8' is not rgb8" in out


def test_sawyer_setpoints_start_at_the_hand_and_move_by_the_actions(ros_env, tmp_path, solar_policy_file) -> None:
    k = np.array([[1.0, 0.0, -0.5, -1.0], [0.0, 1.0, 0.0, 1.0]])  # +2 cm x and -1 cm z, fingers closed; then +2 cm y, open
    proc = _start(ros_env, solar_policy_file(tmp_path / "s.pt", "sawyer_push", k, control_dt_s=0.1), "-p", "task:=sawyer_push",
                  "-p", "auto_start:=true")
    robot = FakeRobot(int(ros_env["ROS_DOMAIN_ID"]))
    chain = SerialChain.from_urdf(share_dir() / SAWYER.urdf, "base_link", "ee")
    start = chain.forward(SAWYER.standing_pose)[:3, 3]
    try:
        def send(stamp: float) -> None:
            robot.joints.publish(joint_state_msg(to_time_msg(stamp), SAWYER.joint_names, SAWYER.standing_pose))
            robot.frame(stamp)

        # Step 0's setpoint goes out once: wait until discovery shows the planner's command publishers
        # (this node's subscriptions are matched to them) before sending the frame that makes it.
        robot.spin_until(lambda: robot.node.count_publishers("ee_target") >= 1
                         and robot.node.count_publishers("gripper_command") >= 1, proc, "the planner's ee_target publisher")
        stamp = 5.0
        end = time.monotonic() + 30.0
        while len(robot.ee) < 2 or len(robot.gripper) < 2:
            assert time.monotonic() < end and proc.poll() is None, "no ee_target from solar_planner"
            if len(robot.ee) < 2:
                send(stamp)
            robot._spin_for(0.3, lambda: len(robot.ee) >= 2 and len(robot.gripper) >= 2)
            stamp += 0.1 if robot.ee else 0.0  # the next step once step 0 was answered (10 Hz policy)
    finally:
        robot.close()
        proc.terminate()
        proc.communicate(timeout=20)
    np.testing.assert_allclose(robot.ee[0], start + [0.02, 0.0, -0.01], atol=1e-9)
    np.testing.assert_allclose(robot.ee[1], start + [0.02, 0.02, -0.01], atol=1e-9)
    assert robot.gripper[0] == 0.0 and robot.gripper[1] > 0.01  # -1 closed, +1 open (the finger's upper limit)


def test_an_episode_waits_for_a_controller_listening_on_ee_target(ros_env, tmp_path, solar_policy_file) -> None:
    """Setpoints published before discovery matched would be lost: the episode must not start into the void."""
    k = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
    proc = _start(ros_env, solar_policy_file(tmp_path / "s.pt", "sawyer_push", k, control_dt_s=0.1), "-p", "task:=sawyer_push",
                  "-p", "auto_start:=true")
    robot = FakeRobot(int(ros_env["ROS_DOMAIN_ID"]), listen_ee=False)
    chain = SerialChain.from_urdf(share_dir() / SAWYER.urdf, "base_link", "ee")
    start = chain.forward(SAWYER.standing_pose)[:3, 3]
    stamp = 5.0

    def send() -> None:
        nonlocal stamp
        robot.joints.publish(joint_state_msg(to_time_msg(stamp), SAWYER.joint_names, SAWYER.standing_pose))
        robot.frame(stamp)
        stamp += 0.1

    try:
        robot.spin_until(lambda: robot.status.get("phase") == "armed", proc, "the planner armed")
        for _ in range(20):  # 2 s of frames, far more than the 2-step horizon: nobody listens, nothing starts
            send()
            robot._spin_for(0.1, lambda: False)
        assert robot.status["phase"] == "armed" and robot.status["steps_acted"] == "0", robot.status
        robot.listen_ee()
        robot.spin_until(lambda: robot.node.count_publishers("ee_target") >= 1, proc, "the planner's ee_target publisher")
        end = time.monotonic() + 30.0
        while len(robot.ee) < 2:
            assert time.monotonic() < end, f"no ee_target once a controller listened (status {robot.status})"
            send()
            robot._spin_for(0.2, lambda: len(robot.ee) >= 2)
    finally:
        robot.close()
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    np.testing.assert_allclose(robot.ee[0], start + [0.02, 0.0, 0.0], atol=1e-9)  # step 0 acted once heard
    np.testing.assert_allclose(robot.ee[1], start + [0.02, 0.02, 0.0], atol=1e-9)
    assert "nobody subscribes to ee_target yet" in out


@pytest.mark.parametrize(("args", "expected"), [
    (("-p", "latent_dim:=8"), "latent"),
    (("-p", "task:=sawyer_push"), "task"),
])
def test_a_model_for_another_task_or_latent_size_is_refused(ros_env, tmp_path, solar_policy_file, args, expected) -> None:
    model = solar_policy_file(tmp_path / "p.pt", "reacher", K_REACHER)
    out = subprocess.run([sys.executable, "-P", "-m", "anima.ros_nodes.solar_planner", "--ros-args", "-p",
                          f"model_path:={model}", *args], env=ros_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "[fatal]" in out.stderr and expected in out.stderr, out.stderr


def _filtered_policy(path: Path):
    """A reacher policy of state kind filtered: random gains on a latent whose dynamics integrate the actions, so
    the torques depend on the filter's history (frames are uniform grey: the encoder's output never changes)."""
    import torch

    from anima.models.solar.lds import LdsParams
    from anima.models.solar.networks import Encoder
    from anima.models.solar.policy import SolarPolicy, make_spec

    t_len, dz, du = 4, 10, 2
    rng = np.random.default_rng(4)
    torch.manual_seed(4)
    spec = make_spec("reacher", dz, t_len, 0.05, "joint_torque", [-1.0, -1.0], [1.0, 1.0], torque_limit_nm=TORQUE,
                     state={"kind": "filtered", "diff_scale": 1.0})
    lds = LdsParams(np.tile(np.eye(dz), (t_len, 1, 1)), rng.normal(size=(t_len, dz, du)), np.zeros((t_len, dz)), np.full((t_len, dz), -3.0))
    policy = SolarPolicy(spec, Encoder(dz, 64), 0.3 * rng.normal(size=(t_len, du, dz)), 0.2 * rng.normal(size=(t_len, du)),
                         np.tile(0.25 * np.eye(du), (t_len, 1, 1)), lds=lds)
    policy.save(path)
    return policy


def test_a_filtered_policy_acts_on_the_kalman_filtered_latent_and_predicts_through_a_lost_frame(ros_env, tmp_path) -> None:
    policy = _filtered_policy(tmp_path / "f.pt")
    grey = np.full((64, 64, 3), 128, np.uint8)
    track, m_lv, expected = policy.tracker(), policy.encode_potential(grey), []
    for t, steps in ((0, 1), (1, 1), (3, 2)):  # step 2's frame is never sent
        u = policy.act(t, track.state(*m_lv, steps=steps)).astype(float)
        track.applied(u)
        expected.append(u * TORQUE)
    assert np.ptp(np.stack(expected), axis=0).max() > 1e-3  # the filter's state moves the torques
    proc = _start(ros_env, tmp_path / "f.pt")
    robot = FakeRobot(int(ros_env["ROS_DOMAIN_ID"]))
    try:
        robot.call(robot.start, proc)
        for stamp, want in zip((2.0, 2.05, 2.15), expected):
            np.testing.assert_allclose(robot.answer_to(stamp, proc), want, atol=1e-6)
    finally:
        robot.close()
        proc.terminate()
        proc.communicate(timeout=20)
