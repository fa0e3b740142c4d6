"""SOLAR training smoke run: run directory, resume, the deployable policy; a NaN fit keeps the controller."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anima.models.solar.config import SolarTrainConfig
from anima.models.solar.policy import SolarPolicy
from anima.models.solar.trainer import SolarTrainer

TINY = dict(horizon=4, random_rollouts=3, rollouts_per_iter=2, iterations=1, pretrain_epochs=1, eval_episodes=1)


def test_smoke_run_writes_the_run_directory_and_resumes(tmp_path: Path) -> None:
    logs: list[str] = []
    trainer = SolarTrainer(SolarTrainConfig(**TINY), tmp_path / "run", log=logs.append)
    history = trainer.run()
    run = tmp_path / "run"
    for name in ("config.yaml", "checkpoint.pt", "data.npz", "policy.pt", "history.json", "learning_curve.png", "evaluation.json",
                 "videos/iter_001.mp4", "videos/recon_000.mp4"):
        assert (run / name).is_file(), name
    assert any((run / "tb").iterdir())
    assert [h["episodes_trained"] for h in history] == [3, 5]
    policy = SolarPolicy.load(run / "policy.pt", expect_task="reacher", expect_latent_dim=10)
    assert policy.spec["horizon"] == 4 and policy.spec["action_kind"] == "joint_torque"
    assert policy.spec["torque_limit_nm"] == trainer.env.config.reacher.max_torque == 0.1  # the arm it acted on
    assert policy.provenance["episodes_trained"] == 5
    np.testing.assert_allclose(policy.K, trainer.policy.K, atol=1e-6)

    resumed = SolarTrainer.resume(run, log=logs.append, iterations=2)
    assert resumed.iteration == 1 and resumed.episodes == 5
    resumed.run()
    assert resumed.iteration == 2 and resumed.episodes == 7
    assert SolarPolicy.load(run / "policy.pt").provenance["episodes_trained"] == 7


def test_nan_in_fitted_dynamics_keeps_the_previous_controller_with_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs: list[str] = []
    trainer = SolarTrainer(SolarTrainConfig(**TINY), tmp_path / "run", log=logs.append)
    trainer.pretrain()
    before = trainer.policy
    monkeypatch.setattr(trainer.vae, "encode_means", lambda images, batch=256: np.full((*images.shape[:-3], 10), np.nan))
    info = trainer.improve_policy()
    assert info == {"skipped": 1.0}
    assert trainer.policy is before
    assert any("keeping the previous controller" in m and "NaN" in m for m in logs)


def test_config_refuses_an_unknown_task_and_bad_overrides() -> None:
    with pytest.raises(ValueError, match="task must be one of"):
        SolarTrainConfig(task="walker")
    with pytest.raises(ValueError, match="unknown config group 'planner'"):
        SolarTrainConfig().replace(**{"planner.beta": 1.0})
    assert SolarTrainConfig().replace(**{"lqr.kl_step": "1e-1"}).lqr.kl_step == pytest.approx(0.1)


def test_sawyer_reach_smoke_run_gives_an_ee_delta_policy(tmp_path: Path) -> None:
    config = SolarTrainConfig(task="sawyer_reach", horizon=2, random_rollouts=2, rollouts_per_iter=2, iterations=1,
                              pretrain_epochs=1, eval_episodes=0, video_every=0)
    history = SolarTrainer(config, tmp_path / "run", log=lambda m: None).run()
    assert all(0.0 < h["final_distance_mean"] < 1.0 for h in history)  # the scene's ee_goal_distance_m
    policy = SolarPolicy.load(tmp_path / "run" / "policy.pt", expect_task="sawyer_reach")
    assert policy.spec["action_kind"] == "ee_delta" and policy.spec["action_dim"] == 4
    assert policy.spec["control_dt_s"] == pytest.approx(0.1)


def test_cli_trains_several_seeds_and_reports_their_spread(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from anima.main import main

    tiny = ["horizon=3", "random_rollouts=2", "rollouts_per_iter=2", "iterations=1", "pretrain_epochs=1", "eval_episodes=1", "video_every=0"]
    argv = ["train", "solar", "--task", "reacher", "--seeds", "2", "--seed", "5", "--run-dir", str(tmp_path / "runs")]
    assert main(argv + [a for kv in tiny for a in ("--set", kv)]) == 0
    summary = json.loads((tmp_path / "runs" / "seeds.json").read_text())
    assert summary["seeds"] == [5, 6] and summary["episodes_trained"] == [4, 4]
    assert summary["success_rate_min"] <= summary["success_rate_median"] <= summary["success_rate_max"]
    assert (tmp_path / "runs" / "seed_6" / "policy.pt").is_file()
    assert "success median" in capsys.readouterr().out
    assert summary["best_episodes_trained"] == [4, 4]  # reacher.yaml evaluates the mean policy after every iteration


def test_seed_summary_reports_the_best_mean_policies_too() -> None:
    from anima.models.solar.command import seed_summary

    runs = [{"seed": s, "success_rate": r, "episodes_trained": 380, "best": {"eval_success_rate": b, "episodes_trained": e}}
            for s, r, b, e in ((0, 0.0, 0.85, 140), (1, 0.1, 0.5, 220), (2, 0.0, 0.95, 180))]
    summary = seed_summary(runs)
    assert summary["success_rate_median"] == 0.0 and summary["best_success_rate_median"] == 0.85
    assert (summary["best_success_rate_min"], summary["best_success_rate_max"]) == (0.5, 0.95)
    assert summary["best_episodes_trained"] == [140, 220, 180]


def test_cli_refuses_a_bad_override_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    from anima.main import main

    assert main(["train", "solar", "--task", "reacher", "--set", "lqr.kl_step=abc"]) == 2
    assert "kl_step" in capsys.readouterr().out


@pytest.mark.parametrize(("cost_on", "cost_target"), [("latent", "reward"), ("state", "reward"), ("state", "squared_reward")])
def test_a_latent_history_run_ships_a_policy_that_acts_on_that_state(tmp_path: Path, cost_on: str, cost_target: str) -> None:
    config = SolarTrainConfig(**{**TINY, "video_every": 0}).replace(state_kind="latent_history", cost_on=cost_on,
                                                                     cost_target=cost_target, cost_model="refit")
    trainer = SolarTrainer(config, tmp_path / "run", log=lambda _m: None)
    trainer.run()
    policy = SolarPolicy.load(tmp_path / "run" / "policy.pt", expect_task="reacher", expect_latent_dim=10)
    assert policy.state_spec.kind == "latent_history" and policy.state_spec.dim == 2 * 10 + 2
    assert policy.state_spec.diff_scale == pytest.approx(20.0)  # 1 / the reacher's 0.05 s control period
    assert policy.K.shape == (4, 2, 22) and np.isfinite(policy.K).all()
    assert trainer.history[-1].get("lqr_skipped") is None  # the update ran on the 22-D state
    resumed = SolarTrainer.resume(tmp_path / "run", log=lambda _m: None)
    assert resumed.state_spec == trainer.state_spec and resumed.policy.K.shape == (4, 2, 22)


def test_a_structured_run_ships_a_filtered_policy_that_acts_as_training_did(tmp_path: Path) -> None:
    """vae.inference smooth + state_kind filtered: the policy file carries the VAE's LDS, and its actor gives the
    actions the trainer's own rollout function gives on the same frames."""
    config = SolarTrainConfig(**{**TINY, "video_every": 0}).replace(**{"vae.inference": "smooth", "state_kind": "filtered"})
    trainer = SolarTrainer(config, tmp_path / "run", log=lambda _m: None)
    trainer.run()
    assert trainer.history[-1].get("lqr_skipped") is None
    policy = SolarPolicy.load(tmp_path / "run" / "policy.pt", expect_task="reacher", expect_latent_dim=10)
    assert policy.state_spec.kind == "filtered" and policy.K.shape == (4, 2, 10)
    np.testing.assert_allclose(policy.lds.A, trainer.vae.A.detach().double().numpy(), atol=1e-6)
    images = trainer.data["images"][-1]
    mine, theirs = trainer._act_fn(trainer.policy, explore=False), policy.actor()
    rng = np.random.default_rng(0)
    for t in range(4):
        np.testing.assert_allclose(theirs(t, images[t]), mine(t, images[t], rng), atol=1e-4)
    states = trainer._latents()  # the filtered means the update fitted on are what the controller sees
    np.testing.assert_allclose(states, trainer.vae.filtered_means(trainer.data["images"], trainer.data["actions"]),
                               rtol=1e-5, atol=1e-7)  # float32 encoder in other batch splits: ~1e-8 apart
    resumed = SolarTrainer.resume(tmp_path / "run", log=lambda _m: None)
    assert resumed.config.vae.inference == "smooth" and resumed.state_spec.kind == "filtered"


