"""stack_monitor: watches a running robot stack and writes a JSON report; can end the run.

Compares ``odom`` (the estimate) with ``sim/ground_truth/odom`` at matching stamps, checks that
the base stays in a height band with no non-foot ground contact after ``settle_s``, counts topic
rates, optionally triggers ``emergency_stop`` at ``estop_at_s`` and checks that the commands after
it are pure damping. After ``duration_s`` of sim time it writes the report (atomically) and exits:
0 when the run passed, 1 when it failed (the report's ``passed`` is false and ``failures`` says why;
the log says ``MONITOR FAILED``). A hung node (alive but silent: ``joint_commands`` or ``odom`` heard
once, then nothing for ``silence_limit_s`` of sim time while the simulator runs on) ends the run
with a failure: the report gets ``"failure"`` and the monitor exits 1 (issue 20, item 14). A hung
simulator stops sim time itself, so it is caught on the wall clock: nothing from it
(``joint_states``, ground truth) for ``stall_wall_s`` once it has been heard is a failure too. The
launch files give it ``on_exit="shutdown"``, so its exit ends the run under ``ros2 launch`` as under
``anima launch``, and a failure is a failed node under both (item 17). Cores:
``anima.controllers.run_metrics``, ``anima.controllers.liveness``.

Topics: subscribes ``odom``, ``sim/ground_truth/odom`` (nav_msgs/Odometry),
``sim/ground_truth/non_foot_contacts`` (std_msgs/String), ``joint_targets`` (its arrival only), and, when ``check_commands``,
``joint_states`` and ``joint_commands``. Calls ``emergency_stop`` (std_srvs/Trigger).
Parameters: ``duration_s`` (float, 10.0 sim s; 0 = never end), ``settle_s`` (2.5), ``settle_from``
("start": both count from sim time 0; "first_target": from the first ``joint_targets``, so a policy
node that takes seconds to load is judged from when it commands the robot; no targets by
``duration_s`` is a failure),
``height_band_m`` (float[2], [0.30, 0.60]), ``silence_limit_s`` (float, 1.0 sim s; 0 = off; 0.5 failed a healthy run once at load 4 on 2 cores, the estimator starved for 0.51 s), ``stall_wall_s`` (float, 10 wall s; 0 = off), ``estop_at_s`` (float, -1 = off), ``robot``
("laikago", for the damping gains), ``check_commands`` (bool, true), ``report_path`` (str, "" or "none" = log only).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from anima.controllers.liveness import SilenceWatch
from anima.controllers.robot_config import load_robot_config
from anima.controllers.run_metrics import RunCheckConfig, RunMetrics, failed_checks, standing_judged
from anima.models.checkpoint import write_text_atomic
from anima.ros_nodes._cdr import CdrError, JointStateReader
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, declare_params, from_time_msg, run_node, stamp_key
from anima.ros_nodes._conversions import MalformedMessage, checked_joint_arrays, odometry_arrays, reorder_index


class StackMonitorNode(Node):
    def __init__(self) -> None:
        super().__init__("stack_monitor")
        robot = load_robot_config(self.declare_parameter("robot", "laikago").value)
        self._names = tuple(robot.joint_names)
        p = declare_params(self, {"duration_s": 10.0, "settle_s": 2.5, "estop_at_s": -1.0, "report_path": "",
                                  "silence_limit_s": 1.0, "stall_wall_s": 10.0, "settle_from": "start"})
        self._duration, self._report_path = p["duration_s"], p["report_path"]
        config = RunCheckConfig(
            settle_s=p["settle_s"],
            height_band_m=tuple(self.declare_parameter("height_band_m", [0.30, 0.60]).value),
            estop_at_s=p["estop_at_s"],
            damping_kd=tuple(robot.damping_kd),
            settle_from=str(p["settle_from"]),
        )
        self.metrics = RunMetrics(config)
        self._silence = SilenceWatch(p["silence_limit_s"]) if p["silence_limit_s"] > 0 else None
        self._now_s = 0.0  # sim time of the latest ground truth: the arrival clock of the silence watch
        self._stall_wall_s = p["stall_wall_s"]
        self._sim_wall: float | None = None  # wall time of the simulator's latest message
        if self._stall_wall_s > 0:
            self.create_timer(min(1.0, self._stall_wall_s / 4), self._check_stall)  # wall clock (use_sim_time false)
        self._estimates: dict[int, np.ndarray] = {}  # odom and ground truth waiting for their pair
        self._truths: dict[int, np.ndarray] = {}
        self._qd: dict[int, np.ndarray] = {}
        self._index, self._state_names = None, ()
        self._estop_sent = False
        self._wall0: float | None = None
        self._sim0 = 0.0
        self._estop = self.create_client(Trigger, "emergency_stop")
        self.create_subscription(Odometry, "odom", self._on_estimate, SENSOR_QOS)
        self.create_subscription(Odometry, "sim/ground_truth/odom", self._on_truth, SENSOR_QOS)
        self.create_subscription(String, "sim/ground_truth/non_foot_contacts", self._on_contacts, SENSOR_QOS)
        # the first joint_targets anchors the standing window (settle_from: first_target); only its arrival counts
        self.create_subscription(JointState, "joint_targets", self._on_target, COMMAND_QOS, raw=True)
        if self.declare_parameter("check_commands", True).value:
            # 500 Hz each: read from their serialized form (``_cdr``), no Python messages
            self._state_reader, self._command_reader = JointStateReader(), JointStateReader()
            self.create_subscription(JointState, "joint_states", self._on_joint_states, SENSOR_QOS, raw=True)
            self.create_subscription(JointState, "joint_commands", self._on_command, COMMAND_QOS, raw=True)
        anchor = " from the first joint_targets" if config.settle_from == "first_target" else ""
        self.get_logger().info(f"monitoring for {self._duration:g} s of sim time{anchor}")

    def _heard(self, stream: str) -> None:
        # the arrival clock runs from the first ground truth; a stream heard before that (its
        # subscription matched first) would be stamped 0 and look silent once the clock starts
        if self._silence is not None and self._wall0 is not None:
            self._silence.heard(stream, self._now_s)

    def _check_silence(self, t: float) -> None:
        quiet = self._silence.silent(t) if self._silence is not None else []
        if quiet:
            self._finish(t, failure="; ".join(
                f"{q.stream} silent for {q.silent_s:.2f} s of sim time (last heard at {q.last_heard_s:.2f} s): "
                "a node is hung or gone" for q in quiet))

    def _check_stall(self) -> None:
        if self._sim_wall is None:
            return  # not heard yet (the simulator may still be loading)
        quiet = time.perf_counter() - self._sim_wall
        if quiet > self._stall_wall_s:
            self._finish(self._now_s, failure=f"the simulator's topics silent for {quiet:.1f} s of wall time "
                                              f"(sim time stuck at {self._now_s:.2f} s): the simulator is hung or gone")

    def _on_estimate(self, msg: Odometry) -> None:
        self._heard("odom")
        t = from_time_msg(msg.header.stamp)
        self.metrics.add_count("odom", t)
        key = stamp_key(msg.header.stamp)
        v_est = odometry_arrays(msg)[2]
        v_true = self._truths.pop(key, None)
        if v_true is not None:
            self.metrics.add_velocity_pair(t, v_est, v_true)
        else:
            _remember(self._estimates, key, v_est)

    def _on_truth(self, msg: Odometry) -> None:
        t = from_time_msg(msg.header.stamp)
        position, _q, v_true, _w = odometry_arrays(msg)
        self.metrics.add_ground_truth(t, float(position[2]), (float(position[0]), float(position[1])))
        key = stamp_key(msg.header.stamp)
        v_est = self._estimates.pop(key, None)
        if v_est is not None:
            self.metrics.add_velocity_pair(t, v_est, v_true)
        else:  # the estimate for this sample is usually still on its way
            _remember(self._truths, key, v_true)
        if self._wall0 is None:
            self._wall0, self._sim0 = time.perf_counter(), t
        self._now_s = max(self._now_s, t)
        self._sim_wall = time.perf_counter()
        self._check_silence(t)
        self._maybe_estop(t)
        if self._duration > 0 and t >= self._end_s():
            self._finish(t)

    def _end_s(self) -> float:
        """When the run ends: ``duration_s`` of sim time, counted from the first joint_targets with
        ``settle_from: first_target`` (a run that nothing commanded by ``duration_s`` ends then, and fails)."""
        first = self.metrics.t_commanded
        if self.metrics.config.settle_from == "first_target" and first is not None:
            return first + self._duration
        return self._duration

    def _on_target(self, _raw: bytes) -> None:
        if self.metrics.t_commanded is None:
            self.get_logger().info(f"first joint_targets at {self._now_s:.2f} s of sim time")
        self.metrics.add_target(self._now_s)

    def _on_contacts(self, msg: String) -> None:
        self.metrics.add_contacts(self.metrics.t_last, msg.data)

    def _on_joint_states(self, raw: bytes) -> None:
        self._sim_wall = time.perf_counter()  # also while the bridge holds the world before the first command
        try:
            msg = self._state_reader.read(raw)
            j = checked_joint_arrays(msg, "joint_states", required=("velocity",))
        except (MalformedMessage, CdrError) as err:
            self.get_logger().warning(f"rejected: {err}", throttle_duration_sec=1.0)
            return
        if j.names != self._state_names:  # the index holds only for the names it was built from
            try:
                self._index = reorder_index(j.names, self._names)
            except ValueError as err:
                self.get_logger().error(str(err), throttle_duration_sec=1.0)
                return
            self._state_names = j.names
        _remember(self._qd, msg.sec * 1_000_000_000 + msg.nanosec, j.velocity[self._index])

    def _on_command(self, raw: bytes) -> None:
        try:
            msg = self._command_reader.read(raw)
            effort = checked_joint_arrays(msg, "joint_commands", required=("effort",)).effort
        except (MalformedMessage, CdrError) as err:
            self.get_logger().warning(f"rejected: {err}", throttle_duration_sec=1.0)
            return
        self._heard("joint_commands")
        qd = self._qd.get(msg.sec * 1_000_000_000 + msg.nanosec)  # stamp_key
        if qd is not None and msg.names != self._names:
            qd = None  # commands are expected in the robot config's joint order
        self.metrics.add_command(msg.stamp_s, effort, qd)

    def _maybe_estop(self, t: float) -> None:
        at = self.metrics.config.estop_at_s
        if at < 0 or self._estop_sent or t < at:
            return
        self._estop_sent = True
        if not self._estop.service_is_ready():
            self.get_logger().error("emergency_stop service not available")
            return
        self._estop.call_async(Trigger.Request()).add_done_callback(self._on_estop_done)

    def _on_estop_done(self, future) -> None:
        self.metrics.estop_accepted = bool(future.result() and future.result().success)
        self.get_logger().info(f"emergency_stop accepted: {self.metrics.estop_accepted}")

    def _finish(self, t: float, failure: str = "") -> None:
        report = self.metrics.report()
        if failure:
            report["failure"] = failure
        wall = time.perf_counter() - (self._wall0 or time.perf_counter())
        report["real_time_factor"] = round((t - self._sim0) / wall, 3) if wall > 0 else None
        failures = failed_checks(report, self.metrics.config)
        if not standing_judged(report, self.metrics.config):
            report["checks_skipped"] = ["stood: the run ended or the e-stop came before its standing window"]
        report["passed"], report["failures"] = not failures, failures
        text = json.dumps(report, sort_keys=True)
        self.get_logger().info(f"report {text}")
        if self._report_path not in ("", "none"):
            write_text_atomic(self._report_path, text + "\n")
        if failures:
            self.get_logger().error("MONITOR FAILED: " + "; ".join(failures))
            raise SystemExit(1)
        raise SystemExit(0)


def _remember(store: dict[int, np.ndarray], key: int, value: np.ndarray, size: int = 500) -> None:
    """Keep the latest ``size`` stamped samples (insertion order = arrival order)."""
    store[key] = value
    if len(store) > size:
        store.pop(next(iter(store)))


def main(args: list[str] | None = None) -> int:
    os.nice(10)  # an observer: never compete with the control loop for a core
    return run_node(StackMonitorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
