"""PPO imitation training: the reward rises on a short run, checkpoints resume, policy files are checked,
Ray actors produce the same rollouts as local workers, and evaluation reports the issue's metrics."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from anima.models.imitation.config import ImitationTrainConfig
from anima.models.imitation.policy import ImitationPolicy, load_policy_file, save_atomic
from anima.models.imitation.rollout import InProcessPool, LocalProcessPool, RayPool, build_policy
from anima.models.imitation.trainer import ImitationTrainer

# Cheap setting: a clip that holds the crouch (the zero action stands up, so the policy must learn
# a constant offset), 500 Hz physics, 10-step episodes from reference states, 256 samples per
# iteration, and a larger step size and more epochs than the paper's so a few iterations show it.
CHEAP = {"profile": "training", "env_kwargs": {"episode_steps": 10}, "video_every": 0, "keep_checkpoint_every": 0,
         "ppo.steps_per_batch": 256, "ppo.minibatch_size": 64, "ppo.learning_rate": 1e-3, "ppo.epochs": 10}
ITERATIONS = 6


def _crouch_clip(path) -> str:
    from anima.sim_bridge.laikago_world import CROUCH_POSE

    frame = [0.0, 0.0, 0.385, 0.5, 0.5, 0.5, 0.5, *CROUCH_POSE.tolist()]  # level, crouched body height
    path.write_text(json.dumps({"LoopMode": "Wrap", "FrameDuration": 0.5, "Frames": [frame, frame]}))
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("imitation_run")
    config = ImitationTrainConfig(motion=_crouch_clip(run_dir / "crouch.json")).replace(**CHEAP)
    history = ImitationTrainer(config, run_dir, log=lambda _m: None).run(max_iterations=ITERATIONS)
    return run_dir, history


def test_short_ppo_run_raises_the_reward(trained):
    _, history = trained
    rewards = [h["reward_per_step"] for h in history]
    # measured: 0.34, 0.31, 0.39, 0.44, 0.50, 0.52 (reward per step of each batch)
    assert np.mean(rewards[-2:]) > rewards[0] + 0.1, rewards


def test_run_directory_holds_config_progress_curve_and_tensorboard(trained):
    run_dir, history = trained
    for name in ("config.yaml", "checkpoint.pt", "progress.json", "learning_curve.png"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tb").iterdir())
    assert [h["samples"] for h in json.loads((run_dir / "progress.json").read_text())["history"]] == [
        256 * k for k in range(1, ITERATIONS + 1)]


def test_checkpoint_is_plain_data_and_resumes(trained, tmp_path):
    run_dir, _ = trained
    data = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert data["samples"] == ITERATIONS * 256 and data["spec"]["motion"] == "crouch" and data["spec"]["obs_dim"] == 160
    resumed = ImitationTrainer.resume(run_dir, log=lambda _m: None)
    assert resumed.samples == ITERATIONS * 256 and len(resumed.history) == ITERATIONS
    for key, value in data["policy"].items():
        assert torch.equal(resumed.model.policy.state_dict()[key], value), key
    assert not resumed.model.policy.log_std.requires_grad
    assert torch.allclose(resumed.model.policy.log_std, torch.full((12,), float(np.log(0.125))))
    history = resumed.run(max_iterations=1)
    assert len(history) == ITERATIONS + 1 and history[-1]["samples"] == (ITERATIONS + 1) * 256


def _respec(data: dict, **changes) -> dict:
    return {**data, "spec": {**data["spec"], **changes}}


def test_policy_files_for_another_motion_robot_or_size_are_refused(trained, tmp_path):
    run_dir, _ = trained
    data = load_policy_file(run_dir / "checkpoint.pt")
    policy = ImitationPolicy.load(run_dir / "checkpoint.pt", motion="crouch", obs_dim=160, action_dim=12)
    assert policy.act(np.zeros(160)).shape == (12,)
    for changes, message in (({"motion": "dog_trot"}, "motion 'dog_trot', not 'dog_pace'"),
                             ({"robot": "a1"}, "robot 'a1', not 'laikago'"),
                             ({"obs_dim": 150}, "observation size 150, not 160")):
        path = tmp_path / "other.pt"
        save_atomic(_respec(data, **{"motion": "dog_pace", **changes}), path)
        with pytest.raises(ValueError, match=message):
            ImitationPolicy.load(path, motion="dog_pace", obs_dim=160, action_dim=12)


def test_a_corrupt_policy_file_gives_a_one_line_error(trained, tmp_path):
    run_dir, _ = trained
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes((run_dir / "checkpoint.pt").read_bytes()[:2000])
    result = subprocess.run([sys.executable, "-m", "anima.main", "eval", "imitation", "--policy", str(bad), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("anima eval imitation:")]
    assert len(lines) == 1 and "cannot read the policy" in lines[0] and "Traceback" not in result.stderr


def test_evaluation_reports_the_issue_metrics(trained):
    from anima.models.imitation.evaluate import evaluate_policy

    run_dir, _ = trained
    result = evaluate_policy(run_dir / "checkpoint.pt", str(run_dir / "crouch.json"), episodes=1, seconds=0.5,
                             log=lambda _m: None)
    assert 0.0 <= result["normalized_return"] <= 1.0
    assert 0.0 <= result["pose_error_rad_rms"] < 1.0
    assert result["survival_rate"] in (0.0, 1.0)
    assert result["speed_ratio"] is None or result["speed_ratio"] >= 0.0
    assert "root_drift_m_per_cycle" in result


def _worker_args(n: int) -> list[dict]:
    return [{"env_kwargs": {"motion": "dog_pace", "episode_steps": 8, "profile": "training"}, "seed": 3, "index": i,
             "net_arch": (64, 32), "action_std": 0.125, "gamma": 0.95, "obs_clip": 5.0} for i in range(n)]


def _collect_twice(pool) -> list:
    torch.manual_seed(0)  # the same random policy for every pool
    policy = build_policy(160, 12, 2 * np.pi, (64, 32), 0.125)
    weights = {k: v.detach().numpy() for k, v in policy.state_dict().items()}
    try:
        return [pool.collect(weights, np.zeros(160), np.ones(160), 12, 0.0) for _ in range(2)]
    finally:
        pool.close()


def _assert_same(a: list, b: list) -> None:
    for batch_a, batch_b in zip(a, b):
        for seg_a, seg_b in zip(batch_a, batch_b):
            for field in ("obs", "actions", "rewards", "episode_starts", "values", "log_probs"):
                assert np.array_equal(getattr(seg_a, field), getattr(seg_b, field)), field
            assert seg_a.last_value == seg_b.last_value


def test_ray_rollouts_equal_local_rollouts():
    pytest.importorskip("ray")
    local = _collect_twice(InProcessPool(_worker_args(2)))
    assert sum(len(s.episodes) for batch in local for s in batch) >= 2  # segments cross episode ends
    assert not np.array_equal(local[0][0].obs, local[0][1].obs)  # the two workers differ
    _assert_same(local, _collect_twice(RayPool(_worker_args(2), "auto")))


def test_local_worker_processes_equal_in_process_workers():
    _assert_same(_collect_twice(InProcessPool(_worker_args(2))), _collect_twice(LocalProcessPool(_worker_args(2))))


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ValueError, match="divide evenly over 3 workers"):
        ImitationTrainConfig(workers=3)
    with pytest.raises(ValueError, match=r"ppo: unknown key\(s\) \['lr'\] for PPOConfig"):
        ImitationTrainConfig.from_dict({"ppo": {"lr": 1.0}})
    with pytest.raises(ValueError, match=r"ppo: unknown key\(s\) \['lr'\]"):
        ImitationTrainConfig().replace(**{"ppo.lr": 1.0})
    with pytest.raises(ValueError, match="workers: expected int, got 2.5"):
        ImitationTrainConfig().replace(workers=2.5)
    assert ImitationTrainConfig().replace(**{"ppo.learning_rate": "1e-4"}).ppo.learning_rate == 1e-4
    (tmp_path / "config.yaml").write_text("motion: dog_pace\nbogus: 1\n")
    with pytest.raises(ValueError, match="bogus"):
        ImitationTrainer.resume(tmp_path)
