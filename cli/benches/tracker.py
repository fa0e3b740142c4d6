"""``anima bench tracker``: accuracy, speed and latency of stereo ball tracking on the Baoding scene.

Measured in one run (~30 s), on images rendered by :class:`BaodingWorld` (280x180, hand present):

* ``error_mm_rms`` / ``error_mm_rms_occluded``: 3D error of the tracker against ground truth for
  balls placed at random over the palm, without and with a skin-coloured finger-sized capsule
  lying across each ball (issue targets 2 mm and 5 mm);
* ``baseline_centroid_error_mm_rms[_occluded]``: the reference, triangulating the colour-mask
  centroids instead of the sphere-cone fit, on the same images;
* ``filtered_error_mm_rms`` and ``velocity_rmse_mps``: tracker + Kalman filter on balls moving on
  PDDM's Baoding target ellipse (radii 0.02 x 0.036 m, 6 s per turn), 30 Hz;
* ``pairs_per_s``: tracker steps per second on one core (OpenCV limited to one thread);
* ``latency_ms_p50/p99``: wall time from publishing a stereo pair to receiving ``balls/state``,
  through the real ``ball_tracker`` and ``ball_state_estimator`` nodes over DDS, all in this
  process on one executor (``--no-ros`` skips it).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

HELP = "ball tracker accuracy (visible/occluded), pairs per second and image -> balls/state latency"
SKIN = (0.87, 0.72, 0.60, 1.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, default=60, help="random placements per accuracy test")
    parser.add_argument("--latency-pairs", type=int, default=300, help="stereo pairs sent through ROS")
    parser.add_argument("--no-ros", action="store_true", help="skip the ROS latency measurement")


def _scene():
    import pybullet
    from pybullet_utils.bullet_client import BulletClient

    from anima.controllers.ball_tracker import BallTracker, BallTrackerConfig
    from anima.controllers.triangulation import StereoCalibration
    from anima.sim_bridge.baoding_world import BaodingWorld, load_baoding_config

    client = BulletClient(connection_mode=pybullet.DIRECT)
    world = BaodingWorld(client, load_baoding_config())
    cfg = world.camera.config
    cal = StereoCalibration(*world.camera.projection_matrices(), cfg.width_px, cfg.height_px)
    return client, world, BallTracker(BallTrackerConfig(), cal)


def _truth_cam(world) -> np.ndarray:
    return (world.ball_states().position - world.camera.left_position) @ world.camera.world_R_left


def _centroid_baseline(tracker, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    import cv2

    from anima.controllers.ball_tracker import _mask
    from anima.controllers.triangulation import triangulate

    cal, out = tracker.calibration, []
    uv = []
    for img in (left, right):
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        row = []
        for color in tracker.config.colors:
            m = cv2.moments(_mask(hsv, color), binaryImage=True)
            row.append([m["m10"] / m["m00"], m["m01"] / m["m00"]] if m["m00"] > 0 else [np.nan, np.nan])
        uv.append(np.array(row))
    for i in range(len(tracker.config.colors)):
        out.append(triangulate(cal.P_left, cal.P_right, uv[0][i:i + 1], uv[1][i:i + 1])[0])
    return np.array(out)


def _accuracy(world, tracker, rng, n: int, occlude: bool) -> tuple[float, float, float, list]:
    """(tracker RMS mm, baseline RMS mm, fraction found, rendered pairs)."""
    import pybullet

    c = world.client
    fingers = []
    if occlude:
        vis = c.createVisualShape(pybullet.GEOM_CAPSULE, radius=0.008, length=0.08, rgbaColor=list(SKIN))
        fingers = [c.createMultiBody(0.0, -1, vis, [0, 0, -1]) for _ in world.ball_ids]
    err, base, found, pairs = [], [], [], []
    for _ in range(n):
        pos = np.column_stack([rng.uniform(0.01, 0.11, 2), np.array([-0.03, 0.03]) + rng.uniform(-0.01, 0.01, 2),
                               rng.uniform(0.23, 0.28, 2)])
        for b, p in zip(world.ball_ids, pos):
            c.resetBasePositionAndOrientation(b, list(p), [0, 0, 0, 1])
        for f, p in zip(fingers, pos):
            c.resetBasePositionAndOrientation(f, [p[0] + 0.012, p[1], p[2] + 0.03], c.getQuaternionFromEuler([np.pi / 2, 0, 0]))
        frame = world.render_stereo()
        pairs.append((frame.left, frame.right))
        tracker.reset()
        det = tracker.step(frame.left, frame.right)
        truth = _truth_cam(world)
        err.extend(np.linalg.norm(det.positions - truth, axis=1)[det.found])
        found.extend(det.found)
        base.extend(np.linalg.norm(_centroid_baseline(tracker, frame.left, frame.right) - truth, axis=1))
    for f in fingers:
        c.removeBody(f)
    rms = lambda e: float(np.sqrt(np.nanmean(np.square(e))) * 1e3)  # noqa: E731
    return rms(err), rms(base), float(np.mean(found)), pairs


def _moving(world, tracker) -> tuple[float, float]:
    """Tracker + filter on balls following PDDM's target ellipse at 30 Hz: (pos RMS mm, vel RMSE m/s)."""
    from anima.controllers.ball_filter import BallFilterConfig, BallStateEstimator

    est = BallStateEstimator(BallFilterConfig(n_balls=2))
    tracker.reset()
    w = 2 * np.pi / 6.0
    centre = np.array([0.06, 0.0, 0.225])
    R_cam = world.camera.world_R_left
    pe, ve = [], []
    for k in range(150):
        t = k / 30.0
        phase = w * t + np.array([0.0, np.pi])
        pos = centre + np.column_stack([0.02 * np.cos(phase), 0.036 * np.sin(phase), np.zeros(2)])
        vel = np.column_stack([-0.02 * w * np.sin(phase), 0.036 * w * np.cos(phase), np.zeros(2)])
        for b, p in zip(world.ball_ids, pos):
            world.client.resetBasePositionAndOrientation(b, list(p), [0, 0, 0, 1])
        frame = world.render_stereo()
        out = est.step(t, tracker.step(frame.left, frame.right).positions)
        if t > 1.0:
            pe.append(out.position - _truth_cam(world))
            ve.append(out.velocity - vel @ R_cam)
    return float(np.sqrt(np.mean(np.sum(np.square(pe), axis=-1))) * 1e3), float(np.sqrt(np.mean(np.sum(np.square(ve), axis=-1))))


