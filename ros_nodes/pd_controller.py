"""pd_controller: the joint command path (filter, interpolation, limits, PD, e-stop) as a node.

Runs one control step per ``joint_states`` message (500 Hz on Laikago), so commands follow the
robot's own sample clock with one message of latency and no timer jitter; time for timeouts and
interpolation is the ``joint_states`` stamp (sim time under the bridge, the driver's clock on a
robot).

Topics: subscribes ``joint_states`` (sensor_msgs/JointState, best effort) and ``joint_targets``
(sensor_msgs/JointState, position = target, by name, reliable); publishes ``joint_commands``
(sensor_msgs/JointState, header stamp = the joint_states stamp it answers), in one of two forms
(``pd_loop``):

- ``node`` (simulator; ``pd:=node`` on a robot): ``effort`` = torque N·m per joint; the PD loop
  runs here.
  With ``round_trip_limit_ms`` > 0 the node times the command round trip from the driver's
  ``joint_states.effort`` echo (core: ``anima.controllers.round_trip``), warns while its p99
  exceeds ``round_trip_warn_ms`` and sends only damping until the p99 is within the limit.
- ``driver`` (``pd:=driver``, the real robot's default): the driver closes the loop. Entries ``<joint>`` carry
  position = target rad, velocity = target velocity rad/s, effort = feed-forward torque N·m;
  entries ``<joint>/gains`` carry position = kp N·m/rad, velocity = kd N·m·s/rad (effort 0). The
  driver applies ``kp (position - q) + kd (velocity - qd) + effort`` at its own rate. Damping
  (timeout, e-stop) is kp 0, kd = damping gain. Contract: ``launch/laikago_real.launch.xml``.

Services: ``emergency_stop`` (std_srvs/Trigger: damping until reset), ``reset_emergency_stop``
(std_srvs/Trigger). Parameters: ``robot`` (str, "laikago": config/robots/<robot>.yaml),
``robot_config`` (str, "": explicit path overriding ``robot``), ``pd_loop`` (str, "node" |
"driver"), ``round_trip_warn_ms`` (float, 5.0), ``round_trip_limit_ms`` (float, 0 =
no gate).
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from anima.controllers.command_path import CommandMode, JointCommand, JointCommandPath
from anima.controllers.limits import clamp_torques
from anima.controllers.pd import damping_torque
from anima.controllers.robot_config import load_robot_config
from anima.controllers.round_trip import RoundTripConfig, RoundTripMonitor
from anima.ros_nodes._cdr import CdrError, JointStateReader, JointStateWriter
from anima.ros_nodes._common import COMMAND_QOS, HIGH_RATE_STREAM_QOS, SENSOR_QOS, declare_params, run_node
from anima.ros_nodes._conversions import reorder_index


class PdControllerNode(Node):
    def __init__(self) -> None:
        super().__init__("pd_controller")
        robot = self.declare_parameter("robot", "laikago").value
        path = self.declare_parameter("robot_config", "").value
        self.config = load_robot_config(path or robot)
        self.core = JointCommandPath(self.config)
        self._names = tuple(self.config.joint_names)
        p = declare_params(self, {"pd_loop": "node", "round_trip_warn_ms": 5.0, "round_trip_limit_ms": 0.0})
        if p["pd_loop"] not in ("node", "driver"):
            raise ValueError(f"pd_loop must be 'node' (effort commands) or 'driver' (position targets with "
                             f"gains), got {p['pd_loop']!r}")
        self._position_mode = p["pd_loop"] == "driver"
        self._driver_names = list(self._names) + [f"{n}{GAINS_SUFFIX}" for n in self._names]
        self._rt = None
        if not self._position_mode and p["round_trip_limit_ms"] > 0:
            self._rt = RoundTripMonitor(RoundTripConfig(p["round_trip_warn_ms"], p["round_trip_limit_ms"]), len(self._names))
        self._gated = True  # round trip not (yet) within its limit: damping only
        self._state_names: tuple[str, ...] = ()
        self._index = None
        self._now = None
        self._mode_seen = self.core.mode
        self._tracked = False  # the first joint_targets tracked (logged once)
        # a 0.5-s writer history (as joint_states): a reliable recorder starved for a moment gets its gap repaired;
        # the bridge reads the latest (its reader keeps 2), so control is unchanged
        self._cmd_pub = self.create_publisher(JointState, "joint_commands", HIGH_RATE_STREAM_QOS)
        # the 500 Hz path reads and writes serialized messages (``_cdr``: no Python message objects)
        self._reader, self._writer = JointStateReader(), JointStateWriter(self._names, ("effort",))
        self.create_subscription(JointState, "joint_states", self._on_state, SENSOR_QOS, raw=True)
        self.create_subscription(JointState, "joint_targets", self._on_targets, COMMAND_QOS)
        self.create_service(Trigger, "emergency_stop", self._on_estop)
        self.create_service(Trigger, "reset_emergency_stop", self._on_reset)
        gate = f", round-trip gate {p['round_trip_limit_ms']:g} ms" if self._rt is not None else ""
        what = "position targets + gains (the driver closes the loop)" if self._position_mode else "torques"
        self.get_logger().info(f"robot {robot}: {len(self._names)} joints, {what} per joint_states message{gate}")

    def _on_state(self, raw: bytes) -> None:
        try:
            msg = self._reader.read(raw)
        except CdrError as err:
            self.get_logger().error(str(err), throttle_duration_sec=1.0)
            return
        names = msg.names
        if names != self._state_names:
            try:
                self._index = reorder_index(names, self._names)
            except ValueError as err:
                self.get_logger().error(str(err), throttle_duration_sec=1.0)
                return
            self._state_names = names
        self._now = msg.stamp_s
        q = self._take(msg.position)
        qd = self._take(msg.velocity)
        if self._position_mode:
            stamp = Time(sec=msg.sec, nanosec=msg.nanosec)
            self._cmd_pub.publish(driver_command_msg(stamp, self._driver_names, self.core.command(q, qd, self._now)))
        else:
            tau = self.core.compute(q, qd, self._now) if self._rt is None else self._gated_torque(self._take(msg.effort), q, qd)
            self._cmd_pub.publish(self._writer.write(msg.sec, msg.nanosec, tau))
            if self._rt is not None:
                self._rt.sent(self._now, tau)
        if self.core.mode is not self._mode_seen:
            self._log_mode(self.core.mode)

    def _log_mode(self, mode: CommandMode) -> None:
        """One line per transition into or out of the target timeout (rare: never per message)."""
        before, self._mode_seen = self._mode_seen, mode
        if mode is CommandMode.TIMEOUT:
            self.get_logger().warn(f"joint_targets silent for more than {self.config.command_timeout_s:g} s: damping")
        elif before is CommandMode.WAITING and mode is CommandMode.TRACKING and not self._tracked:
            self._tracked = True  # once: node mode's round-trip gate returns to waiting while it measures
            self.get_logger().info("first joint_targets: tracking them")
        elif before is CommandMode.TIMEOUT and mode is CommandMode.TRACKING:
            self.get_logger().info(f"joint_targets resumed: from the measured pose over {self.config.resume_ramp_s:g} s")

    def _gated_torque(self, applied: np.ndarray, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """Node mode: PD only while the command round trip's p99 is within its limit, else damping."""
        rt, log = self._rt, self.get_logger()
        rt.observed(self._now, applied)
        cfg = rt.config
        if rt.over_warning():
            log.warn(f"command round trip p99 {rt.p99_ms:.1f} ms exceeds {cfg.warn_ms:g} ms: an effort loop over "
                     "DDS this slow can tumble the robot; use pd:=driver", throttle_duration_sec=5.0)
        if rt.allows_control():
            if self._gated:
                self._gated = False
                self.core.reset()  # start from the pose measured now
                log.info(f"command round trip p99 {rt.p99_ms:.1f} ms within {cfg.limit_ms:g} ms: leaving damping")
            return self.core.compute(q, qd, self._now)
        if not self._gated:
            self._gated = True
            log.error(f"command round trip p99 {rt.p99_ms:.1f} ms above {cfg.limit_ms:g} ms: back to damping")
        elif len(rt.rtt_ms) < cfg.min_samples:
            log.info(f"measuring the command round trip ({len(rt.rtt_ms)}/{cfg.min_samples}): damping",
                     throttle_duration_sec=2.0)
        else:
            log.error(f"refusing to leave damping: command round trip p99 {rt.p99_ms:.1f} ms > limit "
                      f"{cfg.limit_ms:g} ms (round_trip_limit_ms; {rt.expired} commands never seen applied "
                      "in joint_states.effort)", throttle_duration_sec=2.0)
        return clamp_torques(damping_torque(qd, self.config.damping_kd), self.config.torque_limit)[0]

    def _take(self, values) -> np.ndarray:
        arr = np.asarray(values, dtype=np.float64)
        if arr.shape != (len(self._state_names),):
            return np.full(len(self._names), np.nan)  # missing field: the core damps those joints
        return arr[self._index]

    def _on_targets(self, msg: JointState) -> None:
        if self._now is None:
            self.get_logger().warn("joint_targets before any joint_states: ignored", throttle_duration_sec=2.0)
            return
        update = self.core.set_targets(list(msg.name), msg.position, self._now)
        if not update.accepted:
            self.get_logger().warn(f"joint_targets rejected: {update.reason}", throttle_duration_sec=1.0)
        elif update.clamped:
            self.get_logger().warn(f"joint_targets clamped to limits: {list(update.clamped)}", throttle_duration_sec=1.0)

    def _on_estop(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        self.core.emergency_stop()
        self.get_logger().error("EMERGENCY STOP: damping until reset_emergency_stop")
        resp.success, resp.message = True, "emergency stop active: damping"
        return resp

    def _on_reset(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        self.core.reset()
        self.get_logger().info("emergency stop reset")
        resp.success, resp.message = True, "emergency stop cleared"
        return resp


GAINS_SUFFIX = "/gains"


def driver_command_msg(stamp: Time, names: list[str], cmd: JointCommand) -> JointState:
    """``pd:=driver`` encoding: joints (target, target velocity, feed-forward), then ``<joint>/gains`` (kp, kd, 0)."""
    n = len(cmd.position)
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = names
    msg.position = np.concatenate([cmd.position, cmd.kp]).tolist()
    msg.velocity = np.concatenate([cmd.velocity, cmd.kd]).tolist()
    msg.effort = np.concatenate([cmd.effort, np.zeros(n)]).tolist()
    return msg


def main(args: list[str] | None = None) -> int:
    return run_node(PdControllerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
