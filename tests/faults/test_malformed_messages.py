"""Malformed messages over real DDS (issue 20, item 9): every node rejects them with a warning, stays
alive, and processes the next good message.

Each malformed message is re-published until the node's log names it (the event that proves it
arrived; the warnings are throttled to one a second per call site), then a good message must produce
the node's normal output. A node that died on a malformed message fails the wait at once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Pose, PoseArray
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState, MultiDOFJointState
from std_srvs.srv import Trigger

from anima.controllers.robot_config import load_robot_config
from anima.models.dynamics_ensemble import DynamicsEnsemble, EnsembleConfig
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, to_time_msg
from anima.ros_nodes._conversions import diagonal_covariance, imu_msg, joint_state_msg, odometry_msg
from anima.ros_nodes._diagnostics import DIAGNOSTICS_TOPIC, find_status, status_values
from anima.ros_nodes._conversions import ball_state_msg

pytestmark = [pytest.mark.ros]
LAIKAGO = load_robot_config("laikago")
HAND = load_robot_config("shadowhand")
COV = (diagonal_covariance(1e-4),) * 3


class Clock:
    """The peer's sim time: each call to ``next`` advances 2 ms (a 500 Hz robot)."""

    def __init__(self) -> None:
        self.t = 1.0

    def next(self):
        self.t += 0.002
        return to_time_msg(self.t)


def _reject_until_logged(peer, node, publish, expected: str) -> None:
    mark = node.mark()
    peer.until(lambda: node.has(expected, mark), f"the node to log '{expected}'", node, each=publish)


def test_state_estimator_survives_malformed_joint_states(peer, start_node) -> None:
    node = start_node("state_estimator")
    clock, names = Clock(), list(LAIKAGO.joint_names)
    imu = peer.publisher(Imu, "imu/data", SENSOR_QOS)
    js = peer.publisher(JointState, "joint_states", SENSOR_QOS)
    peer.subscribe(Odometry, "odom", SENSOR_QOS)
    still = lambda: imu.publish(imu_msg(clock.next(), "base_link", np.array([0, 0, 0, 1.0]), np.zeros(3), np.array([0, 0, 9.81]), COV))
    peer.until(lambda: node.has("IMU gravity check passed"), "the IMU check to pass", node, each=still)
    stand = np.asarray(LAIKAGO.standing_pose)
    bad = {
        "12 names but 0 position values": JointState(name=names),
        "12 names but 3 velocity values": joint_state_msg(to_time_msg(clock.t), names, stand, np.zeros(3)),
        "12 names but 5 effort values": joint_state_msg(to_time_msg(clock.t), names, stand, np.zeros(12), np.zeros(5)),
    }
    for expected, msg in bad.items():
        _reject_until_logged(peer, node, lambda m=msg: (still(), js.publish(m)), expected)
    # a NaN IMU sample is skipped by the core, not a crash
    imu.publish(imu_msg(clock.next(), "base_link", np.array([0, 0, 0, 1.0]), np.full(3, np.nan), np.full(3, np.nan), COV))
    assert not peer.received["odom"], "odom from malformed joint_states"
    good = lambda: (still(), js.publish(joint_state_msg(to_time_msg(clock.t), names, stand, np.zeros(12), np.zeros(12))))
    peer.until(lambda: peer.received["odom"], "odom after a good joint_states", node, each=good)
    assert np.isfinite(peer.received["odom"][-1].pose.pose.position.z)


def _planner_model(path: Path) -> Path:
    model = DynamicsEnsemble(36, 24, EnsembleConfig(hidden_sizes=(16, 16)), joint_names=HAND.joint_names)
    model.save(path, extra={"env_kwargs": {"task": "ccw", "action_scale": 0.5}})
    return path


def test_pddm_planner_survives_malformed_joint_and_ball_states(peer, start_node, tmp_path) -> None:
    node = start_node("pddm_planner", "-p", f"model_path:={_planner_model(tmp_path / 'm.pt')}", "-p", "num_samples:=32",
                      "-p", "settle_time_s:=0.0")
    js = peer.publisher(JointState, "joint_states", SENSOR_QOS)
    balls = peer.publisher(MultiDOFJointState, "balls/state", SENSOR_QOS)
    peer.subscribe(DiagnosticArray, DIAGNOSTICS_TOPIC, SENSOR_QOS)
    stamp = lambda: peer.node.get_clock().now().to_msg()
    ball_pos = np.array([[0.03, 0.01, 0.21], [0.075, 0.005, 0.21]])
    good_balls = lambda: balls.publish(ball_state_msg(stamp(), "world", ball_pos, np.zeros((2, 3))))
    good_joints = lambda: js.publish(joint_state_msg(stamp(), HAND.joint_names, HAND.standing_pose, np.zeros(24)))
    no_transforms = MultiDOFJointState(joint_names=["ball_0", "ball_1"])
    short_twist = ball_state_msg(stamp(), "world", ball_pos, np.zeros((2, 3)))
    short_twist.twist = short_twist.twist[:1]
    one_ball = ball_state_msg(stamp(), "world", ball_pos[:1], np.zeros((1, 3)))
    bad = [
        (js, JointState(name=list(HAND.joint_names)), "joint_states: 24 names but 0 position values"),
        (balls, no_transforms, "balls/state: 2 joint_names but 0 transforms"),
        (balls, short_twist, "balls/state: 2 joint_names but 1 twists"),
        (balls, one_ball, "lacks ['ball_1']"),
    ]
    for pub, msg, expected in bad:
        _reject_until_logged(peer, node, lambda p=pub, m=msg: p.publish(m), expected)
    # While only malformed state came in, the planner says it is holding (stale); good state clears it.
    def stale() -> str | None:
        found = [find_status(m, "pddm_planner: planner") for m in peer.received[DIAGNOSTICS_TOPIC]]
        found = [f for f in found if f is not None]
        return status_values(found[-1])["stale"] if found else None

    peer.until(lambda: stale() is not None, "the planner's diagnostics", node)
    assert stale() == "true"
    peer.until(lambda: stale() == "false", "a fresh (non-stale) plan after good state",
               node, each=lambda: (good_joints(), good_balls()))


