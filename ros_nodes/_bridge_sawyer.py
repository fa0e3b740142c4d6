"""Sawyer adapter of the sim_bridge node: scene camera, object ground truth, success, the gripper.

At ``camera_rate_hz`` of sim time it renders the third-person camera of :class:`SawyerWorld` and
publishes ``camera/image_raw`` (sensor_msgs/Image, rgb8, 64x64 by default; streams are published
reliable, so any subscriber matches) with
``camera/camera_info`` (sensor_msgs/CameraInfo, D = 0, P = K [I | 0]), both with the capture stamp.
At ``ground_truth_rate_hz`` it publishes, all in frame ``world`` (= the arm's ``base_link``):

- ``sim/ground_truth/objects`` (sensor_msgs/MultiDOFJointState: one transform and twist per scene
  object, movable objects first, then fixtures and goal markers; the cloth is its node centroid);
- ``sim/ground_truth/success`` (std_msgs/Bool: the scene's success predicate);
- ``gripper/joint_states`` (sensor_msgs/JointState: both finger positions, m).

It subscribes ``gripper_command`` (sensor_msgs/JointState): ``position[0]`` is the finger position
(m per finger, 0 closed .. 0.04 open) for the name ``right_gripper_l_finger_joint`` (or
``right_gripper``); out-of-range values are clamped with a warning, anything else is refused.

Parameters: ``world_config`` (str, "" = config/sim/sawyer_world.yaml), ``scene`` (str, "reach"),
``initial_pose`` (str, "standing": named pose of config/robots/sawyer.yaml), ``camera_rate_hz``
(float, 20), ``camera_size_px`` (int, 0 = the world config's), ``ground_truth_rate_hz`` (float, 50),
``image_noise_std`` (float, -1 = the world config's).
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Transform, Twist
from pybullet_utils.bullet_client import BulletClient
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState, MultiDOFJointState
from std_msgs.msg import Bool

from anima.controllers.pose_schedule import named_pose
from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._bridge_baoding import image_msg
from anima.ros_nodes._common import COMMAND_QOS, STREAM_QOS, declare_params
from anima.ros_nodes._conversions import joint_state_msg
from anima.sim_bridge.sawyer_world import FINGERS, SawyerWorld, load_sawyer_config

CAMERA_INFO_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                             reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
GRIPPER_NAMES = (FINGERS[0], "right_gripper")


def camera_info_msg(world: SawyerWorld) -> CameraInfo:
    """Calibration of the scene camera (stamp filled in at publish time)."""
    cam = world.camera.config
    msg = CameraInfo()
    msg.header.frame_id = cam.frame_id
    msg.width, msg.height = cam.width_px, cam.height_px
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = cam.K.ravel().tolist()
    msg.r = np.eye(3).ravel().tolist()
    msg.p = world.camera.projection_matrix.ravel().tolist()
    return msg


def objects_msg(stamp: Time, world: SawyerWorld) -> MultiDOFJointState:
    msg = MultiDOFJointState()
    msg.header.stamp = stamp
    msg.header.frame_id = "world"
    for obj in world.object_states():
        tf, tw = Transform(), Twist()
        tf.translation.x, tf.translation.y, tf.translation.z = (float(v) for v in obj.position)
        tf.rotation.x, tf.rotation.y, tf.rotation.z, tf.rotation.w = (float(v) for v in obj.orientation_xyzw)
        tw.linear.x, tw.linear.y, tw.linear.z = (float(v) for v in obj.linear_velocity)
        tw.angular.x, tw.angular.y, tw.angular.z = (float(v) for v in obj.angular_velocity)
        msg.joint_names.append(obj.name)
        msg.transforms.append(tf)
        msg.twist.append(tw)
    return msg


class SawyerAdapter:
    def __init__(self, node: Node, client: BulletClient) -> None:
        p = declare_params(node, {"world_config": "", "scene": "reach", "initial_pose": "standing",
                                  "camera_rate_hz": 20.0, "camera_size_px": 0, "ground_truth_rate_hz": 50.0,
                                  "image_noise_std": -1.0})
        overrides: dict = {"scene": p["scene"]}
        if p["camera_size_px"]:
            overrides["camera_size_px"] = p["camera_size_px"]
        config = load_sawyer_config(p["world_config"] or None, **overrides)
        if p["image_noise_std"] >= 0:
            config = dataclasses.replace(config, camera=dataclasses.replace(config.camera, noise_std=p["image_noise_std"]))
        robot = load_robot_config(config.robot)
        self.robot_config = robot  # the bridge's command guard takes the torque limits and damping from it
        self.world = SawyerWorld(client, config, rest_pose=robot.standing_pose, control_rate_hz=robot.control_rate_hz)
        self._node = node
        self._initial = np.asarray(named_pose(robot, p["initial_pose"]), dtype=float)
        limit = 1.0 / self.world.physics_dt
        for key in ("camera_rate_hz", "ground_truth_rate_hz"):
            if not 0 < p[key] <= limit:
                raise ValueError(f"{key} must be in (0, {limit:g}] Hz, got {p[key]}")
        self._camera_period_s = 1.0 / p["camera_rate_hz"]
        self._gt_period_s = 1.0 / p["ground_truth_rate_hz"]
        self._next_capture_s = self._next_gt_s = 0.0
        self._info = camera_info_msg(self.world)
        self._noise_rng = np.random.default_rng(0)
        self._img_pub = node.create_publisher(Image, "camera/image_raw", STREAM_QOS)
        self._info_pub = node.create_publisher(CameraInfo, "camera/camera_info", CAMERA_INFO_QOS)
        self._gt_pub = node.create_publisher(MultiDOFJointState, "sim/ground_truth/objects", STREAM_QOS)
        self._success_pub = node.create_publisher(Bool, "sim/ground_truth/success", STREAM_QOS)
        self._gripper_pub = node.create_publisher(JointState, "gripper/joint_states", STREAM_QOS)
        node.create_subscription(JointState, "gripper_command", self._on_gripper, COMMAND_QOS)
        cam = config.camera
        node.get_logger().info(f"sawyer world: scene {config.scene}, camera {cam.width_px}x{cam.height_px} "
                               f"at {p['camera_rate_hz']:g} Hz, physics {limit:g} Hz")

    def reset(self, rng: np.random.Generator) -> None:
        self._noise_rng = np.random.default_rng(rng.integers(2**32))
        self.world.reset(joint_positions=self._initial, rng=rng)

    def _on_gripper(self, msg: JointState) -> None:
        log = self._node.get_logger()
        names = list(msg.name)
        if len(names) != len(msg.position) or not names:
            log.warn(f"gripper_command rejected: {len(names)} names but {len(msg.position)} positions",
                     throttle_duration_sec=1.0)
            return
        known = [i for i, n in enumerate(names) if n in GRIPPER_NAMES]
        if not known:
            log.warn(f"gripper_command rejected: no joint named {' or '.join(GRIPPER_NAMES)} in {names}",
                     throttle_duration_sec=1.0)
            return
        value = float(msg.position[known[0]])
        if not math.isfinite(value):
            log.warn(f"gripper_command rejected: non-finite position {value}", throttle_duration_sec=1.0)
            return
        applied = self.world.set_gripper(value)
        if applied != value:
            log.warn(f"gripper_command {value:.4f} m clamped to {applied:.4f} m (0 .. {self.world.gripper_limit_m} m)",
                     throttle_duration_sec=1.0)

    def on_step(self, stamp: Time) -> None:
        now = self.world.time_s
        if now + 1e-9 >= self._next_capture_s:
            self._next_capture_s = max(self._next_capture_s + self._camera_period_s, now)
            info = copy.deepcopy(self._info)
            info.header.stamp = stamp
            self._img_pub.publish(image_msg(stamp, self._info.header.frame_id, self.world.render(self._noise_rng)))
            self._info_pub.publish(info)
        if now + 1e-9 >= self._next_gt_s:
            self._next_gt_s = max(self._next_gt_s + self._gt_period_s, now)
            self._gt_pub.publish(objects_msg(stamp, self.world))
            self._success_pub.publish(Bool(data=bool(self.world.success())))
            self._gripper_pub.publish(joint_state_msg(stamp, FINGERS, self.world.gripper_positions()))

    def close(self) -> None:
        pass


def make_adapter(node: Node, client: BulletClient) -> SawyerAdapter:
    return SawyerAdapter(node, client)
