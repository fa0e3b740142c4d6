"""The VICE-RAQ commands a person runs: ``anima goals collect/check``, ``anima eval vice_raq``, and
``anima train vice_raq``'s refusals of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from anima.main import main
from anima.models.vice_raq.config import SACConfig
from anima.models.vice_raq.goals import load_goal_folder
from anima.models.vice_raq.policy import PolicySpec, save_policy
from anima.models.vice_raq.sac import SACAgent


def test_goals_collect_writes_success_images_that_training_reads(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["goals", "collect", "--task", "push", "-n", "3", "-o", str(tmp_path / "g")]) == 0
    images, names = load_goal_folder(tmp_path / "g", 48)
    assert images.shape == (3, 48, 48, 3) and names == ["goal_000.png", "goal_001.png", "goal_002.png"]
    assert len({img.tobytes() for img in images}) == 3  # the arm pose differs between goal images
    assert "3 push goal images" in capsys.readouterr().out
    assert (tmp_path / "g" / "goals.yaml").is_file()


def test_goals_check_names_the_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import cv2

    cv2.imwrite(str(tmp_path / "ok.png"), np.zeros((48, 48, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((32, 32, 3), np.uint8))
    (tmp_path / "text.jpg").write_text("not an image")
    assert main(["goals", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "small.png: 32x32 pixels, expected 48x48" in err and "text.jpg: unreadable" in err and "ok.png" not in err
    assert main(["goals", "collect", "-n", "0", "-o", str(tmp_path / "x")]) == 2


def test_train_refuses_a_bad_goal_folder_and_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "goals").mkdir()
    (tmp_path / "goals" / "broken.png").write_bytes(b"\x89PNG\r\n")
    assert main(["train", "vice_raq", "--task", "push", "--goals", str(tmp_path / "goals"), "--run-dir", str(tmp_path / "run")]) == 2
    assert "broken.png: unreadable" in capsys.readouterr().out
    assert main(["train", "vice_raq", "--set", "sac.batch_size=big", "--run-dir", str(tmp_path / "run")]) == 2
    assert "batch_size: expected int" in capsys.readouterr().out
    assert main(["train", "vice_raq", "--resume", str(tmp_path / "nothing")]) == 2
    assert "not a VICE-RAQ run directory" in capsys.readouterr().out


def _policy(path: Path, task: str = "push") -> Path:
    agent = SACAgent(48, 4, SACConfig(hidden_sizes=(32, 32), feature_dim=32), seed=0)
    save_policy(path, PolicySpec(task, 48, 4, (-1.0,) * 4, (1.0,) * 4),
                {"hidden_sizes": (32, 32), "feature_dim": 32, "conv_filters": 8, "conv_kernel": 5}, agent.encoder, agent.actor,
                {"queries_used": 7, "goal_examples_used": 80, "env_steps": 1000})
    return path


def test_eval_prints_one_json_object_with_the_target_keys(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    policy = _policy(tmp_path / "p.pt")
    assert main(["eval", "vice_raq", "--task", "push", "--policy", str(policy), "--episodes", "1", "--json"]) == 0
    out = capfd.readouterr().out
    result = json.loads(out)  # nothing else on stdout (PyBullet's banner goes to stderr)
    assert result["queries_used"] == 7 and result["goal_examples_used"] == 80 and result["episodes"] == 1
    assert 0.0 <= result["success_rate"] <= 1.0


def test_eval_refuses_a_policy_of_another_task_or_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    policy = _policy(tmp_path / "p.pt", task="push")
    assert main(["eval", "vice_raq", "--task", "bookshelf", "--policy", str(policy)]) == 2
    assert "trained on 'push', --task asked for 'bookshelf'" in capsys.readouterr().err
    assert main(["eval", "vice_raq", "--task", "push", "--policy", str(tmp_path / "none.pt")]) == 2
    assert "none.pt: no such VICE-RAQ policy file" in capsys.readouterr().err
