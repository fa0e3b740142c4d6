"""``anima eval solar``: a policy file runs on its task and reports success and the episodes it trained on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from anima.main import main
from anima.models.solar.networks import Encoder
from anima.models.solar.policy import SolarPolicy, make_spec
from anima.models.solar.trainer import collect
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, ReacherPixelsEnv


def _policy(path: Path, task: str = "reacher", k: float = 0.0, torque: float | None = 0.1) -> None:
    torch.manual_seed(0)
    spec = make_spec(task, 10, 3, 0.05, "joint_torque", [-1, -1], [1, 1], torque_limit_nm=0.1)
    if torque is None:  # a file written before the spec recorded the arm
        del spec["torque_limit_nm"]
    else:
        spec["torque_limit_nm"] = torque
    SolarPolicy(spec, Encoder(10, 64), np.zeros((3, 2, 10)), np.full((3, 2), k), np.tile(0.25 * np.eye(2), (3, 1, 1)),
                {"episodes_trained": 380}).save(path)


def test_eval_prints_success_rate_and_episodes_trained(tmp_path: Path, capsys) -> None:
    _policy(tmp_path / "p.pt")
    assert main(["eval", "solar", "--task", "reacher", "--policy", str(tmp_path / "p.pt"), "--episodes", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["success_rate"] == 0.0 and out["episodes_trained"] == 380 and out["episodes"] == 2
    assert out["final_distance_mean"] > 0.02  # three zero-torque steps leave the arm far from the target


def test_eval_refuses_a_policy_for_another_task(tmp_path: Path, capsys) -> None:
    _policy(tmp_path / "p.pt", task="sawyer_push")
    assert main(["eval", "solar", "--task", "reacher", "--policy", str(tmp_path / "p.pt"), "--json"]) == 2
    assert "task is 'sawyer_push', expected 'reacher'" in capsys.readouterr().err


def test_eval_runs_the_policy_on_the_arm_it_was_trained_on(tmp_path: Path, capsys) -> None:
    """Full torque for 3 steps moves the arm as far as the arm in the file's spec allows (0.02 N m for old files)."""
    ends = {}
    for name, torque in (("strong", 0.1), ("weak", 0.02), ("legacy", None)):
        _policy(tmp_path / f"{name}.pt", k=1.0, torque=torque)
        assert main(["eval", "solar", "--task", "reacher", "--policy", str(tmp_path / f"{name}.pt"), "--episodes", "1",
                     "--seed", "3", "--json"]) == 0
        ends[name] = json.loads(capsys.readouterr().out)["final_distance_mean"]
    for name, torque in (("strong", 0.1), ("weak", 0.02)):
        env = ReacherPixelsEnv(ReacherPixelsConfig(reacher={"max_torque": torque}))
        batch = collect(env, lambda t, image, rng: np.ones(2), 1, 3, np.random.default_rng(3))
        assert ends[name] == pytest.approx(float(batch["distance"][0]), abs=1e-9), name
    assert ends["legacy"] == ends["weak"] != ends["strong"]
