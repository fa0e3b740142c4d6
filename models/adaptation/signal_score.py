"""An imitation episode's return from on-robot signals only (for adaptation over ROS, on a robot).

On a robot there is no simulator to ask for the reward, so ``anima adapt --ros`` scores each
episode from what the robot itself measures: joint positions and velocities (``joint_states``),
orientation and angular velocity (``imu/data``) and the state estimator's position and linear
velocity (``odom``), against the reference motion at the policy's motion time
(``imitation_policy/phase``). The terms, weights and scales are the training env's
(:func:`anima.sim_bridge.envs.laikago_imitation.imitation_errors`, :mod:`anima.models.imitation.reward`),
with the reference aligned as the policy aligns it (x, y and heading of the robot at the policy's
start; cycle sync onto the measured root). Termination as in training: root position error > 1 m
or rotation error > π/2. The same scorer fed with the simulator's ground truth gives the
comparison value the ROS procedure reports beside it (never used by the search).

Conventions: ``odom`` and the IMU give the body frame (REP 103) at the body origin; the reference
gives the root in the clip file convention (PyBullet inertial frame, URDF-base quaternion). The
robot's root is moved into that convention with the leg kinematics' fixed offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from anima.controllers.leg_kinematics import LegKinematics
from anima.controllers.spatial import quat_rotate
from anima.models.imitation.observation import ReferenceTracker
from anima.models.imitation.policy_runner import urdf_quat_from_body
from anima.models.imitation.reward import RewardConfig, imitation_reward, rotation_angle
from anima.models.motion.format import ReferenceMotion

__all__ = ["BodyState", "SignalScorer"]

ROOT_POSITION_FAIL_M = 1.0
ROOT_ROTATION_FAIL_RAD = 0.5 * math.pi


@dataclass(frozen=True)
class BodyState:
    """One control step's readings: body-origin position (3,) and world velocity (3,) (odom), body
    orientation xyzw (4,) and body angular velocity (3,) (IMU), joints q, qd (12,) URDF order."""

    position: np.ndarray
    linear_velocity_world: np.ndarray
    orientation_xyzw: np.ndarray
    angular_velocity_body: np.ndarray
    q: np.ndarray
    qd: np.ndarray


class SignalScorer:
    """Per-step imitation reward of a running episode; :meth:`start` at the policy's start."""

    def __init__(self, motion: ReferenceMotion, default_frame: np.ndarray, reward: RewardConfig | None = None) -> None:
        self.tracker = ReferenceTracker(motion, default_frame)
        self.kinematics = LegKinematics.laikago()
        self.reward_config = reward or RewardConfig()
        self.total, self.steps, self.fell = 0.0, 0, False

    def _root(self, s: BodyState) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The robot's root in the file convention: inertial point, URDF quaternion, world velocities."""
        q_urdf = urdf_quat_from_body(np.asarray(s.orientation_xyzw, dtype=float))
        r = quat_rotate(q_urdf, self.kinematics.base_inertial_offset_urdf)  # body origin -> root, world axes
        omega = quat_rotate(np.asarray(s.orientation_xyzw, dtype=float), np.asarray(s.angular_velocity_body, dtype=float))
        return (np.asarray(s.position, dtype=float) + r, q_urdf,
                np.asarray(s.linear_velocity_world, dtype=float) + np.cross(omega, r), omega)

    def start(self, motion_time: float, state: BodyState, warmup: bool) -> None:
        """Align the reference with the robot at the policy's start (motion time, usually −warm-up)."""
        pos, quat, _, _ = self._root(state)
        self.tracker.reset(motion_time, pos, quat, warmup)
        self.total, self.steps, self.fell = 0.0, 0, False

    def step(self, motion_time: float, state: BodyState) -> float:
        """The reward of this control step (0 after a fall, which ends the episode's scoring)."""
        from anima.sim_bridge.envs.laikago_imitation import imitation_errors

        if self.fell:
            return 0.0
        root = self._root(state)
        self.tracker.sync(motion_time, root[0])
        ref = self.tracker.state(motion_time)
        errors = imitation_errors(self.kinematics, ref, root, np.asarray(state.q, dtype=float),
                                  np.asarray(state.qd, dtype=float), self.reward_config.end_effector_height_scale)
        reward, _ = imitation_reward(errors, self.reward_config)
        pos_err = float(np.linalg.norm(ref.root_position - root[0]))
        if pos_err > ROOT_POSITION_FAIL_M or rotation_angle(ref.root_quat_urdf, root[1]) > ROOT_ROTATION_FAIL_RAD:
            self.fell = True
        self.total += reward
        self.steps += 1
        return reward
