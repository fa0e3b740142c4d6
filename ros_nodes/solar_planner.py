"""solar_planner: a SOLAR policy (structured-VAE latent + time-varying linear-Gaussian controller) as a node.

Each camera frame is checked, encoded and given to the episode's controller at the step its stamp
falls in (core: ``anima.controllers.solar_runner``; the policy: ``anima.models.solar.policy``):
``u_t = K_t x_t + k_t`` at step ``t = round((stamp - first frame's stamp) / control_dt)``, one action
per control period, ``T`` (the policy's horizon) steps per episode; x_t is the latent z_t, or z_t with
its change since the last step and the last action (``models/solar/state.py``).

Topics: subscribes ``camera/image_raw`` (sensor_msgs/Image, rgb8 at the policy's image size, best
effort) and ``joint_states`` (sensor_msgs/JointState, best effort: the Sawyer's start setpoint by
forward kinematics; the reacher's joint names are checked); publishes, for every frame,
- task ``reacher`` (action ``joint_torque``): ``joint_commands`` (sensor_msgs/JointState, effort =
  torque N m, stamped with the frame's stamp so the bridge's lockstep takes it; zero torque = hold);
- tasks ``sawyer_*`` (action ``ee_delta``): at each new step ``ee_target`` (geometry_msgs/PoseStamped,
  frame ``base_link``, gripper down) and ``gripper_command`` (sensor_msgs/JointState); hold = no new
  target (cartesian_controller keeps the last one);
and ``/diagnostics`` (diagnostic_msgs/DiagnosticArray, status "solar_planner: controller", 2 Hz and at each
change of phase: OK
idle/armed/running/done, WARN frames refused in the last period; values ``task``, ``phase``, ``step``,
``horizon``, ``episodes``, ``steps_acted`` (steps of the episode that had a frame), ``episode_start_s`` (stamp of its step-0
frame, -1 before one), ``frames_refused``, ``last_refusal``, ``encode_ms``).

An armed episode's step 0 is the first frame that arrives once its commands can act: the Sawyer's
joint_states heard, and a subscriber matched on the command topic (a command published before
discovery matched would be lost, and the episode would run with the robot standing still); until
then a throttled warning says what is missing.

A frame of the wrong size or encoding is refused with a throttled warning (counted), and the
controller holds. Services ``solar/start_episode`` (the next frame is step 0; a running episode is
abandoned) and ``solar/stop`` (hold), both std_srvs/Trigger.

Parameters: ``model_path`` (str, required: "shipped" = ``models/solar/data/<task>.pt`` of the package,
or a policy file of ``anima train solar``), ``task`` (str, "reacher" | "sawyer_reach" | "sawyer_push" |
"sawyer_stack"), ``latent_dim`` (int, 10: the latent size the model must have), ``auto_start`` (bool,
false: start an episode at the first frame), ``hardware_id`` (str, "" = the robot name), and for the
Sawyer ``max_step_m`` (float, 0.02), ``workspace_min_m`` / ``workspace_max_m`` (float[3], the training
environment's box), ``base_link`` (str, "base_link"), ``tip_link`` (str, "ee"), ``torch_threads`` (int, 1: the encoder runs
on one core, as SOLAR's per-frame budget is set; torch's default pool of every core's threads
stalled frames by 0.4 s on a loaded machine), ``camera_antialias`` (bool, false: whether the reacher camera draws
anti-aliased frames, as the launch sets the bridge's; a model trained on the other kind gets a warning naming both).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from anima.controllers.command_guard import RejectionLog
from anima.controllers.solar_runner import FrameRefused, RunnerPhase, SolarRunner, decode_rgb8, torque_command
from anima.controllers.solar_setup import SolarSetup, frames_mismatch, load_solar_setup
from anima.models.solar.networks import flush_denormals
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, declare_params, from_time_msg, run_node
from anima.ros_nodes._conversions import joint_state_msg, reorder_index
from anima.ros_nodes._ee_command import EeCommandPublisher
from anima.ros_nodes._diagnostics import DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, OK, WARN, diagnostic_array, diagnostic_status


class SolarPlannerNode(Node):
    def __init__(self) -> None:
        super().__init__("solar_planner")
        p = declare_params(self, {"model_path": "", "task": "reacher", "latent_dim": 10, "auto_start": False,
                                  "hardware_id": "", "max_step_m": 0.02, "workspace_min_m": [0.35, -0.35, 0.02],
                                  "workspace_max_m": [0.85, 0.35, 0.35], "base_link": "base_link", "tip_link": "ee",
                                  "torch_threads": 1, "camera_antialias": False})
        if int(p["torch_threads"]) < 1:
            raise ValueError(f"parameter 'torch_threads' must be >= 1, got {p['torch_threads']}")
        torch.set_num_threads(int(p["torch_threads"]))
        flush_denormals()  # the spatial softmax's sharp peaks: denormal arithmetic is many times slower
        self.setup: SolarSetup = load_solar_setup(p)
        self.runner = SolarRunner(self.setup.policy, self.setup.runner_config)
        self.names = self.setup.robot.joint_names
        self.hardware_id = str(p["hardware_id"]) or self.setup.robot.robot
        self._q: np.ndarray | None = None
        self._state_names: tuple[str, ...] = ()
        self._index: np.ndarray | None = None
        self._refusals = RejectionLog("camera/image_raw frames refused, holding")
        self._refused_before, self.last_refusal, self.encode_ms = 0, "", 0.0
        self._logged_error = ""
        if self.setup.ee is None:
            self._cmd_pub = self.create_publisher(JointState, "joint_commands", COMMAND_QOS)
        else:
            self._ee_cmd = EeCommandPublisher(self, self.setup.base_link)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS)
        self.create_subscription(Image, "camera/image_raw", self._on_image, SENSOR_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS)
        self.create_service(Trigger, "solar/start_episode", self._on_start)
        self.create_service(Trigger, "solar/stop", self._on_stop)
        self.create_timer(0.5, self._publish_diagnostics)
        self._warm_up()
        if p["auto_start"]:
            self.runner.start_episode()
        c = self.setup.runner_config
        self.get_logger().info(f"model {self.setup.model_path}: task {self.setup.task}, latent {self.setup.latent_dim}, "
                               f"{c.image_size}x{c.image_size} frames, T={c.horizon} steps of {c.control_dt_s:g} s, "
                               f"{c.action_kind}" + (", episode starts at the first frame" if p["auto_start"] else ""))
        mismatch = frames_mismatch(self.setup, bool(p["camera_antialias"]))
        if mismatch:
            self.get_logger().warn(mismatch)

    def _warm_up(self) -> None:
        """Encode one blank frame now: torch's first call is slow, and frames would queue (and drop) behind it."""
        size = self.setup.runner_config.image_size
        self.setup.policy.encode(np.zeros((size, size, 3), np.uint8))

    # ------------------------------------------------------------ inputs
    def _on_joints(self, msg: JointState) -> None:
        names = tuple(msg.name)
        if names != self._state_names:
            try:
                self._index = reorder_index(names, self.names)
            except ValueError as err:
                self.get_logger().error(f"joint_states: {err}", throttle_duration_sec=1.0)
                return
            self._state_names = names
        q = np.asarray(msg.position, dtype=float)
        if q.shape == (len(names),) and np.isfinite(q[self._index]).all():
            self._q = q[self._index]

    def _on_image(self, msg: Image) -> None:
        stamp = msg.header.stamp
        try:
            image = decode_rgb8(msg.height, msg.width, msg.encoding, msg.step, msg.data, self.setup.runner_config.image_size)
        except FrameRefused as err:
            self.last_refusal = str(err)
            line = self._refusals.note(self.last_refusal, time.monotonic())
            if line is not None:
                self.get_logger().warn(line)
            self._command(None, False, stamp)
            return
        if self.runner.phase is RunnerPhase.ARMED and not self._ready_to_start():
            return
        t0, phase = time.perf_counter(), self.runner.phase
        result = self.runner.on_frame(image, from_time_msg(stamp))
        if result.new_step:
            self.encode_ms = (time.perf_counter() - t0) * 1e3
            if result.step == 0 and self.setup.ee is not None:
                self.setup.ee.reset(self.setup.chain.forward(self._q)[:3, 3])
        if self.runner.last_error and self.runner.last_error != self._logged_error:
            self._logged_error = self.runner.last_error
            self.get_logger().error(self.runner.last_error)
        self._command(result.action, result.new_step, stamp)
        if self.runner.phase is not phase:
            if self.runner.phase is RunnerPhase.DONE:
                c = self.setup.runner_config
                self.get_logger().info(f"episode {self.runner.episodes_started} done: {self.runner.steps_acted} of "
                                       f"{c.horizon} steps acted (the others had no frame)")
            self._publish_diagnostics()

    def _ready_to_start(self) -> bool:
        """An armed episode starts only when its commands can act: the hand's pose known and a listener matched."""
        if self.setup.ee is not None and self._q is None:
            self.get_logger().warn("no joint_states yet: the episode starts once the hand's position is known",
                                   throttle_duration_sec=1.0)
            return False
        listened = self._ee_cmd.listened() if self.setup.ee is not None else self._cmd_pub.get_subscription_count() > 0
        if not listened:
            topic = "ee_target" if self.setup.ee is not None else "joint_commands"
            self.get_logger().warn(f"nobody subscribes to {topic} yet: the episode starts once a controller listens",
                                   throttle_duration_sec=1.0)
        return listened

    # ------------------------------------------------------------ outputs
    def _command(self, action: np.ndarray | None, new_step: bool, stamp) -> None:
        if self.setup.ee is None:
            tau = torque_command(action, self.setup.torque_per_unit)
            self._cmd_pub.publish(joint_state_msg(stamp, self.names, effort=tau))
            return
        if action is None or not new_step:
            return
        position, gripper = self.setup.ee.apply(action)
        self._ee_cmd.publish(stamp, position, gripper)

    def _on_start(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        self.runner.start_episode()
        c = self.setup.runner_config
        resp.success = True
        resp.message = (f"episode {self.runner.episodes_started} armed: the next frame is step 0 of {c.horizon} "
                        f"({c.horizon * c.control_dt_s:g} s)")
        self.get_logger().info(resp.message)
        return resp

    def _on_stop(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        was = self.runner.phase
        self.runner.stop()
        resp.success, resp.message = True, f"stopped ({was.value} before): holding"
        self.get_logger().info(resp.message)
        return resp

    def _publish_diagnostics(self) -> None:
        refused = self._refusals.total
        level, message = OK, f"{self.runner.phase.value}"
        if refused > self._refused_before:
            level, message = WARN, f"frames refused, holding: {self.last_refusal}"
        elif self.runner.phase is RunnerPhase.RUNNING:
            message = f"running step {self.runner.step_index} of {self.setup.runner_config.horizon}"
        self._refused_before = refused
        step, start = self.runner.step_index, self.runner.episode_start_s
        start = -1.0 if start is None else start
        values = {"task": self.setup.task, "phase": self.runner.phase.value, "step": -1 if step is None else step,
                  "horizon": self.setup.runner_config.horizon, "episodes": self.runner.episodes_started,
                  "steps_acted": self.runner.steps_acted, "episode_start_s": f"{start:.6f}",
                  "frames_refused": refused, "last_refusal": self.last_refusal, "encode_ms": float(self.encode_ms)}
        status = diagnostic_status(f"{self.get_name()}: controller", self.hardware_id, level, message, values)
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), [status]))


def main(args: list[str] | None = None) -> int:
    return run_node(SolarPlannerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
