"""``LaikagoImitationEnv``: the Laikago imitating a reference motion, as a gymnasium environment.

Peng et al., "Learning Agile Robotic Locomotion Skills by Imitating Animals", RSS 2020, Sec. V-VI,
with the settings of the public code's paper branch (FACTS.md "Motion imitation"):

* **Control**: an action is a residual (12 motor angles, ±2π) added to the default motor pose
  (0, 0.67, −1.25) per leg; the absolute target goes through :class:`JointCommandPath`, the same
  code ``pd_controller`` runs (Butterworth filter at the control rate, linear interpolation over the
  substeps evaluated at ``(i + 1) / substeps``, clip to q ± 0.2 rad, PD kp 220 / kd 0.3, 2, 2) at
  every physics step. As under ``pd_controller``, a target more than the robot config's
  ``target_limit_margin`` beyond a joint limit is refused and the last one held
  (``info["target_rejected"]``); nearer ones are clamped to the limit. Physics profiles (:data:`PHYSICS_PROFILES`): ``paper`` is 1 kHz × 33 substeps
  (≈30.3 Hz control) with 9 solver iterations; ``training`` halves the cost (500 Hz × 16 substeps,
  31.25 Hz control; BENCHMARKS.md).
* **Observation**: 160 values built by :class:`anima.models.imitation.observation.ObservationBuilder`
  (the ``imitation_policy`` node uses the same builder), from the world's delayed sensors
  (2 ms observation latency, the original's ``control_latency``).
* **Reward**: :func:`anima.models.imitation.reward.imitation_reward`, five terms.
* **Episode start**: with probability ``ref_state_init_prob`` (0.9) the robot starts in the reference
  state at a random time of the clip; otherwise it starts standing and the reference holds the
  standing pose for ``warmup_s`` (0.25 s, started at a random point of it) before the clip plays.
  The reference's x, y follow the robot at each cycle start (cycle sync).
* **Termination**: a clamped clip is over; a link other than the toes and lower legs touches the
  ground (from the second step on); root position error > 1 m; root rotation error > π/2.
  **Truncation** at the episode length: fixed ``episode_steps``, or the curriculum (20 → 600 env
  steps, linear over 3×10⁷ samples; the trainer tells the env its sample count with
  :meth:`LaikagoImitationEnv.set_curriculum_samples`).
* Domain randomization (``randomize=True``; off by default) samples the world config's ranges
  (``config/sim/laikago_world.yaml``) at every reset, from the episode's seed; ``info["dynamics_mu"]``
  is that draw normalised to [−1, 1] over the ranges (μ of the latent encoder,
  :func:`anima.models.imitation.latent.dynamics_vector`; zeros without randomization).
* ``domain`` (a :class:`~anima.models.adaptation.domain.TargetDomain`, a domain file or a shipped
  domain's name): fixed dynamics applied once, for adaptation and evaluation on a held-out domain.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gymnasium as gym
import numpy as np

from anima.controllers.leg_kinematics import LegKinematics, R_LOAD
from anima.controllers.spatial import quat_rotate
from anima.models.imitation.latent import MU_DIM, dynamics_vector
from anima.models.imitation.observation import (DEFAULT_MOTOR_POSE, OBS_DIM, ObservationBuilder, ReferenceTracker,
                                                body_heading, imu_features, motor_angles, urdf_heading)
from anima.sim_bridge.laikago_world import motor_to_urdf
from anima.models.imitation.reward import (RewardConfig, end_effector_error, imitation_reward, pose_error,
                                           root_pose_error, root_velocity_error, rotation_angle, velocity_error)

__all__ = ["ACTION_BOUND", "LaikagoImitationEnv", "PHYSICS_PROFILES", "curriculum_episode_steps", "imitation_errors",
           "standing_frame", "toes_world"]

ACTION_BOUND = 2.0 * math.pi  # the original's UPPER_BOUND, ±6.2832 rad of residual
# name -> (physics_dt s, substeps per control step, solver iterations)
PHYSICS_PROFILES: dict[str, tuple[float, int, int]] = {
    "paper": (0.001, 33, 9),
    "training": (0.002, 16, 9),
}
OBSERVATION_LATENCY_S = 0.002  # the original's control_latency
ROOT_POSITION_FAIL_M = 1.0
ROOT_ROTATION_FAIL_RAD = 0.5 * math.pi


def standing_frame(world: Any | None = None) -> np.ndarray:
    """The warm-up reference: the robot standing at the origin in the clip file layout (19,): root
    (inertial-frame position at standing height, level URDF-base quaternion) and the standing joints.
    ``world``: a freshly reset ``LaikagoWorld``; None builds one in a private PyBullet client (for
    the ``imitation_policy`` node, which has no world of its own)."""
    if world is None:
        import pybullet
        from pybullet_utils.bullet_client import BulletClient

        from anima.sim_bridge.laikago_world import LaikagoWorld

        client = BulletClient(connection_mode=pybullet.DIRECT)
        try:
            return standing_frame(LaikagoWorld(client))
        finally:
            client.disconnect()
    pos, quat, _, _ = world.root_state()
    return np.concatenate([[0.0, 0.0, pos[2]], quat, world.nominal_pose()])


def toes_world(kinematics: LegKinematics, root_pos: np.ndarray, root_quat: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Toe positions (..., 4, 3) in the world for roots in the file convention, joints (..., 12)."""
    off = kinematics.base_inertial_offset_urdf
    quat_body_rot = np.asarray(root_quat)
    origin = root_pos - quat_rotate(quat_body_rot, np.broadcast_to(off, np.shape(root_pos)))
    feet_urdf = kinematics.foot_positions(joints) @ R_LOAD  # body -> URDF base frame
    q = np.broadcast_to(np.expand_dims(quat_body_rot, -2), feet_urdf.shape[:-1] + (4,))
    return np.expand_dims(origin, -2) + quat_rotate(q, feet_urdf)


