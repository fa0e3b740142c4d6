"""ball_tracker: 3D positions of coloured balls from a rectified stereo pair.

Pairs left and right images by identical header stamps, detects each ball by colour with an
occlusion-robust sphere fit, triangulates with the ``camera_info`` projection matrices and
publishes the positions (core: ``anima.controllers.ball_tracker``).

Topics:
- subscribes ``stereo/{left,right}/image_raw`` (sensor_msgs/Image, rgb8 or bgr8, 30-60 Hz) and
  ``stereo/{left,right}/camera_info`` (sensor_msgs/CameraInfo);
- publishes ``balls/detections`` (geometry_msgs/PoseArray) at the camera rate: ``poses[i]`` is
  ball ``i`` (order of ``ball_colors``); a ball not found has NaN position. Orientation is
  identity. ``header.stamp`` = image stamp; ``header.frame_id`` = ``output_frame``, or the left
  camera_info frame when ``output_frame`` is "".

Parameters: ``ball_colors`` (str[], ["red", "blue"]: presets of the core), ``ball_radius_m``
(float, 0.022), ``output_frame`` (str, ""), ``camera_position_m`` (float[3]) and
``camera_orientation_xyzw`` (float[4]): pose of the left optical frame in ``output_frame``
(used only when ``output_frame`` is set; a static extrinsic, as tf2 is not available).

Faults: no or inconsistent camera_info, or images that disagree with it (size, encoding), are
logged (throttled) and nothing is published for that pair.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Pose, PoseArray
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from anima.controllers.ball_tracker import BALL_COLORS, BallTracker, BallTrackerConfig, transform_points
from anima.controllers.spatial import quat_to_matrix
from anima.controllers.triangulation import StereoCalibration
from anima.ros_nodes._common import SENSOR_QOS, STREAM_QOS, declare_params, run_node, stamp_key

_ENCODINGS = {"rgb8": False, "bgr8": True}  # encoding -> needs channel swap


def image_array(msg: Image, topic: str) -> np.ndarray:
    """sensor_msgs/Image (rgb8/bgr8) -> (H, W, 3) uint8 RGB; ValueError naming ``topic`` otherwise."""
    if msg.encoding not in _ENCODINGS:
        raise ValueError(f"{topic}: unsupported encoding '{msg.encoding}' (expected rgb8 or bgr8)")
    h, w, step = msg.height, msg.width, msg.step
    if step < 3 * w or len(msg.data) != step * h:
        raise ValueError(f"{topic}: data size {len(msg.data)} does not match {w}x{h} with step {step}")
    img = np.frombuffer(msg.data, dtype=np.uint8).reshape(h, step)[:, : 3 * w].reshape(h, w, 3)
    return np.ascontiguousarray(img[:, :, ::-1]) if _ENCODINGS[msg.encoding] else img


class BallTrackerNode(Node):
    def __init__(self) -> None:
        super().__init__("ball_tracker")
        p = declare_params(self, {
            "ball_colors": ["red", "blue"], "ball_radius_m": 0.022, "output_frame": "",
            "camera_position_m": [0.0, 0.0, 0.0], "camera_orientation_xyzw": [0.0, 0.0, 0.0, 1.0],
        })
        self._config = self._make_config(p)
        self._output_frame = str(p["output_frame"])
        q = np.asarray(p["camera_orientation_xyzw"], dtype=float)
        t = np.asarray(p["camera_position_m"], dtype=float)
        if q.shape != (4,) or t.shape != (3,) or not np.isfinite(q).all() or np.linalg.norm(q) < 1e-9:
            raise ValueError("camera_orientation_xyzw must be 4 finite numbers (non-zero) and camera_position_m 3")
        self._R, self._t = quat_to_matrix(q), t
        self._info: dict[str, CameraInfo] = {}
        self._tracker: BallTracker | None = None
        self._images: dict[str, dict[int, Image]] = {"left": {}, "right": {}}
        self._pub = self.create_publisher(PoseArray, "balls/detections", STREAM_QOS)
        for side in ("left", "right"):
            self.create_subscription(Image, f"stereo/{side}/image_raw", lambda m, s=side: self._on_image(s, m), SENSOR_QOS)
            self.create_subscription(CameraInfo, f"stereo/{side}/camera_info", lambda m, s=side: self._on_info(s, m), SENSOR_QOS)
        names = ", ".join(c.name for c in self._config.colors)
        self.get_logger().info(f"tracking balls [{names}] r={self._config.ball_radius_m} m, output frame "
                               f"'{self._output_frame or '<left camera frame>'}'")

    @staticmethod
    def _make_config(p: dict) -> BallTrackerConfig:
        colors = []
        for name in p["ball_colors"]:
            if name not in BALL_COLORS:
                raise ValueError(f"ball_colors: unknown colour '{name}', known {sorted(BALL_COLORS)}")
            colors.append(BALL_COLORS[name])
        return BallTrackerConfig(colors=tuple(colors), ball_radius_m=p["ball_radius_m"])

    def _on_info(self, side: str, msg: CameraInfo) -> None:
        old = self._info.get(side)
        self._info[side] = msg
        if old is None or list(old.p) != list(msg.p) or (old.width, old.height) != (msg.width, msg.height):
            self._tracker = None  # calibration changed: rebuild on the next pair

    def _calibrated_tracker(self) -> BallTracker | None:
        if self._tracker is not None:
            return self._tracker
        if len(self._info) < 2:
            self.get_logger().warn("no camera_info on stereo/{left,right}/camera_info yet: publishing nothing",
                                   throttle_duration_sec=2.0)
            return None
        left, right = self._info["left"], self._info["right"]
        try:
            cal = StereoCalibration.from_camera_info(np.asarray(left.p), (left.width, left.height),
                                                     np.asarray(right.p), (right.width, right.height),
                                                     left.header.frame_id)
        except ValueError as err:
            self.get_logger().error(f"inconsistent camera_info, publishing nothing: {err}", throttle_duration_sec=2.0)
            return None
        self._tracker = BallTracker(self._config, cal)
        return self._tracker

    def _on_image(self, side: str, msg: Image) -> None:
        key = stamp_key(msg.header.stamp)
        other = self._images["right" if side == "left" else "left"]
        mate = other.pop(key, None)
        if mate is None:
            buf = self._images[side]
            buf[key] = msg
            while len(buf) > 4:
                buf.pop(next(iter(buf)))
            return
        left, right = (msg, mate) if side == "left" else (mate, msg)
        self._process(left, right)

    def _process(self, left: Image, right: Image) -> None:
        tracker = self._calibrated_tracker()
        if tracker is None:
            return
        try:
            det = tracker.step(image_array(left, "stereo/left/image_raw"), image_array(right, "stereo/right/image_raw"))
        except ValueError as err:
            self.get_logger().error(f"image rejected: {err}", throttle_duration_sec=2.0)
            return
        positions = det.positions
        frame = tracker.calibration.frame_id
        if self._output_frame:
            positions, frame = transform_points(positions, self._R, self._t), self._output_frame
        out = PoseArray()
        out.header.stamp = left.header.stamp
        out.header.frame_id = frame
        for x, y, z in positions:
            pose = Pose()
            pose.position.x, pose.position.y, pose.position.z = float(x), float(y), float(z)
            out.poses.append(pose)
        self._pub.publish(out)


def main(args: list[str] | None = None) -> int:
    return run_node(BallTrackerNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
