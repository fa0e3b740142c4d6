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
``rise_time_s`` (1.5), ``settle_s`` (0.5), ``sensor_timeout_s`` (0.2: older readings pause the output).
A policy file for another motion, robot or observation size is refused, naming what differs.
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray

from anima.controllers.robot_config import load_robot_config
from anima.models.imitation.policy_runner import ImitationRunner, RunnerConfig, load_policy, resolve_motion
from anima.models.motion.format import load_motion
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
        control_dt = float(policy.spec.get("control_dt_s", 0.033))
        rate = p["rate_hz"] if p["rate_hz"] > 0 else 1.0 / control_dt
        if p["rate_hz"] < 0:
            raise ValueError(f"rate_hz must be >= 0, got {p['rate_hz']}")
        config = RunnerConfig(control_dt_s=control_dt, warmup_s=p["warmup_s"], rise_s=p["rise_time_s"],
                              settle_s=p["settle_s"])
        self.runner = ImitationRunner(policy, load_motion(motion_path), config)
        self._timeout = p["sensor_timeout_s"]
        self._joints: tuple[float, np.ndarray] | None = None  # (receive time s, URDF-order positions)
        self._imu: tuple[float, np.ndarray, np.ndarray] | None = None
        self._index, self._state_names = None, ()
        self._pub = self.create_publisher(JointState, "joint_targets", COMMAND_QOS)
        self._phase_pub = self.create_publisher(Float64MultiArray, "imitation_policy/phase", STREAM_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joint_states, SENSOR_QOS)
        self.create_subscription(Imu, "imu/data", self._on_imu, SENSOR_QOS)
        self.create_timer(1.0 / rate, self._on_timer)
        self.get_logger().info(f"policy {policy_arg} for {motion_path.stem} at {rate:.2f} Hz "
                               f"(trained at {1.0 / control_dt:.2f} Hz); stand {p['rise_time_s']:g} s + "
                               f"{p['settle_s']:g} s, warm-up {p['warmup_s']:g} s")

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_joint_states(self, msg: JointState) -> None:
        try:
            j = checked_joint_arrays(msg, "joint_states")
            if j.names != self._state_names:  # the index holds only for the names it was built from
                self._index, self._state_names = reorder_index(j.names, self._names), j.names
        except (MalformedMessage, ValueError) as err:
            self.get_logger().warning(f"rejected: {err}", throttle_duration_sec=1.0)
            return
        self._joints = (self._now(), j.position[self._index])

    def _on_imu(self, msg: Imu) -> None:
        o, w = msg.orientation, msg.angular_velocity
        quat, gyro = np.array([o.x, o.y, o.z, o.w]), np.array([w.x, w.y, w.z])
        norm = float(np.linalg.norm(quat))
        if not (np.isfinite(quat).all() and np.isfinite(gyro).all() and abs(norm - 1.0) < 0.01):
            self.get_logger().warning("rejected: imu/data orientation must be a finite unit quaternion, "
                                      "angular_velocity finite", throttle_duration_sec=1.0)
            return
        self._imu = (self._now(), quat / norm, gyro)

    def _on_timer(self) -> None:
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
