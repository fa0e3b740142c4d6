"""PPO for motion imitation (Peng et al., RSS 2020, Sec. V-C): rollout workers + stable-baselines3's update.

Each iteration: every worker runs ``steps_per_batch / workers`` steps with the current policy and
observation statistics (:mod:`anima.models.imitation.rollout`); the segments fill SB3's
``RolloutBuffer`` (GAE with γ = λ = 0.95), SB3's ``PPO.train`` makes one clipped-surrogate epoch
over minibatches of 256, and the running observation statistics take in the batch's observations.

Run directory: ``config.yaml`` (every setting), ``checkpoint.pt`` (latest: policy, optimizer,
observation statistics, counters; written atomically, loaded with ``weights_only=True``),
``checkpoints/iter_NNNNNN.pt`` (kept every ``keep_checkpoint_every`` iterations), ``progress.json``
(one entry per iteration: samples, samples/s, reward per step, episodes), ``tb/`` (TensorBoard),
``learning_curve.png``, ``rollout.mp4`` (the deterministic policy, every ``video_every`` iterations).
Resuming reloads all of it; the workers restart their episodes with seeds derived from the
iteration they resume at, and each update's minibatch order is seeded by ``(seed, iteration)``.

Adaptive policies (``latent.dim`` > 0; Peng et al., RSS 2020, Sec. VI-A): the policy and the
encoder E(z | μ) are one SB3 policy (:mod:`anima.models.imitation.latent_policy`) trained jointly by
the same PPO update, whose loss adds β · KL(E(z | μ) ‖ N(0, I)) through the entropy slot
(``ent_coef`` 1; the action std is fixed, so the true entropy has no gradient). ``kl_mean`` in the
history is the batch's mean KL (nats). The spec of every file says ``latent_dim`` (0: no z) and
whether the dynamics were randomized (``randomized``: the robust baseline has it without a latent).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml

from anima.models.checkpoint import write_text_atomic
from anima.models.imitation.config import ImitationTrainConfig
from anima.models.imitation.observation import OBS_DIM
from anima.models.imitation.policy import FORMAT, ROBOT, load_policy_file, save_atomic
from anima.models.imitation.rollout import Segment, latent_policy_kwargs, make_pool, policy_input_dim

__all__ = ["ImitationTrainer", "policy_spec"]


def policy_spec(config: ImitationTrainConfig, control_dt: float, motion_name: str) -> dict[str, Any]:
    """The plain-data description stored in every checkpoint and policy file."""
    return {"format": FORMAT, "robot": ROBOT, "motion": motion_name, "obs_dim": OBS_DIM, "action_dim": 12,
            "control_dt_s": control_dt, "profile": config.profile, "net_arch": list(config.ppo.net_arch),
            "action_std": config.ppo.action_std, "obs_clip": config.ppo.obs_clip,
            "latent_dim": config.latent.dim, "latent_beta": config.latent.beta,
            "randomized": bool(config.env_kwargs.get("randomize", False))}


class ImitationTrainer:
    """Owns a run directory; :meth:`run` trains until a sample budget and returns the history."""

    def __init__(self, config: ImitationTrainConfig, run_dir: str | Path, log: Callable[[str], None] = print) -> None:
        from stable_baselines3.common.running_mean_std import RunningMeanStd

        from anima.models.motion.library import find_motion
        from anima.sim_bridge.envs.laikago_imitation import ACTION_BOUND, PHYSICS_PROFILES

        self.config, self.run_dir, self.log = config, Path(run_dir), log
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.motion_name = find_motion(config.motion).stem
        dt, substeps, _ = PHYSICS_PROFILES[config.profile] if config.profile in PHYSICS_PROFILES else (None, 1, 0)
        if dt is None:
            raise ValueError(f"profile must be one of {sorted(PHYSICS_PROFILES)}, got {config.profile!r}")
        self.control_dt = dt * substeps
        self.action_bound = ACTION_BOUND
        self.model = self._build_model()
        self.obs_rms = RunningMeanStd(shape=(OBS_DIM,))
        self.samples, self.iterations, self.wall_s = 0, 0, 0.0
        self.history: list[dict[str, Any]] = []

    def _build_model(self) -> Any:
        import gymnasium as gym
        from stable_baselines3 import PPO
        from stable_baselines3.common.logger import configure

        cfg, latent = self.config.ppo, self.config.latent
        torch.set_num_threads(self.config.torch_threads)
        policy: Any = "MlpPolicy"
        if latent.dim:
            from anima.models.imitation.latent_policy import LatentActorCriticPolicy as policy
        model = PPO(policy, env=None, n_steps=self.config.steps_per_worker, batch_size=cfg.minibatch_size,
                    n_epochs=cfg.epochs, learning_rate=cfg.learning_rate, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda,
                    clip_range=cfg.clip_range, ent_coef=1.0 if latent.dim else 0.0, vf_coef=cfg.value_coef, max_grad_norm=math.inf,
                    normalize_advantage=True, device="cpu", seed=self.config.seed, _init_setup_model=False,
                    policy_kwargs=dict(net_arch=dict(pi=list(cfg.net_arch), vf=list(cfg.net_arch)),
                                       activation_fn=torch.nn.ReLU, log_std_init=math.log(cfg.action_std),
                                       optimizer_kwargs=dict(eps=cfg.adam_eps),
                                       **latent_policy_kwargs(OBS_DIM, latent.dim, latent.beta, latent.encoder_net)))
        model.observation_space = gym.spaces.Box(-np.inf, np.inf, (policy_input_dim(OBS_DIM, latent.dim),), np.float32)
        model.action_space = gym.spaces.Box(-self.action_bound, self.action_bound, (12,), np.float32)
        model.n_envs = self.config.workers
        model._setup_model()
        model.policy.log_std.requires_grad_(False)  # fixed, untrained action std (FACTS.md "PPO")
        model.set_logger(configure(None, []))
        return model

    # ------------------------------------------------------------------ checkpoints
    def spec(self) -> dict[str, Any]:
        return policy_spec(self.config, self.control_dt, self.motion_name)

    def _payload(self) -> dict[str, Any]:
        return {"spec": self.spec(), "config": self.config.to_dict(),
                "policy": self.model.policy.state_dict(), "optimizer": self.model.policy.optimizer.state_dict(),
                "obs_mean": torch.as_tensor(self.obs_rms.mean), "obs_var": torch.as_tensor(self.obs_rms.var),
                "obs_count": float(self.obs_rms.count), "samples": self.samples, "iterations": self.iterations,
                "wall_s": self.wall_s, "n_updates": int(self.model._n_updates)}

    def save(self) -> None:
        """checkpoint.pt (and a kept copy on schedule), then progress.json: a crash between the two
        leaves a history that :meth:`resume` trims back to the checkpoint."""
        payload = self._payload()
        save_atomic(payload, self.run_dir / "checkpoint.pt")
        keep = self.config.keep_checkpoint_every
        if keep and self.iterations % keep == 0:
            (self.run_dir / "checkpoints").mkdir(exist_ok=True)
            save_atomic(payload, self.run_dir / "checkpoints" / f"iter_{self.iterations:06d}.pt")
        write_text_atomic(self.run_dir / "progress.json", json.dumps({"history": self.history}, indent=1))

    @classmethod
    def resume(cls, run_dir: str | Path, log: Callable[[str], None] = print, **overrides: Any) -> "ImitationTrainer":
        """Reopen a run directory (config, checkpoint, history); ``overrides`` change settings that
        do not change the networks (e.g. ``workers``, ``ray``, ``total_samples``)."""
        run_dir = Path(run_dir)
        if not (run_dir / "config.yaml").is_file():
            raise ValueError(f"{run_dir}: no config.yaml, not an imitation run directory")
        config = ImitationTrainConfig.from_yaml(run_dir / "config.yaml")
        if overrides:
            config = config.replace(**overrides)
        trainer = cls(config, run_dir, log)
        if (run_dir / "checkpoint.pt").is_file():
            trainer.load_state(load_policy_file(run_dir / "checkpoint.pt"), str(run_dir / "checkpoint.pt"))
        if (run_dir / "progress.json").is_file():
            history = json.loads((run_dir / "progress.json").read_text())["history"]
            trainer.history = [h for h in history if h["iteration"] <= trainer.iterations]
        return trainer

    def load_state(self, data: dict[str, Any], source: str) -> None:
        spec = data["spec"]
        mine = self.spec()
        for key in ("robot", "motion", "obs_dim", "action_dim", "net_arch", "latent_dim"):
            if spec.get(key, 0 if key == "latent_dim" else None) != mine[key]:
                raise ValueError(f"{source}: checkpoint is for {key} {spec.get(key)!r}, this run has {mine[key]!r}")
        self.model.policy.load_state_dict(data["policy"])
        self.model.policy.log_std.requires_grad_(False)
        if "optimizer" in data:
            self.model.policy.optimizer.load_state_dict(data["optimizer"])
        self.obs_rms.mean = np.asarray(data["obs_mean"], dtype=np.float64)
        self.obs_rms.var = np.asarray(data["obs_var"], dtype=np.float64)
        self.obs_rms.count = float(data.get("obs_count", 1e-4))
        self.samples, self.iterations = int(data.get("samples", 0)), int(data.get("iterations", 0))
        self.wall_s, self.model._n_updates = float(data.get("wall_s", 0.0)), int(data.get("n_updates", 0))

    def _write_config(self) -> None:
        data = self.config.to_dict()
        data["_notes"] = {"spec": self.spec(), "library": "stable-baselines3 PPO update + anima rollout workers",
                          "samples_per_iteration": self.config.ppo.steps_per_batch}
        write_text_atomic(self.run_dir / "config.yaml", yaml.safe_dump(data, sort_keys=False))

    # ------------------------------------------------------------------ training
    def _weights(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.policy.state_dict().items()}

    def _worker_args(self) -> list[dict[str, Any]]:
        cfg = self.config
        seed = cfg.seed * 1_000_003 + self.iterations  # a resumed run draws new episodes
        return [{"env_kwargs": cfg.env_arguments(), "seed": seed, "index": i, "net_arch": cfg.ppo.net_arch,
                 "action_std": cfg.ppo.action_std, "gamma": cfg.ppo.gamma, "obs_clip": cfg.ppo.obs_clip,
                 "latent_dim": cfg.latent.dim, "beta": cfg.latent.beta, "encoder_net": cfg.latent.encoder_net}
                for i in range(cfg.workers)]

    def run(self, total_samples: int | None = None, max_iterations: int | None = None) -> list[dict[str, Any]]:
        """Train until ``total_samples`` (default: the config's) or ``max_iterations`` more iterations."""
        from torch.utils.tensorboard import SummaryWriter

        target = self.config.total_samples if total_samples is None else int(total_samples)
        self._write_config()
        writer = SummaryWriter(str(self.run_dir / "tb"))
        pool = make_pool(self._worker_args(), self.config.ray)
        done = 0
        try:
            while self.samples < target and (max_iterations is None or done < max_iterations):
                self._iteration(pool, writer)
                done += 1
        finally:
            pool.close()
            writer.close()
        return self.history

    def _fill_buffer(self, segments: list[Segment]) -> None:
        buf = self.model.rollout_buffer
        buf.reset()
        for t in range(self.config.steps_per_worker):
            buf.add(np.stack([s.obs[t] for s in segments]), np.stack([s.actions[t] for s in segments]),
                    np.array([s.rewards[t] for s in segments]), np.array([s.episode_starts[t] for s in segments]),
                    torch.as_tensor(np.array([s.values[t] for s in segments])),
                    torch.as_tensor(np.array([s.log_probs[t] for s in segments])))
        buf.compute_returns_and_advantage(torch.as_tensor(np.array([s.last_value for s in segments])),
                                          np.array([s.last_done for s in segments]))

    def _iteration(self, pool: Any, writer: Any) -> None:
        cfg = self.config
        t0 = time.perf_counter()
        segments = pool.collect(self._weights(), self.obs_rms.mean.copy(), self.obs_rms.var.copy(),
                                cfg.steps_per_worker, float(self.samples))
        t_collect = time.perf_counter() - t0
        self._fill_buffer(segments)
        np.random.seed((cfg.seed * 1_000_003 + self.iterations) % 2**32)  # minibatch order
        torch.manual_seed(cfg.seed * 1_000_003 + self.iterations)
        self.model.train()
        losses = {k.split("/", 1)[1]: float(v) for k, v in self.model.logger.name_to_value.items() if k.startswith("train/")}
        self.model.logger.dump(self.iterations)
        self.obs_rms.update(np.concatenate([s.raw_obs for s in segments]).astype(np.float64))
        batch = cfg.ppo.steps_per_batch
        self.samples += batch
        self.iterations += 1
        wall = time.perf_counter() - t0
        self.wall_s += wall
        episodes = [e for s in segments for e in s.episodes]
        rewards = np.concatenate([s.rewards for s in segments])
        entry = {"iteration": self.iterations, "samples": self.samples, "wall_s": self.wall_s,
                 "samples_per_s": batch / wall, "collect_samples_per_s": batch / t_collect,
                 "reward_per_step": float(np.mean(rewards)), "episodes": len(episodes),
                 "episode_length_mean": float(np.mean([e["length"] for e in episodes])) if episodes else None,
                 "normalized_return_mean": float(np.mean([e["normalized_return"] for e in episodes])) if episodes else None,
                 "pose_error_rad_rms": float(np.mean([e["pose_error_rad_rms"] for e in episodes])) if episodes else None,
                 "fall_rate": float(np.mean([e["fell"] for e in episodes])) if episodes else None,
                 "max_episode_steps": _episode_length(cfg, self.samples), "losses": losses,
                 "kl_mean": (losses.get("entropy_loss", 0.0) / cfg.latent.beta
                             if cfg.latent.dim and cfg.latent.beta > 0 else None)}
        self.history.append(entry)
        self._log(entry, writer)
        if self.iterations % cfg.checkpoint_every == 0:
            self.save()
            self._plot()
        if cfg.video_every and self.iterations % cfg.video_every == 0:
            self.record_video(self.run_dir / "rollout.mp4")

    def _log(self, e: dict[str, Any], writer: Any) -> None:
        step = e["samples"]
        for key in ("reward_per_step", "samples_per_s", "episode_length_mean", "normalized_return_mean",
                    "pose_error_rad_rms", "fall_rate", "max_episode_steps", "kl_mean"):
            if e[key] is not None:
                writer.add_scalar(f"imitation/{key}", e[key], step)
        for key, value in e["losses"].items():
            writer.add_scalar(f"train/{key}", value, step)
        writer.flush()
        length = "-" if e["episode_length_mean"] is None else f"{e['episode_length_mean']:.0f}"
        self.log(f"iter {e['iteration']} samples {e['samples']:,} reward/step {e['reward_per_step']:.3f} "
                 f"episodes {e['episodes']} len {length}/{e['max_episode_steps']} {e['samples_per_s']:.0f} samples/s")

    def _plot(self) -> None:
        from anima.models.imitation.report import plot_learning_curve

        plot_learning_curve(self.history, self.run_dir / "learning_curve.png")

    def record_video(self, path: Path) -> bool:
        from anima.models.imitation.report import record_rollout_video

        return record_rollout_video(self.config.env_arguments(), self._payload(), path, self.config.video_steps,
                                    seed=self.config.seed + self.iterations)


def _episode_length(config: ImitationTrainConfig, samples: int) -> int:
    from anima.sim_bridge.envs.laikago_imitation import curriculum_episode_steps

    steps = config.env_kwargs.get("episode_steps")
    if steps is not None:
        return int(steps)
    start, end, over = config.env_kwargs.get("curriculum", (20, 600, 3e7))
    return curriculum_episode_steps(samples, start, end, over)
