"""The planar reacher as a bridge world: the ``sim_bridge`` node's interface over :class:`PlanarReacherWorld`.

The planar two-link reacher (``anima.sim_bridge.envs.planar_reacher``) is numpy physics, not a
PyBullet scene; :class:`ReacherSimWorld` gives it the parts of :class:`anima.sim_bridge.world.World`
the bridge uses (``physics_dt``, ``joint_names``, ``time_s``, ``step``, ``apply_torques``,
``read_joints``, ``true_joints``), so the same bridge node serves it and the same command guard
limits its torques. One bridge physics step is one of the reacher's semi-implicit Euler substeps
(``ReacherConfig.physics_dt``, 5 ms): a torque held for ``substeps`` physics steps is exactly one
``PlanarReacherWorld.step`` of the training environments.

Episodes are drawn as the training environments draw them, with the same generator calls in the
same order, so a seed gives the bridge and the environment the same start and target: SOLAR's task
(:func:`draw_solar_episode`, ``ReacherPixelsEnv.reset``: a fixed target, start angles in a small box)
or PDDM's (:func:`draw_reacher_episode`, ``PlanarReacherEnv.reset``: a random target, random start). ``time_s`` counts simulated time since construction and never goes back (a reset
does not rewind it), so ``/clock`` stays monotonic.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from anima.sim_bridge.envs.planar_reacher import PlanarReacherWorld, ReacherConfig
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig
from anima.sim_bridge.world import JointReading

__all__ = ["EPISODE_DRAWS", "ReacherEpisode", "ReacherSimWorld", "draw_reacher_episode", "draw_solar_episode",
           "fingertip_xy"]


@dataclass(frozen=True)
class ReacherEpisode:
    """Start joint angles (rad, (2,)) and the target (m, (2,)) of one episode."""

    q0: tuple[float, float]
    target_xy: tuple[float, float]


def draw_reacher_episode(rng: np.random.Generator, config: ReacherConfig) -> ReacherEpisode:
    """A random target in the annulus ``config.target_radius`` and random start angles.

    The draws (radius, angle, then both joint angles) are those of ``PlanarReacherEnv.reset``, so
    ``np.random.default_rng(s)`` here and ``env.reset(seed=s)`` give the same episode.
    """
    radius = rng.uniform(*config.target_radius)
    angle = rng.uniform(-np.pi, np.pi)
    q0 = rng.uniform(-np.pi, np.pi, size=2)
    return ReacherEpisode((float(q0[0]), float(q0[1])), (float(radius * np.cos(angle)), float(radius * np.sin(angle))))


def draw_solar_episode(rng: np.random.Generator, config: ReacherPixelsConfig = ReacherPixelsConfig()) -> ReacherEpisode:
    """SOLAR's reacher task: the fixed ``config.target_xy``, start ``initial_q`` +- ``initial_q_noise`` rad.

    The draw is that of ``ReacherPixelsEnv.reset`` (one uniform pair), so seeds agree with the env.
    """
    noise = rng.uniform(-config.initial_q_noise, config.initial_q_noise, size=2)
    q0 = np.asarray(config.initial_q, dtype=np.float64) + noise
    return ReacherEpisode((float(q0[0]), float(q0[1])), (float(config.target_xy[0]), float(config.target_xy[1])))


EPISODE_DRAWS = {"solar": lambda rng, config: draw_solar_episode(rng), "random": draw_reacher_episode}
"""Episode distributions by name: ``solar`` (ReacherPixelsEnv, the default task), ``random`` (PlanarReacherEnv)."""


def fingertip_xy(q: np.ndarray, link_lengths: tuple[float, float]) -> np.ndarray:
    """Forward kinematics of the two-link arm: fingertip (m, (2,)) at joint angles ``q`` (rad)."""
    (l1, l2), q = link_lengths, np.asarray(q, dtype=float)
    return np.array([l1 * np.cos(q[0]) + l2 * np.cos(q[0] + q[1]), l1 * np.sin(q[0]) + l2 * np.sin(q[0] + q[1])])


class ReacherSimWorld:
    """The reacher stepped one physics substep at a time with a held torque (see the module docstring)."""

    def __init__(self, config: ReacherConfig, joint_names: Sequence[str]) -> None:
        if len(joint_names) != 2:
            raise ValueError(f"the planar reacher has 2 joints, got joint names {list(joint_names)}")
        self.config = config
        self.physics_dt = config.physics_dt
        self.joint_names = tuple(joint_names)
        self.steps_per_control = config.substeps
        # One substep per call: PlanarReacherWorld.step then advances exactly one physics_dt.
        self._arm = PlanarReacherWorld(dataclasses.replace(config, substeps=1))
        self._tau = np.zeros(2)
        self._tau_last_step = np.zeros(2)
        self.time_s = 0.0
        self.episode = ReacherEpisode((0.0, 0.0), (config.link_lengths[0], 0.0))

    def reset(self, episode: ReacherEpisode) -> None:
        """Place the arm at rest at ``episode.q0`` and set the target; zero torque until the next command."""
        self._arm.reset(np.asarray(episode.q0, dtype=float))
        self._tau = np.zeros(2)
        self._tau_last_step = np.zeros(2)
        self.episode = episode

    def randomize(self, rng: np.random.Generator) -> dict:
        raise ValueError("the planar reacher world has no domain randomization (randomize:=false)")

    def apply_torques(self, tau: np.ndarray) -> None:
        """Hold ``tau`` (N m, (2,)) from the next step on; clipped to ``config.max_torque`` as the env does."""
        self._tau = np.clip(np.asarray(tau, dtype=float).reshape(2), -self.config.max_torque, self.config.max_torque)

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self._arm.step(self._tau)
            self._tau_last_step = self._tau.copy()
            self.time_s += self.physics_dt

    def read_joints(self) -> JointReading:
        """Exact joint angles, velocities and the torque of the last step (no sensor latency)."""
        return JointReading(self._arm.q.copy(), self._arm.qd.copy(), self._tau_last_step.copy())

    true_joints = read_joints

    def fingertip(self) -> np.ndarray:
        return fingertip_xy(self._arm.q, self.config.link_lengths)

    def distance(self) -> float:
        """Fingertip-to-target distance, m (ground truth)."""
        return float(np.linalg.norm(self.fingertip() - np.asarray(self.episode.target_xy)))

    def success(self) -> bool:
        return self.distance() < self.config.success_distance
