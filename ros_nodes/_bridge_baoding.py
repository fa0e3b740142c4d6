"""Baoding adapter of the sim_bridge node: stereo images, camera_info, ball ground truth, drops.

At ``camera_rate_hz`` of sim time it renders the stereo pair of :class:`BaodingWorld` and
publishes, all with the same stamp:

- ``stereo/{left,right}/image_raw`` (sensor_msgs/Image, rgb8, 280x180, reliable: any subscriber matches);
- ``stereo/{left,right}/camera_info`` (sensor_msgs/CameraInfo, rectified: D = 0, R = I,
  ``P_right`` carries ``Tx = -fx * baseline``; reliable);
- ``sim/ground_truth/balls`` (sensor_msgs/MultiDOFJointState ``ball_0``.., frame ``world``);
- ``sim/ground_truth/balls_dropped`` (std_msgs/String: comma-separated names of dropped balls,
  empty when none).

With a camera latency in the world (``randomize``: 0-40 ms), each capture is published that
much sim time later, still stamped with its capture time.

Parameters: ``world_config`` (str, "" = config/sim/baoding_world.yaml of the package),
``initial_pose`` (str, "standing": named pose of config/robots/shadowhand.yaml),
``camera_rate_hz`` (float, 30), ``image_noise_std`` (float, -1 = the world config's value; pixel
noise std on the 0..255 scale).
"""

from __future__ import annotations

import copy
import dataclasses
from collections import deque

import numpy as np
from builtin_interfaces.msg import Time
from pybullet_utils.bullet_client import BulletClient
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, MultiDOFJointState
from std_msgs.msg import String

from anima.controllers.pose_schedule import named_pose
from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._common import STREAM_QOS, declare_params
from anima.ros_nodes._conversions import ball_state_msg
from anima.sim_bridge.baoding_world import BaodingWorld, load_baoding_config
from anima.sim_bridge.stereo_camera import StereoCamera

CAMERA_INFO_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                             reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)


def image_msg(stamp: Time, frame_id: str, rgb: np.ndarray) -> Image:
    """(H, W, 3) uint8 RGB -> sensor_msgs/Image rgb8."""
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = 3 * msg.width
    msg.data = rgb.tobytes()
    return msg


def camera_info_msgs(camera: StereoCamera) -> tuple[CameraInfo, CameraInfo]:
    """Rectified left/right camera_info (stamps filled in at publish time)."""
    out = []
    for frame, P in zip(camera.frame_ids(), camera.projection_matrices()):
        msg = CameraInfo()
        msg.header.frame_id = frame
        msg.width, msg.height = camera.config.width_px, camera.config.height_px
        msg.distortion_model = "plumb_bob"
        msg.d = [0.0] * 5
        msg.k = camera.config.K.ravel().tolist()
        msg.r = np.eye(3).ravel().tolist()
        msg.p = P.ravel().tolist()
        out.append(msg)
    return out[0], out[1]


class BaodingAdapter:
    def __init__(self, node: Node, client: BulletClient) -> None:
        p = declare_params(node, {"world_config": "", "initial_pose": "standing", "camera_rate_hz": 30.0,
                                  "image_noise_std": -1.0})
        config = load_baoding_config(p["world_config"] or None)
        if p["image_noise_std"] >= 0:
            config = dataclasses.replace(config, camera=dataclasses.replace(config.camera, noise_std=p["image_noise_std"]))
        robot = load_robot_config(config.robot)
        self.robot_config = robot  # the bridge's command guard takes the torque limits and damping from it
        self.world = BaodingWorld(client, config, rest_pose=robot.standing_pose, control_rate_hz=robot.control_rate_hz)
        self._initial = np.asarray(named_pose(robot, p["initial_pose"]), dtype=float)
        if not 0 < p["camera_rate_hz"] <= 1.0 / self.world.physics_dt:
            raise ValueError(f"camera_rate_hz must be in (0, {1.0 / self.world.physics_dt:g}] Hz, got {p['camera_rate_hz']}")
        self._camera_period_s = 1.0 / p["camera_rate_hz"]
        self._next_capture_s = 0.0
        self._infos = camera_info_msgs(self.world.camera)
        self._frames = self.world.camera.frame_ids()
        self._noise_rng = np.random.default_rng(0)
        self._pending: deque = deque()
        self._img_pubs = [node.create_publisher(Image, f"stereo/{s}/image_raw", STREAM_QOS) for s in ("left", "right")]
        self._info_pubs = [node.create_publisher(CameraInfo, f"stereo/{s}/camera_info", CAMERA_INFO_QOS)
                           for s in ("left", "right")]
        self._gt_pub = node.create_publisher(MultiDOFJointState, "sim/ground_truth/balls", STREAM_QOS)
        self._drop_pub = node.create_publisher(String, "sim/ground_truth/balls_dropped", STREAM_QOS)
        node.get_logger().info(f"baoding world: {config.n_balls} balls, stereo "
                               f"{config.camera.width_px}x{config.camera.height_px} at {p['camera_rate_hz']:g} Hz")

    def reset(self, rng: np.random.Generator) -> None:
        self._noise_rng = np.random.default_rng(rng.integers(2**32))
        self.world.reset(joint_positions=self._initial, rng=rng)

    def on_step(self, stamp: Time) -> None:
        # Capture on the first physics step at or after each camera period (any rate works; at
        # 30 Hz and 500 Hz physics the pairs are 32 or 34 ms apart, 33.3 ms on average).
        now = self.world.time_s
        if now + 1e-9 >= self._next_capture_s:
            self._next_capture_s = max(self._next_capture_s + self._camera_period_s, now)
            self._pending.append((now + self.world.camera_latency_s, self._capture(stamp)))
        # Camera latency (domain randomization, 0-40 ms): a pair is published that much sim time
        # after its capture, stamped with the capture time, as a real camera pipeline would.
        while self._pending and self._pending[0][0] <= now + 1e-9:
            self._publish(self._pending.popleft()[1])

    def _capture(self, stamp: Time) -> list:
        frame = self.world.render_stereo(self._noise_rng)
        msgs = []
        for info, frame_id, img in zip(self._infos, self._frames, (frame.left, frame.right)):
            info_msg = copy.deepcopy(info)
            info_msg.header.stamp = stamp
            msgs.append((image_msg(stamp, frame_id, img), info_msg))
        truth = self.world.ball_states()
        dropped = self.world.balls_dropped()
        return [msgs, ball_state_msg(stamp, "world", truth.position, truth.linear_velocity),
                String(data=",".join(f"ball_{i}" for i in np.flatnonzero(dropped)))]

    def _publish(self, captured: list) -> None:
        stereo, truth, dropped = captured
        for (img, info), img_pub, info_pub in zip(stereo, self._img_pubs, self._info_pubs):
            img_pub.publish(img)
            info_pub.publish(info)
        self._gt_pub.publish(truth)
        self._drop_pub.publish(dropped)

    def close(self) -> None:
        pass


def make_adapter(node: Node, client: BulletClient) -> BaodingAdapter:
    return BaodingAdapter(node, client)
