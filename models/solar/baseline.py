"""SOLAR's baseline at equal samples: image-based SAC (stable-baselines3) on the same task.

Issue 18 asks for success against episodes of SOLAR and of a model-free image learner, measured in
the same way: the same environment (``make_task_env`` with the SOLAR config's ``env_kwargs``: the reacher's
64x64 frames, its arm, reward and rendering, T = 50), success of the training rollouts per batch of
``report_every`` episodes, and at the end the deterministic policy on the same 20 evaluation episodes
(seed 12345) as ``SolarTrainer.evaluate``.

SAC is SB3's, with its CNN feature extractor (``CnnPolicy``: NatureCNN, 512 features, shared by
actor and critics through ``share_features_extractor``) and SB3's defaults otherwise (lr 3e-4,
batch 256, tau 5e-3, gamma 0.99, automatic entropy), ``learning_starts`` 1000 steps of uniform
random actions (FACTS "VICE-RAQ": SAC's 1000 initial exploration steps) and a replay buffer the
size of the whole run.

Image SAC takes hours per thousand episodes on a CPU, so a run is resumable: every ``checkpoint_every``
episodes (and at the end) ``checkpoint.pt`` holds the networks, the optimizers, the entropy coefficient,
the step count, the episode records and the RNG states (plain tensors and numbers, read with
``weights_only``), and ``replay.npz`` the filled part of the replay buffer (plain arrays, read without
pickle). Training runs in chunks of ``report_every`` whole episodes, so a checkpoint falls between episodes
and holds every transition. :func:`resume_sac_baseline` continues a run, also to a larger episode budget;
the environment's episode draws continue from a stream seeded by the episode count (not the draws an
uninterrupted run would have made).

Run directory: ``config.yaml``, ``history.json`` (per batch: episodes, success rate, final distance,
return, wall time), ``evaluation.json``, ``learning_curve.png``, ``policy.pt`` (the SB3 policy's
``state_dict``, plain tensors), ``checkpoint.pt`` and ``replay.npz``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from anima.models.checkpoint import CheckpointError, load_torch, save_npz, save_torch, write_json_atomic, write_text_atomic
from anima.models.solar.trainer import collect, make_task_env, task_distance

__all__ = ["SacBaselineConfig", "train_sac_baseline", "resume_sac_baseline"]

REPLAY_KEYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


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
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # the task env's, as SOLAR's config gives them
    checkpoint_every: int = 200  # episodes between resumable checkpoints (a multiple of report_every)

    def __post_init__(self) -> None:
        for name in ("episodes", "horizon", "batch_size", "report_every", "torch_threads", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"SacBaselineConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_starts < 0 or self.eval_episodes < 0 or not self.learning_rate > 0:
            raise ValueError(f"SacBaselineConfig: learning_starts, eval_episodes >= 0 and learning_rate > 0, got {self}")
        if self.checkpoint_every % self.report_every:
            raise ValueError(f"SacBaselineConfig.checkpoint_every ({self.checkpoint_every}) must be a multiple of "
                             f"report_every ({self.report_every}): checkpoints fall between batches")
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"SacBaselineConfig.env_kwargs must be a mapping, got {self.env_kwargs!r}")


def _episode_rows(config: SacBaselineConfig, t0: float, finished: list[dict], history: list[dict[str, Any]]
                  ) -> Callable[[dict, float], None]:
    """A recorder of finished episodes into ``finished`` and the per-batch ``history``."""

    def record(info: dict, ret: float) -> None:
        finished.append({"success": bool(info.get("success", info.get("is_success", False))), "distance": task_distance(info),
                         "return": ret})
        n = len(finished)
        if n % config.report_every == 0 or n == config.episodes:  # a full batch, or the last, shorter one
            batch = finished[-(n % config.report_every or config.report_every):]
            history.append({"episodes_trained": len(finished), "success_rate": float(np.mean([b["success"] for b in batch])),
                            "final_distance_mean": float(np.nanmean([b["distance"] for b in batch])),
                            "return_mean": float(np.mean([b["return"] for b in batch])), "wall_s": round(time.time() - t0, 1)})

    return record


def _make_model(config: SacBaselineConfig, env: Any) -> Any:
    from stable_baselines3 import SAC

    return SAC("CnnPolicy", env, learning_rate=config.learning_rate, buffer_size=config.episodes * config.horizon,
               learning_starts=config.learning_starts, batch_size=config.batch_size, seed=config.seed, verbose=0,
               device="cpu", policy_kwargs={"share_features_extractor": True})


def _save_checkpoint(model: Any, run_dir: Path, finished: list[dict], history: list[dict], wall_s: float) -> None:
    """replay.npz first, then checkpoint.pt naming its step count: a checkpoint never points at a buffer without its
    transitions (after a crash between the two, the newer buffer's first steps are the checkpoint's)."""
    import torch

    buf, n = model.replay_buffer, model.num_timesteps
    if (buf.full and not (buf.pos == 0 and n == buf.buffer_size)) or (not buf.full and buf.pos != n):
        raise RuntimeError(f"SAC baseline: replay buffer at {buf.pos} (full {buf.full}) after {n} steps")
    save_npz(run_dir / "replay.npz", {**{k: getattr(buf, k)[:n] for k in REPLAY_KEYS}, "num_timesteps": np.array(n)})
    ent = getattr(model, "ent_coef_optimizer", None)
    save_torch({"format": 1, "num_timesteps": n, "n_updates": int(model._n_updates), "policy": model.policy.state_dict(),
                "actor_optimizer": model.actor.optimizer.state_dict(), "critic_optimizer": model.critic.optimizer.state_dict(),
                "ent_coef_optimizer": ent.state_dict() if ent is not None else None,
                "log_ent_coef": model.log_ent_coef.detach().clone() if ent is not None else None,
                "finished": [dict(f) for f in finished], "history": [dict(h) for h in history], "wall_s": float(wall_s),
                "torch_rng": torch.get_rng_state(), "numpy_rng": _numpy_rng_state()}, run_dir / "checkpoint.pt")


def _numpy_rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": [int(k) for k in keys], "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}


def _load_checkpoint(model: Any, run_dir: Path) -> tuple[list[dict], list[dict], float]:
    """Restore ``model`` from ``run_dir``; CheckpointError naming the file and what is wrong."""
    import torch

    ck = load_torch(run_dir / "checkpoint.pt", "SAC baseline checkpoint")
    if not isinstance(ck, dict) or ck.get("format") != 1:
        raise CheckpointError(f"{run_dir / 'checkpoint.pt'}: not a SAC baseline checkpoint (format 1)")
    n = int(ck["num_timesteps"])
    try:
        with np.load(run_dir / "replay.npz", allow_pickle=False) as data:
            arrays = {k: data[k] for k in (*REPLAY_KEYS, "num_timesteps")}
    except (OSError, KeyError, ValueError) as err:
        raise CheckpointError(f"{run_dir / 'replay.npz'}: cannot read the replay buffer: {err}") from None
    buf = model.replay_buffer
    if int(arrays["num_timesteps"]) < n:
        raise CheckpointError(f"{run_dir / 'replay.npz'}: holds {int(arrays['num_timesteps'])} steps, fewer than "
                              f"checkpoint.pt's {n}")
    arrays = {k: v[:n] for k, v in arrays.items() if k != "num_timesteps"}  # a newer buffer (a crash between the
    # two writes) starts with the same n transitions: the buffer only grows
    if n > buf.buffer_size:
        raise CheckpointError(f"{run_dir}: the checkpoint holds {n} steps, more than the episode budget's {buf.buffer_size}")
    for k in REPLAY_KEYS:
        if arrays[k].shape != (n, *getattr(buf, k).shape[1:]):
            raise CheckpointError(f"{run_dir / 'replay.npz'}: {k} has shape {arrays[k].shape}, expected "
                                  f"{(n, *getattr(buf, k).shape[1:])}")
        getattr(buf, k)[:n] = arrays[k]
    buf.pos, buf.full = (0, True) if n == buf.buffer_size else (n, False)  # as ReplayBuffer.add leaves them
    model.policy.load_state_dict(ck["policy"])
    model.actor.optimizer.load_state_dict(ck["actor_optimizer"])
    model.critic.optimizer.load_state_dict(ck["critic_optimizer"])
    if ck["ent_coef_optimizer"] is not None:
        with torch.no_grad():
            model.log_ent_coef.copy_(ck["log_ent_coef"])
        model.ent_coef_optimizer.load_state_dict(ck["ent_coef_optimizer"])
    model.num_timesteps, model._n_updates = n, int(ck["n_updates"])
    torch.set_rng_state(ck["torch_rng"])
    r = ck["numpy_rng"]
    np.random.set_state((r["name"], np.asarray(r["keys"], np.uint32), r["pos"], r["has_gauss"], r["cached"]))
    return list(ck["finished"]), list(ck["history"]), float(ck["wall_s"])


def train_sac_baseline(config: SacBaselineConfig, run_dir: str | Path, log: Callable[[str], None] = print,
                       resume: bool = False) -> dict[str, Any]:
    """Train (or with ``resume`` continue the run in ``run_dir``), write the run directory, return the evaluation
    (``success_rate``, ``episodes_trained``, ...)."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from anima.models.solar.config import SolarTrainConfig

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.torch_threads)
    env, _ = make_task_env(SolarTrainConfig(task=config.task, horizon=config.horizon, env_kwargs=config.env_kwargs))
    model = _make_model(config, env)
    finished: list[dict] = []
    history: list[dict[str, Any]] = []
    wall0 = 0.0
    if resume:
        finished, history, wall0 = _load_checkpoint(model, run_dir)
        if len(finished) * config.horizon != model.num_timesteps:
            raise CheckpointError(f"{run_dir / 'checkpoint.pt'}: {len(finished)} episodes but {model.num_timesteps} steps")
        model.env.seed(config.seed + len(finished))  # the next episodes' draws: a stream of their own
        log(f"resumed {run_dir}: {len(finished)} of {config.episodes} episodes done")
    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))
    t0 = time.time() - wall0
    record = _episode_rows(config, t0, finished, history)

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

    recorder = Recorder()
    while len(finished) < config.episodes:
        chunk = min(config.report_every - len(finished) % config.report_every, config.episodes - len(finished))
        before = len(finished)
        model.learn(total_timesteps=chunk * config.horizon, callback=recorder, reset_num_timesteps=False)
        if len(finished) != before + chunk:
            raise RuntimeError(f"SAC baseline: {chunk * config.horizon} steps ended {len(finished) - before} episodes, "
                               f"not {chunk}: the task's episodes must last exactly horizon={config.horizon} steps")
        if len(finished) % config.checkpoint_every == 0 or len(finished) == config.episodes:
            _save_checkpoint(model, run_dir, finished, history, time.time() - t0)
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


def resume_sac_baseline(run_dir: str | Path, episodes: int | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Continue the run in ``run_dir`` (its config.yaml) to ``episodes`` (default: its own budget)."""
    run_dir = Path(run_dir)
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file: {run_dir} is not a SAC baseline run directory")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a mapping of SacBaselineConfig fields")
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(SacBaselineConfig)})
    if unknown:
        raise CheckpointError(f"{path}: unknown SacBaselineConfig fields {unknown}")
    config = SacBaselineConfig(**data)
    if episodes is not None:
        config = dataclasses.replace(config, episodes=int(episodes))
    return train_sac_baseline(config, run_dir, log, resume=True)


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
