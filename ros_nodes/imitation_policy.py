"""imitation_policy: a trained motion-imitation policy (Peng et al., RSS 2020) as a node.

At ``rate_hz`` (default: the policy's own control rate, ≈30 Hz) it takes the latest
``joint_states`` and ``imu/data``, builds the 160-D observation with the training env's builder,
runs the policy and publishes the absolute joint targets for ``pd_controller`` (which runs the env's
filter, interpolation, clip and PD). The reference clip's phase runs on the node clock (sim time
under the simulator), not on message counts. Before the policy starts it brings the robot to the
default standing pose over ``rise_time_s`` and holds it for ``settle_s``. Core:
``anima.models.imitation.policy_runner``.

Topics: subscribes ``joint_states`` (sensor_msgs/JointState), ``imu/data`` (sensor_msgs/Imu);
publishes ``joint_targets`` (sensor_msgs/JointState, position = target, URDF joint order) and
``imitation_policy/phase`` (std_msgs/Float64MultiArray: [motion time s, phase 0-1], once the policy
runs). Parameters: ``robot`` (str, "laikago"), ``motion`` (str, "dog_pace"; a shipped clip name,
its short form "pace", or a JSON path), ``policy`` (str, "shipped" = the shipped policy for the
motion, or a file path), ``rate_hz`` (float, 0 = the policy's control rate), ``warmup_s`` (0.25),
``rise_time_s`` (1.5), ``settle_s`` (0.5), ``sensor_timeout_s`` (0.2: older readings pause the output),
``z`` (double array, unset = the prior mean 0: the latent dynamics code of an adaptive policy; may be
changed at run time, e.g. by ``anima adapt --ros`` or from an ``adapted_z.yaml`` parameter file; a z of
the wrong length or not finite, or any z for a policy trained without one, is refused with the reason).
Service ``imitation_policy/restart`` (std_srvs/Trigger): start over from the next readings (stand-up,
settle, warm-up, clip from its start), e.g. after the robot was reset for a new episode.
A policy file for another motion, robot or observation size is refused, naming what differs.
"""

from __future__ import annotations

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor, ParameterType, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from anima.controllers.robot_config import load_robot_config
from anima.models.imitation.policy_runner import ImitationRunner, RunnerConfig, load_policy, resolve_motion
from anima.models.motion.format import load_motion
from anima.ros_nodes._cdr import JointStateReader
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, STREAM_QOS, declare_params, run_node
from anima.ros_nodes._conversions import MalformedMessage, checked_joint_arrays, joint_state_msg, reorder_index


class ImitationPolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("imitation_policy")
        robot = load_robot_config(self.declare_parameter("robot", "laikago").value)
        if robot.robot != "laikago":
            raise ValueError(f"robot '{robot.robot}': imitation policies drive the Laikago only")
        self._names = tuple(robot.joint_names)
        motion_path = resolve_motion(self.declare_parameter("motion", "dog_pace").value)
        policy_arg = self.declare_parameter("policy", "shipped").value
        p = declare_params(self, {"rate_hz": 0.0, "warmup_s": 0.25, "rise_time_s": 1.5, "settle_s": 0.5,
                                  "sensor_timeout_s": 0.2})
        policy = load_policy(policy_arg, motion_path.stem)
        self._policy = policy
        z = self.declare_parameter("z", Parameter.Type.DOUBLE_ARRAY,
                                   ParameterDescriptor(type=ParameterType.PARAMETER_DOUBLE_ARRAY)).value
        if z is not None:
            policy.set_z(list(z))  # ValueError names the policy / the size: the node exits 2 saying so
        self.add_on_set_parameters_callback(self._on_set_parameters)
        control_dt = float(policy.spec.get("control_dt_s", 0.033))
        rate = p["rate_hz"] if p["rate_hz"] > 0 else 1.0 / control_dt
        if p["rate_hz"] < 0:
            raise ValueError(f"rate_hz must be >= 0, got {p['rate_hz']}")
        config = RunnerConfig(control_dt_s=control_dt, warmup_s=p["warmup_s"], rise_s=p["rise_time_s"],
                              settle_s=p["settle_s"], stand_max_step_s=2.0 / rate)
        self.runner = ImitationRunner(policy, load_motion(motion_path), config)
        self._timeout = p["sensor_timeout_s"]
        # 500 Hz streams for a 30 Hz policy: the callbacks keep the latest serialized message and its
        # receive time, and the timer decodes only what it uses (``_cdr``; rclpy for the IMU)
        self._joints_raw: tuple[float, bytes] | None = None
        self._imu_raw: tuple[float, bytes] | None = None
        self._reader = JointStateReader()
        self._joints: tuple[float, np.ndarray] | None = None  # (receive time s, URDF-order positions)
        self._imu: tuple[float, np.ndarray, np.ndarray] | None = None
        self._index, self._state_names = None, ()
        self._pub = self.create_publisher(JointState, "joint_targets", COMMAND_QOS)
        self._phase_pub = self.create_publisher(Float64MultiArray, "imitation_policy/phase", STREAM_QOS)
        self.create_subscription(JointState, "joint_states", self._keep_joint_states, SENSOR_QOS, raw=True)
        self.create_subscription(Imu, "imu/data", self._keep_imu, SENSOR_QOS, raw=True)
        self.create_timer(1.0 / rate, self._on_timer)
        self.create_service(Trigger, "imitation_policy/restart", self._on_restart)
        self.get_logger().info(f"policy {policy_arg} for {motion_path.stem} at {rate:.2f} Hz "
                               f"(trained at {1.0 / control_dt:.2f} Hz); stand {p['rise_time_s']:g} s + "
                               f"{p['settle_s']:g} s, warm-up {p['warmup_s']:g} s")

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        for param in params:
            if param.name == "z":
                try:
                    self._policy.set_z([] if param.value is None else list(param.value))
                except ValueError as err:
                    return SetParametersResult(successful=False, reason=str(err))
                self.get_logger().info(f"z = {[round(float(v), 4) for v in self._policy.z]}")
            elif param.name in ("robot", "motion", "policy", "rate_hz", "warmup_s", "rise_time_s", "settle_s",
                                "sensor_timeout_s"):
                return SetParametersResult(successful=False, reason=f"{param.name} is read at start only")
        return SetParametersResult(successful=True)

    def _on_restart(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        self.runner.restart()
        resp.success, resp.message = True, "restarting: stand-up, settle, warm-up, then the clip from its start"
        return resp

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _keep_joint_states(self, raw: bytes) -> None:
        self._joints_raw = (self._now(), raw)

    def _keep_imu(self, raw: bytes) -> None:
        self._imu_raw = (self._now(), raw)

    def _decode_latest(self) -> None:
        """Decode the latest kept messages (each once); a malformed one is rejected, the last good kept."""
        if self._joints_raw is not None:
            (received, raw), self._joints_raw = self._joints_raw, None
            self._on_joint_states(received, raw)
        if self._imu_raw is not None:
            (received, raw), self._imu_raw = self._imu_raw, None
            try:
                msg = deserialize_message(raw, Imu)
            except Exception as err:  # rclpy raises a bare RuntimeError for bytes that are not an Imu
                self.get_logger().warning(f"rejected: imu/data: {err}", throttle_duration_sec=1.0)
                return
            self._on_imu(received, msg)

    def _on_joint_states(self, received: float, raw: bytes) -> None:
        try:
            j = checked_joint_arrays(self._reader.read(raw), "joint_states")
            if j.names != self._state_names:  # the index holds only for the names it was built from
                self._index, self._state_names = reorder_index(j.names, self._names), j.names
        except (MalformedMessage, ValueError) as err:
            self.get_logger().warning(f"rejected: {err}", throttle_duration_sec=1.0)
            return
        self._joints = (received, j.position[self._index])

    def _on_imu(self, received: float, msg: Imu) -> None:
        o, w = msg.orientation, msg.angular_velocity
        quat, gyro = np.array([o.x, o.y, o.z, o.w]), np.array([w.x, w.y, w.z])
        norm = float(np.linalg.norm(quat))
        if not (np.isfinite(quat).all() and np.isfinite(gyro).all() and abs(norm - 1.0) < 0.01):
            self.get_logger().warning("rejected: imu/data orientation must be a finite unit quaternion, "
                                      "angular_velocity finite", throttle_duration_sec=1.0)
            return
        self._imu = (received, quat / norm, gyro)

    def _on_timer(self) -> None:
        self._decode_latest()
        now = self._now()
        if now == 0.0 or self._joints is None or self._imu is None:
            return  # use_sim_time without /clock yet, or no readings yet
        if now - min(self._joints[0], self._imu[0]) > self._timeout:
            self.get_logger().warning("sensor readings older than sensor_timeout_s: output paused",
                                      throttle_duration_sec=1.0)
            return
        targets = self.runner.step(now, self._joints[1], self._imu[1], self._imu[2])
        stamp = self.get_clock().now().to_msg()
        self._pub.publish(joint_state_msg(stamp, self._names, position=targets))
        t = self.runner.motion_time(now)
        if t is not None:
            self._phase_pub.publish(Float64MultiArray(data=[t, self.runner.phase(now)]))


def main(args: list[str] | None = None) -> int:
    return run_node(ImitationPolicyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
