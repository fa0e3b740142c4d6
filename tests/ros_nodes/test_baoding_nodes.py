"""ball_tracker and ball_state_estimator: message conversions, and the nodes over real DDS.

The test process plays the camera driver (or the tracker): it publishes with stamps it chooses
and reads what the node, running as its own process, publishes.
"""

from __future__ import annotations

import math
import subprocess
import time

import numpy as np
import pybullet
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Pose, PoseArray
from pybullet_utils.bullet_client import BulletClient
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, MultiDOFJointState

from anima.controllers.triangulation import StereoCalibration
from anima.ros_nodes._bridge_baoding import CAMERA_INFO_QOS, camera_info_msgs, image_msg
from anima.ros_nodes._common import SENSOR_QOS, to_time_msg
from anima.ros_nodes._diagnostics import DIAGNOSTICS_TOPIC, ERROR, OK, find_status, level_of, status_values
from anima.ros_nodes._conversions import ball_state_arrays, ball_state_msg
from anima.ros_nodes.ball_tracker import image_array
from anima.sim_bridge.baoding_world import BaodingWorld, load_baoding_config


# --------------------------------------------------------------------------- conversions (no DDS)
def test_image_roundtrip_and_bad_images() -> None:
    rgb = np.arange(180 * 280 * 3, dtype=np.uint32).astype(np.uint8).reshape(180, 280, 3)
    msg = image_msg(to_time_msg(1.5), "cam", rgb)
    assert (msg.width, msg.height, msg.step, msg.encoding) == (280, 180, 840, "rgb8")
    np.testing.assert_array_equal(image_array(msg, "left"), rgb)
    msg.encoding = "bgr8"
    np.testing.assert_array_equal(image_array(msg, "left"), rgb[:, :, ::-1])
    msg.encoding = "mono8"
    with pytest.raises(ValueError, match="stereo/left/image_raw: unsupported encoding 'mono8'"):
        image_array(msg, "stereo/left/image_raw")
    msg.encoding, msg.height = "rgb8", 170
    with pytest.raises(ValueError, match="does not match 280x170"):
        image_array(msg, "stereo/left/image_raw")


def test_ball_state_message_roundtrip() -> None:
    p = np.array([[0.01, 0.02, 0.2], [np.nan, np.nan, np.nan]])
    v = np.array([[0.1, -0.2, 0.0], [0.0, 0.0, 0.0]])
    msg = ball_state_msg(to_time_msg(2.0), "world", p, v)
    assert list(msg.joint_names) == ["ball_0", "ball_1"] and msg.header.frame_id == "world"
    p2, v2 = ball_state_arrays(msg)
    np.testing.assert_array_equal(p2, p)
    np.testing.assert_array_equal(v2, v)


@pytest.mark.sim
def test_camera_info_is_a_consistent_rectified_pair() -> None:
    client = BulletClient(connection_mode=pybullet.DIRECT)
    world = BaodingWorld(client, load_baoding_config())
    left, right = camera_info_msgs(world.camera)
    client.disconnect()
    cal = StereoCalibration.from_camera_info(np.asarray(left.p), (left.width, left.height),
                                             np.asarray(right.p), (right.width, right.height), left.header.frame_id)
    assert cal.baseline_m == pytest.approx(0.08)  # config/sim/baoding_world.yaml
    assert cal.frame_id == "stereo_left_optical_frame"


# --------------------------------------------------------------------------- nodes over DDS
class Peer:
    """The test's side of the conversation, in its own context and ROS domain."""

    def __init__(self, domain_id: int) -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("baoding_test_peer", context=self.ctx)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self.received: dict[str, list] = {}

    def listen(self, msg_type, topic: str) -> None:
        self.received[topic] = []
        self.node.create_subscription(msg_type, topic, self.received[topic].append, SENSOR_QOS)

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


