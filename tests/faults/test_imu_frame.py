"""An IMU in the wrong frame (issue 20, item 8): state_estimator refuses to publish odom and says why.

With a y-up IMU the accelerometer reads (0, +g, 0) at rest. Before this check the estimator
integrated that as a sideways acceleration and its odometry drifted by metres with no warning.
"""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState

from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._common import SENSOR_QOS, to_time_msg
from anima.ros_nodes._conversions import diagonal_covariance, imu_msg, joint_state_msg
from anima.ros_nodes._diagnostics import DIAGNOSTICS_TOPIC, ERROR, find_status, level_of, status_values

pytestmark = [pytest.mark.ros]
LAIKAGO = load_robot_config("laikago")
COV = (diagonal_covariance(1e-4),) * 3
# A y-up IMU on a level robot: gravity's reaction along +y, orientation reported as level.
Y_UP_ACCEL = np.array([0.0, 9.81, 0.0])


def test_y_up_imu_means_no_odom_and_an_error_saying_why(peer, start_node) -> None:
    node = start_node("state_estimator")
    names, stand = list(LAIKAGO.joint_names), np.asarray(LAIKAGO.standing_pose)
    imu = peer.publisher(Imu, "imu/data", SENSOR_QOS)
    js = peer.publisher(JointState, "joint_states", SENSOR_QOS)
    peer.subscribe(Odometry, "odom", SENSOR_QOS)
    peer.subscribe(DiagnosticArray, DIAGNOSTICS_TOPIC, SENSOR_QOS)
    t = [1.0]

    def sample(bad_joint_state: bool = False) -> None:
        t[0] += 0.002
        stamp = to_time_msg(t[0])
        imu.publish(imu_msg(stamp, "imu_link", np.array([0, 0, 0, 1.0]), np.zeros(3), Y_UP_ACCEL, COV))
        js.publish(JointState(name=names) if bad_joint_state else joint_state_msg(stamp, names, stand, np.zeros(12), np.zeros(12)))

    peer.until(lambda: node.has("Refusing to publish odom"), "the estimator's error about the IMU frame", node, each=sample)
    assert node.has("90 deg from +z of its frame") and node.has("along +y")
    def check_failed() -> bool:
        found = [find_status(m, "state_estimator: imu gravity check") for m in peer.received[DIAGNOSTICS_TOPIC]]
        return any(f is not None and level_of(f) == ERROR and status_values(f)["verdict"] == "failed"
                   and status_values(f)["odom_published"] == "false" for f in found)

    peer.until(check_failed, "/diagnostics to say the IMU check failed", node, each=sample)
    # Joint states keep coming, and reach the node (a malformed one among them is logged as rejected),
    # yet no odom is ever published.
    mark = node.mark()
    peer.until(lambda: node.has("rejected: joint_states", mark), "joint_states to reach the node", node,
               each=lambda: (sample(), sample(bad_joint_state=True)))
    for _ in range(100):
        sample()
        peer.spin(0.005)
    assert node.alive()
    assert not peer.received["odom"], "odom published from a y-up IMU"