def test_fit_on_smoothed_fits_on_the_smoothed_means_and_acts_on_the_filtered(tmp_path: Path) -> None:
    """LQG's split: the update fits the dynamics and the cost on each episode's smoothed latents, the controller
    (trainer and policy file alike) still filters frame by frame; the two agree at each episode's last frame."""
    config = SolarTrainConfig(**{**TINY, "video_every": 0}).replace(**{"vae.inference": "smooth", "state_kind": "filtered",
                                                                       "fit_on": "smoothed"})
    trainer = SolarTrainer(config, tmp_path / "run", log=lambda _m: None)
    trainer.run()
    assert trainer.history[-1].get("lqr_skipped") is None
    images, actions = trainer.data["images"], trainer.data["actions"]
    fitted, filtered = trainer._latents(), trainer.vae.filtered_means(images, actions)
    np.testing.assert_allclose(fitted, trainer.vae.filtered_means(images, actions, smoothed=True), rtol=1e-5, atol=1e-7)
    assert np.abs(fitted[:, :-1] - filtered[:, :-1]).max() > 1e-3  # earlier frames see the later ones
    np.testing.assert_allclose(fitted[:, -1], filtered[:, -1], rtol=1e-5, atol=1e-6)
    policy = SolarPolicy.load(tmp_path / "run" / "policy.pt", expect_task="reacher", expect_latent_dim=10)
    mine, theirs = trainer._act_fn(trainer.policy, explore=False), policy.actor()
    for t in range(4):
        np.testing.assert_allclose(theirs(t, images[-1][t]), mine(t, images[-1][t], np.random.default_rng(0)), atol=1e-4)
    with pytest.raises(ValueError, match="fit_on smoothed needs state_kind filtered"):
        SolarTrainConfig(fit_on="smoothed")
    with pytest.raises(ValueError, match="fit_on must be"):
        SolarTrainConfig(state_kind="filtered", fit_on="both")