def _start(venv_bin, ros_env, exe: str, *params: str) -> subprocess.Popen:
    cmd = [str(venv_bin / exe), "--ros-args", *[a for p in params for a in ("-p", p)]]
    return subprocess.Popen(cmd, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_matched(peer: Peer, publishers: list) -> None:
    """Discovery: wait until the node's subscriptions match every publisher (else early messages vanish)."""
    deadline = time.monotonic() + 20.0
    while any(p.get_subscription_count() == 0 for p in publishers):
        assert time.monotonic() < deadline, "the node's subscriptions never matched"
        peer.spin(0.05)


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(2)
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


@pytest.mark.ros
@pytest.mark.sim
def test_tracker_node_needs_consistent_camera_info(ros_env, venv_bin) -> None:
    client = BulletClient(connection_mode=pybullet.DIRECT)
    world = BaodingWorld(client, load_baoding_config())
    world.step(300)
    frame = world.render_stereo()
    truth = (world.ball_states().position - world.camera.left_position) @ world.camera.world_R_left
    infos = camera_info_msgs(world.camera)
    frames = world.camera.frame_ids()
    client.disconnect()

    proc = _start(venv_bin, ros_env, "ball_tracker")
    peer = Peer(int(ros_env["ROS_DOMAIN_ID"]))
    try:
        peer.listen(PoseArray, "balls/detections")
        imgs = [peer.node.create_publisher(Image, f"stereo/{s}/image_raw", SENSOR_QOS) for s in ("left", "right")]
        info_pubs = [peer.node.create_publisher(CameraInfo, f"stereo/{s}/camera_info", CAMERA_INFO_QOS)
                     for s in ("left", "right")]
        _wait_matched(peer, [*imgs, *info_pubs])
        k = [0]

        def send(with_info: bool, right_width: int = 280, encoding: str = "rgb8") -> None:
            k[0] += 1
            stamp = to_time_msg(k[0] / 30.0)
            if with_info:
                for pub, info, w in zip(info_pubs, infos, (280, right_width)):
                    info.header.stamp, info.width = stamp, w
                    pub.publish(info)
            for pub, f, img in zip(imgs, frames, (frame.left, frame.right)):
                msg = image_msg(stamp, f, img)
                msg.encoding = encoding
                pub.publish(msg)
            peer.spin(0.05)

        for _ in range(40):  # 2 s of images, no camera_info: nothing may come out
            send(False)
        assert peer.received["balls/detections"] == []
        for _ in range(20):  # inconsistent pair (right image width 320 in its camera_info)
            send(True, right_width=320)
        assert peer.received["balls/detections"] == []
        for _ in range(20):  # consistent calibration, but an encoding the tracker cannot read
            send(True, encoding="mono16")
        assert peer.received["balls/detections"] == []
        deadline = time.monotonic() + 10.0
        while len(peer.received["balls/detections"]) < 5 and time.monotonic() < deadline:
            send(True)
        got = peer.received["balls/detections"]
        assert len(got) >= 5, "no detections once camera_info is consistent"
        last = got[-1]
        assert last.header.frame_id == "stereo_left_optical_frame" and len(last.poses) == 2
        pos = np.array([[p.position.x, p.position.y, p.position.z] for p in last.poses])
        assert np.linalg.norm(pos - truth, axis=1).max() < 0.004
        assert proc.poll() is None, "the tracker died on bad input"
    finally:
        peer.close()
        log = _stop(proc)
    assert "no camera_info" in log
    assert "inconsistent camera_info" in log and "width/height" in log
    assert "unsupported encoding 'mono16'" in log


def _ball_diagnostics(msg: DiagnosticArray) -> dict[str, dict]:
    """ball_i -> its status values and level, from the estimator's /diagnostics message."""
    out = {}
    for i in range(2):
        status = find_status(msg, f"ball_state_estimator: ball_{i}")
        assert status is not None and status.hardware_id == "stereo_ball_tracker", msg
        out[f"ball_{i}"] = {**status_values(status), "level": level_of(status)}
    return out


@pytest.mark.ros
def test_estimator_node_reports_dropout_and_drop(ros_env, venv_bin) -> None:
    proc = _start(venv_bin, ros_env, "ball_state_estimator", "drop_z_m:=0.15", "lost_after_s:=0.3")
    peer = Peer(int(ros_env["ROS_DOMAIN_ID"]))
    try:
        peer.listen(MultiDOFJointState, "balls/state")
        peer.listen(DiagnosticArray, DIAGNOSTICS_TOPIC)
        pub = peer.node.create_publisher(PoseArray, "balls/detections", SENSOR_QOS)
        _wait_matched(peer, [pub])
        k = [0]

        def send(b0, b1) -> None:
            k[0] += 1
            msg = PoseArray()
            msg.header.stamp, msg.header.frame_id = to_time_msg(k[0] / 30.0), "world"
            for p in (b0, b1):
                pose = Pose()
                pose.position.x, pose.position.y, pose.position.z = p
                msg.poses.append(pose)
            pub.publish(msg)
            peer.spin(0.03)

        deadline = time.monotonic() + 10.0
        while not peer.received["balls/state"] and time.monotonic() < deadline:
            send((0.0, 0.0, 0.21), (0.05, 0.0, 0.21))
        assert peer.received["balls/state"], "estimator never answered"
        for _ in range(10):
            send((0.0, 0.0, 0.21), (0.05, 0.0, 0.21))
        nan = (math.nan, math.nan, math.nan)
        for _ in range(20):  # ball 1 out of view for 20 frames = 0.67 s > lost_after_s
            send((0.0, 0.0, 0.21), nan)
        peer.spin(0.3)
        status = [_ball_diagnostics(m) for m in peer.received[DIAGNOSTICS_TOPIC]]
        last = status[-1]
        assert (last["ball_0"]["status"], last["ball_1"]["status"]) == ("tracking", "lost")
        assert (last["ball_0"]["level"], last["ball_1"]["level"]) == (OK, ERROR)
        # Covariance of the lost ball grew while it was out of view (position std, x).
        tracked = [float(d["ball_1"]["position_std_x_m"]) for d in status if d["ball_1"]["status"] == "tracking"]
        assert float(last["ball_1"]["position_std_x_m"]) > 3 * tracked[-1]
        for _ in range(8):  # ball 0 now seen falling below drop_z_m: reported dropped
            send((0.0, 0.0, 0.21 - 0.02 * _), nan)
        peer.spin(0.3)
        assert _ball_diagnostics(peer.received[DIAGNOSTICS_TOPIC][-1])["ball_0"]["status"] == "dropped"
        p, _v = ball_state_arrays(peer.received["balls/state"][-1])
        assert np.isfinite(p).all()  # the lost ball keeps a (predicted) estimate, never frozen as NaN
    finally:
        peer.close()
        log = _stop(proc)
    assert "ball_1 lost" in log and "ball_0 dropped" in log
