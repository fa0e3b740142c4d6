"""pddm_planner: PDDM's ensemble + filtered MPPI turning the Baoding balls, as a node.

Plans in its own thread (core: ``anima.models.pddm.runtime``). A timer at ``rate_hz`` hands the
latest state to the planning thread, which publishes the plan's action as soon as it is done, so an
action takes effect one planning time (about 15-30 ms) after its state was measured, as the model
was trained to expect (the action applied at the start of its 0.1 s step). If the previous plan is
still running at a tick (overrun), the tick publishes the previous plan's next action (the
warm-started mean) and counts the overrun. When ``joint_states`` or ``balls/state`` is older
than ``stale_timeout_s`` the node holds the hand still (repeats its last targets) and says so.
With ``predict_ball_state`` (default) each plan starts from the ball estimate carried forward at its
velocity from the estimate's stamp (its camera frame) to the planning time: the estimate can be a
frame period plus camera latency old, and a rolling ball moves millimetres in that time.
Each task starts as a training episode does: the node holds the rest grip until both balls have been
slower than ``settle_speed_mps`` for ``settle_time_s`` (status "settling"), then starts the task with
the target ellipse centred on the balls; a task switched at run time starts the same way.

Topics: subscribes ``joint_states`` (sensor_msgs/JointState, best effort), ``balls/state``
(sensor_msgs/MultiDOFJointState ``ball_0``, ``ball_1``, best effort); publishes ``joint_targets``
(sensor_msgs/JointState, position = target rad, reliable, ``rate_hz``) and, with every targets message,
``/diagnostics`` (diagnostic_msgs/DiagnosticArray, status "pddm_planner: planner": level OK planning or
settling, WARN stale state, ERROR a failed plan; values ``task``, ``last_plan_ms``, ``overruns``,
``stale``, ``settling``, ``plan_failures``, ``last_error``). Faults: a malformed message (names without positions, short arrays) is rejected with a
throttled warning; a non-finite state holds the last targets with the stale flag set; any other planning
error is logged with its traceback, holds the last targets and counts in ``plan failures``.
Parameters: ``model_path`` (str, required: a ``DynamicsEnsemble`` checkpoint for this robot),
``planner_config`` (str, "" = config/pddm/planner/baoding.yaml: the core config
``models.pddm.config.BaodingNodeConfig`` that gives the defaults of the planner parameters below),
``robot`` (str, "shadowhand"), ``hardware_id`` (str, "" = the robot name), ``task`` (str, "ccw" | "cw" | "goto", settable at run time),
``goto_target_xy`` (float[2], [0.0, 0.03] m from the circle centre, settable), ``goto_ball`` (int, 0,
settable), ``rate_hz`` (float, 10.0), ``stale_timeout_s`` (float, 0.5), ``action_scale`` (float,
0.0: the scale the checkpoint was trained with; a positive value must equal it), ``num_samples``
(int, 700), ``horizon`` (int, 7), ``gamma`` (20.0), ``beta`` (0.4; PDDM 0.6), ``sigma`` (0.9), ``optimizer``
(str, "mppi" | "cem"), ``seed`` (int, 0), ``backend`` (str, "auto": bfloat16 matmuls where the CPU
has them, else float32; "loop" forces float32), ``predict_ball_state`` (bool, true), ``settle_speed_mps``
(float, 0.01), ``settle_time_s`` (float, 0.5), ``target_lead_rad`` (float[2], [0.0, 0.52] for ccw, cw:
0 runs the rotation targets on PDDM's clock; a lead re-anchors them that far ahead of the balls at
every plan, ``BaodingRotateTask.lead_rad``).
"""

from __future__ import annotations

import dataclasses
import threading
import traceback

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import JointState, MultiDOFJointState

from anima.controllers.ball_filter import extrapolate_positions
from anima.controllers.robot_config import load_robot_config
from anima.models.pddm.config import NODE_PLANNER_KEYS, BaodingNodeConfig
from anima.models.pddm.runtime import BaodingPlannerRuntime, SettleGate, TaskSpec, load_baoding_model, resolve_action_scale
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, declare_params, from_time_msg, run_node
from anima.ros_nodes._conversions import MalformedMessage, checked_joint_arrays, joint_state_msg, multi_dof_positions, reorder_index
from anima.ros_nodes._diagnostics import (DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, ERROR, OK, WARN, diagnostic_array,
                                         diagnostic_status)

TASK_PARAMS = ("task", "goto_target_xy", "goto_ball")


