"""The adaptation procedure (evaluate, AWR search over z, evaluate), its files, abort, and `anima adapt` in process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from anima.models.adaptation.run import AdaptationAborted, AdaptConfig, EpisodeResult, adapt, load_adapt_config
from anima.models.adaptation.awr import AWRConfig

Z_STAR = np.array([0.8, -0.6, 0.0, 0.4, -0.3, 0.5, 0.0, -0.2])


class Quadratic:
    """A synthetic 'robot': the return per step is 1 − ‖z − z*‖²/8 (0.8 at the prior mean 0)."""

    def __init__(self, abort_at: int | None = None) -> None:
        self.calls, self.abort_at = 0, abort_at

    def run(self, z, seed, robust=False):
        self.calls += 1
        if self.abort_at is not None and self.calls == self.abort_at:
            raise KeyboardInterrupt
        value = 0.5 if robust else 1.0 - float(np.sum((np.asarray(z) - Z_STAR) ** 2)) / 8.0
        return EpisodeResult(value, 10, False)

    def close(self):
        pass


def test_adapt_improves_on_the_prior_and_writes_curve_and_z(tmp_path):
    state = adapt(Quadratic(), 8, AdaptConfig(eval_episodes=2), budget=50, seed=0, out_dir=tmp_path, robust=True,
                  log=lambda _m: None)
    assert state["episodes_used"] == 50 and state["status"] == "done"
    assert abs(state["return_unadapted"] - (1.0 - np.sum(Z_STAR ** 2) / 8.0)) < 1e-12
    assert state["return_adapted"] > state["return_unadapted"] and state["return_robust"] == 0.5
    saved = json.loads((tmp_path / "adaptation.json").read_text())
    assert [e["phase"] for e in saved["episodes"]].count("search") == 50
    z = yaml.safe_load((tmp_path / "adapted_z.yaml").read_text())["imitation_policy"]["ros__parameters"]["z"]
    np.testing.assert_allclose(z, saved["search"]["best_z"], atol=1e-6)
    assert saved["search"]["best_return"] == max(e["return"] for e in saved["episodes"] if e["phase"] == "search")


def test_abort_keeps_the_best_z_so_far(tmp_path):
    runner = Quadratic(abort_at=2 + 8)  # 2 evaluation episodes, then 7 search episodes, abort on the 8th
    with pytest.raises(AdaptationAborted, match="7 search episodes"):
        adapt(runner, 8, AdaptConfig(eval_episodes=2), budget=50, seed=0, out_dir=tmp_path, log=lambda _m: None)
    saved = json.loads((tmp_path / "adaptation.json").read_text())
    assert saved["status"].startswith("aborted") and saved["episodes_used"] == 7
    search = [e for e in saved["episodes"] if e["phase"] == "search"]
    best = max(search, key=lambda e: e["return"])
    z = yaml.safe_load((tmp_path / "adapted_z.yaml").read_text())["imitation_policy"]["ros__parameters"]["z"]
    np.testing.assert_allclose(z, best["z"], atol=1e-6)


def test_search_config_loads_through_the_typed_loader_and_names_bad_keys():
    config = load_adapt_config(overrides={"awr.temperature": 1.0, "episode_s": 2})
    assert config.awr.temperature == 1.0 and config.episode_s == 2.0 and isinstance(config.awr, AWRConfig)
    with pytest.raises(ValueError, match="temprature"):
        load_adapt_config(overrides={"awr.temprature": 1.0})


# ---------------------------------------------------------------- the CLI in process (untrained policies)
def _policy(run_dir, adaptive: bool) -> str:
    from anima.models.imitation.config import ImitationTrainConfig
    from anima.models.imitation.trainer import ImitationTrainer

    changes = {"env_kwargs": {"randomize": True}, "ppo.net_arch": [32, 32]}
    if adaptive:
        changes["latent.dim"] = 8
    config = ImitationTrainConfig(motion="dog_pace", profile="training").replace(**changes)
    trainer = ImitationTrainer(config, run_dir, log=lambda _m: None)
    trainer.save()
    return str(run_dir / "checkpoint.pt")


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapt_policies")
    return _policy(root / "adaptive", True), _policy(root / "robust", False)


def _anima(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "anima", *args], capture_output=True, text=True, timeout=300)


def test_cli_adapts_in_process_and_prints_the_json(policies, tmp_path):
    adaptive, _ = policies
    out = _anima("adapt", "--policy", adaptive, "--domain", "out_weak_motors", "--episodes", "3", "--json",
                 "--set", "episode_s=0.3", "--set", "eval_episodes=1", "--set", "awr.batch=2", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["episodes_used"] == 3 and len(result["adapted_z"]) == 8
    for key in ("return_unadapted", "return_adapted"):
        assert 0.0 <= result[key] <= 1.0
    assert result["return_robust"] is None and "robust" in result["return_robust_reason"]
    assert (tmp_path / "adaptation.png").is_file() and (tmp_path / "adapted_z.yaml").is_file()


def test_cli_refuses_a_policy_without_z(policies, tmp_path):
    _, robust = policies
    out = _anima("adapt", "--policy", robust, "--domain", "out_weak_motors", "--out", str(tmp_path))
    assert out.returncode == 2
    assert "trained without a latent dynamics code z" in out.stderr
    assert not (tmp_path / "adaptation.json").exists()


def test_cli_refuses_a_bad_domain_file_naming_the_key(policies, tmp_path):
    adaptive, _ = policies
    bad = tmp_path / "bad.yaml"
    bad.write_text("foot_friction: -0.2\n")
    out = _anima("adapt", "--policy", adaptive, "--domain", str(bad))
    assert out.returncode == 2 and "foot_friction" in out.stderr