def test_stack_monitor_rechecks_its_joint_index_and_survives_malformed_messages(peer, start_node, tmp_path) -> None:
    # The robot reports its joints in the config's order, then reversed. The monitor must rebuild its
    # index: after the e-stop the commands are pure damping tau = -kd * qd in the config's order, so
    # the damping residual is 0 only if it read each joint's velocity by name.
    report = tmp_path / "report.json"
    # settle_s 0.1: the base (0.45 m, in the band) has stood from 0.1 s to the e-stop, so the run passes
    # and the monitor exits 0 (a failed run exits 1, issue 20 item 17).
    node = start_node("stack_monitor", "-p", "duration_s:=0.6", "-p", "estop_at_s:=0.3", "-p", "settle_s:=0.1",
                      "-p", f"report_path:={report}")
    peer.node.create_service(Trigger, "emergency_stop", lambda _req, resp: setattr(resp, "success", True) or resp)
    truth = peer.publisher(Odometry, "sim/ground_truth/odom", SENSOR_QOS)
    js = peer.publisher(JointState, "joint_states", SENSOR_QOS)
    cmd = peer.publisher(JointState, "joint_commands", COMMAND_QOS)
    names, kd = list(LAIKAGO.joint_names), np.asarray(LAIKAGO.damping_kd)
    qd = np.linspace(0.1, 1.2, 12)
    # The monitor calls emergency_stop once, at estop_at_s, if the service is there: wait until its
    # client and subscriptions are matched before the run's clock starts.
    peer.until(lambda: js.get_subscription_count() and cmd.get_subscription_count() and truth.get_subscription_count()
               and peer.node.count_clients("emergency_stop") > 0, "the monitor's subscriptions and e-stop client", node)
    short = joint_state_msg(to_time_msg(0.01), names, effort=np.zeros(4))
    _reject_until_logged(peer, node, lambda: js.publish(JointState(name=names)), "joint_states: 12 names but 0 velocity values")
    _reject_until_logged(peer, node, lambda: cmd.publish(short), "joint_commands: 12 names but 4 effort values")
    t = 0.0
    while node.alive() and t < 2.0:
        t = round(t + 0.005, 3)
        stamp = to_time_msg(t)
        order = names if t < 0.2 else names[::-1]  # same joints, another order from 0.2 s on
        js.publish(joint_state_msg(stamp, order, np.zeros(12), np.array([qd[names.index(n)] for n in order])))
        peer.spin(0.005)  # the state first: the monitor pairs a command with the state of its stamp
        cmd.publish(joint_state_msg(stamp, names, effort=-kd * qd))
        truth.publish(odometry_msg(stamp, np.array([0, 0, 0.45]), np.array([0, 0, 0, 1.0]), np.zeros(3), np.zeros(3)))
        peer.spin(0.01)
    peer.until(lambda: not node.alive(), "the monitor to finish its run", timeout=20.0)
    assert node.proc.returncode == 0, node.output()[-3000:]
    result = json.loads(report.read_text())
    assert result["estop_accepted"] and result["estop_damping_samples"] > 10, result
    assert result["estop_damping_residual_nm_max"] < 1e-9, result
    assert result["passed"] is True and result["failures"] == [], result


def test_pose_hold_survives_malformed_joint_states(peer, start_node) -> None:
    node = start_node("pose_hold")
    js = peer.publisher(JointState, "joint_states", SENSOR_QOS)
    peer.subscribe(JointState, "joint_targets", COMMAND_QOS)
    stand = np.asarray(LAIKAGO.standing_pose)
    # pose_hold reads its start pose only once a controller answers (issue 20, item 6): be that controller
    cmd = peer.publisher(JointState, "joint_commands", COMMAND_QOS)
    peer.until(lambda: node.has("the controller answers"), "pose_hold to see a controller", node,
               each=lambda: cmd.publish(joint_state_msg(to_time_msg(0.0), LAIKAGO.joint_names, effort=np.zeros(12))))
    _reject_until_logged(peer, node, lambda: js.publish(JointState(name=list(LAIKAGO.joint_names))),
                         "joint_states: 12 names but 0 position values")
    assert not peer.received["joint_targets"], "targets from a malformed start pose"
    good = lambda: js.publish(joint_state_msg(peer.node.get_clock().now().to_msg(), LAIKAGO.joint_names, stand))
    peer.until(lambda: peer.received["joint_targets"], "joint_targets after a good joint_states", node, each=good)


