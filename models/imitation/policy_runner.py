"""Running an imitation policy on a robot's sensor stream: the ROS-free core of ``imitation_policy``.

Peng et al., RSS 2020, Sec. V: at every control step (≈30 Hz) the policy sees the 160-D
observation and gives a residual added to the default motor pose; the absolute target then goes
through the action filter, interpolation, per-step clip and PD. Here:

* the observation comes from the **same** :class:`~anima.models.imitation.observation.ObservationBuilder`
  and :class:`~anima.models.imitation.observation.ReferenceTracker` the training env uses, fed in the
  same order (reset with the first readings, then push the newest readings and the last absolute
  motor target before every build);
* the reference clip's phase runs on its own clock: motion time = start offset + (now − start),
  with ``now`` from the caller's clock (the node clock, so sim time under the simulator), not a
  count of messages or ticks, so late or dropped sensor samples do not slow the reference;
* the output is the absolute target in URDF joint order; ``pd_controller`` runs the env's command
  path (:class:`~anima.controllers.command_path.JointCommandPath`: Butterworth filter,
  interpolation, clip, PD), so node and env share one filter.

Before the policy starts, the runner can bring the robot to the default standing pose
(``rise_s``, smooth step from the first measured pose; a real robot starts lying down) and hold it
(``settle_s``). The stand-up's clock advances by at most ``stand_max_step_s`` per call: a caller
that stalls (a node starved of CPU while it starts late) resumes the stand-up where it left it
instead of jumping ahead along the schedule to a pose far from the robot's. The policy then starts as the env's non-reference-state-init episodes do: the
reference holds the standing pose for ``warmup_s`` and then plays the clip from its start.

Cycle sync (the env moves the reference's x, y onto the robot at each cycle start) is not needed
here: the observation's target frames are relative to the reference root, so the reference's x, y
offset cancels; the heading is aligned at start from the IMU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol

import numpy as np
from scipy.spatial.transform import Rotation

from anima.controllers.leg_kinematics import R_LOAD, laikago_motor_to_urdf
from anima.controllers.pose_schedule import smooth_step
from anima.controllers.spatial import quat_multiply
from anima.models.imitation.observation import (DEFAULT_MOTOR_POSE, OBS_DIM, ObservationBuilder, ReferenceTracker,
                                                body_heading, imu_features, motor_angles)
from anima.models.motion.format import ReferenceMotion

__all__ = ["ACTION_BOUND", "Policy", "RunnerConfig", "ImitationRunner", "urdf_quat_from_body"]

ACTION_BOUND = 2.0 * math.pi  # the original's UPPER_BOUND on the residual (rad)
_R_LOAD_QUAT = Rotation.from_matrix(R_LOAD).as_quat()  # xyzw of the URDF load rotation Euler(pi/2, 0, pi/2)


class Policy(Protocol):
    """What the runner needs of a loaded policy (``anima.models.imitation.policy.ImitationPolicy``)."""

    obs_dim: int
    action_dim: int
    spec: Mapping[str, Any]

    def act(self, obs: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class RunnerConfig:
    """Seconds. ``control_dt_s``: the policy's control step (its training profile's);
    ``stand_max_step_s``: the most the stand-up's clock advances in one call."""

    control_dt_s: float
    warmup_s: float = 0.25
    rise_s: float = 0.0
    settle_s: float = 0.0
    stand_max_step_s: float = 0.1

    def __post_init__(self) -> None:
        for name in ("control_dt_s", "stand_max_step_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0, got {value}")
        for name in ("warmup_s", "rise_s", "settle_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be >= 0, got {value}")


def urdf_quat_from_body(quat_body: np.ndarray) -> np.ndarray:
    """REP-103 body orientation (IMU) -> y-up URDF-base orientation (clip convention), xyzw."""
    return quat_multiply(np.asarray(quat_body, dtype=float), _R_LOAD_QUAT)


