"""vice_raq_policy: a trained VICE-RAQ policy (``anima train vice_raq``) driving the Sawyer from its camera.

Every control period (the policy's ``control_rate_hz``, node clock, so ``use_sim_time`` works) the
newest camera frame not yet used goes through the policy (:func:`anima.models.vice_raq.policy.load_policy`,
deterministic mean action ``(dx, dy, dz, gripper)`` in [-1, 1]); as in ``SawyerEnv.step`` the move,
times ``max_step_m``, is added to the end-effector setpoint, clamped to the workspace box
(:class:`anima.controllers.solar_runner.EeSetpoint`), and sent with the gripper pointing down. The
first setpoint is the forward kinematics of the first ``joint_states``. No fresh frame: no new target
(cartesian_controller holds the last one).

Topics: subscribes ``camera/image_raw`` (sensor_msgs/Image, rgb8 at the policy's image size, best
effort; anything else is refused with a throttled warning naming what arrived, and counted) and
``joint_states`` (sensor_msgs/JointState); publishes ``ee_target`` (geometry_msgs/PoseStamped, frame
``base_link``), ``gripper_command`` (sensor_msgs/JointState, finger position m) and ``/diagnostics``
(1 Hz, "vice_raq_policy: policy": ``running``, ``actions``, ``frames_refused``, ``last_refusal``,
``act_ms``). Services ``vice_raq_policy/start`` (the setpoint restarts from the measured pose) and
``vice_raq_policy/stop`` (hold), std_srvs/Trigger.

Parameters: ``policy`` (str, "shipped": ``models/vice_raq/data/<task>_policy.pt``, or a policy file),
``task`` (str, "push": must match the file's), ``auto_start`` (bool, true), ``workspace_min_m`` /
``workspace_max_m`` (float[3], the training environment's box), ``base_link`` (str, "base_link"),
``tip_link`` (str, "ee").
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from anima.controllers.sawyer_arm import load_sawyer_arm
from anima.controllers.solar_runner import EeSetpoint, FrameRefused, decode_rgb8
from anima.models.vice_raq.policy import ViceRaqPolicy, load_policy, shipped_policy_path
from anima.ros_nodes._common import SENSOR_QOS, declare_params, run_node
from anima.ros_nodes._conversions import reorder_index
from anima.ros_nodes._ee_command import EeCommandPublisher
from anima.ros_nodes._diagnostics import DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, OK, WARN, diagnostic_array, diagnostic_status


def resolve_policy(policy: str, task: str) -> ViceRaqPolicy:
    """Load ``policy`` ("shipped" or a path) and check it was trained for ``task``; ValueError naming the file."""
    if not policy:
        raise ValueError("parameter 'policy' is required: a policy file of anima train vice_raq, or 'shipped'")
    path = shipped_policy_path(task) if policy == "shipped" else Path(policy)
    if not path.is_file():
        raise FileNotFoundError(f"VICE-RAQ policy {path} does not exist" + (" (no shipped policy for this task)"
                                                                           if policy == "shipped" else ""))
    loaded = load_policy(path)
    if loaded.spec.task != task:
        raise ValueError(f"{path}: policy trained for task {loaded.spec.task!r}, this node runs {task!r}")
    if loaded.spec.action_dim != 4:
        raise ValueError(f"{path}: {loaded.spec.action_dim} actions, the Sawyer takes 4 (dx, dy, dz, gripper)")
    return loaded


class ViceRaqPolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("vice_raq_policy")
        p = declare_params(self, {"policy": "shipped", "task": "push", "auto_start": True,
                                  "workspace_min_m": [0.35, -0.35, 0.02], "workspace_max_m": [0.85, 0.35, 0.35],
                                  "base_link": "base_link", "tip_link": "ee"})
        self.policy = resolve_policy(str(p["policy"]), str(p["task"]))
        self.arm = load_sawyer_arm(str(p["base_link"]), str(p["tip_link"]))
        spec = self.policy.spec
        self.ee = EeSetpoint(spec.max_step_m, np.asarray(p["workspace_min_m"], float),
                             np.asarray(p["workspace_max_m"], float), self.arm.gripper_limit_m)
        self.base_link, self.running = str(p["base_link"]), bool(p["auto_start"])
        self._frame: np.ndarray | None = None
        self._q: np.ndarray | None = None
        self._state_names: tuple[str, ...] = ()
        self._index: np.ndarray | None = None
        self.actions, self.refused, self._refused_before, self.last_refusal, self.act_ms = 0, 0, 0, "", 0.0
        self._ee_cmd = EeCommandPublisher(self, self.base_link)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS)
        self.create_subscription(Image, "camera/image_raw", self._on_image, SENSOR_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS)
        self.create_service(Trigger, "vice_raq_policy/start", self._on_start)
        self.create_service(Trigger, "vice_raq_policy/stop", self._on_stop)
        self.create_timer(1.0 / spec.control_rate_hz, self._on_control)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f"policy for {spec.task}: {spec.image_size_px}x{spec.image_size_px} rgb8 frames, "
                               f"{spec.control_rate_hz:g} Hz, steps of {spec.max_step_m:g} m"
                               + ("" if self.running else "; waiting for vice_raq_policy/start"))

    def _on_joints(self, msg: JointState) -> None:
        names = tuple(msg.name)
        if names != self._state_names:
            try:
                self._index = reorder_index(names, self.arm.chain.joint_names)
            except ValueError as err:
                self.get_logger().error(f"joint_states: {err}", throttle_duration_sec=1.0)
                return
            self._state_names = names
        q = np.asarray(msg.position, dtype=float)
        if q.shape == (len(names),) and np.isfinite(q[self._index]).all():
            self._q = q[self._index]
            if self.ee.position is None:
                self.ee.reset(self.arm.hand_position(self._q))

    def _on_image(self, msg: Image) -> None:
        size = self.policy.spec.image_size_px
        try:
            self._frame = decode_rgb8(msg.height, msg.width, msg.encoding, msg.step, msg.data, size).copy()
        except FrameRefused as err:
            self.refused += 1
            self.last_refusal = f"camera/image_raw refused: {err}"
            self.get_logger().warn(f"{self.last_refusal}; holding", throttle_duration_sec=1.0)

    def _on_control(self) -> None:
        frame, self._frame = self._frame, None
        if not self.running or frame is None or self.ee.position is None:
            return
        if not self._ee_cmd.listened():
            self.get_logger().warn("nobody subscribes to ee_target yet: holding until a controller listens",
                                   throttle_duration_sec=1.0)
            return
        t0 = time.perf_counter()
        action = self.policy.act(frame)
        self.act_ms = (time.perf_counter() - t0) * 1e3
        position, gripper_m = self.ee.apply(action)
        self._ee_cmd.publish(self.get_clock().now().to_msg(), position, gripper_m)
        self.actions += 1

    def _on_start(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        if self._q is None:
            resp.success, resp.message = False, "no joint_states yet: the setpoint starts from the measured pose"
            return resp
        self.ee.reset(self.arm.hand_position(self._q))
        self.running = True
        resp.success, resp.message = True, f"running from {np.round(self.ee.position, 3).tolist()}"
        return resp

    def _on_stop(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        self.running = False
        resp.success, resp.message = True, "stopped: holding the last target"
        return resp

    def _publish_diagnostics(self) -> None:
        refused_now = self.refused > self._refused_before
        self._refused_before = self.refused
        level, message = (WARN, self.last_refusal) if refused_now else (OK, "running" if self.running else "stopped")
        values = {"running": self.running, "actions": self.actions, "frames_refused": self.refused,
                  "last_refusal": self.last_refusal, "act_ms": float(self.act_ms)}
        status = diagnostic_status(f"{self.get_name()}: policy", self.base_link, level, message, values)
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), [status]))


def main(args: list[str] | None = None) -> int:
    return run_node(ViceRaqPolicyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