def test_config_refuses_an_unknown_state_or_cost() -> None:
    with pytest.raises(ValueError, match="state_kind must be one of"):
        SolarTrainConfig(state_kind="smoothed")
    with pytest.raises(ValueError, match="cost_on must be 'latent' or 'state'"):
        SolarTrainConfig(cost_on="reward")
    with pytest.raises(ValueError, match="cost_target must be 'reward' or 'squared_reward'"):
        SolarTrainConfig(cost_target="cubed")
    with pytest.raises(ValueError, match="cost_model must be 'vae' or 'refit'"):
        SolarTrainConfig(cost_model="mlp")
    with pytest.raises(ValueError, match="cost_timing must be 'next' or 'current'"):
        SolarTrainConfig(cost_timing="later")


def test_the_default_cost_is_the_vaes_learned_reward_model_on_the_latent_part(tmp_path: Path) -> None:
    config = SolarTrainConfig(**{**TINY, "video_every": 0}).replace(state_kind="latent_history")
    trainer = SolarTrainer(config, tmp_path / "run", log=lambda _m: None)
    z = np.random.default_rng(1).normal(size=(7, 10))
    cost = trainer._fit_cost(None)
    x = np.concatenate([z, np.zeros((7, 12))], axis=1)
    with torch.no_grad():
        expected = -trainer.vae.predicted_reward(torch.as_tensor(z, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(cost(x), expected, rtol=1e-5, atol=1e-5)
    assert cost.Cxx.shape == (22, 22) and cost.action_weight == config.lqr.action_weight


def test_the_squared_reward_cost_is_minimal_at_the_goal(tmp_path: Path) -> None:
    """Rewards -|x - g| (a cone, which no quadratic fits well) become the cost |x - g|^2: exact, minimum at g."""
    config = SolarTrainConfig(**{**TINY, "video_every": 0}).replace(cost_target="squared_reward", cost_on="state", cost_model="refit")
    trainer = SolarTrainer(config, tmp_path / "run", log=lambda _m: None)
    rng = np.random.default_rng(0)
    goal = np.linspace(-0.5, 0.5, 10)
    x = rng.normal(size=(40, 5, 10))
    trainer.data = {"rewards": -np.linalg.norm(x[:, 1:] - goal, axis=-1)}
    cost = trainer._fit_cost(x)
    np.testing.assert_allclose(np.linalg.solve(cost.Cxx, -cost.cx), goal, atol=1e-2)
    trainer.data = {"rewards": np.ones((40, 4))}
    with pytest.raises(ValueError, match="needs rewards <= 0"):
        trainer._fit_cost(x)


def test_a_run_can_start_from_another_runs_pretrained_vae(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from anima.main import main

    tiny = ["horizon=3", "random_rollouts=2", "rollouts_per_iter=2", "iterations=1", "pretrain_epochs=1", "eval_episodes=0", "video_every=0"]
    sets = [a for kv in tiny for a in ("--set", kv)]
    assert main(["train", "solar", "--task", "reacher", "--run-dir", str(tmp_path / "a")] + sets) == 0
    assert main(["train", "solar", "--task", "reacher", "--run-dir", str(tmp_path / "b"), "--pretrained", str(tmp_path / "a"),
                 "--set", "lqr.kl_step=0.5"] + sets) == 0
    out = capsys.readouterr().out
    assert "pretrained VAE and 2 random episodes from" in out and "VAE epoch" not in out.split("run directory: " + str(tmp_path / "b"))[1]
    a, b = (SolarTrainer.resume(tmp_path / r, log=lambda _m: None) for r in ("a", "b"))
    assert b.config.lqr.kl_step == 0.5 and b.episodes == 4 and b.iteration == 1
    np.testing.assert_array_equal(a.data["images"][:2], b.data["images"][:2])  # the same random episodes
    assert b.history[0]["pretrained_from"] == str((tmp_path / "a").resolve())
    # the VAE is the source's pretrained one (no fine-tuning afterwards): the encoders agree
    for (name, pa), (_n, pb) in zip(a.vae.encoder.state_dict().items(), b.vae.encoder.state_dict().items()):
        assert torch.equal(pa, pb), name

    assert main(["train", "solar", "--task", "reacher", "--run-dir", str(tmp_path / "c"), "--pretrained", str(tmp_path / "a"),
                 "--set", "vae.latent_dim=4"] + sets) == 2
    assert "its vae differ" in capsys.readouterr().out
    assert main(["train", "solar", "--task", "reacher", "--run-dir", str(tmp_path / "d"), "--pretrained", str(tmp_path / "nothing")] + sets) == 2
    assert "nothing" in capsys.readouterr().out


def test_iteration_evaluation_scores_the_mean_policy_without_adding_training_data(tmp_path: Path) -> None:
    logs: list[str] = []
    config = SolarTrainConfig(**{**TINY, "video_every": 0, "iteration_eval_episodes": 3, "iterations": 2})
    trainer = SolarTrainer(config, tmp_path / "run", log=logs.append)
    history = trainer.run()
    assert trainer.episodes == 3 + 2 * 2  # the evaluation episodes are not training data
    for row in history[1:]:
        assert 0.0 <= row["eval_success_rate"] <= 1.0 and row["eval_final_distance_mean"] > 0
    assert sum(line.startswith("iteration") and ", mean policy " in line for line in logs) == 2
    # the evaluation of the final policy on the same fixed seeds gives the last iteration's numbers
    assert trainer.evaluate(3)["final_distance_mean"] == pytest.approx(history[-1]["eval_final_distance_mean"])


def test_the_best_mean_policy_is_kept_and_can_be_shipped_with_its_own_evaluation(tmp_path: Path) -> None:
    import yaml

    from anima.models.solar.ship import ship

    config = SolarTrainConfig(**{**TINY, "video_every": 0, "iteration_eval_episodes": 2, "iterations": 3})
    trainer = SolarTrainer(config, tmp_path / "run", log=lambda _m: None)
    history = trainer.run()
    scores = [(h["eval_success_rate"], -h["eval_final_distance_mean"]) for h in history[1:]]
    best_iteration = 1 + scores.index(max(scores))  # the first of equal scores is kept
    assert trainer.best["iteration"] == best_iteration
    best = SolarPolicy.load(tmp_path / "run" / "best_policy.pt", expect_task="reacher")
    assert best.provenance["iteration"] == best_iteration
    assert SolarTrainer.resume(tmp_path / "run", log=lambda _m: None).best == trainer.best
    assert json_load(tmp_path / "run" / "evaluation.json")["best"]["iteration"] == best_iteration

    prov = ship(tmp_path / "run", "reacher", "anima train solar (test)", dest=tmp_path / "data", policy_file="best_policy.pt",
                evaluate_episodes=2)
    assert prov["policy_file"] == "best_policy.pt" and prov["iteration"] == best_iteration
    assert prov["evaluation"]["episodes"] == 2 and prov["evaluation"]["seed"] != 12345
    assert [e for e, _s in prov["mean_policy_success_by_episodes"]] == [h["episodes_trained"] for h in history[1:]]
    assert yaml.safe_load((tmp_path / "data" / "reacher.provenance.yaml").read_text()) == prov
    assert SolarPolicy.load(tmp_path / "data" / "reacher.pt").provenance["iteration"] == best_iteration


def json_load(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


def test_step_adjustment_scales_the_kl_bound_and_survives_a_resume(tmp_path: Path) -> None:
    config = SolarTrainConfig(**{**TINY, "iterations": 2}).replace(**{"lqr.step_adjust": True})
    trainer = SolarTrainer(config, tmp_path / "run", log=lambda m: None)
    trainer.run()
    first, second = trainer.history[1], trainer.history[2]
    assert first["lqr_step_mult"] == 1.0 and "lqr_predicted_improvement" not in first  # nothing to judge yet
    mult = second["lqr_step_mult"]
    assert 0.01 <= mult <= 10.0 and "lqr_actual_improvement" in second
    assert second["lqr_kl_bound"] == pytest.approx(config.lqr.kl_step * mult * config.horizon)
    assert trainer.previous_policy is not None
    resumed = SolarTrainer.resume(tmp_path / "run", log=lambda m: None, iterations=3)
    assert resumed.step_mult == pytest.approx(mult)
    np.testing.assert_allclose(resumed.previous_policy.K, trainer.previous_policy.K)
    resumed.run()
    assert "lqr_predicted_improvement" in resumed.history[3]


def _vae_state(trainer: SolarTrainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.vae.state_dict().items()}


def test_an_interrupted_pretraining_resumes_where_its_checkpoint_left_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretraining writes a checkpoint every PRETRAIN_CHECKPOINT_EVERY epochs; --resume continues it, and the
    VAE is the one an uninterrupted pretraining gives (the batch streams are kept)."""
    import anima.models.solar.trainer as trainer_module

    config = SolarTrainConfig(**{**TINY, "pretrain_epochs": 12})
    whole = SolarTrainer(config, tmp_path / "whole", log=lambda m: None)
    whole.pretrain()

    real, calls = trainer_module.train_epochs, []

    def dies_in_epoch_12(*args, **kwargs):
        calls.append(1)
        if len(calls) == 12:
            raise KeyboardInterrupt("session ended")
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "train_epochs", dies_in_epoch_12)
    cut = SolarTrainer(config, tmp_path / "cut", log=lambda m: None)
    with pytest.raises(KeyboardInterrupt):
        cut.pretrain()
    monkeypatch.setattr(trainer_module, "train_epochs", real)
    resumed = SolarTrainer.resume(tmp_path / "cut", log=lambda m: None)
    assert resumed.pretrain_epochs_done == trainer_module.PRETRAIN_CHECKPOINT_EVERY == 10 and resumed.history == []
    resumed.run()
    assert resumed.pretrain_epochs_done == 12 and resumed.history[0]["pretrain_epochs"] == 12
    for k, v in _vae_state(whole).items():
        torch.testing.assert_close(resumed.vae.state_dict()[k], v, msg=k)


def test_a_finished_pretraining_can_be_extended_before_the_first_iteration_only(tmp_path: Path) -> None:
    config = SolarTrainConfig(**{**TINY, "pretrain_epochs": 3})
    whole = SolarTrainer(config.replace(pretrain_epochs=5), tmp_path / "whole", log=lambda m: None)
    whole.pretrain()
    short = SolarTrainer(config, tmp_path / "short", log=lambda m: None)
    short.pretrain()
    longer = SolarTrainer.resume(tmp_path / "short", log=lambda m: None, pretrain_epochs=5)
    longer.run()
    assert longer.history[0]["pretrain_epochs"] == 5 and longer.iteration == 1
    for k, v in _vae_state(whole).items():
        torch.testing.assert_close(longer.vae.state_dict()[k], v, msg=k)
    with pytest.raises(ValueError, match="pretrained further only before the first"):
        SolarTrainer.resume(tmp_path / "short", log=lambda m: None, pretrain_epochs=8)


def test_pretrained_takes_a_vae_with_fewer_epochs_and_pretrains_it_further(tmp_path: Path) -> None:
    source = SolarTrainer(SolarTrainConfig(**{**TINY, "pretrain_epochs": 2}), tmp_path / "source", log=lambda m: None)
    source.run()
    logs: list[str] = []
    more = SolarTrainer(SolarTrainConfig(**{**TINY, "pretrain_epochs": 4}), tmp_path / "more", log=logs.append)
    more.start_from_pretrained(tmp_path / "source")
    assert more.pretrain_epochs_done == 2 and any("pretraining 2 epochs more" in m for m in logs)
    step = more.vae_step
    more.run()
    assert more.pretrain_epochs_done == 4 and more.vae_step > step and more.history[0]["pretrain_epochs"] == 4
    assert "pretrained_from" in more.history[0]
    fewer = SolarTrainer(SolarTrainConfig(**{**TINY, "pretrain_epochs": 1}), tmp_path / "fewer", log=lambda m: None)
    with pytest.raises(ValueError, match="pretrained 2 epochs, this run asks for pretrain_epochs=1"):
        fewer.start_from_pretrained(tmp_path / "source")


def test_the_cost_can_be_fitted_on_the_last_episodes_only(tmp_path: Path) -> None:
    """A curved latent: the old episodes' rewards say the goal is at a, the last ones' at b; cost_fit_episodes
    fits only the last N, so the minimum follows them (a local cost model, as the dynamics are)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 5, 4))
    a, b = np.zeros(4), np.full(4, 0.5)
    rewards = np.concatenate([-np.sum((x[:20, 1:] - a) ** 2, -1), -np.sum((x[20:, 1:] - b) ** 2, -1)])
    minima = []
    for n in (0, 10):
        config = SolarTrainConfig(**{**TINY, "video_every": 0}).replace(cost_model="refit", cost_on="state", cost_fit_episodes=n)
        trainer = SolarTrainer(config, tmp_path / f"run{n}", log=lambda _m: None)
        trainer.data = {"rewards": rewards}
        cost = trainer._fit_cost(x)
        minima.append(np.linalg.solve(cost.Cxx, -cost.cx))
    assert np.linalg.norm(minima[0] - b) > 0.2  # all 30 episodes: pulled toward a
    np.testing.assert_allclose(minima[1], b, atol=1e-3)  # the last 10 only: exactly b
    with pytest.raises(ValueError, match="cost_fit_episodes must be >= 0"):
        SolarTrainConfig(cost_fit_episodes=-1)


def test_reward_refit_runs_on_every_update_after_the_random_episodes_only(tmp_path: Path) -> None:
    config = SolarTrainConfig(**{**TINY, "iterations": 2, "reward_refit_steps": 50})
    trainer = SolarTrainer(config, tmp_path / "run", log=lambda m: None)
    trainer.pretrain()
    encoder = {k: v.clone() for k, v in trainer.vae.encoder.state_dict().items()}
    L = trainer.vae.cost_L.detach().clone()
    trainer.step()
    assert "lqr_reward_rmse_before" not in trainer.history[1]  # the first update: nothing beyond the random episodes
    assert torch.equal(trainer.vae.cost_L.detach(), L)
    trainer.step()
    row = trainer.history[2]
    assert row["lqr_reward_rmse_after"] <= row["lqr_reward_rmse_before"]
    assert not torch.equal(trainer.vae.cost_L.detach(), L)
    for k, v in trainer.vae.encoder.state_dict().items():
        assert torch.equal(v, encoder[k]), k


def test_pretrained_starts_from_the_sources_pretrained_reward_model_not_its_refitted_one(tmp_path: Path) -> None:
    source = SolarTrainer(SolarTrainConfig(**{**TINY, "iterations": 2, "reward_refit_steps": 50}), tmp_path / "source", log=lambda m: None)
    source.pretrain()
    pretrained = {k: v.clone() for k, v in source._reward_model_state().items()}
    source.run()
    assert not torch.equal(source.vae.cost_L.detach(), pretrained["cost_L"])  # its second update refitted the reward model
    again = SolarTrainer(SolarTrainConfig(**TINY), tmp_path / "again", log=lambda m: None)
    again.start_from_pretrained(tmp_path / "source")
    for name, value in pretrained.items():
        assert torch.equal(getattr(again.vae, name).detach(), value), name
    # a source written before the snapshot was stored, refitted since: refused rather than silently taken
    ckpt = torch.load(tmp_path / "source" / "checkpoint.pt", weights_only=True)
    ckpt.pop("pretrained_reward")
    torch.save(ckpt, tmp_path / "source" / "checkpoint.pt")
    with pytest.raises(ValueError, match="reward model was refitted on its own episodes"):
        SolarTrainer(SolarTrainConfig(**TINY), tmp_path / "old", log=lambda m: None).start_from_pretrained(tmp_path / "source")


def test_a_reacher_config_writes_its_arms_torque_out(tmp_path: Path) -> None:
    """config.yaml and the policies say which arm a run trained on, whatever the default becomes later."""
    assert SolarTrainConfig().env_kwargs == {"reacher": {"max_torque": 0.1}}  # SOLAR_REACHER
    weak = SolarTrainConfig().replace(**{"env_kwargs.reacher.max_torque": 0.02, "env_kwargs.reacher.damping": 0.02})
    assert weak.env_kwargs == {"reacher": {"max_torque": 0.02, "damping": 0.02}}
    assert SolarTrainConfig(task="sawyer_reach").env_kwargs == {}
    path = tmp_path / "config.yaml"
    path.write_text("task: reacher\nenv_kwargs: {reacher: {damping: 0.02}}\n")
    assert SolarTrainConfig.from_yaml(path).env_kwargs == {"reacher": {"damping": 0.02, "max_torque": 0.1}}


def test_a_run_on_the_latents_principal_components_fixes_them_after_pretraining_and_ships_them(tmp_path: Path) -> None:
    config = SolarTrainConfig(**{**TINY, "video_every": 0, "iterations": 2}).replace(
        state_kind="latent_history", cost_model="refit", latent_components=2, **{"vae.encoder": "spatial_softmax"})
    logs: list[str] = []
    trainer = SolarTrainer(config, tmp_path / "run", log=logs.append)
    trainer.pretrain()
    proj = trainer.state_spec.projection
    assert proj is not None and proj.components == 2 and trainer.policy.K.shape == (4, 2, 2 * 2 + 2)
    np.testing.assert_allclose(np.asarray(proj.mean), trainer._latents()[:3].reshape(-1, 10).mean(0), atol=1e-9)
    assert any("2 leading principal components" in m for m in logs)
    trainer.run()
    assert trainer.state_spec.projection == proj  # fixed after pretraining, not refitted per iteration
    assert trainer.history[-1].get("lqr_skipped") is None
    policy = SolarPolicy.load(tmp_path / "run" / "policy.pt", expect_task="reacher", expect_latent_dim=10)
    assert policy.state_spec == trainer.state_spec and policy.spec["encoder"] == "spatial_softmax"
    resumed = SolarTrainer.resume(tmp_path / "run", log=lambda _m: None, iterations=3)
    assert resumed.state_spec == trainer.state_spec and resumed.policy.K.shape == (4, 2, 6)
    resumed.run()
    assert resumed.state_spec.projection == proj


def test_latent_components_need_a_refit_cost_and_an_unfiltered_state() -> None:
    with pytest.raises(ValueError, match="latent_components 2 needs state_kind latent or latent_history and cost_model refit"):
        SolarTrainConfig(latent_components=2)
    with pytest.raises(ValueError, match="latent_components must be 0..vae.latent_dim \\(10\\), got 11"):
        SolarTrainConfig(latent_components=11, cost_model="refit")
