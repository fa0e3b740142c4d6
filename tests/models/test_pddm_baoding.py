"""``anima train pddm --task baoding`` wired end to end: one tiny iteration on the simulated hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from anima.models.dynamics_ensemble import DynamicsEnsemble

pytestmark = pytest.mark.sim


def test_baoding_one_iteration_smoke(tmp_path: Path) -> None:
    run_dir = tmp_path / "baoding"
    sets = [
        "rollouts_per_iter=2", "rollout_tasks=[ccw, cw]", "rollout_length=8", "random_rollouts_train=3", "random_rollouts_val=1",
        "random_rollout_length=8", "ensemble.epochs=2", "planner.num_samples=100", "video_every=0",
    ]
    cmd = [sys.executable, "-P", "-m", "anima", "train", "pddm", "--task", "baoding", "--iterations", "1", "--run-dir", str(run_dir)]
    for s in sets:
        cmd += ["--set", s]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    history = json.loads((run_dir / "progress.json").read_text())["history"]
    assert len(history) == 1 and len(history[0]["model_error_per_step"]) == 7
    assert set(history[0]["success_by_task"]) == {"ccw", "cw"}  # rollout 0 planned ccw, rollout 1 cw
    assert (run_dir / "models" / "iter_000.pt").is_file()
    model = DynamicsEnsemble.load(run_dir / "model.pt", state_dim=36, action_dim=24)
    assert model.joint_names[:2] == ("WRJ1", "WRJ0") and len(model.joint_names) == 24
    assert (run_dir / "rollout.mp4").is_file() and (run_dir / "learning_curve.png").is_file()
    # Evaluation only (no further training): a chosen checkpoint, planned as the node plans, another beta.
    config_text = (run_dir / "config.yaml").read_text()
    assert "beta: 0.45" not in config_text
    cmd = [sys.executable, "-P", "-m", "anima", "train", "pddm", "--resume", str(run_dir), "--evaluate", "1",
           "--model", str(run_dir / "models" / "iter_000.pt"), "--as-node", "--set", "planner.beta=0.45", "--set", "planner.num_samples=100",
           "--set", "env_kwargs.target_lead_rad=0.2"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads((run_dir / "evaluation_as_node.json").read_text())
    assert set(result) >= {"ccw", "cw", "goto"} and result["model"].endswith("iter_000.pt")
    assert result["as_node"]["action_latency_s"] > 0
    assert result["planner"]["beta"] == 0.45 and result["planner"]["num_samples"] == 100  # --set wins over the node's planner settings
    assert result["ccw"]["target_lead_rad"] == result["cw"]["target_lead_rad"] == 0.2  # and over the node's target leads
    assert result["ccw"]["drop_rate"] in (0.0, 1.0) and result["cw"]["drop_rate"] in (0.0, 1.0)  # 1 episode each
    assert (run_dir / "config.yaml").read_text() == config_text  # an evaluation override does not rewrite the run's config
    assert len(json.loads((run_dir / "progress.json").read_text())["history"]) == 1  # nothing trained
