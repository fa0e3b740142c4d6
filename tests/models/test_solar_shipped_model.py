"""The shipped SOLAR reacher model: it loads as data, carries its provenance, and brings the fingertip
to the target (within the 2 cm tolerance in most episodes) from starts where doing nothing stays far."""

from __future__ import annotations

import numpy as np
import yaml

from anima.models.solar.policy import SolarPolicy, shipped_policy_path
from anima.models.solar.trainer import collect
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsEnv

PATH = shipped_policy_path("reacher")


def test_shipped_reacher_model_loads_with_its_provenance() -> None:
    policy = SolarPolicy.load(PATH, expect_task="reacher", expect_latent_dim=10)
    assert policy.spec["image_size"] == 64 and policy.spec["horizon"] == 50 and policy.spec["action_kind"] == "joint_torque"
    prov = yaml.safe_load(PATH.with_name("reacher.provenance.yaml").read_text())
    for key in ("command", "seed", "episodes_trained", "samples", "wall_time_s", "evaluation"):
        assert prov[key] is not None, key
    assert prov["episodes_trained"] <= 400 and policy.provenance["episodes_trained"] == prov["episodes_trained"]


def test_shipped_reacher_model_reduces_the_distance_to_the_target() -> None:
    policy = SolarPolicy.load(PATH, expect_task="reacher")
    env = ReacherPixelsEnv()
    solar = collect(env, lambda t, image, rng: policy.act(t, policy.encode(image)), 6, 50, np.random.default_rng(7))
    idle = collect(env, lambda t, image, rng: np.zeros(2), 6, 50, np.random.default_rng(7))
    assert solar["distance"].mean() < 0.2 * idle["distance"].mean()
    assert solar["success"].mean() >= 0.5  # the shipped model's own 50-episode evaluation: 0.92 (provenance YAML)