def _pairs_per_s(tracker, pairs: list, seconds: float = 2.0) -> float:
    import cv2

    cv2.setNumThreads(1)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        left, right = pairs[n % len(pairs)]
        tracker.step(left, right)
        n += 1
    return n / (time.perf_counter() - t0)


def _ros_latency(world, pairs: list, n: int) -> np.ndarray:
    """Wall ms from publishing a pair (left image first) to receiving the matching balls/state."""
    from anima.ros_env import apply_network_rule

    apply_network_rule(os.environ)  # `anima bench` also claimed this run's ROS_DOMAIN_ID
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import CameraInfo, Image, MultiDOFJointState

    from anima.ros_nodes._bridge_baoding import CAMERA_INFO_QOS, camera_info_msgs, image_msg
    from anima.ros_nodes._common import SENSOR_QOS, STREAM_QOS, stamp_key, to_time_msg
    from anima.ros_nodes.ball_state_estimator import BallStateEstimatorNode
    from anima.ros_nodes.ball_tracker import BallTrackerNode

    rclpy.init(args=[])
    try:
        nodes = [BallTrackerNode(), BallStateEstimatorNode(), Node("tracker_bench_driver")]
        driver = nodes[2]
        img_pubs = [driver.create_publisher(Image, f"stereo/{s}/image_raw", STREAM_QOS) for s in ("left", "right")]
        info_pubs = [driver.create_publisher(CameraInfo, f"stereo/{s}/camera_info", CAMERA_INFO_QOS) for s in ("left", "right")]
        infos = camera_info_msgs(world.camera)
        received: dict[int, float] = {}
        driver.create_subscription(MultiDOFJointState, "balls/state",
                                   lambda m: received.__setitem__(stamp_key(m.header.stamp), time.perf_counter()), SENSOR_QOS)
        executor = SingleThreadedExecutor()
        for node in nodes:
            executor.add_node(node)
        frames = world.camera.frame_ids()
        lat = []
        deadline = time.perf_counter() + 5.0  # discovery: send until the pipeline answers
        for k in range(n + 1000):
            stamp = to_time_msg(1.0 + k / 30.0)
            msgs = [image_msg(stamp, f, img) for f, img in zip(frames, pairs[k % len(pairs)])]
            for info, pub in zip(infos, info_pubs):
                info.header.stamp = stamp
                pub.publish(info)
                executor.spin_once(timeout_sec=0.0)
            t0 = time.perf_counter()
            for msg, pub in zip(msgs, img_pubs):
                pub.publish(msg)
            key, end = stamp_key(stamp), time.perf_counter() + 0.2
            while key not in received and time.perf_counter() < end:
                executor.spin_once(timeout_sec=0.01)
            if key in received:
                lat.append((received[key] - t0) * 1e3)
                if len(lat) >= n:
                    break
            elif not lat and time.perf_counter() > deadline:
                raise RuntimeError("no balls/state received: the ROS pipeline did not answer")
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
    finally:
        rclpy.try_shutdown()
    return np.asarray(lat)


def run(args: argparse.Namespace) -> dict:
    client, world, tracker = _scene()
    rng = np.random.default_rng(0)
    err, base, found, pairs = _accuracy(world, tracker, rng, args.samples, occlude=False)
    err_o, base_o, found_o, pairs_o = _accuracy(world, tracker, rng, args.samples, occlude=True)
    filt_mm, vel_rmse = _moving(world, tracker)
    result = {
        "error_mm_rms": round(err, 3), "error_mm_rms_occluded": round(err_o, 3),
        "found_fraction": round(found, 3), "found_fraction_occluded": round(found_o, 3),
        "baseline_centroid_error_mm_rms": round(base, 3), "baseline_centroid_error_mm_rms_occluded": round(base_o, 3),
        "filtered_error_mm_rms": round(filt_mm, 3), "velocity_rmse_mps": round(vel_rmse, 4),
        "pairs_per_s": round(_pairs_per_s(tracker, pairs + pairs_o), 1),
        "image_size": "280x180", "targets": {"error_mm_rms": 2.0, "error_mm_rms_occluded": 5.0,
                                             "pairs_per_s": 200, "latency_ms_p99": 10.0},
    }
    if not args.no_ros:
        lat = _ros_latency(world, pairs, args.latency_pairs)
        result.update({"latency_ms_p50": round(float(np.percentile(lat, 50)), 3),
                       "latency_ms_p99": round(float(np.percentile(lat, 99)), 3), "latency_samples": len(lat)})
    client.disconnect()
    return result
