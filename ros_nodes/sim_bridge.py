"""sim_bridge: owns a PyBullet ``World`` and serves it as a robot on ROS topics.

The same node serves every simulated robot; the world-specific part (which world, which extra
sensors, which ground truth) is an adapter module ``anima.ros_nodes._bridge_<world>``. A real robot
replaces this node by its driver and nothing else changes.

Topics (relative names):
- publishes ``/clock`` (rosgraph_msgs/Clock) at ``clock_rate_hz`` of sim time;
- publishes ``joint_states`` (sensor_msgs/JointState: position, velocity, effort = applied
  torque) at ``joint_state_rate_hz``;
- subscribes ``joint_commands`` (sensor_msgs/JointState, effort = torque, by joint name), applied
  with zero-order hold through a driver-side guard (core: ``anima.controllers.command_guard``):
  each torque is clamped to the robot config's ``torque_limit_nm``; a command whose stamp is more
  than ``future_stamp_tolerance_s`` ahead of the sim clock is rejected; a command counts from its
  *arrival* (sim time at reception), and after ``command_timeout_s`` of sim time without one the
  bridge applies damping ``-damping_kd * qd``, like a motor driver's watchdog. Rejections are
  counted and logged at most once a second; the counters are printed at exit;
- plus the adapter's topics (Laikago: ``imu/data``, ``sim/ground_truth/odom``, ...).

Start-up: with ``hold_until_command`` the world does not step (no physics, no ``/clock``) until
the first valid command arrives; meanwhile ``joint_states`` of the frozen robot is published
every ``_HOLD_PERIOD_S`` of wall time, with whatever the adapter's optional ``on_hold(stamp)`` sends
of the frozen scene (the reacher: its camera frame, which its planner answers), so a controller that
starts late finds the robot exactly as it was placed (issue 20, item 6), and the first step is
taken only once commands flow, i.e. once the controller's subscriptions and the bridge's are
matched. Holding the time as well as the body (rather than fixing the
base and stepping) keeps the legs from swinging under gravity and keeps every sim-time timeout of
the stack from running while nothing controls the robot.

Parameters: ``world`` (str, "laikago"), ``real_time_factor`` (float, 1.0; 0 = as fast as possible),
``joint_state_rate_hz`` (float, 500), ``clock_rate_hz`` (float, 250), ``command_timeout_s``
(float, 0.05 s sim), ``future_stamp_tolerance_s`` (float, 0.005 s), ``hold_until_command`` (bool,
true), ``lockstep`` (bool, true: after each ``joint_states`` wait up to
``lockstep_timeout_ms`` wall ms for the command computed from it, which then acts from that
sample's time until the next, at any speed, as on a real-time bus; no extra delay),
``duration_s`` (float, 0 = run until stopped; sim seconds, then exit 0), ``seed`` (int, 0),
``randomize`` (bool, false: domain randomization at reset), ``gui`` (bool, false: open PyBullet's
window; needs a display, refused at start when ``$DISPLAY`` is unset), ``video_path`` (str, "none":
write an mp4 of the run from a fixed viewpoint at 30 fps of sim time, see ``anima.sim_bridge.video``).

Service ``sim/reset`` (std_srvs/Trigger): put the robot back in its start state (the adapter's reset:
for the Laikago the initial pose at the origin, at rest; for the planar reacher the next episode's start
and target, named in the reply), between physics steps; sim time goes on
(the clock never runs backwards) and the dynamics (randomized draw or domain) are kept. Used between
adaptation episodes, where a person resets a real robot.

Service ``sim/pause`` (std_srvs/SetBool): ``data: true`` pauses the world between physics steps, as at
start-up: no physics, no ``/clock``, sim time stands, and the frozen robot's ``joint_states`` (and the
adapter's ``on_hold`` topics) are published every ``_HOLD_PERIOD_S`` of wall time; commands are still
taken and checked, and the last one acts again on resume. ``data: false`` resumes at the same sim time
(pacing restarts from there: no catch-up burst). A reset while paused shows its start state on the
topics before anything moves it, the way to inspect it (Gazebo's ``pause_physics`` / ``unpause_physics``).
"""

from __future__ import annotations

import importlib
import os
import time

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool, Trigger

