"""sim_bridge: owns a PyBullet ``World`` and serves it as a robot on ROS topics.

The same node serves every simulated robot; the world-specific part (which world, which extra
sensors, which ground truth) is an adapter module ``anima.ros_nodes._bridge_<world>``. A real robot
replaces this node by its driver and nothing else changes.

Topics (relative names):
- publishes ``/clock`` (rosgraph_msgs/Clock) at ``clock_rate_hz`` of sim time;
- publishes ``joint_states`` (sensor_msgs/JointState: position, velocity, effort = applied
  torque) at ``joint_state_rate_hz``;
- subscribes ``joint_commands`` (sensor_msgs/JointState, effort = torque, by joint name), applied
  with zero-order hold; commands older than ``command_timeout_s`` of sim time are dropped to zero
  torque, like a motor driver's watchdog;
- plus the adapter's topics (Laikago: ``imu/data``, ``sim/ground_truth/odom``, ...).

Parameters: ``world`` (str, "laikago"), ``real_time_factor`` (float, 1.0; 0 = as fast as possible),
``joint_state_rate_hz`` (float, 500), ``clock_rate_hz`` (float, 250), ``command_timeout_s``
(float, 0.05 s sim), ``lockstep`` (bool, true: after each ``joint_states`` wait up to
``lockstep_timeout_ms`` wall ms for the command computed from it, which then acts from that
sample's time until the next, at any speed, as on a real-time bus; no extra delay),
``duration_s`` (float, 0 = run until stopped; sim seconds, then exit 0), ``seed`` (int, 0),
``randomize`` (bool, false: domain randomization at reset).
"""

from __future__ import annotations

import importlib
import time

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

from anima.ros_nodes._common import (
    CLOCK_QOS,
    COMMAND_QOS,
    STREAM_QOS,
    SubscriptionPoller,
    declare_params,
    run_node,
    shutdown_requested,
    stamp_key,
    to_time_msg,
)
from anima.ros_nodes._conversions import joint_state_msg, reorder_index
from anima.sim_bridge.pacing import Pacer, steps_every

_SERVICE_PERIOD_S = 0.05  # wall seconds between executor turns for parameter services


class SimBridgeNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_bridge")
        p = self._declare()
        self._client = BulletClient(connection_mode=pybullet.DIRECT)
        adapter_module = importlib.import_module(f"anima.ros_nodes._bridge_{p['world']}")
        self.adapter = adapter_module.make_adapter(self, self._client)
        self.world = self.adapter.world
        self._rng = np.random.default_rng(p["seed"])
        if p["randomize"]:
            self.get_logger().info(f"domain randomization: {self.world.randomize(self._rng)}")
        reset = getattr(self.adapter, "reset", None)
        reset(self._rng) if reset is not None else self.world.reset(rng=self._rng)
        dt = self.world.physics_dt
        self._p = p
        self._js_every = steps_every(dt, p["joint_state_rate_hz"], "joint_state_rate_hz")
        self._clock_every = steps_every(dt, p["clock_rate_hz"], "clock_rate_hz")
        self._n = len(self.world.joint_names)
        self._tau = np.zeros(self._n)
        self._tau_stamp_s = -1.0
        self._cmd_index: np.ndarray | None = None
        self._cmd_names: tuple[str, ...] = ()
        self._awaiting: int | None = None
        self._publish_wall: dict[int, float] = {}
        self.latencies_ms: list[float] = []
        self._clock_pub = self.create_publisher(Clock, "/clock", CLOCK_QOS)
        self._js_pub = self.create_publisher(JointState, "joint_states", STREAM_QOS)
        cmd_sub = self.create_subscription(JointState, "joint_commands", self._on_command, COMMAND_QOS)
        self._commands = SubscriptionPoller(self, cmd_sub)
        self.get_logger().info(
            f"world={p['world']} physics {1 / dt:.0f} Hz, joint_states every {self._js_every} steps, "
            f"rtf={p['real_time_factor']}, lockstep={p['lockstep']}"
        )

    def _declare(self) -> dict:
        spec = {
            "world": "laikago",
            "real_time_factor": 1.0,
            "joint_state_rate_hz": 500.0,
            "clock_rate_hz": 250.0,
            "command_timeout_s": 0.05,
            "lockstep": True,
            "lockstep_timeout_ms": 20.0,
            "duration_s": 0.0,
            "seed": 0,
            "randomize": False,
        }
        p = declare_params(self, spec)
        if p["real_time_factor"] < 0:
            raise ValueError(f"real_time_factor must be >= 0 (0 = unpaced), got {p['real_time_factor']}")
        return p

    def _on_command(self, msg: JointState) -> None:
        names = tuple(msg.name)
        if names != self._cmd_names:
            try:
                self._cmd_index = reorder_index(names, self.world.joint_names)
            except ValueError as err:
                self.get_logger().warn(f"joint_commands rejected: {err}", throttle_duration_sec=1.0)
                return
            self._cmd_names = names
        effort = np.asarray(msg.effort, dtype=np.float64)
        if effort.shape != (len(names),) or not np.all(np.isfinite(effort)):
            self.get_logger().warn("joint_commands rejected: effort missing or non-finite", throttle_duration_sec=1.0)
            return
        self._tau = effort[self._cmd_index]
        key = stamp_key(msg.header.stamp)
        self._tau_stamp_s = key * 1e-9
        sent = self._publish_wall.pop(key, None)
        if sent is not None:
            self.latencies_ms.append((time.perf_counter() - sent) * 1e3)
        if key == self._awaiting:
            self._awaiting = None

    def run(self, executor: SingleThreadedExecutor) -> None:
        """The physics loop: step, publish what is due, take commands, keep pace.

        Commands are taken by a poller (microseconds when idle); the executor, which serves the
        node's parameter services, runs only every ``_SERVICE_PERIOD_S`` of wall time.
        """
        p = self._p
        pacer = Pacer(self.world.physics_dt, p["real_time_factor"])
        end_step = int(round(p["duration_s"] / self.world.physics_dt)) if p["duration_s"] > 0 else None
        step = 0
        next_service = time.perf_counter()
        while (end_step is None or step < end_step) and not shutdown_requested():
            self._commands.take_all()
            self._apply_command()
            self.world.step(1)
            step += 1
            stamp = to_time_msg(self.world.time_s)
            if step % self._clock_every == 0:
                self._clock_pub.publish(Clock(clock=stamp))
            self.adapter.on_step(stamp)
            if step % self._js_every == 0:
                self._publish_joint_states(stamp)
                self._wait_for_command()
            if time.perf_counter() >= next_service:
                executor.spin_once(timeout_sec=0.0)
                next_service = time.perf_counter() + _SERVICE_PERIOD_S
            pacer.wait(step)

    def _apply_command(self) -> None:
        if self._tau_stamp_s >= 0 and self.world.time_s - self._tau_stamp_s > self._p["command_timeout_s"]:
            self._tau = np.zeros(self._n)
            self._tau_stamp_s = -1.0
            self.get_logger().warn("joint_commands timed out: zero torque", throttle_duration_sec=1.0)
        self.world.apply_torques(self._tau)

    def _publish_joint_states(self, stamp) -> None:
        j = self.world.read_joints()
        key = stamp_key(stamp)
        self._publish_wall[key] = time.perf_counter()
        if len(self._publish_wall) > 64:
            self._publish_wall.pop(next(iter(self._publish_wall)))
        self._js_pub.publish(joint_state_msg(stamp, self.world.joint_names, j.position, j.velocity, j.effort))
        self._awaiting = key if (self._p["lockstep"] and self._tau_stamp_s >= 0) else None

    def _wait_for_command(self) -> None:
        deadline = time.perf_counter() + self._p["lockstep_timeout_ms"] * 1e-3
        while self._awaiting is not None:
            left = deadline - time.perf_counter()
            if left <= 0 or not self._commands.wait(left):
                return
            self._commands.take_all()

    def close(self) -> None:
        if self.latencies_ms:
            lat = np.asarray(self.latencies_ms)
            # one plain stdout line: `anima demo` and `anima bench bridge` read it from the launch output
            print(
                f"command latency ms: p50 {np.percentile(lat, 50):.3f} p99 {np.percentile(lat, 99):.3f} (n={lat.size})",
                flush=True,
            )
        self._commands.destroy()
        self.adapter.close()
        self._client.disconnect()


def _spin(node: SimBridgeNode) -> None:
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    node.run(executor)


def main(args: list[str] | None = None) -> int:
    return run_node(SimBridgeNode, args, spin=_spin)


if __name__ == "__main__":
    raise SystemExit(main())
