"""Planar reacher adapter of the sim_bridge node: top-view camera, target ground truth, ``sim/reset``.

The world is :class:`anima.sim_bridge.reacher_world.ReacherSimWorld` (the numpy two-link arm of the
training environments, one 5 ms substep per physics step); joint names and the guard's torque limit
(0.1 N m, SOLAR's arm) and watchdog damping come from ``config/robots/reacher.yaml``. Joint torques arrive on
``joint_commands`` through the bridge's command guard, as for every robot.

At ``camera_rate_hz`` of sim time it publishes, with the same stamp:

- ``camera/image_raw`` (sensor_msgs/Image, rgb8, ``camera_size_px`` square, 64 by default): the
  top view of ``anima.sim_bridge.envs.reacher_pixels.render_reacher``, the images SOLAR learns from;
- ``camera/camera_info`` (sensor_msgs/CameraInfo: size and frame ``reacher_camera``; the view is
  orthographic, so K and P are zero, which sensor_msgs defines as "uncalibrated").

At ``ground_truth_rate_hz`` (evaluation only, never for a controller), in frame ``world`` (the arm's
base, z = 0 plane): ``sim/ground_truth/objects`` (sensor_msgs/MultiDOFJointState: ``target`` and
``fingertip`` positions) and ``sim/ground_truth/success`` (std_msgs/Bool: fingertip within
``ReacherConfig.success_distance`` of the target).

While the bridge holds the world before the first command (``hold_until_command``), the frozen
arm's frame and ground truth go out at the held stamp every hold period: the planner's answer to
such a frame is the first command, so the world starts stepping only once both directions are
connected, and no frame of an episode is published before the planner can hear it.

The bridge's ``sim/reset`` (std_srvs/Trigger) starts a new episode, drawn as the training environment
draws it (the arm at rest; the bridge's ``seed`` seeds the sequence), zero torque until the next
command; the reply names the start angles and the target.

Parameters: ``episodes`` (str, "solar": SOLAR's task, ``ReacherPixelsEnv`` - the fixed target
(0, 0.12) m, start angles (0, 0) +- 0.2 rad; "random": ``PlanarReacherEnv``'s random target and
start), ``camera_rate_hz`` (float, 20 = 1 / ReacherConfig.control_dt), ``camera_size_px`` (int, 64),
``ground_truth_rate_hz`` (float, 20), ``camera_antialias`` (bool, false: ``render_reacher``'s anti-aliased edges,
for a model trained with ``env_kwargs.antialias: true``). The reacher has no domain randomization and no video view:
``randomize:=true`` and ``video_path`` are refused.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Transform, Twist
from pybullet_utils.bullet_client import BulletClient
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, MultiDOFJointState
from std_msgs.msg import Bool

from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._bridge_baoding import image_msg
from anima.ros_nodes._common import STREAM_QOS, declare_params
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, render_reacher
from anima.sim_bridge.pacing import steps_every
from anima.sim_bridge.reacher_world import EPISODE_DRAWS, ReacherSimWorld

CAMERA_FRAME = "reacher_camera"


def reacher_objects_msg(stamp: Time, target_xy: np.ndarray, fingertip_xy: np.ndarray) -> MultiDOFJointState:
    """``target`` and ``fingertip`` as translations (m, z = 0), frame ``world``."""
    msg = MultiDOFJointState()
    msg.header.stamp = stamp
    msg.header.frame_id = "world"
    for name, xy in (("target", target_xy), ("fingertip", fingertip_xy)):
        tf = Transform()
        tf.translation.x, tf.translation.y = float(xy[0]), float(xy[1])
        tf.rotation.w = 1.0
        msg.joint_names.append(name)
        msg.transforms.append(tf)
        msg.twist.append(Twist())
    return msg


class ReacherAdapter:
    def __init__(self, node: Node, client: BulletClient) -> None:
        del client  # numpy physics: the bridge's PyBullet client stays empty
        p = declare_params(node, {"episodes": "solar", "camera_rate_hz": 20.0, "camera_size_px": 64,
                                  "ground_truth_rate_hz": 20.0, "camera_antialias": False})
        if p["episodes"] not in EPISODE_DRAWS:
            raise ValueError(f"episodes '{p['episodes']}' is unknown; valid: {', '.join(sorted(EPISODE_DRAWS))}")
        self._draw = EPISODE_DRAWS[p["episodes"]]
        self._antialias = bool(p["camera_antialias"])
        if str(node.get_parameter("video_path").value) not in ("", "none"):
            raise ValueError("video_path: the planar reacher has no 3-D scene to film (record camera/image_raw instead)")
        if not 16 <= int(p["camera_size_px"]) <= 512:
            raise ValueError(f"camera_size_px must be in 16..512, got {p['camera_size_px']}")
        self.robot_config = load_robot_config("reacher")
        self.config = ReacherPixelsConfig().reacher  # the physics and drawing of SOLAR's reacher env
        if not np.allclose(self.robot_config.torque_limit, self.config.max_torque):
            raise ValueError(f"{self.robot_config.source}: torque_limit_nm {self.robot_config.torque_limit.tolist()} differs "
                             f"from the reacher's max_torque {self.config.max_torque} N m")
        self.world = ReacherSimWorld(self.config, self.robot_config.joint_names)
        dt = self.world.physics_dt
        self._camera_every = steps_every(dt, p["camera_rate_hz"], "camera_rate_hz")
        self._gt_every = steps_every(dt, p["ground_truth_rate_hz"], "ground_truth_rate_hz")
        self._size = int(p["camera_size_px"])
        self._node = node
        self._step = 0
        self._info = CameraInfo()
        self._info.header.frame_id = CAMERA_FRAME
        self._info.width = self._info.height = self._size
        self._img_pub = node.create_publisher(Image, "camera/image_raw", STREAM_QOS)
        self._info_pub = node.create_publisher(CameraInfo, "camera/camera_info", STREAM_QOS)
        self._gt_pub = node.create_publisher(MultiDOFJointState, "sim/ground_truth/objects", STREAM_QOS)
        self._success_pub = node.create_publisher(Bool, "sim/ground_truth/success", STREAM_QOS)
        node.get_logger().info(f"planar reacher: camera {self._size}x{self._size} at {p['camera_rate_hz']:g} Hz, "
                               f"physics {1 / dt:g} Hz, torque limit {self.config.max_torque} N m, {p['episodes']} episodes")

    def reset(self, rng: np.random.Generator) -> str:
        """A new episode from ``rng`` (the bridge's, seeded by ``seed``): at start and on ``sim/reset``."""
        self.world.reset(self._draw(rng, self.config))
        ep = self.world.episode
        return (f"new episode: q0 [{ep.q0[0]:.4f}, {ep.q0[1]:.4f}] rad, "
                f"target [{ep.target_xy[0]:.4f}, {ep.target_xy[1]:.4f}] m")

    def on_step(self, stamp: Time) -> None:
        self._step += 1
        if self._step % self._camera_every == 0:
            self._publish_frame(stamp)
        if self._step % self._gt_every == 0:
            self._publish_ground_truth(stamp)

    def on_hold(self, stamp: Time) -> None:
        """While the bridge holds the world before the first command: the frozen arm's frame and ground
        truth, at the held stamp. The planner answers each frame with a command, which starts the world."""
        self._publish_frame(stamp)
        self._publish_ground_truth(stamp)

    def _publish_frame(self, stamp: Time) -> None:
        q = self.world.read_joints().position
        rgb = render_reacher(q, np.asarray(self.world.episode.target_xy), self.config, size=self._size,
                             antialias=self._antialias)
        self._img_pub.publish(image_msg(stamp, CAMERA_FRAME, rgb))
        self._info.header.stamp = stamp
        self._info_pub.publish(self._info)

    def _publish_ground_truth(self, stamp: Time) -> None:
        self._gt_pub.publish(reacher_objects_msg(stamp, np.asarray(self.world.episode.target_xy), self.world.fingertip()))
        self._success_pub.publish(Bool(data=self.world.success()))

    def close(self) -> None:
        pass


def make_adapter(node: Node, client: BulletClient) -> ReacherAdapter:
    return ReacherAdapter(node, client)