from anima.controllers.command_guard import CommandGuard, CommandGuardConfig, GuardMode, RejectionLog
from anima.controllers.latency import LatencyWindow
from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._common import (
    CLOCK_QOS,
    COMMAND_QOS,
    HIGH_RATE_STREAM_QOS,
    SubscriptionPoller,
    declare_params,
    run_node,
    shutdown_requested,
    stamp_key,
    to_time_msg,
)
from anima.ros_nodes._cdr import CdrError, JointStateReader, JointStateWriter
from anima.sim_bridge.pacing import Pacer, steps_every
from anima.sim_bridge.video import VideoRecorder, check_video_target, default_view

_SERVICE_PERIOD_S = 0.05  # wall seconds between executor turns for parameter services
_HOLD_PERIOD_S = 0.02  # wall seconds between joint_states of the held (not stepping) world
_HOLD_REMIND_S = 5.0  # wall seconds between "still waiting for the first command" lines


class SimBridgeNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_bridge")
        p = self._declare()
        self._client = _connect(p["gui"])
        adapter_module = importlib.import_module(f"anima.ros_nodes._bridge_{p['world']}")
        self.adapter = adapter_module.make_adapter(self, self._client)
        self.world = self.adapter.world
        self._rng = np.random.default_rng(p["seed"])
        if p["randomize"]:
            self.get_logger().info(f"domain randomization: {self.world.randomize(self._rng)}")
        self._reset_world()
        self.video = VideoRecorder(self._client, p["video_path"], default_view(self.world)) if p["video_path"] else None
        dt = self.world.physics_dt
        self._p = p
        self._js_every = steps_every(dt, p["joint_state_rate_hz"], "joint_state_rate_hz")
        self._clock_every = steps_every(dt, p["clock_rate_hz"], "clock_rate_hz")
        robot = getattr(self.adapter, "robot_config", None) or load_robot_config(p["world"])
        self.guard = CommandGuard(CommandGuardConfig.from_robot(
            robot, self.world.joint_names, timeout_s=p["command_timeout_s"],
            future_tolerance_s=p["future_stamp_tolerance_s"]))
        self._rejections = RejectionLog("joint_commands rejected")
        self._clamps = RejectionLog("joint_commands torque clamped")
        self._mode_seen = self.guard.mode  # for logging the watchdog's transitions
        self._awaiting: int | None = None
        self._publish_wall: dict[int, float] = {}
        self.latencies_ms = LatencyWindow()  # bounded: the latest 60 000 samples (2 min at 500 Hz)
        self._clock_pub = self.create_publisher(Clock, "/clock", CLOCK_QOS)
        self._js_pub = self.create_publisher(JointState, "joint_states", HIGH_RATE_STREAM_QOS)
        # the 500 Hz command path reads and writes serialized messages (``_cdr``: no Python message objects)
        self._reader = JointStateReader()
        self._js_writer = JointStateWriter(self.world.joint_names, JointStateWriter.FIELDS)
        cmd_sub = self.create_subscription(JointState, "joint_commands", self._on_command, COMMAND_QOS, raw=True)
        self._commands = SubscriptionPoller(self, cmd_sub)
        self.create_service(Trigger, "sim/reset", self._on_reset)
        self._paused = False
        self._on_hold = getattr(self.adapter, "on_hold", None)  # the adapter's held-world topics, if it has any
        self.create_service(SetBool, "sim/pause", self._on_pause)
        self.get_logger().info(
            f"world={p['world']} physics {1 / dt:.0f} Hz, joint_states every {self._js_every} steps, "
            f"rtf={p['real_time_factor']}, lockstep={p['lockstep']}, torque limits from {robot.source}"
        )

    def _declare(self) -> dict:
        spec = {
            "world": "laikago",
            "real_time_factor": 1.0,
            "joint_state_rate_hz": 500.0,
            "clock_rate_hz": 250.0,
            "command_timeout_s": 0.05,
            "future_stamp_tolerance_s": 0.005,
            "hold_until_command": True,
            "lockstep": True,
            "lockstep_timeout_ms": 20.0,
            "duration_s": 0.0,
            "seed": 0,
            "randomize": False,
            "gui": False,
            "video_path": "none",
        }
        p = declare_params(self, spec)
        p["video_path"] = "" if p["video_path"] in ("", "none") else str(check_video_target(p["video_path"]))
        if p["real_time_factor"] < 0:
            raise ValueError(f"real_time_factor must be >= 0 (0 = unpaced), got {p['real_time_factor']}")
        return p

    def _reset_world(self) -> str:
        """Reset through the adapter; returns what the adapter says about the new start ("" if nothing)."""
        reset = getattr(self.adapter, "reset", None)
        if reset is None:
            self.world.reset(rng=self._rng)
            return ""
        return reset(self._rng) or ""

    def _on_reset(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        """Runs in the physics loop's executor turn, so never in the middle of a step."""
        detail = self._reset_world()
        resp.success, resp.message = True, f"robot reset to its start state at sim time {self.world.time_s:.3f} s"
        if detail:
            resp.message += f": {detail}"
        self.get_logger().info(resp.message)
        return resp

    def _on_pause(self, req: SetBool.Request, resp: SetBool.Response) -> SetBool.Response:
        """Runs in the physics loop's executor turn: the loop holds (or resumes) before its next step."""
        was, self._paused = self._paused, bool(req.data)
        state = "paused" if self._paused else "running"
        resp.success = True
        resp.message = f"world {state} at sim time {self.world.time_s:.3f} s" + ("" if was != self._paused
                                                                                  else f" (already {state})")
        self.get_logger().info(resp.message)
        return resp

    def _on_command(self, raw: bytes) -> None:
        try:
            msg = self._reader.read(raw)
        except CdrError as err:
            reason = str(err)
        else:
            reason = self.guard.offer(msg.names, msg.effort, msg.stamp_s, self.world.time_s)
        if reason:
            line = self._rejections.note(reason, time.monotonic())
            if line is not None:
                self.get_logger().warn(line)
            return
        if self.guard.last_clamped:
            line = self._clamps.note(f"to the limit at {list(self.guard.last_clamped)}", time.monotonic())
            if line is not None:
                self.get_logger().warn(line)
        key = msg.sec * 1_000_000_000 + msg.nanosec  # stamp_key
        sent = self._publish_wall.pop(key, None)
        if sent is not None:
            self.latencies_ms.add((time.perf_counter() - sent) * 1e3)
        if key == self._awaiting:
            self._awaiting = None

    def run(self, executor: SingleThreadedExecutor) -> None:
        """The physics loop: step, publish what is due, take commands, keep pace.

        Commands are taken by a poller (microseconds when idle); the executor, which serves the
        node's parameter services, runs only every ``_SERVICE_PERIOD_S`` of wall time.
        """
        p = self._p
        if p["hold_until_command"] and not self._hold(executor):
            return
        pacer = Pacer(self.world.physics_dt, p["real_time_factor"])
        end_step = int(round(p["duration_s"] / self.world.physics_dt)) if p["duration_s"] > 0 else None
        step = 0
        next_service = time.perf_counter()
        while (end_step is None or step < end_step) and not shutdown_requested():
            if self._paused:
                if not self._hold_paused(executor):
                    return
                pacer.restart(step)
                next_service = time.perf_counter()
            self._commands.take_all()
            self._apply_command()
            self.world.step(1)
            step += 1
            stamp = to_time_msg(self.world.time_s)
            if step % self._clock_every == 0:
                self._clock_pub.publish(Clock(clock=stamp))
            self.adapter.on_step(stamp)
            if self.video is not None:
                self.video.capture(self.world.time_s)
            if step % self._js_every == 0:
                self._publish_joint_states(stamp)
                self._wait_for_command()
            if time.perf_counter() >= next_service:
                executor.spin_once(timeout_sec=0.0)
                next_service = time.perf_counter() + _SERVICE_PERIOD_S
            pacer.wait(step)

    def _hold(self, executor: SingleThreadedExecutor) -> bool:
        """Publish the frozen robot's joint_states until the first valid command; False on shutdown."""
        log = self.get_logger()
        log.info("holding the world (no physics steps, no /clock) until the first joint_commands")
        start = time.monotonic()
        remind = start + _HOLD_REMIND_S
        while not self.guard.started:
            if shutdown_requested():
                return False
            self._hold_turn(executor, lambda: self.guard.started)
            if time.monotonic() >= remind:
                log.warn(f"still waiting for the first joint_commands ({time.monotonic() - start:.0f} s): "
                         "the robot is held as placed")
                remind += _HOLD_REMIND_S
        log.info(f"first joint_commands after {time.monotonic() - start:.2f} s: stepping the world")
        return True

    def _hold_paused(self, executor: SingleThreadedExecutor) -> bool:
        """Hold the world while ``sim/pause`` says so; False on shutdown."""
        while self._paused:
            if shutdown_requested():
                return False
            self._hold_turn(executor, lambda: False)
        return True

    def _hold_turn(self, executor: SingleThreadedExecutor, done) -> None:
        """One turn of a held world: its frozen readings at the held stamp, then commands taken for
        ``_HOLD_PERIOD_S`` (or until ``done()``; a controller answering each reading at once must not
        speed the held stream up), then services served."""
        stamp = to_time_msg(self.world.time_s)
        self._publish_joint_states(stamp)
        if self._on_hold is not None:
            self._on_hold(stamp)
        deadline = time.perf_counter() + _HOLD_PERIOD_S
        while not done():
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            if self._commands.wait(left):
                self._commands.take_all()
        executor.spin_once(timeout_sec=0.0)

    def _apply_command(self) -> None:
        tau = self.guard.torque(self.world.time_s, lambda: self.world.true_joints().velocity)
        if self.guard.mode is not self._mode_seen:
            before, self._mode_seen = self._mode_seen, self.guard.mode
            if self._mode_seen is GuardMode.WATCHDOG:
                self.get_logger().warn(f"joint_commands silent for more than {self._p['command_timeout_s']:g} s "
                                       "of sim time: damping (-damping_kd * qd)")
            elif before is GuardMode.WATCHDOG:
                self.get_logger().info("joint_commands resumed")
        self.world.apply_torques(tau)

    def _publish_joint_states(self, stamp) -> None:
        j = self.world.read_joints()
        key = stamp_key(stamp)
        self._publish_wall[key] = time.perf_counter()
        if len(self._publish_wall) > 64:
            self._publish_wall.pop(next(iter(self._publish_wall)))
        self._js_pub.publish(self._js_writer.write(stamp.sec, stamp.nanosec, j.position, j.velocity, j.effort))
        self._awaiting = key if (self._p["lockstep"] and self.guard.mode is GuardMode.COMMANDED) else None

    def _wait_for_command(self) -> None:
        deadline = time.perf_counter() + self._p["lockstep_timeout_ms"] * 1e-3
        while self._awaiting is not None:
            left = deadline - time.perf_counter()
            if left <= 0 or not self._commands.wait(left):
                return
            self._commands.take_all()

    def close(self) -> None:
        lat = self.latencies_ms
        if len(lat):
            # one plain stdout line: `anima demo` and `anima bench bridge` read it from the launch output
            print(
                f"command latency ms: p50 {lat.percentile(50):.3f} p99 {lat.percentile(99):.3f} (n={lat.total})",
                flush=True,
            )
        s = self.guard.status()
        print(
            f"command guard: accepted {s.accepted}, rejected {s.rejected} (future stamp {s.rejected_future_stamp}, "
            f"names {s.rejected_names}, values {s.rejected_values}), torque clamped {s.clamped_commands} "
            f"commands ({s.clamped_joints} joints), watchdog timeouts {s.watchdog_timeouts}",
            flush=True,
        )
        if self.video is not None:
            written = self.video.close()
            print(f"video: {written} ({self.video.frames} frames)" if written else "video: no frame written", flush=True)
        self._commands.destroy()
        self.adapter.close()
        self._client.disconnect()


def _connect(gui: bool) -> BulletClient:
    """PyBullet in this process: headless (DIRECT), or its window when ``gui`` and a display exists."""
    if not gui:
        return BulletClient(connection_mode=pybullet.DIRECT)
    if not os.environ.get("DISPLAY"):
        raise ValueError("gui:=true needs a display, and $DISPLAY is not set (run on a desktop, "
                         "with X forwarding, or under xvfb-run; or record a video:=run.mp4 instead)")
    return BulletClient(connection_mode=pybullet.GUI)


def _spin(node: SimBridgeNode) -> None:
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    node.run(executor)


def main(args: list[str] | None = None) -> int:
    return run_node(SimBridgeNode, args, spin=_spin)


if __name__ == "__main__":
    raise SystemExit(main())