class PddmPlannerNode(Node):
    def __init__(self) -> None:
        super().__init__("pddm_planner")
        core = BaodingNodeConfig.from_yaml(str(self.declare_parameter("planner_config", "").value))
        p = declare_params(self, {
            "model_path": "", "robot": "shadowhand", "hardware_id": "", "task": "ccw", "goto_target_xy": [0.0, 0.03], "goto_ball": 0,
            "rate_hz": 10.0, "stale_timeout_s": 0.5, "action_scale": 0.0, "seed": 0, "predict_ball_state": True,
            # the core config's values, overridable as ROS parameters
            **{k: getattr(core.planner, k) for k in NODE_PLANNER_KEYS}, "settle_speed_mps": core.settle_speed_mps,
            "settle_time_s": core.settle_time_s, "target_lead_rad": list(core.target_lead_rad),
        })
        if not p["model_path"]:
            raise ValueError("parameter 'model_path' is required (a PDDM Baoding checkpoint, model.pt)")
        if p["rate_hz"] <= 0 or p["stale_timeout_s"] <= 0:
            raise ValueError("parameters 'rate_hz' and 'stale_timeout_s' must be > 0")
        self.robot = load_robot_config(str(p["robot"]))
        self.hardware_id = str(p["hardware_id"]) or str(p["robot"])
        self.names = tuple(self.robot.joint_names)
        model = load_baoding_model(str(p["model_path"]), self.names)
        planner = dataclasses.replace(core.planner, optimizer=str(p["optimizer"]), num_samples=int(p["num_samples"]),
                                      horizon=int(p["horizon"]), gamma=p["gamma"], beta=p["beta"], sigma=p["sigma"],
                                      backend=str(p["backend"]))
        spec = TaskSpec(str(p["task"]), tuple(p["goto_target_xy"]), int(p["goto_ball"]))
        settle = SettleGate(float(p["settle_speed_mps"]), float(p["settle_time_s"]))
        self.core = BaodingPlannerRuntime(model, self.robot, planner, spec, resolve_action_scale(model, p["action_scale"]),
                                          np.random.default_rng(int(p["seed"])), settle, p["target_lead_rad"])
        self.period_s, self.stale_s = 1.0 / p["rate_hz"], p["stale_timeout_s"]
        self.predict_balls = bool(p["predict_ball_state"])
        self._lock = threading.Lock()
        self._q = self._balls = None
        self._q_time = self._ball_time = None
        self._ball_stamp = 0.0
        self._index, self._state_names = None, ()
        self._held = self.core.targets(np.zeros(len(self.names)))  # action 0 = the rest pose
        self._publish_lock = threading.Lock()
        self._request = threading.Event()
        self._busy, self._closing = False, False
        self.overruns, self._stale, self._was_settling = 0, False, False
        self.plan_failures, self._bad_state, self.last_error, self._failed_last = 0, False, "", False
        self._targets_pub = self.create_publisher(JointState, "joint_targets", COMMAND_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS)
        self.create_subscription(MultiDOFJointState, "balls/state", self._on_balls, SENSOR_QOS)
        self.add_on_set_parameters_callback(self._on_params)
        self._thread = threading.Thread(target=self._plan_loop, name="pddm_plan", daemon=True)
        self._thread.start()
        self.create_timer(self.period_s, self._on_tick)
        self.get_logger().info(f"model {p['model_path']} (ensemble {model.ensemble_size}), task {spec.name}, "
                               f"N {planner.num_samples} H {planner.horizon}, {p['rate_hz']} Hz")

    # ------------------------------------------------------------ inputs
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_joints(self, msg: JointState) -> None:
        try:
            position = checked_joint_arrays(msg, "joint_states").position
        except MalformedMessage as err:
            self.get_logger().warning(f"rejected: {err}", throttle_duration_sec=1.0)
            return
        names = tuple(msg.name)
        if names != self._state_names:
            try:
                self._index = reorder_index(names, self.names)
            except ValueError as err:
                self.get_logger().error(str(err), throttle_duration_sec=1.0)
                return
            self._state_names = names
        with self._lock:
            self._q, self._q_time = position[self._index], self._now()

    def _on_balls(self, msg: MultiDOFJointState) -> None:
        try:
            pos, vel = multi_dof_positions(msg, ("ball_0", "ball_1"), "balls/state")
        except MalformedMessage as err:
            self.get_logger().warning(f"rejected: {err}", throttle_duration_sec=1.0)
            return
        with self._lock:
            self._balls, self._ball_time = (pos, vel), self._now()
            self._ball_stamp = from_time_msg(msg.header.stamp)

    def _on_params(self, params) -> SetParametersResult:
        current = self.core.task_spec
        values = {"task": current.name, "goto_target_xy": current.goto_target_xy, "goto_ball": current.goto_ball}
        for prm in params:
            if prm.name in TASK_PARAMS:
                values[prm.name] = prm.value
        try:
            spec = TaskSpec(str(values["task"]), tuple(values["goto_target_xy"]), int(values["goto_ball"]))
        except (ValueError, TypeError) as err:
            return SetParametersResult(successful=False, reason=str(err))
        if spec != current:
            self.core.set_task(spec)
            self.get_logger().info(f"task -> {spec.name}" + (f" {spec.goto_target_xy} ball {spec.goto_ball}" if spec.name == "goto" else ""))
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------ planning thread
    def _plan_loop(self) -> None:
        while not self._closing:
            if not self._request.wait(timeout=0.2):
                continue
            self._request.clear()
            with self._lock:
                q, balls, stamp = self._q, self._balls, self._ball_stamp
            targets = self._plan_once(q, balls, stamp)
            self._report_settling()
            if not self._closing:  # at once: the model expects the action at the step's start
                self._publish(self._held if targets is None else targets)
            with self._lock:
                self._busy = False

    def _plan_once(self, q: np.ndarray, balls: tuple[np.ndarray, np.ndarray], stamp: float) -> np.ndarray | None:
        """The targets of one plan; None = hold the last targets (bad state or a planning error, both reported)."""
        now = self._now()
        try:
            if not (np.isfinite(q).all() and np.isfinite(balls[0]).all() and np.isfinite(balls[1]).all()):
                raise ValueError("non-finite joint or ball state")
            ball_pos = extrapolate_positions(balls[0], balls[1], now - stamp) if self.predict_balls else balls[0]
            targets = self.core.targets(self.core.plan(q, ball_pos, balls[1], now))
        except ValueError as err:  # a state the planner cannot use: hold, flagged stale
            if not self._bad_state:
                self.get_logger().error(f"cannot plan on this state ({err}): holding the last targets")
            self._bad_state = True
            return None
        except Exception as err:  # anything else must not end the planning thread silently
            self.plan_failures += 1
            self._failed_last = True
            self.last_error = f"{type(err).__name__}: {err}"
            self.get_logger().error(f"planning failed ({self.plan_failures} failures), holding the last targets: "
                                    f"{self.last_error}\n{traceback.format_exc()}", throttle_duration_sec=5.0)
            return None
        self._bad_state = self._failed_last = False
        return targets

    def _report_settling(self) -> None:
        if self.core.settling != self._was_settling:
            self._was_settling = self.core.settling
            spec = self.core.task_spec.name
            self.get_logger().info(f"holding the rest grip until the balls are at rest, then task {spec}" if self._was_settling
                                   else f"balls at rest: task {spec} started")

    # ------------------------------------------------------------ timer
    def _on_tick(self) -> None:
        now = self._now()
        with self._lock:
            fresh = self._q_time is not None and self._ball_time is not None and now - min(self._q_time, self._ball_time) <= self.stale_s
            busy = self._busy
        if not fresh:
            if not self._stale:
                self.get_logger().warning(f"state older than {self.stale_s} s (or none yet): holding the hand still")
            self._stale = True
            self._publish(self._held)
            return
        self._stale = False
        if busy:
            self.overruns += 1
            self.get_logger().warning(f"planning overran the {self.period_s * 1000:.0f} ms period ({self.overruns} overruns): "
                                      "previous plan's next action", throttle_duration_sec=1.0)
            self._publish(self.core.targets(self.core.next_planned_action()))
            return
        with self._lock:
            self._busy = True
        self._request.set()

    def _publish(self, targets: np.ndarray) -> None:
        """Publish targets and status; called from the timer and from the planning thread."""
        with self._publish_lock:
            self._held = np.asarray(targets, float)
            self._targets_pub.publish(joint_state_msg(self.get_clock().now().to_msg(), self.names, self._held))
            self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), [self._diagnostic()]))

    def _diagnostic(self):
        stale, task = self._stale or self._bad_state, self.core.task_spec.name
        if self._failed_last:
            level, message = ERROR, f"planning failed, holding the last targets: {self.last_error}"
        elif stale:
            level, message = WARN, "state stale or unusable: holding the hand still"
        elif self.core.settling:
            level, message = OK, f"holding the rest grip until the balls are at rest, then task {task}"
        else:
            level, message = OK, f"planning task {task}"
        values = {"task": task, "last_plan_ms": float(self.core.last_plan_ms), "overruns": self.overruns, "stale": stale,
                  "settling": bool(self.core.settling), "plan_failures": self.plan_failures, "last_error": self.last_error}
        return diagnostic_status(f"{self.get_name()}: planner", self.hardware_id, level, message, values)

    def close(self) -> None:
        self._closing = True
        self._thread.join(timeout=2.0)


def main(args: list[str] | None = None) -> int:
    return run_node(PddmPlannerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
