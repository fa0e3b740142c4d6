"""The shipped PDDM Baoding model still does its job: an in-process evaluation on fixed seeds.

Measured with 40 episodes (seed 12345, in process, the simulator's ball state, beta 0.4 as the node
plans): ccw success 0.70 (models/pddm/data/baoding_ccw.yaml). This test plans EPISODES ccw episodes
(seeds 12345.., float32 rollouts) and asserts at least MIN_SUCCESSES, a floor far under the measured
rate so that it holds on another CPU (other float summation orders change single episodes): at
p = 0.70 per episode, the chance of fewer than 1 success in 4 is 0.8 %. A model that no longer
turns the balls (a broken loader, a planner or env change) scores 0 and fails.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from anima import share_dir
from anima.controllers.mppi import SamplingPlanner
from anima.models.dynamics_ensemble import DynamicsEnsemble
from anima.models.pddm.config import PDDMTrainConfig
from anima.models.pddm.runtime import SHIPPED_MODEL
from anima.models.pddm.trainer import collect_rollout, node_planner_params, planner_policy
from anima.sim_bridge.envs import make_env

pytestmark = [pytest.mark.sim, pytest.mark.slow]
EPISODES = 4
SEED = 12345
MIN_SUCCESSES = 1


def test_shipped_model_turns_the_balls_ccw_on_fixed_seeds() -> None:
    config = PDDMTrainConfig.from_yaml(share_dir() / "config" / "pddm" / "baoding.yaml")
    node = node_planner_params()  # plan as pddm_planner does (beta 0.4), in float32 for any CPU
    planner_config = dataclasses.replace(config.planner, backend="loop",
                                         **{k: node[k] for k in ("optimizer", "num_samples", "horizon", "gamma", "beta", "sigma")})
    torch.set_num_threads(config.torch_threads)
    env = make_env(config.task, **{**config.env_kwargs, "task": "ccw"})
    try:
        model = DynamicsEnsemble.load(SHIPPED_MODEL, env.observation_space.shape[0], env.action_space.shape[0],
                                      tuple(env.unwrapped.joint_names))
        planner = SamplingPlanner(planner_config, model, env.unwrapped.task, model.action_dim, np.random.default_rng(SEED))
        rollouts = [collect_rollout(env, planner_policy(planner, env), config.rollout_length, seed=SEED + k) for k in range(EPISODES)]
    finally:
        env.close()
    successes = sum(bool(r.success) for r in rollouts)
    rotations = [float(np.degrees(r.rotation_rad)) for r in rollouts if r.rotation_rad is not None]
    summary = f"{successes}/{EPISODES} successes, rotations {[round(x) for x in rotations]} deg"
    print(f"shipped PDDM model, ccw in process: {summary}")
    assert successes >= MIN_SUCCESSES, summary
