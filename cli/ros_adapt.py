"""Adaptation episodes over ROS: ``anima adapt --ros`` (an :class:`~anima.models.adaptation.run.EpisodeRunner`).

The stack is ``launch/laikago_imitation_sim.launch.xml`` (bridge, PD controller, state estimator,
``imitation_policy``), started once with ``anima launch`` (the project's launcher: loopback DDS and
its own ``ROS_DOMAIN_ID``), with the target domain given to the bridge at start. Each episode:

1. z is set on ``imitation_policy`` through its parameter service (refusals come back as errors);
2. the robot is reset: the bridge's ``sim/reset`` (std_srvs/Trigger), or, with ``--operator`` on a
   robot, a person resets it and confirms at a prompt (``q`` aborts; the best z so far is saved);
3. ``imitation_policy/restart``: stand-up, settle, warm-up, then the clip from its start;
4. the episode is scored from on-robot signals only (``joint_states``, ``imu/data``, the
   estimator's ``odom``) against the reference at the policy's motion time
   (``imitation_policy/phase``), one reward per control step, by
   :class:`~anima.models.adaptation.signal_score.SignalScorer`. The simulator's ground truth
   (``sim/ground_truth/odom``) is scored beside it by a second scorer and reported, never used.

The robust baseline runs in a second launch of the same stack with the robust policy.
Episodes over ROS are not seeded: the seed argument is recorded only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from anima.models.adaptation.run import AdaptationAborted, EpisodeResult
from anima.models.adaptation.signal_score import BodyState, SignalScorer

__all__ = ["RosEpisodes"]

LAUNCH_FILE = "laikago_imitation_sim.launch.xml"
STAND_S = 1.5 + 0.5  # imitation_policy's default rise_time_s + settle_s before the policy starts


class _Stack:
    """``anima launch`` of the imitation stack as a child process group; stopped with SIGINT."""

    def __init__(self, args: dict[str, str], env: dict[str, str], log: Callable[[str], None]) -> None:
        from anima import share_dir

        self.log_file = tempfile.NamedTemporaryFile("w+", prefix="anima-adapt-launch-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "anima", "launch", str(share_dir() / "launch" / LAUNCH_FILE),
               *(f"{k}:={v}" for k, v in args.items())]
        log(f"launching: {' '.join(cmd[3:])} (log {self.log_file.name})")
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, n: int = 30) -> str:
        return "\n".join(Path(self.log_file.name).read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log_file.close()
        if self.proc.returncode == 0:
            os.unlink(self.log_file.name)  # kept (and named in the errors) when the stack failed


class _Listener:
    """The in-process rclpy side: latest readings, the phase stream, service and parameter clients."""

    def __init__(self, env: dict[str, str], joint_names: tuple[str, ...]) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rcl_interfaces.srv import SetParameters
        from nav_msgs.msg import Odometry
        from sensor_msgs.msg import Imu, JointState
        from std_msgs.msg import Float64MultiArray
        from std_srvs.srv import Trigger

        from anima.ros_nodes._common import SENSOR_QOS

        os.environ.update({k: v for k, v in env.items() if k.startswith(("ROS_", "FASTRTPS_", "FASTDDS_"))})
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("anima_adapt", context=self.context)
        self.names = joint_names
        self.lock = threading.Lock()
        self.joints: tuple[np.ndarray, np.ndarray] | None = None
        self.imu: tuple[np.ndarray, np.ndarray] | None = None
        self.odom: tuple[np.ndarray, np.ndarray] | None = None
        self.truth: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.on_phase: Callable[[float], None] | None = None
        n = self.node
        n.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS)
        n.create_subscription(Imu, "imu/data", self._on_imu, SENSOR_QOS)
        n.create_subscription(Odometry, "odom", lambda m: self._on_odom(m, "odom"), SENSOR_QOS)
        n.create_subscription(Odometry, "sim/ground_truth/odom", lambda m: self._on_odom(m, "truth"), SENSOR_QOS)
        n.create_subscription(Float64MultiArray, "imitation_policy/phase", self._on_phase, SENSOR_QOS)
        self.reset_client = n.create_client(Trigger, "sim/reset")
        self.restart_client = n.create_client(Trigger, "imitation_policy/restart")
        self.param_client = n.create_client(SetParameters, "imitation_policy/set_parameters")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(n)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.1)
            except Exception:  # noqa: BLE001 - the context was shut down while spinning
                return

    def _on_joints(self, msg: Any) -> None:
        if len(msg.name) != len(msg.position) or len(msg.name) != len(msg.velocity):
            return
        idx = [list(msg.name).index(n) for n in self.names if n in msg.name]
        if len(idx) != len(self.names):
            return
        with self.lock:
            self.joints = (np.asarray(msg.position)[idx], np.asarray(msg.velocity)[idx])

    def _on_imu(self, msg: Any) -> None:
        o, w = msg.orientation, msg.angular_velocity
        with self.lock:
            self.imu = (np.array([o.x, o.y, o.z, o.w]), np.array([w.x, w.y, w.z]))

    def _on_odom(self, msg: Any, which: str) -> None:
        from anima.controllers.spatial import quat_rotate

        p, o, v, w = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist.linear, msg.twist.twist.angular
        quat = np.array([o.x, o.y, o.z, o.w])
        pos, v_world = np.array([p.x, p.y, p.z]), quat_rotate(quat, np.array([v.x, v.y, v.z]))  # twist is in base_link
        with self.lock:
            if which == "odom":
                self.odom = (pos, v_world)
            else:
                self.truth = (pos, v_world, quat, np.array([w.x, w.y, w.z]))

    def _on_phase(self, msg: Any) -> None:
        if self.on_phase is not None and len(msg.data) >= 1:
            self.on_phase(float(msg.data[0]))

    def states(self) -> tuple[BodyState | None, BodyState | None]:
        """(on-robot, ground truth) body states now; None where a stream is missing."""
        with self.lock:
            if self.joints is None:
                return None, None
            q, qd = self.joints
            robot = None if self.imu is None or self.odom is None else BodyState(
                self.odom[0], self.odom[1], self.imu[0], self.imu[1], q, qd)
            truth = None if self.truth is None else BodyState(self.truth[0], self.truth[1], self.truth[2], self.truth[3], q, qd)
        return robot, truth

    def call(self, client: Any, request: Any, timeout_s: float) -> Any:
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise RuntimeError(f"service {client.srv_name} not available after {timeout_s:g} s")
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout_s):
            raise RuntimeError(f"service {client.srv_name} did not answer within {timeout_s:g} s")
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(timeout=2.0)


class _Episode:
    """Scores one episode from the phase stream; ``done`` is set at the length or at a fall."""

    def __init__(self, listener: _Listener, motion: Any, frame: np.ndarray, steps: int) -> None:
        self.listener, self.steps = listener, steps
        self.robot = SignalScorer(motion, frame)
        self.truth = SignalScorer(motion, frame)
        self.started = False
        self.done = threading.Event()

    def on_phase(self, t: float) -> None:
        if self.done.is_set():
            return
        robot, truth = self.listener.states()
        if robot is None:
            return
        if not self.started:
            if t > 0.0:  # a phase message of the episode before: a new one starts in its warm-up (t < 0)
                return
            self.robot.start(t, robot, warmup=True)
            if truth is not None:
                self.truth.start(t, truth, warmup=True)
            self.started = True
        self.robot.step(t, robot)
        if truth is not None and self.truth.steps < self.robot.steps:
            self.truth.step(t, truth)
        if self.robot.steps >= self.steps or self.robot.fell:
            self.done.set()


class RosEpisodes:
    """Episodes through the launched stack (module docstring)."""

    def __init__(self, policy_path: Path, domain_arg: str, episode_s: float, robust_path: Path | None = None,
                 operator: bool = False, real_time_factor: float = 1.0, log: Callable[[str], None] = print,
                 prompt: Callable[[str], str] | None = None) -> None:
        from anima.controllers.robot_config import load_robot_config
        from anima.models.imitation.policy import ImitationPolicy
        from anima.models.motion.format import load_motion
        from anima.models.motion.library import find_motion
        from anima.ros_env import apply_network_rule, ensure_domain_id
        from anima.sim_bridge.envs.laikago_imitation import standing_frame

        policy = ImitationPolicy.load(policy_path)
        self.control_dt = float(policy.spec.get("control_dt_s", 0.033))
        self.latent_dim = policy.latent_dim
        self.motion_name = str(policy.spec.get("motion", "dog_pace"))
        self.motion = load_motion(find_motion(self.motion_name))
        self.frame = standing_frame()
        self.steps = max(1, int(round(episode_s / self.control_dt)))
        self.episode_s, self.rtf = float(episode_s), float(real_time_factor)
        self.policy_path, self.robust_path, self.domain_arg = Path(policy_path), robust_path, domain_arg
        self.operator, self.log = operator, log
        self.prompt = prompt or _stdin_prompt
        self.env = apply_network_rule(dict(os.environ))
        self.claim = ensure_domain_id(self.env)
        log(f"anima adapt: ROS_DOMAIN_ID={self.env['ROS_DOMAIN_ID']}")
        self.listener = _Listener(self.env, tuple(load_robot_config("laikago").joint_names))
        self.stack: _Stack | None = None
        self.kind: str | None = None

    # ------------------------------------------------------------------ the stack
    def _launch(self, kind: str) -> None:
        if self.stack is not None:
            self.stack.stop()
        policy = self.policy_path if kind == "adaptive" else self.robust_path
        args = {"policy": str(policy), "motion": self.motion_name, "real_time_factor": f"{self.rtf:g}"}
        if not self.operator:  # on a robot the domain is the robot itself
            args["domain"] = self.domain_arg if self.domain_arg != "nominal" else "none"
        self.stack = _Stack(args, self.env, self.log)
        self.kind = kind
        for client in (self.listener.reset_client, self.listener.restart_client, self.listener.param_client):
            deadline = time.monotonic() + 90.0
            while not client.wait_for_service(timeout_sec=0.5):
                if not self.stack.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"the launched stack did not offer {client.srv_name}:\n{self.stack.tail()}")

    def _set_z(self, z: np.ndarray) -> None:
        from rcl_interfaces.msg import Parameter as ParameterMsg, ParameterType, ParameterValue
        from rcl_interfaces.srv import SetParameters

        value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE_ARRAY, double_array_value=[float(v) for v in z])
        request = SetParameters.Request(parameters=[ParameterMsg(name="z", value=value)])
        result = self.listener.call(self.listener.param_client, request, 10.0).results[0]
        if not result.successful:
            raise ValueError(f"imitation_policy refused z: {result.reason}")

    def _reset(self) -> None:
        from std_srvs.srv import Trigger

        if self.operator:
            answer = self.prompt("Reset the robot to its start pose (lying, at the start mark), then press Enter "
                                 "to run the next episode; q + Enter aborts (the best z so far is saved): ")
            if answer.strip().lower() in ("q", "quit", "abort") or answer == "\x04":
                raise AdaptationAborted("operator abort")
            return
        response = self.listener.call(self.listener.reset_client, Trigger.Request(), 10.0)
        if not response.success:
            raise RuntimeError(f"sim/reset failed: {response.message}")

    # ------------------------------------------------------------------ EpisodeRunner
    def run(self, z: np.ndarray | None, seed: int, robust: bool = False) -> EpisodeResult:
        from std_srvs.srv import Trigger

        kind = "robust" if robust else "adaptive"
        if self.kind != kind or self.stack is None or not self.stack.alive():
            self._launch(kind)
        if not robust:
            self._set_z(np.zeros(self.latent_dim) if z is None else z)
        self._reset()
        t0 = time.perf_counter()
        episode = _Episode(self.listener, self.motion, self.frame, self.steps)
        self.listener.call(self.listener.restart_client, Trigger.Request(), 10.0)
        self.listener.on_phase = episode.on_phase
        # generous: on 2 shared cores the stack has run at a tenth of real time
        wall_limit = 120.0 + 30.0 * (STAND_S + 0.25 + self.episode_s) / max(self.rtf, 0.25)
        try:
            if not episode.done.wait(wall_limit):
                raise RuntimeError(f"episode not finished after {wall_limit:.0f} s wall (scored "
                                   f"{episode.robot.steps} of {self.steps} steps; stack alive: {self.stack.alive()}):\n"
                                   f"{self.stack.tail()}")
        finally:
            self.listener.on_phase = None
        truth = episode.truth
        extra = {"ground_truth_return": truth.total / self.steps if truth.steps else None,
                 "ground_truth_fell": truth.fell, "episode_wall_s": round(time.perf_counter() - t0, 3)}
        return EpisodeResult(episode.robot.total / self.steps, episode.robot.steps, episode.robot.fell,
                             time.perf_counter() - t0, extra)

    def close(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        self.listener.close()
        if self.claim is not None:
            self.claim.release()


def _stdin_prompt(text: str) -> str:
    sys.stderr.write(text)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return "q" if line == "" else line  # end of input aborts
