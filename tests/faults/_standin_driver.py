"""A stand-in Laikago driver for ``launch/laikago_real.launch.xml``, with injected command latency.

Written against the contract in the launch file's header only (it imports nothing of the stack
but the robot config for joint names, poses and the torque limit). At ``--rate-hz`` of wall time
it publishes ``joint_states`` (stamp = its clock; position, velocity with encoder noise, effort =
the torque it applied) and a level ``imu/data``, and it applies each ``joint_commands`` message
``--latency-ms`` after it arrived:

- ``--mode node``: effort = torque per joint, held until the next command (zero before the first);
- ``--mode driver``: entries ``<joint>`` (position = target, velocity = target velocity, effort =
  feed-forward) and ``<joint>/gains`` (position = kp, velocity = kd); it closes the PD loop itself
  at every tick: ``tau = kp (target - q) + kd (target velocity - qd) + feed-forward``.

Each joint is a rotor of inertia 0.5 kg·m² with viscous (gearbox) friction 5 N·m·s/rad and no
gravity, so the PD loop at kp 220 keeps some phase margin at a few tens of ms of delay. It runs
``--duration-s`` of wall time after the first command, then writes a JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import deque

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState

from anima.controllers.robot_config import load_robot_config

INERTIA, FRICTION, SUBSTEPS = 0.5, 5.0, 4
SENSOR = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
COMMAND = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)


class StandInDriver(Node):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__("standin_driver")
        robot = load_robot_config("laikago")
        self.args, self.names = args, list(robot.joint_names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.limit = np.asarray(robot.torque_limit)
        self.damping_kd = np.asarray(robot.damping_kd)
        self.q = np.asarray(robot.crouch_pose, dtype=float).copy()
        self.q_start = self.q.copy()
        self.standing = np.asarray(robot.standing_pose, dtype=float)
        self.qd = np.zeros(12)
        self.rng = np.random.default_rng(0)
        self.pending: deque = deque()  # (due wall time, message)
        self.cmd: JointState | None = None
        self.tau = np.zeros(12)
        self.sent_qd: dict[tuple[int, int], np.ndarray] = {}  # stamp -> reported velocity
        self.stats = {"commands": 0, "driver_form": 0, "effort_form": 0, "pure_damping": 0, "kp": None, "kd": None}
        self.first_command: float | None = None
        self.js = self.create_publisher(JointState, "joint_states", SENSOR)
        self.imu = self.create_publisher(Imu, "imu/data", SENSOR)
        self.create_subscription(JointState, "joint_commands", self.on_command, COMMAND)
        self.dt = 1.0 / args.rate_hz
        self.create_timer(self.dt, self.tick)
        print(f"stand-in driver: {args.mode} mode, {args.rate_hz:g} Hz, latency {args.latency_ms:g} ms", flush=True)

    def on_command(self, msg: JointState) -> None:
        self.pending.append((time.monotonic() + self.args.latency_ms * 1e-3, msg))
        self.stats["commands"] += 1
        if self.first_command is None:
            self.first_command = time.monotonic()
            print("first command", flush=True)
        self.check_form(msg)

    def check_form(self, msg: JointState) -> None:
        names = list(msg.name)
        if len(names) == 24 and all(n.endswith("/gains") for n in names[12:]):
            self.stats["driver_form"] += 1
            gains = [self.index[n[: -len("/gains")]] for n in names[12:]]
            kp, kd = np.empty(12), np.empty(12)
            kp[gains], kd[gains] = msg.position[12:], msg.velocity[12:]
            self.stats["kp"], self.stats["kd"] = kp.tolist(), kd.tolist()
        elif len(names) == 12 and len(msg.effort) == 12:
            self.stats["effort_form"] += 1
            qd = self.sent_qd.get((msg.header.stamp.sec, msg.header.stamp.nanosec))
            order = [self.index[n] for n in names]
            if qd is not None and np.array_equal(np.asarray(msg.effort), (-self.damping_kd * qd)[order]):
                self.stats["pure_damping"] += 1

    def torque(self) -> np.ndarray:
        m = self.cmd
        if m is None:
            return np.zeros(12)
        names = list(m.name)
        if self.args.mode == "node":
            tau = np.zeros(12)
            tau[[self.index[n] for n in names]] = m.effort
            return tau
        j = [self.index[n] for n in names[:12]]
        target, vel, ff, kp, kd = (np.empty(12) for _ in range(5))
        target[j], vel[j], ff[j] = m.position[:12], m.velocity[:12], m.effort[:12]
        kp[j], kd[j] = m.position[12:], m.velocity[12:]
        return kp * (target - self.q) + kd * (vel - self.qd) + ff

    def tick(self) -> None:
        now = time.monotonic()
        while self.pending and self.pending[0][0] <= now:
            self.cmd = self.pending.popleft()[1]
        h = self.dt / SUBSTEPS
        for _ in range(SUBSTEPS):
            self.tau = np.clip(self.torque(), -self.limit, self.limit)
            self.qd += h * (self.tau - FRICTION * self.qd) / INERTIA
            self.q += h * self.qd
        stamp = self.get_clock().now().to_msg()
        qd_meas = self.qd + self.rng.normal(0.0, 1e-3, 12)
        self.sent_qd[(stamp.sec, stamp.nanosec)] = qd_meas
        if len(self.sent_qd) > 2000:
            self.sent_qd.pop(next(iter(self.sent_qd)))
        js = JointState(name=self.names, position=self.q.tolist(), velocity=qd_meas.tolist(), effort=self.tau.tolist())
        js.header.stamp = stamp
        self.js.publish(js)
        imu = Imu()
        imu.header.stamp, imu.header.frame_id = stamp, "imu_link"
        imu.orientation.w = 1.0
        imu.linear_acceleration.z = 9.81
        self.imu.publish(imu)
        standing = self.args.until_standing > 0 and np.abs(self.q - self.standing).max() < self.args.until_standing
        if self.first_command is not None and (standing or now - self.first_command > self.args.duration_s):
            raise SystemExit(0)

    def report(self) -> dict:
        return {**self.stats, "q_start": self.q_start.tolist(), "q_final": self.q.tolist(),
                "max_move_rad": float(np.abs(self.q - self.q_start).max())}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("node", "driver"), required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-hz", type=float, default=100.0)
    parser.add_argument("--duration-s", type=float, default=8.0)
    parser.add_argument("--until-standing", type=float, default=0.0)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    rclpy.init()
    node = StandInDriver(args)
    try:
        rclpy.spin(node)
    except SystemExit:
        pass
    tmp = args.report + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(node.report(), f)
    os.replace(tmp, args.report)
    print("report written", flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
