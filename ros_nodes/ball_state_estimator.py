"""ball_state_estimator: positions and velocities of the balls from their stereo detections.

One constant-velocity Kalman filter per ball with outlier gating and prediction through dropouts
(core: ``anima.controllers.ball_filter``). Runs once per detection message (the camera rate).

Topics:
- subscribes ``balls/detections`` (geometry_msgs/PoseArray: ``poses[i]`` = ball i, NaN = missing);
- publishes ``balls/state`` (sensor_msgs/MultiDOFJointState: ``joint_names`` ``ball_0``..,
  ``transforms[i].translation`` = position, ``twist[i].linear`` = velocity; stamp and frame of
  the detections);
- publishes ``/diagnostics`` (diagnostic_msgs/DiagnosticArray, one status per ball,
  "ball_state_estimator: ball_<i>": level OK tracking, WARN coasting or unseen, ERROR lost or
  dropped; values ``status`` (tracking, coasting, lost, dropped, unseen), ``position_std_{x,y,z}_m``,
  ``velocity_std_{x,y,z}_mps``) at every status change and otherwise every ``diagnostics_period_s``
  of message time, so a planner or an operator sees the uncertainty grow and the drop, never a
  silently frozen ball.

Parameters: ``n_balls`` (int, 2), ``accel_std_mps2`` (float, 5.0), ``measurement_std_m``
(float, 0.001), ``gate_chi2`` (float, 16.27), ``lost_after_s`` (float, 0.5), ``drop_z_m``
(float, NaN = off: an estimate below this height in the detection frame is a dropped ball),
``diagnostics_period_s`` (float, 0.1), ``hardware_id`` (str, "stereo_ball_tracker").
"""

from __future__ import annotations

import math

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray
from rclpy.node import Node
from sensor_msgs.msg import MultiDOFJointState

from anima.controllers.ball_filter import BallFilterConfig, BallStateEstimator, BallStatus
from anima.ros_nodes._common import SENSOR_QOS, STREAM_QOS, declare_params, from_time_msg, run_node
from anima.ros_nodes._conversions import ball_state_arrays, ball_state_msg  # noqa: F401 (re-exported)
from anima.ros_nodes._diagnostics import (DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, ERROR, OK, WARN, diagnostic_array,
                                         diagnostic_status)

_LEVELS = {BallStatus.TRACKING: OK, BallStatus.COASTING: WARN, BallStatus.UNSEEN: WARN,
           BallStatus.LOST: ERROR, BallStatus.DROPPED: ERROR}


class BallStateEstimatorNode(Node):
    def __init__(self) -> None:
        super().__init__("ball_state_estimator")
        p = declare_params(self, {
            "n_balls": 2, "accel_std_mps2": 5.0, "measurement_std_m": 0.001, "gate_chi2": 16.27,
            "lost_after_s": 0.5, "drop_z_m": math.nan, "diagnostics_period_s": 0.1, "hardware_id": "stereo_ball_tracker",
        })
        self._diag_period, self._hardware_id, self._diag_time = p["diagnostics_period_s"], str(p["hardware_id"]), -math.inf
        drop = None if math.isnan(p["drop_z_m"]) else p["drop_z_m"]
        self._config = BallFilterConfig(n_balls=int(p["n_balls"]), accel_std_mps2=p["accel_std_mps2"],
                                        measurement_std_m=p["measurement_std_m"], gate_chi2=p["gate_chi2"],
                                        lost_after_s=p["lost_after_s"], drop_z_m=drop)
        self._estimator = BallStateEstimator(self._config)
        self._last_status = np.full(self._config.n_balls, int(BallStatus.UNSEEN))
        self._state_pub = self.create_publisher(MultiDOFJointState, "balls/state", STREAM_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS)
        self.create_subscription(PoseArray, "balls/detections", self._on_detections, SENSOR_QOS)
        self.get_logger().info(f"{self._config.n_balls} balls, sigma_a {self._config.accel_std_mps2} m/s^2, "
                               f"sigma_z {self._config.measurement_std_m} m, drop below {drop}")

    def _on_detections(self, msg: PoseArray) -> None:
        n = self._config.n_balls
        if len(msg.poses) != n:
            self.get_logger().error(f"balls/detections: expected {n} poses (one per ball), got {len(msg.poses)}",
                                    throttle_duration_sec=2.0)
            return
        z = np.array([[p.position.x, p.position.y, p.position.z] for p in msg.poses])
        t = from_time_msg(msg.header.stamp)
        est = self._estimator.step(t, z)
        changed = not np.array_equal(est.status, self._last_status)
        self._report_transitions(est.status)
        self._state_pub.publish(ball_state_msg(msg.header.stamp, msg.header.frame_id, est.position, est.velocity))
        if changed or t - self._diag_time >= self._diag_period:
            self._diag_time = t
            self._diag_pub.publish(diagnostic_array(msg.header.stamp, self._diagnostics(est)))

    def _diagnostics(self, est) -> list:
        out = []
        for i, code in enumerate(est.status):
            status = BallStatus(int(code))
            values = {"status": status.name.lower()}
            values.update({f"position_std_{a}_m": float(v) for a, v in zip("xyz", est.position_std[i])})
            values.update({f"velocity_std_{a}_mps": float(v) for a, v in zip("xyz", est.velocity_std[i])})
            out.append(diagnostic_status(f"{self.get_name()}: ball_{i}", self._hardware_id, _LEVELS[status],
                                         f"ball_{i} {status.name.lower()}", values))
        return out

    def _report_transitions(self, status: np.ndarray) -> None:
        for i, (old, new) in enumerate(zip(self._last_status, status)):
            if new != old and new in (BallStatus.LOST, BallStatus.DROPPED):
                self.get_logger().warn(f"ball_{i} {BallStatus(new).name.lower()}")
            elif new != old and new == BallStatus.TRACKING and old in (BallStatus.LOST, BallStatus.DROPPED):
                self.get_logger().info(f"ball_{i} tracked again")
        self._last_status = status.copy()


def main(args: list[str] | None = None) -> int:
    return run_node(BallStateEstimatorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
