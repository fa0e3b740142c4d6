"""Adaptation over ROS: the bridge's `sim/reset` restores the start state (seen while `sim/pause` holds the world),
`imitation_policy` takes z at run time (validated), and a two-episode `anima adapt --ros` runs through the launched stack."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]


def _adaptive_policy(run_dir: Path) -> Path:
    """An untrained adaptive policy (SB3's small initial action weights: it stands the robot up)."""
    from anima.models.imitation.config import ImitationTrainConfig
    from anima.models.imitation.trainer import ImitationTrainer

    config = ImitationTrainConfig(motion="dog_pace").replace(
        **{"env_kwargs": {"randomize": True}, "latent.dim": 8, "ppo.net_arch": [32, 32]})
    ImitationTrainer(config, run_dir, log=lambda _m: None).save()
    return run_dir / "checkpoint.pt"


def _initial_pose() -> np.ndarray:
    """The joint angles the bridge starts in and resets to: ``initial_pose`` of config/laikago_sim.yaml."""
    from anima.controllers.pose_schedule import named_pose
    from anima.controllers.robot_config import load_robot_config

    name = yaml.safe_load((REPO / "config" / "laikago_sim.yaml").read_text())
    name = name["/**/sim_bridge"]["ros__parameters"]["initial_pose"]
    return np.asarray(named_pose(load_robot_config("laikago"), name), dtype=float)


def _start_height() -> float:
    """The body's height where the bridge's world places it in the initial pose (the Laikago world config's
    ``initial_height_m``, or the lowest toe on the ground), computed from that world here."""
    import pybullet
    from pybullet_utils.bullet_client import BulletClient

    from anima.sim_bridge.laikago_world import LaikagoWorld, load_laikago_world_config

    client = BulletClient(connection_mode=pybullet.DIRECT)
    try:
        world = LaikagoWorld(client, load_laikago_world_config(None))
        world.reset(joint_positions=_initial_pose())
        return float(world.ground_truth().position[2])
    finally:
        client.disconnect()


def _wait_for_text(path: Path, needle: str, timeout_s: float = 20.0) -> str:
    """The file's text once it contains ``needle`` (polled: the launcher writes it from another process)."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = path.read_text()
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


class _Probe:
    """rclpy in the test process: joint_states, ground truth, and service/parameter calls."""

    def __init__(self, domain_id: int) -> None:
        import rclpy
        from nav_msgs.msg import Odometry
        from rcl_interfaces.srv import SetParameters
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState
        from std_srvs.srv import SetBool, Trigger

        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        # Reliable with the bridge's 0.5-s writer history (HIGH_RATE_STREAM_QOS): the reset test reads the
        # first sample after the reset, which a best-effort reader starved of CPU can miss (seen in two CI
        # runs, 2026-12-05: the first sample it heard was ~0.2 rad into the stand-up again).
        probe_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=250, reliability=ReliabilityPolicy.RELIABLE,
                               durability=DurabilityPolicy.VOLATILE)

        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = rclpy.create_node("adapt_probe", context=self.ctx)
        self.cond = threading.Condition()
        self.joints: list[tuple[float, np.ndarray]] = []  # (stamp s, positions)
        self.truth: list[tuple[float, np.ndarray]] = []
        self.node.create_subscription(JointState, "joint_states", self._on_joints, probe_qos)
        self.node.create_subscription(Odometry, "sim/ground_truth/odom", self._on_truth, probe_qos)
        self.reset = self.node.create_client(Trigger, "sim/reset")
        self.pause = self.node.create_client(SetBool, "sim/pause")
        self.params = self.node.create_client(SetParameters, "imitation_policy/set_parameters")
        self.executor = SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while self.ctx.ok():
            try:
                self.executor.spin_once(timeout_sec=0.1)
            except Exception:  # noqa: BLE001 - shut down while spinning
                return

    @staticmethod
    def _stamp(msg) -> float:
        return msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec

    def _on_joints(self, msg) -> None:
        with self.cond:
            self.joints.append((self._stamp(msg), np.array(msg.position)))
            self.cond.notify_all()

    def _on_truth(self, msg) -> None:
        p = msg.pose.pose.position
        with self.cond:
            self.truth.append((self._stamp(msg), np.array([p.x, p.y, p.z])))
            self.cond.notify_all()

    def wait_for(self, predicate, what: str, timeout: float = 120.0):
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise AssertionError(f"timed out waiting for {what}")

    def call(self, client, request, timeout: float = 30.0):
        assert client.wait_for_service(timeout_sec=timeout), f"{client.srv_name} not offered"
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        assert done.wait(timeout), f"{client.srv_name} did not answer"
        return future.result()

    def set_z(self, values: list[float]):
        from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
        from rcl_interfaces.srv import SetParameters

        value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE_ARRAY, double_array_value=values)
        return self.call(self.params, SetParameters.Request(parameters=[Parameter(name="z", value=value)])).results[0]

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.ctx.try_shutdown()
        self.thread.join(timeout=2.0)


@pytest.fixture
def stack(ros_env, venv_bin, tmp_path):
    policy = _adaptive_policy(tmp_path / "policy")
    cmd = [str(venv_bin / "anima"), "launch", str(REPO / "launch" / "laikago_imitation_sim.launch.xml"),
           f"policy:={policy}", "motion:=pace", "domain:=out_payload_latency", "--timeout", "240"]
    log = open(tmp_path / "launch.log", "w+")
    proc = subprocess.Popen(cmd, env=ros_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    probe = _Probe(int(ros_env["ROS_DOMAIN_ID"]))
    try:
        yield probe, tmp_path / "launch.log"
    finally:
        probe.close()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_sim_reset_restores_the_start_state_and_z_is_a_validated_parameter(stack) -> None:
    from std_srvs.srv import SetBool, Trigger

    probe, log_path = stack
    probe.wait_for(lambda: probe.joints and probe.truth, "joint_states and ground truth")
    # The start state is the bridge's configured initial pose (config/laikago_sim.yaml: crouch) at the height the
    # world places it, not the first sample this probe hears: the robot may be up before discovery lets it join.
    start_q, start_z = _initial_pose(), _start_height()
    probe.wait_for(lambda: probe.truth[-1][1][2] > start_z + 0.05
                   and np.max(np.abs(probe.joints[-1][1] - start_q)) > 0.3, "the robot standing up")

    # Paused, the world holds whatever the reset made of it, and the bridge keeps publishing that frozen state,
    # so the check does not depend on catching the few milliseconds between a reset and the PD moving the legs.
    sent = time.monotonic()
    paused = probe.call(probe.pause, SetBool.Request(data=True))
    assert paused.success and "world paused at sim time" in paused.message, paused.message
    resp = probe.call(probe.reset, Trigger.Request())
    assert resp.success, resp.message
    t_reset = float(re.search(r"at sim time ([0-9.]+) s", resp.message).group(1))
    # Held samples all carry the paused stamp and leave in order, one per 20 ms of wall time: the first `before`
    # of them may show the robot before the reset (published between the pause and the reset, which both fell
    # inside this probe's two calls); every later one shows the reset state. A lagging probe just hears them later.
    before = int((time.monotonic() - sent) / 0.02) + 2

    def held(samples):
        first = next((i for i, (t, _) in enumerate(samples) if abs(t - t_reset) < 5e-4), len(samples))
        return samples[first:]

    probe.wait_for(lambda: len(held(probe.joints)) >= before + 10 and len(held(probe.truth)) >= before + 10,
                   "the paused world's readings")
    with probe.cond:
        held_q, held_p = held(probe.joints), held(probe.truth)
    assert all(abs(t - t_reset) < 5e-4 for t, _ in held_q + held_p), "sim time moved while paused"
    for _t, q in held_q[before:]:
        np.testing.assert_allclose(q, start_q, atol=0.01)  # back at the start pose, and it stays there
    for _t, p in held_p[before:]:
        np.testing.assert_allclose(p[:2], [0.0, 0.0], atol=0.02)  # the world's origin (it had walked off)
        np.testing.assert_allclose(p[2], start_z, atol=0.01)  # the crouch height it starts at

    resumed = probe.call(probe.pause, SetBool.Request(data=False))
    assert resumed.success and "world running" in resumed.message, resumed.message
    # Resumed, the controllers act on the reset robot at once: it stands up again, on stamps after the reset.
    probe.wait_for(lambda: probe.joints[-1][0] > t_reset and probe.truth[-1][0] > t_reset
                   and probe.truth[-1][1][2] > start_z + 0.05
                   and np.max(np.abs(probe.joints[-1][1] - start_q)) > 0.3, "the robot standing up again")

    ok = probe.set_z([0.5] * 8)
    assert ok.successful, ok.reason
    short = probe.set_z([0.5, 0.5])
    assert not short.successful and "8 finite values" in short.reason
    nan = probe.set_z([float("nan")] * 8)
    assert not nan.successful
    # The node logs the new z after answering the parameter call: wait for the line to reach the launch log.
    text = _wait_for_text(log_path, "z = [0.5, 0.5")
    assert "target domain out_payload_latency" in text and "z = [0.5, 0.5" in text, text[-3000:]


def test_two_episode_adapt_over_ros(ros_env, venv_bin, tmp_path) -> None:
    policy = _adaptive_policy(tmp_path / "policy")
    out = tmp_path / "adapt"
    cmd = [str(venv_bin / "anima"), "adapt", "--policy", str(policy), "--domain", "out_heavy_slippery", "--ros",
           "--episodes", "2", "--set", "episode_s=1.0", "--set", "eval_episodes=0", "--out", str(out), "--json"]
    proc = subprocess.run(cmd, env=ros_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    assert result["ros"] is True and result["episodes_used"] == 2 and len(result["adapted_z"]) == 8
    state = json.loads((out / "adaptation.json").read_text())
    search = [e for e in state["episodes"] if e["phase"] == "search"]
    assert len(search) == 2
    for e in search:
        # 1 s at the policy's 0.033 s control step = 30 control steps scored from on-robot signals,
        # unless the robot fell
        assert e["steps"] == 30 or e["fell"], e
        assert 0.0 < e["return"] <= 1.0 and e["ground_truth_return"] is not None
    z = yaml.safe_load((out / "adapted_z.yaml").read_text())["imitation_policy"]["ros__parameters"]["z"]
    assert np.allclose(z, result["adapted_z"], atol=1e-6)
    assert "launching:" in proc.stderr and "search episode 2/2" in proc.stderr


def test_operator_confirms_each_episode_and_an_abort_keeps_the_best_z(ros_env, venv_bin, tmp_path) -> None:
    policy = _adaptive_policy(tmp_path / "policy")
    out = tmp_path / "adapt"
    cmd = [str(venv_bin / "anima"), "adapt", "--policy", str(policy), "--ros", "--operator", "--episodes", "5",
           "--set", "episode_s=0.5", "--set", "eval_episodes=0", "--out", str(out), "--json"]
    # The operator confirms the first episode (Enter), then aborts at the second prompt (q).
    proc = subprocess.run(cmd, env=ros_env, input="\nq\n", capture_output=True, text=True, timeout=600)
    assert proc.returncode == 130, proc.stderr[-4000:]
    assert proc.stderr.count("Reset the robot") == 2 and "aborted after 1 search episodes" in proc.stderr
    state = json.loads((out / "adaptation.json").read_text())
    assert state["status"].startswith("aborted") and state["episodes_used"] == 1
    z = yaml.safe_load((out / "adapted_z.yaml").read_text())["imitation_policy"]["ros__parameters"]["z"]
    assert np.allclose(z, state["episodes"][0]["z"], atol=1e-6)
    assert proc.stdout == ""  # no JSON result for an aborted run