class ImitationRunner:
    """Phase clock + shared observation builder + policy -> absolute URDF joint targets.

    Call :meth:`step` at the control rate with the latest sensor readings and the clock's time;
    it returns the targets to publish (URDF order, 12). ``frame``: the warm-up reference (19,),
    default the env's ``standing_frame()``.
    """

    def __init__(self, policy: Policy, motion: ReferenceMotion, config: RunnerConfig,
                 frame: np.ndarray | None = None) -> None:
        if policy.obs_dim != OBS_DIM or policy.action_dim != 12:
            raise ValueError(f"policy takes {policy.obs_dim} observations and gives {policy.action_dim} actions; "
                             f"the imitation observation has {OBS_DIM} and the Laikago 12 joints")
        self.policy = policy
        self.config = config
        if frame is None:  # the env's warm-up pose (standing at the origin), without a world of our own
            from anima.sim_bridge.envs.laikago_imitation import standing_frame

            frame = standing_frame()
        self.tracker = ReferenceTracker(motion, frame)
        self.builder = ObservationBuilder(self.tracker, config.control_dt_s)
        self._t0: float | None = None  # first readings
        self._stand_clock = 0.0  # stand-up time: advances by at most stand_max_step_s per call
        self._last_now = 0.0
        self._policy_t0: float | None = None  # policy start (motion time -warmup_s)
        self._start_pose: np.ndarray | None = None
        self._last_motor_target: np.ndarray | None = None
        self.last_observation: np.ndarray | None = None

    def restart(self) -> None:
        """Start over from the next readings: stand-up from the measured pose, settle, warm-up, clip
        from its start (a new episode after the robot was reset, e.g. during adaptation)."""
        self._t0 = self._policy_t0 = self._start_pose = self._last_motor_target = None
        self.last_observation = None

    @property
    def policy_started(self) -> bool:
        return self._policy_t0 is not None

    def motion_time(self, now_s: float) -> float | None:
        """Motion time of the reference at ``now_s`` (negative during the warm-up); None before the policy starts."""
        if self._policy_t0 is None:
            return None
        return -self.config.warmup_s + (now_s - self._policy_t0)

    def phase(self, now_s: float) -> float | None:
        """Cycle phase in [0, 1) of the reference at ``now_s`` (0 during the warm-up)."""
        t = self.motion_time(now_s)
        return None if t is None else self.tracker.phase(max(t, 0.0))

    def step(self, now_s: float, joints_urdf: np.ndarray, quat_body: np.ndarray,
             gyro_body: np.ndarray) -> np.ndarray:
        """Targets (12,) URDF order for the readings at ``now_s`` (joints URDF order, IMU body frame)."""
        q = np.asarray(joints_urdf, dtype=float)
        if q.shape != (12,) or not np.isfinite(q).all():
            raise ValueError(f"joint positions: expected 12 finite values, got {joints_urdf!r}")
        if self._t0 is None:
            self._t0, self._start_pose, self._last_now = now_s, q.copy(), now_s
            self._stand_clock = 0.0  # also after restart()
        self._stand_clock += min(max(now_s - self._last_now, 0.0), self.config.stand_max_step_s)
        self._last_now = now_s
        if self._policy_t0 is None and self._stand_clock < self.config.rise_s + self.config.settle_s:
            return self._stand_target(self._stand_clock)
        motor = motor_angles(q)
        imu = imu_features(quat_body, gyro_body)
        if self._policy_t0 is None:
            self._policy_t0 = now_s
            self.tracker.reset(-self.config.warmup_s, np.zeros(3), urdf_quat_from_body(quat_body),
                               warmup=self.config.warmup_s > 0)
            self.builder.reset(motor, imu)
        else:
            self.builder.push(motor, imu, self._last_motor_target)
        obs = self.builder.build(self.motion_time(now_s), body_heading(quat_body))
        self.last_observation = obs
        action = np.asarray(self.policy.act(obs), dtype=float).reshape(-1)
        if action.shape != (12,) or not np.isfinite(action).all():
            raise ValueError(f"policy gave {action!r}, expected 12 finite values")
        self._last_motor_target = DEFAULT_MOTOR_POSE + np.clip(action, -ACTION_BOUND, ACTION_BOUND)
        return laikago_motor_to_urdf(self._last_motor_target)

    def _stand_target(self, elapsed: float) -> np.ndarray:
        stand = laikago_motor_to_urdf(DEFAULT_MOTOR_POSE)
        if self.config.rise_s <= 0:
            return stand
        u = float(smooth_step(min(elapsed / self.config.rise_s, 1.0)))
        return (1.0 - u) * self._start_pose + u * stand


def resolve_motion(name: str) -> Path:
    """A clip file, a shipped clip name (``dog_pace``) or its short form (``pace``)."""
    from anima.models.motion.library import find_motion

    try:
        return find_motion(name)
    except ValueError:
        if "/" not in name and not name.endswith(".json"):
            try:
                return find_motion(f"dog_{name}")
            except ValueError:
                pass
        raise


def resolve_policy(policy: str, motion_name: str) -> Path:
    """``shipped`` -> the shipped policy for the clip (the trainer's ``resolve_policy_path``:
    ``models/imitation/data/<clip>.pt``); else a path."""
    from anima.models.imitation.evaluate import resolve_policy_path

    path = resolve_policy_path(policy, motion_name)
    if not path.is_file():
        raise ValueError(f"{policy}: no such policy file")
    return path


def load_policy(policy: str, motion_name: str) -> Policy:
    """Load and check a policy for ``motion_name`` with the trainer's loader (one-line ValueError
    naming the file and what differs: motion, robot, observation or action size; corrupt files)."""
    from anima.models.imitation.policy import ImitationPolicy

    return ImitationPolicy.load(resolve_policy(policy, motion_name), motion=motion_name, obs_dim=OBS_DIM, action_dim=12)
