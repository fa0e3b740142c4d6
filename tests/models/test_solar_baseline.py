"""SOLAR's image-SAC baseline: the run directory, success per batch of episodes, the same evaluation as SOLAR."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import yaml

import numpy as np

from anima.models.checkpoint import CheckpointError, save_torch
from anima.models.solar.baseline import SacBaselineConfig, resume_sac_baseline, train_sac_baseline


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


def test_a_run_resumes_from_its_checkpoint_with_every_transition_and_a_larger_budget(tmp_path) -> None:
    # gradient steps from step 60 on (batch 8: cheap), so the resumed run continues trained networks
    config = SacBaselineConfig(episodes=2, learning_starts=60, batch_size=8, report_every=1, checkpoint_every=2,
                               eval_episodes=0, seed=3, env_kwargs={"reward": "squared_distance", "antialias": True})
    train_sac_baseline(config, tmp_path, log=lambda _m: None)
    first = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    with np.load(tmp_path / "replay.npz", allow_pickle=False) as data:
        obs = data["observations"]
    assert first["num_timesteps"] == 100 and first["n_updates"] == 40 and obs.shape == (100, 1, 3, 64, 64)
    assert len(first["finished"]) == 2 and obs.any()
    lines: list[str] = []
    result = resume_sac_baseline(tmp_path, episodes=4, log=lines.append)
    assert lines[0] == f"resumed {tmp_path}: 2 of 4 episodes done"
    assert result["episodes_trained"] == 4
    assert [h["episodes_trained"] for h in json.loads((tmp_path / "history.json").read_text())] == [1, 2, 3, 4]
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["episodes"] == 4
    second = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert second["num_timesteps"] == 200 and second["n_updates"] == 140  # one update per step after learning_starts
    assert second["finished"][:2] == first["finished"]
    with np.load(tmp_path / "replay.npz", allow_pickle=False) as data:
        np.testing.assert_array_equal(data["observations"][:100], obs)  # the first run's transitions kept
        assert data["observations"].shape[0] == 200
    moved = [k for k in first["policy"] if not torch.equal(first["policy"][k], second["policy"][k])]
    assert any(k.startswith("actor.") for k in moved)  # trained on from the restored networks
    # A crash between the two writes leaves a newer buffer beside the older checkpoint: its first steps are used
    save_torch(first, tmp_path / "checkpoint.pt")
    assert resume_sac_baseline(tmp_path, episodes=3, log=lambda _m: None)["episodes_trained"] == 3


def test_a_resume_with_a_damaged_checkpoint_is_refused_naming_the_file(tmp_path) -> None:
    config = SacBaselineConfig(episodes=1, report_every=1, checkpoint_every=1, eval_episodes=0)
    train_sac_baseline(config, tmp_path, log=lambda _m: None)
    with np.load(tmp_path / "replay.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(tmp_path / "replay.npz", **{**arrays, "num_timesteps": np.array(40)})
    with pytest.raises(CheckpointError, match=r"replay.npz: holds 40 steps, fewer than checkpoint.pt's 50"):
        resume_sac_baseline(tmp_path, episodes=2, log=lambda _m: None)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"checkpoint.pt: cannot read"):
        resume_sac_baseline(tmp_path, episodes=2, log=lambda _m: None)
    with pytest.raises(CheckpointError, match="not a SAC baseline run directory"):
        resume_sac_baseline(tmp_path / "nowhere")


@pytest.mark.parametrize(("field", "value"), [("episodes", 0), ("learning_rate", 0.0), ("report_every", 0)])
def test_bad_config_is_refused_naming_the_field(field, value) -> None:
    with pytest.raises(ValueError, match=field if field != "learning_rate" else "learning_rate > 0"):
        SacBaselineConfig(**{field: value})


def test_checkpoints_must_fall_between_batches() -> None:
    with pytest.raises(ValueError, match="checkpoint_every .50. must be a multiple of report_every .40."):
        SacBaselineConfig(checkpoint_every=50)


def test_the_command_refuses_an_unknown_task() -> None:
    proc = subprocess.run([sys.executable, "-m", "anima", "train", "solar_baseline", "--task", "pusher"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--task must be one of" in proc.stdout


def test_the_command_names_a_run_directory_it_cannot_resume(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "anima", "train", "solar_baseline", "--resume", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and f"--resume {tmp_path / 'nowhere'}: " in proc.stdout
    assert "not a SAC baseline run directory" in proc.stdout
