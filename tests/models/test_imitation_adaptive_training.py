"""Adaptive (π(a|s,z) + E(z|μ)) and robust imitation training: randomized dynamics seeded per episode,
the encoder trained jointly through PPO's loss with the KL bottleneck, and the policy file saying
whether it has z (Peng et al., RSS 2020, Sec. VI-A)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from anima.models.imitation.config import ImitationTrainConfig
from anima.models.imitation.latent import MU_DIM
from anima.models.imitation.observation import OBS_DIM
from anima.models.imitation.policy import ImitationPolicy, load_policy_file
from anima.models.imitation.rollout import RolloutWorker
from anima.models.imitation.trainer import ImitationTrainer

CHEAP = {"profile": "training", "video_every": 0, "keep_checkpoint_every": 0, "ppo.steps_per_batch": 64,
         "ppo.minibatch_size": 32, "ppo.learning_rate": 1e-3, "ppo.epochs": 2, "latent.encoder_net": [16]}
ADAPTIVE = {**CHEAP, "env_kwargs": {"episode_steps": 8, "randomize": True}, "latent.dim": 8}


def _train(run_dir, changes, iterations=2):
    config = ImitationTrainConfig(motion="dog_pace").replace(**changes)
    trainer = ImitationTrainer(config, run_dir, log=lambda _m: None)
    history = trainer.run(max_iterations=iterations)
    return trainer, history


@pytest.fixture(scope="module")
def adaptive(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("adaptive_run")
    return _train(run_dir, ADAPTIVE)


def test_adaptive_run_trains_the_encoder_jointly_and_logs_the_kl(adaptive):
    trainer, history = adaptive
    state = load_policy_file(trainer.run_dir / "checkpoint.pt")
    assert state["spec"]["latent_dim"] == 8 and state["spec"]["randomized"] is True
    enc = {k: v for k, v in state["policy"].items() if k.startswith("features_extractor.encoder.")}
    assert enc, "no encoder weights in the checkpoint"
    # The encoder moved from its initialisation: PPO's loss reaches it through z.
    fresh = ImitationTrainer(trainer.config, trainer.run_dir / "fresh", log=lambda _m: None)
    init = fresh.model.policy.state_dict()
    assert any(not torch.equal(v, init[k]) for k, v in enc.items())
    assert all(h["kl_mean"] is not None and h["kl_mean"] >= 0 for h in history)
    assert state["policy"]["mlp_extractor.policy_net.0.weight"].shape[1] == OBS_DIM + 8


def test_adaptive_policy_file_takes_z_and_its_action_depends_on_z(adaptive):
    trainer, _ = adaptive
    policy = ImitationPolicy.load(trainer.run_dir / "checkpoint.pt", motion="dog_pace", obs_dim=OBS_DIM)
    assert policy.latent_dim == 8 and np.all(policy.z == 0)  # the prior mean until adapted
    obs = np.random.default_rng(0).normal(size=OBS_DIM)
    a0 = policy.act(obs)
    policy.set_z(np.full(8, 2.0))
    assert not np.allclose(policy.act(obs), a0)
    with pytest.raises(ValueError, match="8 finite values"):
        policy.set_z([1.0, 2.0])


def test_a_policy_without_z_refuses_z(make_policy_file):
    policy = ImitationPolicy.load(make_policy_file("plain.pt"))
    assert policy.latent_dim == 0
    with pytest.raises(ValueError, match="without a latent dynamics code z"):
        policy.set_z(np.zeros(8))


def test_robust_run_randomizes_without_z(tmp_path):
    trainer, _ = _train(tmp_path, {**CHEAP, "env_kwargs": {"episode_steps": 8, "randomize": True}}, iterations=1)
    spec = load_policy_file(trainer.run_dir / "checkpoint.pt")["spec"]
    assert spec["latent_dim"] == 0 and spec["randomized"] is True


def test_worker_draws_mu_from_the_episode_seed_and_one_eps_per_episode():
    kwargs = dict(env_kwargs={"motion": "dog_pace", "profile": "training", "episode_steps": 3, "randomize": True},
                  seed=7, index=0, net_arch=(16,), action_std=0.125, gamma=0.95, obs_clip=5.0, latent_dim=8,
                  beta=1e-3, encoder_net=(16,))
    a, b = RolloutWorker(**kwargs), RolloutWorker(**kwargs)
    try:
        weights = {k: v.numpy() for k, v in a.policy.state_dict().items()}
        args = (weights, np.zeros(OBS_DIM), np.ones(OBS_DIM), 6, 0.0)
        seg_a, seg_b = a.collect(*args), b.collect(*args)
        np.testing.assert_array_equal(seg_a.obs, seg_b.obs)  # same seed, same μ and ε
        latent = seg_a.obs[:, OBS_DIM:]
        assert latent.shape == (6, MU_DIM + 8)
        # two 3-step episodes: [μ, ε] constant within each, different between them
        assert np.all(latent[0] == latent[2]) and np.all(latent[3] == latent[5]) and not np.all(latent[0] == latent[3])
        assert np.abs(latent[:, :MU_DIM]).max() <= 1.0  # μ of draws inside the training ranges
    finally:
        a.close()
        b.close()


def test_latent_without_randomization_is_refused():
    with pytest.raises(ValueError, match="randomize"):
        ImitationTrainConfig().replace(**{"latent.dim": 8})


def test_cli_adaptive_and_robust_flags():
    from anima.main import build_parser
    from anima.models.imitation.command import _overrides

    with pytest.raises(SystemExit):  # exclusive
        build_parser().parse_args(["train", "imitation", "--adaptive", "--robust"])
    adaptive = _overrides(build_parser().parse_args(["train", "imitation", "--adaptive"]))
    assert adaptive["latent.dim"] == 8 and adaptive["env_kwargs"]["randomize"] is True
    robust = _overrides(build_parser().parse_args(["train", "imitation", "--robust"]))
    assert "latent.dim" not in robust and robust["env_kwargs"]["randomize"] is True
    assert json.dumps(ImitationTrainConfig().replace(**adaptive).to_dict())  # the config is plain data
