"""Fixtures of the node tests: SOLAR policy files built for a test.

``solar_policy_file(path, task, k)`` writes an ``anima.models.solar.policy.SolarPolicy`` whose
time-varying controller is the feed-forward ``u_t = k_t`` (``K_t = 0``; the encoder has its initial
random weights): what it does does not depend on the latent, so its effect is known whatever the
frames show. ``reaching_actions(episode)`` gives actions that provably bring the reacher's fingertip
to the target of a bridge episode: a task-space PD law simulated in process with the environment's
physics, from the arm at rest at the start angles, one action per control period.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anima.models.solar.networks import Encoder
from anima.models.solar.policy import SolarPolicy, make_spec
from anima.sim_bridge.envs.planar_reacher import PlanarReacherWorld, ReacherConfig
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig
from anima.sim_bridge.reacher_world import ReacherEpisode, fingertip_xy

LATENT_DIM, IMAGE_SIZE = 10, 64


def reacher_reaching_actions(episode: ReacherEpisode, horizon: int = 50, kp: float = 10.0, kd: float = 0.01,
                             config: ReacherConfig = ReacherPixelsConfig().reacher) -> tuple[np.ndarray, float, float]:
    """Normalized actions (T, 2) of tau = J^T kp (target - tip) - kd qd, with the start and final distance (m)."""
    world = PlanarReacherWorld(config)
    world.reset(np.asarray(episode.q0))
    target, (l1, l2) = np.asarray(episode.target_xy), config.link_lengths
    d0 = float(np.linalg.norm(fingertip_xy(world.q, config.link_lengths) - target))
    actions = np.zeros((horizon, 2))
    for t in range(horizon):
        q = world.q
        s1, c1, s12, c12 = np.sin(q[0]), np.cos(q[0]), np.sin(q[0] + q[1]), np.cos(q[0] + q[1])
        jac = np.array([[-l1 * s1 - l2 * s12, -l2 * s12], [l1 * c1 + l2 * c12, l2 * c12]])
        tau = jac.T @ (kp * (target - fingertip_xy(q, config.link_lengths))) - kd * world.qd
        actions[t] = np.clip(tau / config.max_torque, -1.0, 1.0)
        world.step(actions[t] * config.max_torque)
    return actions, d0, float(np.linalg.norm(fingertip_xy(world.q, config.link_lengths) - target))


def write_feedforward_policy(path: Path, task: str, k: np.ndarray, latent_dim: int = LATENT_DIM,
                             image_size: int = IMAGE_SIZE, control_dt_s: float = 0.05) -> Path:
    """A SolarPolicy file acting ``u_t = k[t]`` (K_t = 0) for ``len(k)`` steps, actions in [-1, 1]."""
    k = np.asarray(k, float)
    horizon, du = k.shape
    reacher = task == "reacher"
    spec = make_spec(task, latent_dim, horizon, control_dt_s, "joint_torque" if reacher else "ee_delta",
                     [-1.0] * du, [1.0] * du, image_size=image_size,
                     torque_limit_nm=ReacherPixelsConfig().reacher.max_torque if reacher else None)
    torch.manual_seed(0)
    policy = SolarPolicy(spec, Encoder(latent_dim, image_size), np.zeros((horizon, du, latent_dim)), k,
                         np.tile(0.25 * np.eye(du), (horizon, 1, 1)))
    policy.save(path)
    return path


@pytest.fixture
def solar_policy_file():
    return write_feedforward_policy


@pytest.fixture
def reaching_actions():
    return reacher_reaching_actions