def imitation_errors(kinematics: LegKinematics, ref: Any, root: tuple, q: np.ndarray, qd: np.ndarray,
                     end_effector_height_scale: float) -> dict[str, float]:
    """The five error terms of the imitation reward for the reference ``ref`` and the robot's
    ``root`` = (position, URDF quaternion, velocity, angular velocity; file convention, world axes)
    and joints ``q``, ``qd`` (URDF order). Shared by the env and the ROS-side episode score."""
    pos, quat, vel, ang = root
    toes = toes_world(kinematics, np.stack([ref.root_position, pos]), np.stack([ref.root_quat_urdf, quat]),
                      np.stack([ref.joints, q]))
    return {
        "pose": pose_error(ref.joints, q),
        "velocity": velocity_error(ref.joint_velocities, qd),
        "end_effector": end_effector_error(toes[0], ref.root_position, urdf_heading(ref.root_quat_urdf), toes[1], pos,
                                           urdf_heading(quat), end_effector_height_scale),
        "root_pose": root_pose_error(ref.root_position, ref.root_quat_urdf, pos, quat),
        "root_velocity": root_velocity_error(ref.root_linear_velocity, ref.root_angular_velocity, vel, ang),
    }


def curriculum_episode_steps(samples: float, start: int = 20, end: int = 600, over_samples: float = 3e7) -> int:
    """Episode length (env steps) after ``samples`` training samples: linear from ``start`` to ``end``."""
    frac = min(max(float(samples) / over_samples, 0.0), 1.0) if over_samples > 0 else 1.0
    return int(round(start + frac * (end - start)))


