"""SOLAR's baseline at equal samples: image-based SAC (stable-baselines3) on the same task.

Issue 18 asks for success against episodes of SOLAR and of a model-free image learner, measured in
the same way: the same environment (``make_task_env``: the reacher's 64x64 frames, T = 50), the
same episode budget (SOLAR's 100 random + iterations x 40), success of the training rollouts per
batch of ``report_every`` episodes, and at the end the deterministic policy on the same 20
evaluation episodes (seed 12345) as ``SolarTrainer.evaluate``.

SAC is SB3's, with its CNN feature extractor (``CnnPolicy``: NatureCNN, 512 features, shared by
actor and critics through ``share_features_extractor``) and SB3's defaults otherwise (lr 3e-4,
batch 256, tau 5e-3, gamma 0.99, automatic entropy), ``learning_starts`` 1000 steps of uniform
random actions (FACTS "VICE-RAQ": SAC's 1000 initial exploration steps) and a replay buffer the
size of the whole run.

Run directory: ``config.yaml``, ``history.json`` (per batch: episodes, success rate, final distance,
return, wall time), ``evaluation.json``, ``learning_curve.png``, ``policy.pt`` (the SB3 policy's
``state_dict``, plain tensors).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from anima.models.checkpoint import save_torch, write_json_atomic, write_text_atomic
from anima.models.solar.trainer import collect, make_task_env, task_distance

__all__ = ["SacBaselineConfig", "train_sac_baseline"]


@dataclass(frozen=True)
class SacBaselineConfig:
    task: str = "reacher"
    episodes: int = 380  # SOLAR's budget in config/solar/reacher.yaml: 100 random + 7 x 40
    seed: int = 0
    horizon: int = 50
    learning_starts: int = 1000
    batch_size: int = 256
    learning_rate: float = 3e-4
    report_every: int = 40
    eval_episodes: int = 20
    torch_threads: int = 1

    def __post_init__(self) -> None:
        for name in ("episodes", "horizon", "batch_size", "report_every", "torch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"SacBaselineConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_starts < 0 or self.eval_episodes < 0 or not self.learning_rate > 0:
            raise ValueError(f"SacBaselineConfig: learning_starts, eval_episodes >= 0 and learning_rate > 0, got {self}")


def _episode_rows(config: SacBaselineConfig, t0: float) -> tuple[Callable[[dict, float], None], list[dict[str, Any]], list[dict]]:
    """A recorder of finished episodes and the per-batch history it fills."""
    finished: list[dict] = []
    history: list[dict[str, Any]] = []

    def record(info: dict, ret: float) -> None:
        finished.append({"success": bool(info.get("success", info.get("is_success", False))), "distance": task_distance(info),
                         "return": ret})
        n = len(finished)
        if n % config.report_every == 0 or n == config.episodes:  # a full batch, or the last, shorter one
            batch = finished[-(n % config.report_every or config.report_every):]
            history.append({"episodes_trained": len(finished), "success_rate": float(np.mean([b["success"] for b in batch])),
                            "final_distance_mean": float(np.nanmean([b["distance"] for b in batch])),
                            "return_mean": float(np.mean([b["return"] for b in batch])), "wall_s": round(time.time() - t0, 1)})

    return record, history, finished


def train_sac_baseline(config: SacBaselineConfig, run_dir: str | Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, write the run directory, return the evaluation (``success_rate``, ``episodes_trained``, ...)."""
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    from anima.models.solar.config import SolarTrainConfig

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))
    torch.set_num_threads(config.torch_threads)
    env, _ = make_task_env(SolarTrainConfig(task=config.task, horizon=config.horizon))
    steps = config.episodes * config.horizon
    model = SAC("CnnPolicy", env, learning_rate=config.learning_rate, buffer_size=steps, learning_starts=config.learning_starts,
                batch_size=config.batch_size, seed=config.seed, verbose=0, device="cpu",
                policy_kwargs={"share_features_extractor": True})
    t0 = time.time()
    record, history, finished = _episode_rows(config, t0)

    class Recorder(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self._ret = 0.0

        def _on_step(self) -> bool:
            self._ret += float(self.locals["rewards"][0])
            if self.locals["dones"][0]:
                record(self.locals["infos"][0], self._ret)
                self._ret = 0.0
                if len(finished) % config.report_every == 0:
                    write_json_atomic(run_dir / "history.json", history, indent=1)  # a stopped run keeps its curve
                    h = history[-1]
                    log(f"{h['episodes_trained']} episodes: success {h['success_rate']:.2f}, final distance "
                        f"{h['final_distance_mean']:.4f}, return {h['return_mean']:.1f} ({h['wall_s']:.0f} s)")
            return True

    model.learn(total_timesteps=steps, callback=Recorder())
    write_json_atomic(run_dir / "history.json", history, indent=1)
    save_torch({k: v.detach().cpu() for k, v in model.policy.state_dict().items()}, run_dir / "policy.pt")
    result = {"task": config.task, "method": "sac_sb3_cnn", "episodes_trained": len(finished), "seed": config.seed,
              "wall_s": round(time.time() - t0, 1)}
    if config.eval_episodes:
        act = lambda t, image, rng: model.predict(image, deterministic=True)[0]  # noqa: E731
        batch = collect(env, act, config.eval_episodes, config.horizon, np.random.default_rng(12345))
        result.update(success_rate=float(batch["success"].mean()), final_distance_mean=float(np.nanmean(batch["distance"])),
                      episodes=config.eval_episodes)
    write_json_atomic(run_dir / "evaluation.json", result, indent=1)
    _plot(history, run_dir, config.task)
    log(f"SAC baseline: {len(finished)} episodes, evaluation success {result.get('success_rate', float('nan')):.2f}")
    return result


def _plot(history: list[dict[str, Any]], run_dir: Path, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anima.models.checkpoint import atomic_write

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([h["episodes_trained"] for h in history], [h["success_rate"] for h in history], "o-")
    ax.set(xlabel="episodes", ylabel="success rate (training rollouts)", ylim=(-0.05, 1.05), title=f"SAC (pixels) {task}")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    with atomic_write(run_dir / "learning_curve.png", "wb") as f:
        fig.savefig(f, dpi=100, format="png")
    plt.close(fig)
