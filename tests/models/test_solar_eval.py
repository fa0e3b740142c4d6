"""``anima eval solar``: a policy file runs on its task and reports success and the episodes it trained on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from anima.main import main
from anima.models.solar.networks import Encoder
from anima.models.solar.policy import SolarPolicy, make_spec


def _policy(path: Path, task: str = "reacher") -> None:
    torch.manual_seed(0)
    spec = make_spec(task, 10, 3, 0.05, "joint_torque", [-1, -1], [1, 1])
    SolarPolicy(spec, Encoder(10, 64), np.zeros((3, 2, 10)), np.zeros((3, 2)), np.tile(0.25 * np.eye(2), (3, 1, 1)),
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
