"""SOLAR's image-SAC baseline: the run directory, success per batch of episodes, the same evaluation as SOLAR."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import yaml

from anima.models.solar.baseline import SacBaselineConfig, train_sac_baseline


def test_a_tiny_run_records_every_batch_and_evaluates_like_solar(tmp_path) -> None:
    # 3 episodes of 50 steps, all inside learning_starts: the random-action phase, no gradient step (fast)
    config = SacBaselineConfig(episodes=3, learning_starts=1000, report_every=2, eval_episodes=2, seed=1)
    lines: list[str] = []
    result = train_sac_baseline(config, tmp_path, log=lines.append)
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["episodes_trained"] for h in history] == [2, 3]  # a full batch, then the remainder
    for h in history:
        assert 0.0 <= h["success_rate"] <= 1.0 and 0.0 < h["final_distance_mean"] < 0.5 and h["return_mean"] < 0
    assert result["episodes_trained"] == 3 and result["episodes"] == 2 and 0.0 <= result["success_rate"] <= 1.0
    assert json.loads((tmp_path / "evaluation.json").read_text()) == result
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["episodes"] == 3
    weights = torch.load(tmp_path / "policy.pt", weights_only=True)
    assert any(k.startswith("actor.") for k in weights)
    assert (tmp_path / "learning_curve.png").stat().st_size > 0
    assert any("2 episodes: success" in line for line in lines)


@pytest.mark.parametrize(("field", "value"), [("episodes", 0), ("learning_rate", 0.0), ("report_every", 0)])
def test_bad_config_is_refused_naming_the_field(field, value) -> None:
    with pytest.raises(ValueError, match=field if field != "learning_rate" else "learning_rate > 0"):
        SacBaselineConfig(**{field: value})


def test_the_command_refuses_an_unknown_task() -> None:
    proc = subprocess.run([sys.executable, "-m", "anima", "train", "solar_baseline", "--task", "pusher"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--task must be one of" in proc.stdout
