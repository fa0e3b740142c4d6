"""Laikago adapter of the sim_bridge node: IMU, ground truth, contacts.

Publishes ``imu/data`` (sensor_msgs/Imu, frame ``imu_frame_id`` = body frame) at ``imu_rate_hz``,
``sim/ground_truth/odom`` (nav_msgs/Odometry) at ``ground_truth_rate_hz`` and
``sim/ground_truth/non_foot_contacts`` (std_msgs/String: comma-separated links other than the
feet touching the ground, empty when none) at ``contacts_rate_hz``.

Parameters: ``world_config`` (str, "" = the package's config/sim/laikago_world.yaml),
``domain`` (str, "none": a target-domain file or the name of one in config/adaptation/, applied once
at start: fixed dynamics, see ``anima.models.adaptation.domain``; refused together with ``randomize``;
its ``latency_s`` is not applied here: the bridge's ``joint_states`` feed ``pd_controller``'s 500 Hz PD
loop, which on a robot runs next to the motors without that delay, and a 30 ms delay inside that
loop makes the robot jump about (measured); the in-process env delays only the policy's observations),
``initial_pose`` (str, "crouch": a named pose of config/robots/laikago.yaml the robot starts in),
``imu_frame_id`` (str, "imu_link"), ``imu_rate_hz`` (500), ``ground_truth_rate_hz`` (100), ``contacts_rate_hz`` (20).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from pybullet_utils.bullet_client import BulletClient
from rclpy.node import Node
from sensor_msgs.msg import Imu
from std_msgs.msg import String

from anima.controllers.pose_schedule import named_pose
from anima.controllers.robot_config import load_robot_config
from anima.ros_nodes._common import HIGH_RATE_STREAM_QOS, STREAM_QOS, declare_params
from anima.ros_nodes._conversions import diagonal_covariance, imu_msg, odometry_msg
from anima.sim_bridge.laikago_world import LaikagoWorld, load_laikago_world_config
from anima.sim_bridge.pacing import steps_every


class LaikagoAdapter:
    def __init__(self, node: Node, client: BulletClient) -> None:
        spec = {
            "world_config": "",
            "initial_pose": "crouch",
            "domain": "none",
            "imu_frame_id": "imu_link",
            "imu_rate_hz": 500.0,
            "ground_truth_rate_hz": 100.0,
            "contacts_rate_hz": 20.0,
        }
        p = declare_params(node, spec)
        config = load_laikago_world_config(p["world_config"] or None)
        self.world = LaikagoWorld(client, config)
        self.domain = None
        if p["domain"] not in ("", "none"):
            from anima.models.adaptation.domain import load_domain
            from anima.sim_bridge.randomization import apply

            if node.get_parameter("randomize").value:
                raise ValueError("domain and randomize:=true exclude each other (a domain fixes the dynamics)")
            self.domain = load_domain(p["domain"])
            params = self.domain.params(self.world.nominal_link_masses, self.world.n_joints)
            apply(self.world, dataclasses.replace(params, latency_s=None))  # None: the world's nominal latency
            note = (f"; its latency_s {self.domain.latency_s:g} s is not applied over ROS (it would sit inside the "
                    "PD loop)" if self.domain.latency_s > 0 else "")
            node.get_logger().info(f"target domain {self.domain.name}: {self.domain.description}{note}")
        robot = load_robot_config("laikago")
        self.robot_config = robot  # the bridge's command guard takes the torque limits and damping from it
        self._initial = np.asarray(named_pose(robot, p["initial_pose"]), dtype=float)
        dt = self.world.physics_dt
        self._imu_every = steps_every(dt, p["imu_rate_hz"], "imu_rate_hz")
        self._gt_every = steps_every(dt, p["ground_truth_rate_hz"], "ground_truth_rate_hz")
        self._contacts_every = steps_every(dt, p["contacts_rate_hz"], "contacts_rate_hz")
        self._imu_cov = tuple(
            diagonal_covariance(std**2)
            for std in (config.imu_orientation_noise_rad, config.gyro_noise_std, config.accel_noise_std)
        )
        self._step = 0
        self._imu_frame = str(p["imu_frame_id"])
        self._imu_pub = node.create_publisher(Imu, "imu/data", HIGH_RATE_STREAM_QOS)
        self._gt_pub = node.create_publisher(Odometry, "sim/ground_truth/odom", STREAM_QOS)
        self._contacts_pub = node.create_publisher(String, "sim/ground_truth/non_foot_contacts", STREAM_QOS)

    def reset(self, rng: np.random.Generator) -> None:
        self.world.reset(joint_positions=self._initial, rng=rng)

    def on_step(self, stamp: Time) -> None:
        self._step += 1
        if self._step % self._imu_every == 0:
            r = self.world.imu()
            self._imu_pub.publish(
                imu_msg(stamp, self._imu_frame, r.orientation_xyzw, r.angular_velocity, r.linear_acceleration, self._imu_cov)
            )
        if self._step % self._gt_every == 0:
            self._publish_ground_truth(stamp)
        if self._step % self._contacts_every == 0:
            self._contacts_pub.publish(String(data=",".join(self.world.non_foot_ground_contact())))

    def on_hold(self, stamp: Time) -> None:
        """While the bridge holds the world (start-up, ``sim/pause``): the frozen body's ground truth."""
        self._publish_ground_truth(stamp)

    def _publish_ground_truth(self, stamp: Time) -> None:
        g = self.world.ground_truth()
        self._gt_pub.publish(
            odometry_msg(stamp, g.position, g.orientation_xyzw, g.linear_velocity_world, g.angular_velocity_body))

    def close(self) -> None:
        pass


def make_adapter(node: Node, client: BulletClient) -> LaikagoAdapter:
    return LaikagoAdapter(node, client)