class LaikagoImitationEnv(gym.Env):
    """Laikago + reference motion; see the module docstring. ``motion`` is a shipped clip name
    (``dog_pace``) or a JSON path; ``episode_steps`` None uses the curriculum."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        motion: str = "dog_pace",
        profile: str = "paper",
        episode_steps: int | None = None,
        curriculum: tuple[int, int, float] = (20, 600, 3e7),
        ref_state_init_prob: float = 0.9,
        enable_rand_init_time: bool = True,
        warmup_s: float = 0.25,
        enable_cycle_sync: bool = True,
        randomize: bool = False,
        domain: Any = None,
        reward: RewardConfig | None = None,
        render_mode: str | None = None,
    ) -> None:
        import pybullet
        from pybullet_utils.bullet_client import BulletClient

        from anima.controllers.command_path import JointCommandPath
        from anima.controllers.robot_config import load_robot_config
        from anima.models.motion.format import load_motion
        from anima.models.motion.library import find_motion
        from anima.sim_bridge.laikago_world import LaikagoWorld, TOE_LINKS, load_laikago_world_config

        if profile not in PHYSICS_PROFILES:
            raise ValueError(f"LaikagoImitationEnv: profile must be one of {sorted(PHYSICS_PROFILES)}, got {profile!r}")
        if episode_steps is not None and not (isinstance(episode_steps, int) and episode_steps >= 1):
            raise ValueError(f"LaikagoImitationEnv: episode_steps must be None or an int >= 1, got {episode_steps!r}")
        if not 0.0 <= ref_state_init_prob <= 1.0 or not (math.isfinite(warmup_s) and warmup_s >= 0.0):
            raise ValueError("LaikagoImitationEnv: ref_state_init_prob must be in [0, 1] and warmup_s >= 0")
        if randomize and domain is not None:
            raise ValueError("LaikagoImitationEnv: randomize and domain exclude each other (a domain fixes the dynamics)")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"LaikagoImitationEnv: render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.motion_path = find_motion(motion)
        self.motion_name = self.motion_path.stem
        ref = load_motion(self.motion_path)
        if ref.num_joints != 12:
            raise ValueError(f"{self.motion_path}: a Laikago clip has 12 joints, this one has {ref.num_joints}")
        self.profile = profile
        physics_dt, self.substeps, iterations = PHYSICS_PROFILES[profile]
        self.control_dt = physics_dt * self.substeps
        self.episode_steps, self.curriculum = episode_steps, (int(curriculum[0]), int(curriculum[1]), float(curriculum[2]))
        self.ref_state_init_prob, self.enable_rand_init_time = float(ref_state_init_prob), bool(enable_rand_init_time)
        self.warmup_s, self.enable_cycle_sync, self.randomize_dynamics = float(warmup_s), bool(enable_cycle_sync), bool(randomize)
        self.reward_config = reward or RewardConfig()
        self.render_mode = render_mode
        base = load_laikago_world_config()
        lower_legs = tuple(f"{leg}_lower_leg" for leg in ("FR", "FL", "RR", "RL"))
        world_config = dataclasses.replace(base, physics_dt=physics_dt, num_solver_iterations=iterations,
                                           latency_s=OBSERVATION_LATENCY_S, allowed_contact_links=TOE_LINKS + lower_legs)
        self.client = BulletClient(connection_mode=pybullet.DIRECT)
        self.world = LaikagoWorld(self.client, world_config)
        self.domain = self._apply_domain(domain)
        self._mu = np.zeros(MU_DIM)
        robot = load_robot_config("laikago")
        # The filter samples and the interpolation spans one control step of this profile.
        self.robot_config = dataclasses.replace(robot, target_rate_hz=1.0 / self.control_dt,
                                                control_rate_hz=1.0 / physics_dt)
        self.path = JointCommandPath(self.robot_config)
        self.joint_names = tuple(self.world.joint_names)
        self.kinematics = LegKinematics.laikago()
        self.world.reset()
        self.default_frame = standing_frame(self.world)
        # Every reset restores this snapshot and drops the contact caches (_drop_contact_caches), so an
        # episode depends only on its seed, not on the episodes before it.
        self._snapshot = self.client.saveState()
        self.tracker = ReferenceTracker(ref, self.default_frame)
        self.builder = ObservationBuilder(self.tracker, self.control_dt)
        self.action_space = gym.spaces.Box(-ACTION_BOUND, ACTION_BOUND, shape=(12,), dtype=np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float32)
        self._curriculum_samples = 0.0
        self._steps = 0
        self._time0 = 0.0

    def _apply_domain(self, domain: Any) -> Any:
        from anima.models.adaptation.domain import TargetDomain, load_domain
        from anima.sim_bridge.randomization import apply

        if domain is None:
            return None
        if not isinstance(domain, TargetDomain):
            domain = load_domain(domain)
        apply(self.world, domain.params(self.world.nominal_link_masses, self.world.n_joints))
        return domain

    # ------------------------------------------------------------------ episode length
    def set_curriculum_samples(self, samples: float) -> None:
        """Training samples so far (sets the curriculum's episode length from the next step on)."""
        self._curriculum_samples = float(samples)

    @property
    def max_episode_steps(self) -> int:
        if self.episode_steps is not None:
            return self.episode_steps
        start, end, over = self.curriculum
        return curriculum_episode_steps(self._curriculum_samples, start, end, over)

    @property
    def motion_time(self) -> float:
        """Reference time now (negative during a warm-up)."""
        return self._time0 + self._steps * self.control_dt

    # ------------------------------------------------------------------ state
    def _observation(self, imu: Any) -> np.ndarray:
        """The builder's observation now, seen from the (measured) IMU heading, as the node sees it."""
        return self.builder.build(self.motion_time, body_heading(imu.orientation_xyzw)).astype(np.float32)

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        unknown = sorted(set(options or {}) - {"ref_state_init", "motion_time"})
        if unknown:
            raise ValueError(f"LaikagoImitationEnv.reset: unknown option(s) {unknown}; allowed: ref_state_init, motion_time")
        rng = self.np_random
        if self.randomize_dynamics:
            self._mu = dynamics_vector(self.world.randomize(rng), self.world.config.randomization)
        self.client.restoreState(self._snapshot)
        self._drop_contact_caches()
        self.world.reset(rng=rng)
        rsi = bool(rng.uniform() < self.ref_state_init_prob)
        options = options or {}
        rsi = bool(options.get("ref_state_init", rsi))
        warmup = (not rsi) and self.warmup_s > 0.0
        if not self.enable_rand_init_time:
            offset = 0.0
        elif warmup:
            offset = float(rng.uniform(0.0, self.warmup_s))
        else:
            offset = float(rng.uniform(0.0, self.tracker.duration))
        self._time0 = float(options.get("motion_time", offset - (self.warmup_s if warmup else 0.0)))
        self._steps = 0
        pos, quat, _, _ = self.world.root_state()
        self.tracker.reset(self._time0, pos, quat, warmup)
        if rsi:
            ref = self.tracker.state(self._time0)
            self.world.set_joint_state(ref.joints, ref.joint_velocities)
            self.world.set_root_state(ref.root_position, ref.root_quat_urdf, ref.root_linear_velocity,
                                      ref.root_angular_velocity)
        self.path.reset(self.world.true_joints().position)
        joints, imu = self.world.read_joints(), self.world.imu()
        self.builder.reset(motor_angles(joints.position), imu_features(imu.orientation_xyzw, imu.angular_velocity))
        return self._observation(imu), {"ref_state_init": rsi, "warmup": warmup, "motion_time": self._time0,
                                        "dynamics_mu": self._mu.copy()}

    def _drop_contact_caches(self) -> None:
        """``restoreState`` keeps Bullet's persistent ground-contact manifolds (and their warm-start
        impulses) from the episode before, so the first episode after construction stepped
        differently from later ones with the same seed; one collision pass with the robot lifted
        far off the ground drops them, so every episode starts alike."""
        body = self.world.robot_id
        pos, orn = self.client.getBasePositionAndOrientation(body)
        self.client.resetBasePositionAndOrientation(body, [pos[0], pos[1], pos[2] + 100.0], orn)
        self.client.performCollisionDetection()
        self.client.resetBasePositionAndOrientation(body, pos, orn)

    def _run_substeps(self, urdf_target: np.ndarray) -> bool:
        """One control step through the command path; returns whether the target was accepted."""
        world, path, dt = self.world, self.path, self.world.physics_dt
        n = self.substeps
        t0 = self._steps * n * dt
        accepted = path.set_targets(None, urdf_target, t0).accepted
        for i in range(n):
            j = world.true_joints()
            world.apply_torques(path.compute(j.position, j.velocity, t0 + (i + 1) * dt))
            world.step(1)
        return accepted

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=float).reshape(-1)
        if a.shape != (12,) or not np.isfinite(a).all():
            raise ValueError(f"action must be 12 finite residual motor angles, got {action!r}")
        motor_target = DEFAULT_MOTOR_POSE + np.clip(a, -ACTION_BOUND, ACTION_BOUND)
        accepted = self._run_substeps(motor_to_urdf(motor_target))
        self._steps += 1
        t = self.motion_time
        root = self.world.root_state()
        drift = self.tracker.sync(t, root[0]) if self.enable_cycle_sync else None
        joints, imu = self.world.read_joints(), self.world.imu()
        heading = body_heading(imu.orientation_xyzw)
        ref, frames = self.tracker.state_and_frames(t, self.control_dt, heading)
        true = self.world.true_joints()
        errors = imitation_errors(self.kinematics, ref, root, true.position, true.velocity,
                                  self.reward_config.end_effector_height_scale)
        reward, terms = imitation_reward(errors, self.reward_config)
        pos_err = float(np.linalg.norm(ref.root_position - root[0]))
        rot_err = rotation_angle(ref.root_quat_urdf, root[1])
        contacts = self.world.non_foot_ground_contact() if self._steps > 1 else []
        fell = bool(contacts) or pos_err > ROOT_POSITION_FAIL_M or rot_err > ROOT_ROTATION_FAIL_RAD
        terminated = fell or self.tracker.is_over(t)
        truncated = (not terminated) and self._steps >= self.max_episode_steps
        self.builder.push(motor_angles(joints.position), imu_features(imu.orientation_xyzw, imu.angular_velocity),
                          motor_target)
        obs = self.builder.build(t, heading, frames).astype(np.float32)
        info = {"terms": terms, "errors": errors, "fell": fell, "contacts": contacts, "motion_time": t,
                "root_position": root[0].copy(), "ref_root_position": ref.root_position.copy(),
                "pose_error_rad_rms": math.sqrt(errors["pose"] / 12.0), "cycle_drift_m": drift,
                "target_rejected": not accepted}
        return obs, reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        import pybullet

        pos = self.world.root_state()[0]
        view = self.client.computeViewMatrixFromYawPitchRoll(pos.tolist(), 1.2, 40.0, -20.0, 0.0, 2)
        proj = self.client.computeProjectionMatrixFOV(60.0, 4.0 / 3.0, 0.05, 10.0)
        _, _, rgba, _, _ = self.client.getCameraImage(320, 240, view, proj, renderer=pybullet.ER_TINY_RENDERER)
        return np.asarray(rgba, dtype=np.uint8).reshape(240, 320, 4)[:, :, :3]

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.disconnect()
            self.client = None
