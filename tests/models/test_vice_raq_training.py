"""A short VICE-RAQ run on the Sawyer push scene with the in-process oracle: queries are asked and
answered while training continues, positives grow, the run directory is complete, and it resumes."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from anima.models.vice_raq.config import ViceRaqConfig
from anima.models.vice_raq.policy import load_policy
from anima.models.vice_raq.trainer import ViceRaqTrainer

TINY = {"epoch_steps": 200, "episode_steps": 50, "goal_examples": 12, "validation_goal_examples": 6, "eval_every": 2,
        "eval_episodes": 2, "video_every": 2, "sac.initial_exploration_steps": 300, "sac.batch_size": 16,
        "sac.updates_per_step": 0.1, "classifier.batch_positives": 16, "classifier.batch_negatives": 16,
        "classifier.learning_rate": 1e-3, "classifier.train_steps_per_epoch": 30}


class PuckAtGoalInEvenEpisodes(gym.Wrapper):
    """Even-seeded episodes start with the puck on the goal (by ground truth), so exploration visits
    success states a random policy would not reach in a test's few hundred steps."""

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None and seed % 2 == 0 and seed < 1_000_000:  # not the evaluation episodes
            env = self.env.unwrapped
            env.world.place_at_goal()
            obs, info = env.world.render(), env._info()
        return obs, info


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _trainer(run_dir: Path, resume: bool = False, **changes) -> ViceRaqTrainer:
    log = lambda _m: None  # noqa: E731
    if resume:
        trainer = ViceRaqTrainer.resume(run_dir, log=log, **changes)
    else:
        trainer = ViceRaqTrainer(ViceRaqConfig().replace(**{**TINY, **changes}), run_dir, log=log)
    trainer.env = PuckAtGoalInEvenEpisodes(trainer.env)
    return trainer


def test_oracle_answers_grow_the_positives_and_the_run_resumes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer = _trainer(run, n_epochs=2)
    history = trainer.run()
    # One query per epoch, answered by the oracle at the next episode's end while training went on.
    assert [h["queries_asked"] for h in history] == [1, 2]
    trainer = _trainer(run, resume=True, n_epochs=4)
    assert trainer.epoch == 2 and trainer.env_steps == 400 and len(trainer.replay) == 400
    history = trainer.run()
    assert len(history) == 4 and history[-1]["queries_asked"] == 4
    answered = history[-1]["queries_answered"]
    # The query pending at the checkpoint was asked again after the resume; only the last may be pending.
    assert answered >= 3
    # The queried states were the classifier's best: at least one was a true success, and each
    # "reached" answer joined the goal set (the oracle has no error rate here, so all are correct).
    assert history[-1]["answers_correct"] == answered
    reached = history[-1]["queried_positives"]
    assert reached >= 1 and history[-1]["positives"] == 12 + reached
    assert history[-1]["queried_negatives"] == answered - reached
    assert [h["positives"] for h in history] == sorted(h["positives"] for h in history)
    for name in ("config.yaml", "progress.json", "progress.png", "checkpoint.pt", "replay.npz", "policy.pt", "rollout.mp4"):
        assert (run / name).is_file(), name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert json.loads((run / "progress.json").read_text())["history"][-1]["epoch"] == 4
    policy = load_policy(run / "policy.pt")
    assert policy.spec.task == "push" and policy.spec.image_size_px == 48
    assert policy.provenance["queries_used"] == 4 and policy.provenance["goal_examples_used"] == 12
    assert policy.act(np.zeros((48, 48, 3), np.uint8)).shape == (4,)


def test_without_success_states_the_oracle_adds_no_positives(tmp_path: Path) -> None:
    # The negative case: the same loop on the plain scene (a random policy never moves the puck onto
    # the goal) asks and gets answers, all "not reached", so the goal set stays the goal examples.
    trainer = ViceRaqTrainer(ViceRaqConfig().replace(**{**TINY, "n_epochs": 2, "eval_every": 0}), tmp_path / "run",
                             log=lambda _m: None)
    history = trainer.run()
    assert history[-1]["queries_asked"] == 2 and history[-1]["queries_answered"] >= 1
    assert history[-1]["positives"] == 12 and history[-1]["queried_negatives"] == history[-1]["queries_answered"]
