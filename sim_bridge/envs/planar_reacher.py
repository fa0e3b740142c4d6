"""Planar two-link reacher: rigid-body physics in numpy, and its gymnasium environment.

The small, fast task that checks the whole PDDM loop (random data -> ensemble -> MPPI -> more data)
in minutes. The arm moves in a horizontal plane (no gravity): two uniform rods driven by joint
torques, with viscous joint damping, integrated with semi-implicit Euler from the manipulator
equation M(q) qdd + c(q, qd) + b qd = tau (Spong, Hutchinson, Vidyasagar, "Robot Modeling and
Control", Sec. 7.3, two-link planar arm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from anima.controllers.planning_tasks import REACHER_STATE_DIM, ReachTask


@dataclass(frozen=True)
class ReacherConfig:
    """Arm geometry (m, kg), damping (N m s/rad), armature (kg m^2), torque limit (N m), timing (s).

    ``armature`` is a rotor inertia reflected to each joint (MuJoCo's joint ``armature``): it adds to the
    diagonal of M(q) only, so a large armature makes the arm nearly linear and decoupled.
    """

    link_lengths: tuple[float, float] = (0.1, 0.1)
    link_masses: tuple[float, float] = (0.1, 0.1)
    damping: float = 0.01
    armature: float = 0.0
    max_torque: float = 0.02
    physics_dt: float = 0.005
    substeps: int = 10
    episode_steps: int = 40
    success_distance: float = 0.02
    target_radius: tuple[float, float] = (0.05, 0.18)

    def __post_init__(self) -> None:
        if min(self.link_lengths) <= 0 or min(self.link_masses) <= 0:
            raise ValueError(f"ReacherConfig link lengths and masses must be > 0, got {self.link_lengths}, {self.link_masses}")
        if not (self.damping >= 0 and self.armature >= 0 and self.max_torque > 0):
            raise ValueError(f"ReacherConfig damping and armature must be >= 0 and max_torque > 0, got {self.damping}, {self.armature}, {self.max_torque}")
        if self.physics_dt <= 0 or self.substeps < 1 or self.episode_steps < 1:
            raise ValueError("ReacherConfig.physics_dt must be > 0, substeps and episode_steps >= 1")
        if not 0 <= self.target_radius[0] < self.target_radius[1] <= sum(self.link_lengths):
            raise ValueError(f"ReacherConfig.target_radius must be within reach {sum(self.link_lengths)} m, got {self.target_radius}")

    @property
    def control_dt(self) -> float:
        return self.physics_dt * self.substeps


class PlanarReacherWorld:
    """Joint positions q (2,), velocities qd (2,); ``step(tau)`` advances one control period."""

    def __init__(self, config: ReacherConfig = ReacherConfig()) -> None:
        self.config = config
        self.q = np.zeros(2)
        self.qd = np.zeros(2)
        self.time_s = 0.0

    def reset(self, q: np.ndarray, qd: np.ndarray | None = None) -> None:
        self.q = np.asarray(q, dtype=np.float64).copy()
        self.qd = np.zeros(2) if qd is None else np.asarray(qd, dtype=np.float64).copy()
        self.time_s = 0.0

    def accelerations(self, q: np.ndarray, qd: np.ndarray, tau: np.ndarray) -> np.ndarray:
        """qdd from M(q) qdd = tau - c(q, qd) - b qd for two uniform rods (centre of mass mid-link)."""
        (l1, _l2), (m1, m2) = self.config.link_lengths, self.config.link_masses
        lc1, lc2 = 0.5 * l1, 0.5 * self.config.link_lengths[1]
        i1, i2 = m1 * l1**2 / 12.0, m2 * self.config.link_lengths[1] ** 2 / 12.0
        c2, s2 = np.cos(q[1]), np.sin(q[1])
        m11 = m1 * lc1**2 + i1 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * c2) + i2 + self.config.armature
        m12 = m2 * (lc2**2 + l1 * lc2 * c2) + i2
        m22 = m2 * lc2**2 + i2 + self.config.armature
        h = m2 * l1 * lc2 * s2
        coriolis = np.array([-h * (2 * qd[0] * qd[1] + qd[1] ** 2), h * qd[0] ** 2])
        rhs = tau - coriolis - self.config.damping * qd
        det = m11 * m22 - m12 * m12
        return np.array([m22 * rhs[0] - m12 * rhs[1], -m12 * rhs[0] + m11 * rhs[1]]) / det

    def step(self, tau: np.ndarray) -> None:
        tau = np.clip(np.asarray(tau, dtype=np.float64), -self.config.max_torque, self.config.max_torque)
        dt = self.config.physics_dt
        for _ in range(self.config.substeps):
            self.qd = self.qd + dt * self.accelerations(self.q, self.qd, tau)
            self.q = self.q + dt * self.qd
        self.time_s += self.config.control_dt

    def state(self) -> np.ndarray:
        """Model state [cos q1, sin q1, cos q2, sin q2, qd1, qd2] (float32)."""
        q, qd = self.q, self.qd
        return np.array([np.cos(q[0]), np.sin(q[0]), np.cos(q[1]), np.sin(q[1]), qd[0], qd[1]], dtype=np.float32)


class PlanarReacherEnv(gym.Env):
    """Reach a random target each episode. Action: normalized torques in [-1, 1]^2.

    Observation = the model state (6,) of ``planning_tasks.REACHER_STATE_DIM``; the episode's target
    is ``info["target"]`` and ``self.task`` (a ``ReachTask``) is the planner's reward for it.
    ``info["success"]``: fingertip within ``success_distance`` at the last step.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, config: ReacherConfig = ReacherConfig(), render_mode: str | None = "rgb_array") -> None:
        self.config = config
        self.world = PlanarReacherWorld(config)
        self.render_mode = render_mode
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        high = np.array([1, 1, 1, 1, 100, 100], dtype=np.float32)  # |qd| stays < 10 rad/s under max torque
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        self.task = ReachTask((0.1, 0.0), config.link_lengths)
        self.t = 0
        self.control_dt = config.control_dt

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if options:
            raise ValueError(f"PlanarReacherEnv.reset: no options are supported (its one task draws a random target), got {sorted(options)}")
        rng = self.np_random
        radius = rng.uniform(*self.config.target_radius)
        angle = rng.uniform(-np.pi, np.pi)
        self.task = ReachTask((float(radius * np.cos(angle)), float(radius * np.sin(angle))), self.config.link_lengths)
        self.world.reset(rng.uniform(-np.pi, np.pi, size=2))
        self.t = 0
        obs = self.world.state()
        return obs, {"target": np.array(self.task.target_xy), "success": False, "distance": float(self.task.distance(obs))}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        if a.shape != (2,) or not np.isfinite(a).all():
            raise ValueError(f"PlanarReacherEnv.step: action must be 2 finite values, got {action!r}")
        self.world.step(a * self.config.max_torque)
        self.t += 1
        obs = self.world.state()
        reward, _ = self.task.reward(obs, a.astype(np.float32), np.asarray(self.t))
        dist = float(self.task.distance(obs))
        truncated = self.t >= self.config.episode_steps
        info = {"target": np.array(self.task.target_xy), "distance": dist, "success": bool(truncated and dist < self.config.success_distance)}
        return obs, float(reward), False, truncated, info

    def render(self) -> np.ndarray:
        """A 240x240 RGB top view: arm in blue, target in red."""
        import cv2

        size, scale = 240, 240 / (2.4 * sum(self.config.link_lengths))
        img = np.full((size, size, 3), 255, np.uint8)

        def px(p: np.ndarray) -> tuple[int, int]:
            return int(size / 2 + p[0] * scale), int(size / 2 - p[1] * scale)

        q, (l1, l2) = self.world.q, self.config.link_lengths
        elbow = np.array([l1 * np.cos(q[0]), l1 * np.sin(q[0])])
        tip = elbow + l2 * np.array([np.cos(q[0] + q[1]), np.sin(q[0] + q[1])])
        cv2.circle(img, px(np.array(self.task.target_xy)), 6, (220, 40, 40), -1)
        cv2.line(img, px(np.zeros(2)), px(elbow), (40, 80, 200), 4)
        cv2.line(img, px(elbow), px(tip), (40, 80, 200), 4)
        cv2.circle(img, px(np.zeros(2)), 5, (0, 0, 0), -1)
        return img


__all__ = ["ReacherConfig", "PlanarReacherWorld", "PlanarReacherEnv", "REACHER_STATE_DIM"]