def test_pd_controller_survives_malformed_targets_and_states(peer, start_node) -> None:
    node = start_node("pd_controller")
    clock, names = Clock(), list(LAIKAGO.joint_names)
    js = peer.publisher(JointState, "joint_states", SENSOR_QOS)
    targets = peer.publisher(JointState, "joint_targets", COMMAND_QOS)
    peer.subscribe(JointState, "joint_commands", COMMAND_QOS)
    stand = np.asarray(LAIKAGO.standing_pose)
    state = lambda: js.publish(joint_state_msg(clock.next(), names, stand, np.zeros(12), np.zeros(12)))
    peer.until(lambda: peer.received["joint_commands"], "a first command", node, each=state)
    _reject_until_logged(peer, node, lambda: (state(), targets.publish(JointState(name=names))), "joint_targets rejected")
    # names without positions or velocities: the command path damps those joints (no crash, finite torques)
    n = len(peer.received["joint_commands"])
    peer.until(lambda: len(peer.received["joint_commands"]) > n, "a command answering a malformed joint_states", node,
               each=lambda: js.publish(joint_state_msg(clock.next(), names)))
    assert np.isfinite(np.asarray(peer.received["joint_commands"][-1].effort)).all()
    n = len(peer.received["joint_commands"])
    peer.until(lambda: len(peer.received["joint_commands"]) > n + 5, "commands after good joint_states", node, each=state)


def test_ball_state_estimator_survives_a_wrong_number_of_detections(peer, start_node) -> None:
    node = start_node("ball_state_estimator")
    det = peer.publisher(PoseArray, "balls/detections", SENSOR_QOS)
    peer.subscribe(MultiDOFJointState, "balls/state", SENSOR_QOS)
    clock = Clock()

    def detections(n: int):
        msg = PoseArray()
        msg.header.stamp, msg.header.frame_id = clock.next(), "world"
        msg.poses = [Pose() for _ in range(n)]
        for i, p in enumerate(msg.poses):
            p.position.x, p.position.z = 0.03 * i, 0.21
        return msg

    _reject_until_logged(peer, node, lambda: det.publish(detections(1)), "expected 2 poses (one per ball), got 1")
    assert not peer.received["balls/state"]
    peer.until(lambda: peer.received["balls/state"], "balls/state after good detections", node, each=lambda: det.publish(detections(2)))


def _info(width: int = 64, height: int = 48, baseline_px: float = 0.0) -> CameraInfo:
    info = CameraInfo(width=width, height=height)
    info.header.frame_id = "left_optical"
    f = 50.0
    info.p = [f, 0.0, width / 2, baseline_px, 0.0, f, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def _image(stamp, width: int = 64, height: int = 48, encoding: str = "rgb8", short: bool = False) -> Image:
    img = Image(width=width, height=height, encoding=encoding, step=3 * width)
    img.header.stamp = stamp
    img.data = bytes(3 * width * height - (7 if short else 0))
    return img


def test_ball_tracker_survives_bad_images_and_calibration(peer, start_node) -> None:
    node = start_node("ball_tracker")
    pubs = {f"{side}/{kind}": peer.publisher(t, f"stereo/{side}/{kind}", SENSOR_QOS)
            for side in ("left", "right") for kind, t in (("image_raw", Image), ("camera_info", CameraInfo))}
    peer.subscribe(PoseArray, "balls/detections", SENSOR_QOS)
    clock = Clock()

    def pair(info_right: CameraInfo, **image_kwargs) -> None:
        pubs["left/camera_info"].publish(_info())
        pubs["right/camera_info"].publish(info_right)
        stamp = clock.next()
        pubs["left/image_raw"].publish(_image(stamp, **image_kwargs))
        pubs["right/image_raw"].publish(_image(stamp, **image_kwargs))

    good_right = _info(baseline_px=-5.0)  # Tx = -f * baseline (0.1 m)
    _reject_until_logged(peer, node, lambda: pair(_info(width=32)), "inconsistent camera_info")
    _reject_until_logged(peer, node, lambda: pair(good_right, encoding="mono16"), "unsupported encoding 'mono16'")
    _reject_until_logged(peer, node, lambda: pair(good_right, short=True), "does not match 64x48")
    assert not peer.received["balls/detections"]
    peer.until(lambda: peer.received["balls/detections"], "detections from a good pair", node, each=lambda: pair(good_right))
    assert len(peer.received["balls/detections"][-1].poses) == 2  # red and blue; not in view here: NaN
