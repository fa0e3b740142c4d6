"""PDDM training smoke run on the planar reacher: learns within seconds, resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anima import share_dir
from anima.models.pddm.config import PDDMTrainConfig
from anima.controllers.mppi import PlannerConfig
from anima.models.pddm.runtime import target_leads
from anima.models.pddm.trainer import NODE_PLANNER_KEYS, PDDMTrainer, collect_rollout, node_planner_params, random_policy
from anima.sim_bridge.envs import make_env


def test_reacher_planner_beats_random_actions(tmp_path: Path) -> None:
    config = PDDMTrainConfig.from_yaml(share_dir() / "config" / "pddm" / "reacher.yaml").replace(iterations=1, rollouts_per_iter=8)
    history = PDDMTrainer(config, tmp_path / "run", log=lambda _m: None).run()
    # Random actions on the same episodes: final fingertip distance and success (< 2 cm at the end).
    env = make_env("reacher")
    policy = random_policy(np.random.default_rng(0), 2, 2)
    final = []
    for k in range(8):
        r = collect_rollout(env, policy, 40, seed=100 + k)
        final.append(env.unwrapped.task.distance(r.states[-1]))
    random_success = float(np.mean(np.array(final) < 0.02))
    # Measured: random 0/8 .. 1/8 succeed; the planner after one iteration >= 6/8.
    assert history[0]["success_rate"] >= random_success + 0.5
    for name in ("config.yaml", "progress.json", "model.pt", "learning_curve.png", "rollout.mp4", "data_train.npz"):
        assert (tmp_path / "run" / name).is_file(), name
    assert list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))


def test_resume_continues_like_an_uninterrupted_run(tmp_path: Path) -> None:
    tiny = dict(iterations=2, rollouts_per_iter=2, rollout_length=10, random_rollouts_train=4, random_rollouts_val=2, random_rollout_length=10)
    config = PDDMTrainConfig.from_yaml(share_dir() / "config" / "pddm" / "reacher.yaml").replace(
        **tiny, **{"ensemble.hidden_sizes": (32, 32), "ensemble.epochs": 5, "planner.num_samples": 50}
    )
    full = PDDMTrainer(config, tmp_path / "full", log=lambda _m: None).run()
    PDDMTrainer(config, tmp_path / "split", log=lambda _m: None).run(iterations=1)
    resumed = PDDMTrainer.resume(tmp_path / "split", log=lambda _m: None).run()
    assert len(resumed) == 2
    for key in ("reward_mean", "hours_of_data", "train_loss"):
        assert resumed[1][key] == pytest.approx(full[1][key], rel=1e-6), key
    saved = json.loads((tmp_path / "split" / "progress.json").read_text())["history"]
    assert [h["iteration"] for h in saved] == [0, 1]


class _DropAt:
    """A 1-D env whose episode ends at step ``at``, reporting a drop or (``dropped`` False) only its end."""

    def __init__(self, at: int, dropped: bool) -> None:
        self.at, self.dropped, self.t = at, dropped, 0

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self.t = 0
        return np.zeros(1, np.float32), {"success": False, "rotation_rad": 0.0, "dropped": False}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        end = self.t >= self.at
        info = {"success": False, "rotation_rad": 0.1 * self.t, "dropped": end and self.dropped}
        return np.full(1, self.t, np.float32), -1.0, end and self.dropped, end and not self.dropped, info


def test_rollout_records_whether_the_episode_ended_in_a_drop() -> None:
    zero = lambda _obs, _t: np.zeros(1, np.float32)  # noqa: E731
    dropped = collect_rollout(_DropAt(3, dropped=True), zero, 10, seed=0)
    stalled = collect_rollout(_DropAt(5, dropped=False), zero, 10, seed=0)
    assert (len(dropped.actions), dropped.dropped) == (3, True)
    assert (len(stalled.actions), stalled.dropped) == (5, False)
    assert stalled.rotation_rad == pytest.approx(0.5)
    reacher = collect_rollout(make_env("reacher"), random_policy(np.random.default_rng(0), 2, 2), 5, seed=0)
    assert reacher.dropped is None  # an env without drops reports none


def test_bad_config_key_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: reacher\nplanner:\n  horizon_steps: 7\n")
    with pytest.raises(ValueError, match=r"planner: unknown key\(s\) \['horizon_steps'\] for PlannerConfig"):
        PDDMTrainConfig.from_yaml(bad)


def test_overrides_reach_env_kwargs_and_name_unknown_groups() -> None:
    config = PDDMTrainConfig.from_yaml(share_dir() / "config" / "pddm" / "baoding.yaml")
    changed = config.replace(**{"env_kwargs.task": "cw", "env_kwargs.action_scale": 1.0, "planner.horizon": 5})
    assert changed.env_kwargs == {**config.env_kwargs, "task": "cw", "action_scale": 1.0}
    assert changed.planner.horizon == 5 and config.env_kwargs["task"] == "ccw"
    with pytest.raises(ValueError, match="unknown config group 'env' in override"):
        config.replace(**{"env.task": "cw"})


def test_parallel_rollout_workers_give_the_same_data(tmp_path: Path) -> None:
    # Every rollout seeds its own env and planner, so two worker processes reproduce the serial run.
    tiny = dict(iterations=1, rollouts_per_iter=3, rollout_length=8, random_rollouts_train=3, random_rollouts_val=1, random_rollout_length=8)
    config = PDDMTrainConfig.from_yaml(share_dir() / "config" / "pddm" / "reacher.yaml").replace(
        **tiny, **{"ensemble.hidden_sizes": (16, 16), "ensemble.epochs": 2, "planner.num_samples": 30}
    )
    serial = PDDMTrainer(config, tmp_path / "serial", log=lambda _m: None).run()
    parallel = PDDMTrainer(config.replace(workers=2), tmp_path / "parallel", log=lambda _m: None).run()
    assert parallel[0]["reward_mean"] == pytest.approx(serial[0]["reward_mean"], rel=1e-9)


def test_run_config_says_which_ball_state_the_model_saw() -> None:
    from anima.models.pddm.trainer import _state_note

    assert _state_note({"task": "ccw"}).startswith("ground-truth simulator state")
    assert _state_note({"ball_state": "tracked"}).startswith("tracked ball state")


def test_as_node_evaluation_plans_with_the_node_core_config(tmp_path: Path) -> None:
    params = node_planner_params()  # config/pddm/planner/baoding.yaml, which the node is built from
    assert set(params) == {*NODE_PLANNER_KEYS, "target_lead_rad"}
    assert PlannerConfig(**{k: params[k] for k in NODE_PLANNER_KEYS}).num_samples == params["num_samples"]  # valid planner settings
    assert (params["num_samples"], params["horizon"], params["beta"]) == (700, 7, 0.4)
    assert target_leads(params["target_lead_rad"]) == {"ccw": 0.0, "cw": 0.52}  # ccw on PDDM's clock, cw 30 deg ahead of the balls
    other = tmp_path / "planner.yaml"
    other.write_text("planner:\n  num_samples: 300\n  horizon: 5\n  gamma: 10.0\n  beta: 0.5\n  sigma: 0.8\n"
                     "  optimizer: cem\ntarget_lead_rad: [0.1, 0.3]\n")
    assert node_planner_params(other) == {"optimizer": "cem", "num_samples": 300, "horizon": 5, "gamma": 10.0, "beta": 0.5, "sigma": 0.8,
                                          "backend": "loop", "target_lead_rad": [0.1, 0.3]}
    other.write_text("planner:\n  num_samples: many\n")
    with pytest.raises(ValueError, match=r"planner\.yaml.*num_samples"):
        node_planner_params(other)
    # the trainer no longer reads the node's ROS parameter file
    assert "ros__parameters" not in (Path(__file__).resolve().parents[2] / "config" / "pddm" / "planner" / "baoding.yaml").read_text()
