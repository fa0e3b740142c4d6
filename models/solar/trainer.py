"""SOLAR training loop and run directory (Zhang, Vikram et al., ICML 2019, Algorithm 1).

1. ``random_rollouts`` episodes with the initial policy (zero gains, std 0.5) pretrain the
   structured VAE (``vae.py``) for ``pretrain_epochs``.
2. Each iteration: encode every episode's frames to latent means (for the ``filtered`` state, the Kalman-filtered
   means under the VAE's LDS); fit the local time-varying
   dynamics of the latest batch under the global BLDS prior of all episodes (``blds.py``); the
   quadratic latent cost is the VAE's learned reward model (or a least-squares refit, ``cost.py``);
   one LQR-FLM step with the KL bound (``controllers/lqr_flm.py``); ``rollouts_per_iter`` episodes with the new policy (its own noise).
   A non-finite fit stops that update and keeps the previous controller, with a message.

Run directory: ``config.yaml``, ``tb/`` (TensorBoard), ``checkpoint.pt`` + ``data.npz`` (atomic;
``--resume`` continues from them), ``policy.pt`` (the deployable ``SolarPolicy``), ``best_policy.pt`` (the
iteration whose mean policy scored best, with ``iteration_eval_episodes``), ``history.json``,
``learning_curve.png``, ``videos/iter_NNN.mp4`` (a rollout) and ``videos/recon_NNN.mp4`` (frames
beside the VAE's reconstructions), ``evaluation.json``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml

from anima.controllers.lqr_flm import (LinearGaussianDynamics, LinearGaussianPolicy, LqrFlmConfig, adjust_step_multiplier, expected_cost,
                                       lqr_flm_update)
from anima.models.checkpoint import load_torch, save_npz, save_torch, write_json_atomic, write_text_atomic
from anima.models.solar.blds import fit_dynamics
from anima.models.solar.config import SolarTrainConfig
from anima.models.solar.cost import fit_quadratic_cost
from anima.models.solar.networks import flush_denormals
from anima.models.solar.policy import SolarPolicy, make_spec
from anima.models.solar.state import Projection, StateSpec, StateTracker, embed_cost, episode_states, principal_projection
from anima.models.solar.vae import StructuredVAE, train_epochs

ActFn = Callable[[int, np.ndarray, np.random.Generator], np.ndarray]
PRETRAIN_CHECKPOINT_EVERY = 10  # VAE epochs between checkpoints while pretraining (~2 min on one core)


def make_task_env(config: SolarTrainConfig) -> tuple[Any, str]:
    """The image env of ``config.task`` and its action kind."""
    if config.task == "reacher":
        from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, ReacherPixelsEnv

        return ReacherPixelsEnv(ReacherPixelsConfig(**config.env_kwargs)), "joint_torque"
    from anima.sim_bridge.envs import make_env

    kwargs = {"observation": "image", "image_size_px": config.vae.image_size, "episode_steps": config.horizon, **config.env_kwargs}
    return make_env(config.task, **kwargs), "ee_delta"


def control_dt(env: Any) -> float:
    """Seconds per env step: ``env.control_dt`` (reacher) or 1 / ``config.control_rate_hz`` (Sawyer)."""
    dt = getattr(env, "control_dt", None)
    return float(dt) if dt is not None else 1.0 / float(env.config.control_rate_hz)


def task_distance(info: dict[str, Any]) -> float:
    """The task's final distance (m) from an env's info: ``distance`` (reacher) or the scene's first
    ``*_distance_m`` metric (Sawyer: ``ee_goal_distance_m``, ``puck_goal_distance_m``, ...); NaN if none."""
    if "distance" in info:
        return float(info["distance"])
    return next((float(v) for k, v in info.items() if k.endswith("_distance_m")), float("nan"))


def collect(env: Any, act: ActFn, episodes: int, horizon: int, rng: np.random.Generator,
            frames: list | None = None) -> dict[str, np.ndarray]:
    """``episodes`` episodes of ``horizon`` steps; ``act(t, image, rng)`` gives the action.

    Returns images (N, T+1, S, S, 3) uint8, actions (N, T, du), rewards (N, T), success (N,), distance (N,).
    """
    out: dict[str, list] = {"images": [], "actions": [], "rewards": [], "success": [], "distance": []}
    for e in range(episodes):
        obs, info = env.reset(seed=int(rng.integers(2**31)))
        ims, acts, rews = [obs], [], []
        for t in range(horizon):
            u = np.asarray(act(t, obs, rng), dtype=np.float64)
            obs, r, terminated, truncated, info = env.step(u)
            ims.append(obs)
            acts.append(u)
            rews.append(r)
            if frames is not None and e == 0:
                frames.append(env.render())
        out["images"].append(np.stack(ims))
        out["actions"].append(np.stack(acts))
        out["rewards"].append(np.asarray(rews))
        out["success"].append(bool(info.get("success", info.get("is_success", False))))
        out["distance"].append(task_distance(info))
    return {k: np.asarray(v) for k, v in out.items()}


class SolarTrainer:
    """One SOLAR run in ``run_dir``; ``run()`` trains to ``config.iterations``; ``resume`` continues."""

    def __init__(self, config: SolarTrainConfig, run_dir: str | Path, log: Callable[[str], None] = print) -> None:
        self.config, self.run_dir, self.log = config, Path(run_dir), log
        self.run_dir.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(config.torch_threads)
        flush_denormals()
        torch.manual_seed(config.seed)
        self.env, self.action_kind = make_task_env(config)
        self.du = int(self.env.action_space.shape[0])
        self.vae = StructuredVAE(config.vae, config.horizon, self.du)
        self.opt = self.vae.make_optimizer()
        self.generator = torch.Generator().manual_seed(config.seed)
        self.state_spec = StateSpec(config.state_kind, config.vae.latent_dim, self.du, 1.0 / control_dt(self.env))
        self.policy = LinearGaussianPolicy.initial(config.horizon, self.state_spec.dim, self.du, config.lqr.init_std)
        # step adjustment (lqr.step_adjust): the policy the last update started from, and the KL-step multiplier
        self.previous_policy: LinearGaussianPolicy | None = None
        self.step_mult = 1.0
        self.data: dict[str, np.ndarray] = {}
        self.history: list[dict[str, Any]] = []
        self.vae_step, self.iteration, self.wall_s = 0, 0, 0.0
        # VAE pretraining: epochs done, and the random stream that shuffles its batches (kept across a resume)
        self.pretrain_epochs_done = 0
        self._pretrain_rng: np.random.Generator | None = None
        write_text_atomic(self.run_dir / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
        self._writer: Any = None
        self.last_evaluation: dict[str, Any] | None = None
        self.best: dict[str, Any] | None = None  # the iteration whose mean policy scored best (iteration_eval_episodes)
        # the reward model as pretraining left it: ``reward_refit_steps`` changes the VAE's reward model after the first
        # iteration, and ``--pretrained`` must start from the pretrained VAE, not from one refitted on another run's episodes
        self.pretrained_reward: dict[str, torch.Tensor] | None = None

    # ---------------------------------------------------------------- persistence
    @classmethod
    def resume(cls, run_dir: str | Path, log: Callable[[str], None] = print, **overrides: Any) -> "SolarTrainer":
        run_dir = Path(run_dir)
        stored = SolarTrainConfig.from_yaml(run_dir / "config.yaml")
        config = stored.replace(**overrides) if overrides else stored
        ckpt = load_torch(run_dir / "checkpoint.pt", "SOLAR checkpoint")
        if int(ckpt["iteration"]) > 0 and config.pretrain_epochs != stored.pretrain_epochs:
            raise ValueError(f"--resume {run_dir}: pretrain_epochs {stored.pretrain_epochs} -> {config.pretrain_epochs} after "
                             f"{int(ckpt['iteration'])} LQR-FLM iteration(s); the VAE can be pretrained further only before the first")
        trainer = cls(config, run_dir, log)
        trainer.vae.load_state_dict(ckpt["vae"])
        trainer.opt.load_state_dict(ckpt["optimizer"])
        trainer.policy = LinearGaussianPolicy(ckpt["K"].double().numpy(), ckpt["k"].double().numpy(), ckpt["cov"].double().numpy())
        trainer.history = list(ckpt["history"])
        trainer.vae_step, trainer.iteration, trainer.wall_s = int(ckpt["vae_step"]), int(ckpt["iteration"]), float(ckpt["wall_s"])
        trainer.best = dict(ckpt.get("best") or {}) or None
        trainer.step_mult = float(ckpt.get("step_mult", 1.0))
        trainer.pretrained_reward = dict(ckpt.get("pretrained_reward") or {}) or None
        trainer._restore_pretraining(ckpt, stored)
        if (ckpt.get("state") or {}).get("projection") is not None:
            trainer.state_spec = dataclasses.replace(trainer.state_spec, projection=Projection.from_dict(ckpt["state"]["projection"]))
        if "previous_K" in ckpt:
            trainer.previous_policy = LinearGaussianPolicy(ckpt["previous_K"].double().numpy(), ckpt["previous_k"].double().numpy(),
                                                           ckpt["previous_cov"].double().numpy())
        with np.load(run_dir / "data.npz") as z:
            trainer.data = {k: z[k] for k in z.files}
        log(f"resumed {run_dir} at iteration {trainer.iteration}, {trainer.episodes} episodes")
        return trainer

    def start_from_pretrained(self, source: str | Path) -> None:
        """Take the VAE pretrained in run ``source`` and its first ``random_rollouts`` random episodes; the
        LQR-FLM iterations then start afresh under this run's config (a sweep of controller settings without
        pretraining again). The task, horizon, VAE settings, pretraining epochs and seed must match, so that
        this run's config describes its VAE; ``source`` may have iterated since (without fine-tuning)."""
        source = Path(source)
        theirs = SolarTrainConfig.from_yaml(source / "config.yaml")
        c = self.config
        differ = [k for k in ("task", "horizon", "vae", "env_kwargs", "seed") if getattr(theirs, k) != getattr(c, k)]
        if differ:
            raise ValueError(f"--pretrained {source}: its {', '.join(differ)} differ from this run's "
                             f"({', '.join(f'{k}={getattr(theirs, k)!r}' for k in differ)})")
        ckpt = load_torch(source / "checkpoint.pt", "SOLAR checkpoint")
        theirs_done = int(ckpt.get("pretrain_epochs_done", theirs.pretrain_epochs))
        if theirs_done > c.pretrain_epochs or (theirs_done < theirs.pretrain_epochs and int(ckpt["iteration"]) > 0):
            raise ValueError(f"--pretrained {source}: its VAE was pretrained {theirs_done} epochs, this run asks for "
                             f"pretrain_epochs={c.pretrain_epochs} (equal, or more to pretrain further from it)")
        if theirs.finetune_epochs and int(ckpt["iteration"]) > 0:
            raise ValueError(f"--pretrained {source}: its VAE was fine-tuned after pretraining (finetune_epochs {theirs.finetune_epochs})")
        with np.load(source / "data.npz") as z:
            data = {k: z[k] for k in z.files}
        if len(data["success"]) < c.random_rollouts:
            raise ValueError(f"--pretrained {source}: {len(data['success'])} episodes stored, random_rollouts is {c.random_rollouts}")
        snapshot = dict(ckpt.get("pretrained_reward") or {})
        expected = self._reward_model_state()
        if snapshot and (set(snapshot) != set(expected) or any(tuple(snapshot[k].shape) != tuple(v.shape) for k, v in expected.items())):
            raise ValueError(f"--pretrained {source}: its stored pretrained reward model holds "
                             f"{ {k: tuple(v.shape) for k, v in snapshot.items()} }, expected { {k: tuple(v.shape) for k, v in expected.items()} }")
        if int(ckpt["iteration"]) > 0 and theirs.reward_refit_steps and theirs.cost_model == "vae" and not snapshot:
            raise ValueError(f"--pretrained {source}: its reward model was refitted on its own episodes (reward_refit_steps "
                             f"{theirs.reward_refit_steps}) and its checkpoint predates the stored pretrained reward model; "
                             "use a run that has not iterated, or one written by this version")
        self.vae.load_state_dict(ckpt["vae"])
        if snapshot:  # the reward model as the source's pretraining left it (its iterations may have refitted it)
            with torch.no_grad():
                for name, value in snapshot.items():
                    getattr(self.vae, name).copy_(value)
        self.pretrained_reward = self._reward_model_state()  # (pretraining further, if asked, replaces it)
        self.opt.load_state_dict(ckpt["optimizer"])
        self.data = {k: v[:c.random_rollouts] for k, v in data.items()}
        self.vae_step = int(ckpt["vae_step"])
        self._restore_pretraining(ckpt, theirs)
        if ckpt["history"]:
            pre = dict(ckpt["history"][0])
            self.wall_s = float(pre.get("wall_s", 0.0))
            self.history = [{**pre, "pretrained_from": str(source.resolve())}]
        else:  # the source stopped during its pretraining
            self.wall_s = float(ckpt["wall_s"])
        more = c.pretrain_epochs - self.pretrain_epochs_done
        self.log(f"pretrained VAE and {c.random_rollouts} random episodes from {source} ({self.pretrain_epochs_done} VAE epochs"
                 + (f"; pretraining {more} epochs more)" if more else ")"))
        if not more:
            self._set_projection()
        self.save()

    def _restore_pretraining(self, ckpt: dict[str, Any], stored: SolarTrainConfig) -> None:
        """Pretraining epochs done and its batch stream from a checkpoint. Checkpoints written before these were
        stored hold a finished pretraining (``stored.pretrain_epochs``); a stream not stored restarts from
        (seed, 0, epochs done), so a pretraining continued that way is not bit-identical to one run."""
        self.pretrain_epochs_done = int(ckpt.get("pretrain_epochs_done", stored.pretrain_epochs))
        state = ckpt.get("pretrain_rng")
        if state:
            self._pretrain_rng = np.random.default_rng()
            self._pretrain_rng.bit_generator.state = json.loads(state)
        else:
            self._pretrain_rng = np.random.default_rng([self.config.seed, 0, self.pretrain_epochs_done])
        if "torch_generator" in ckpt:
            self.generator.set_state(ckpt["torch_generator"])

    def save(self, data: bool = True) -> None:
        if data:
            save_npz(self.run_dir / "data.npz", self.data)
        save_torch({"vae": self.vae.state_dict(), "optimizer": self.opt.state_dict(),
                    "K": torch.as_tensor(self.policy.K), "k": torch.as_tensor(self.policy.k), "cov": torch.as_tensor(self.policy.cov),
                    "history": self.history, "vae_step": self.vae_step, "iteration": self.iteration, "wall_s": self.wall_s,
                    "best": self.best or {}, "step_mult": self.step_mult, **self._previous_policy_tensors(),
                    "pretrain_epochs_done": self.pretrain_epochs_done, "torch_generator": self.generator.get_state(),
                    "pretrained_reward": self.pretrained_reward or {}, "state": self.state_spec.to_dict(),
                    "pretrain_rng": json.dumps(self._pretrain_rng.bit_generator.state) if self._pretrain_rng is not None else ""},
                   self.run_dir / "checkpoint.pt")
        self.deployable().save(self.run_dir / "policy.pt")
        write_json_atomic(self.run_dir / "history.json", self.history, indent=1)

    def _reward_model_state(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self.vae, name).detach().clone() for name in ("cost_L", "cost_c", "cost_b")}

    def _previous_policy_tensors(self) -> dict[str, torch.Tensor]:
        p = self.previous_policy
        return {} if p is None else {"previous_K": torch.as_tensor(p.K), "previous_k": torch.as_tensor(p.k), "previous_cov": torch.as_tensor(p.cov)}

    def deployable(self) -> SolarPolicy:
        c = self.config
        spec = make_spec(c.task, c.vae.latent_dim, c.horizon, control_dt(self.env), self.action_kind,
                         self.env.action_space.low, self.env.action_space.high, c.vae.image_size,
                         state=self.state_spec.to_dict(), torque_limit_nm=self._torque_limit_nm(), encoder=c.vae.encoder)
        prov = {"task": c.task, "seed": c.seed, "iteration": self.iteration, "episodes_trained": self.episodes,
                "samples": self.episodes * c.horizon, "wall_time_s": round(self.wall_s, 1), "run_dir": str(self.run_dir),
                "env_kwargs": dict(c.env_kwargs)}
        lds = self.vae.lds_params() if self.state_spec.kind == "filtered" else None
        return SolarPolicy(spec, copy.deepcopy(self.vae.encoder), self.policy.K, self.policy.k, self.policy.cov, prov, lds=lds)

    def _torque_limit_nm(self) -> float | None:
        """N m per action unit of the reacher's normalized torques (the arm trained on); None for the Sawyer."""
        return float(self.env.config.reacher.max_torque) if self.action_kind == "joint_torque" else None

    @property
    def episodes(self) -> int:
        return int(len(self.data.get("success", [])))

    # ---------------------------------------------------------------- loop
    def _act_fn(self, policy: LinearGaussianPolicy, explore: bool) -> ActFn:
        chol = np.linalg.cholesky(policy.cov)
        low, high = self.env.action_space.low, self.env.action_space.high
        tracker = self._tracker()

        def act(t: int, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            if t == 0:
                tracker.reset()
            mean, logvar = self.vae.encode_potentials(image[None])
            x = tracker.state(mean[0], logvar[0])
            u = policy.K[t] @ x + policy.k[t]
            if explore:
                u = u + chol[t] @ rng.standard_normal(u.shape[0])
            u = np.clip(u, low, high)
            tracker.applied(u)
            return u

        return act

    def _random_act(self, rng_std: float) -> ActFn:
        low, high = self.env.action_space.low, self.env.action_space.high
        return lambda t, image, rng: np.clip(rng_std * rng.standard_normal(self.du), low, high)

    def _add(self, batch: dict[str, np.ndarray]) -> None:
        self.data = batch if not self.data else {k: np.concatenate([self.data[k], batch[k]]) for k in batch}

    def _scalar(self, name: str, value: float, step: int) -> None:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir / "tb"))
        self._writer.add_scalar(name, value, step)

    def pretrain(self) -> None:
        """The random rollouts (unless stored), then VAE epochs up to ``pretrain_epochs``; a checkpoint every
        ``PRETRAIN_CHECKPOINT_EVERY`` epochs, so ``--resume`` continues an interrupted pretraining (or extends a
        finished one before the first LQR-FLM iteration)."""
        c = self.config
        t0 = time.time()
        if not self.data:
            rng = np.random.default_rng([c.seed, 0])
            self._add(collect(self.env, self._random_act(c.lqr.init_std), c.random_rollouts, c.horizon, rng))
            self.log(f"{c.random_rollouts} random rollouts: success {self.data['success'].mean():.2f}")
            with torch.no_grad():  # start the reward model at the data's mean reward, not at 0
                self.vae.cost_b.fill_(-float(self.data["rewards"].mean()))
            self._pretrain_rng, self.pretrain_epochs_done = rng, 0
            self.save()
        rng = self._pretrain_rng if self._pretrain_rng is not None else np.random.default_rng([c.seed, 0, self.pretrain_epochs_done])
        self._pretrain_rng = rng
        while self.pretrain_epochs_done < c.pretrain_epochs:
            self.vae_step, losses = train_epochs(self.vae, self.opt, self.data["images"], self.data["actions"], self.data["rewards"],
                                                 1, self.vae_step, rng, self.generator)
            self.pretrain_epochs_done += 1
            for k, v in losses[-1].items():
                self._scalar(f"vae/{k}", v, self.pretrain_epochs_done - 1)
            self.log(f"VAE epoch {self.pretrain_epochs_done}/{c.pretrain_epochs}: " + ", ".join(f"{k} {v:.4g}" for k, v in losses[-1].items()))
            if self.pretrain_epochs_done % PRETRAIN_CHECKPOINT_EVERY == 0 and self.pretrain_epochs_done < c.pretrain_epochs:
                self.wall_s += time.time() - t0
                t0 = time.time()
                self.save(data=False)
        self.wall_s += time.time() - t0
        self.pretrained_reward = self._reward_model_state()
        row = {"iteration": 0, "episodes_trained": self.episodes, "success_rate": float(self.data["success"].mean()),
               "final_distance_mean": float(np.nanmean(self.data["distance"])), "return_mean": float(self.data["rewards"].sum(1).mean()),
               "pretrain_epochs": self.pretrain_epochs_done, "wall_s": round(self.wall_s, 1)}
        self.history = [{**(self.history[0] if self.history else {}), **row}]
        self._set_projection()
        self._videos(0)
        self.save()

    def _set_projection(self) -> None:
        """``latent_components`` k > 0: fix the state's projection, the k leading principal components of the pretraining
        episodes' latents, once the VAE is pretrained (and the initial policy to the projected state's size)."""
        c = self.config
        if not c.latent_components or self.state_spec.projection is not None:
            return
        if self.iteration:
            raise ValueError(f"latent_components {c.latent_components}: the state projection is set after pretraining, "
                             f"and this run is at iteration {self.iteration} without one")
        z = self._latents()[:c.random_rollouts]
        proj = principal_projection(z, c.latent_components)
        self.state_spec = dataclasses.replace(self.state_spec, projection=proj)
        self.policy = LinearGaussianPolicy.initial(c.horizon, self.state_spec.dim, self.du, c.lqr.init_std)
        centred = z.reshape(-1, z.shape[-1]) - np.asarray(proj.mean)
        kept = float(np.square(proj(z.reshape(-1, z.shape[-1]))).sum() / np.square(centred).sum())
        self.log(f"state: the latent's {c.latent_components} leading principal components ({100 * kept:.1f} % of its variance "
                 f"over the {c.random_rollouts} pretraining episodes)")

    def _latents(self) -> np.ndarray:
        """Latent means of every stored episode; cached while the VAE does not change."""
        cached = getattr(self, "_latent_cache", None)
        n = self.episodes
        if cached is None or cached[0] != self.vae_step:
            cached = (self.vae_step, self._encode_episodes(0))
        elif len(cached[1]) < n:
            cached = (self.vae_step, np.concatenate([cached[1], self._encode_episodes(len(cached[1]))]))
        self._latent_cache = cached
        return cached[1][:n]

    def _encode_episodes(self, start: int) -> np.ndarray:
        """Latents of the stored episodes from ``start`` on: encoder means, or for the ``filtered`` state the
        Kalman-filtered means under the VAE's LDS (what the controller sees at each step), or the smoothed means
        (``fit_on: smoothed``: the fits see each frame given the whole episode; the controller still filters)."""
        images = self.data["images"][start:]
        if self.state_spec.kind == "filtered":
            return self.vae.filtered_means(images, self.data["actions"][start:], smoothed=self.config.fit_on == "smoothed")
        return self.vae.encode_means(images)

    def _tracker(self) -> StateTracker:
        return StateTracker(self.state_spec, self.vae.lds_params() if self.state_spec.kind == "filtered" else None)

    def improve_policy(self) -> dict[str, float]:
        """Fit BLDS dynamics + latent cost, then one LQR-FLM step; on non-finite fits keep the policy."""
        c = self.config
        latents = self._latents()
        u = self.data["actions"]
        states = episode_states(self.state_spec, latents, u)
        n = c.rollouts_per_iter
        refit: dict[str, float] = {}
        try:
            if c.reward_refit_steps and c.cost_model == "vae" and self.episodes > c.random_rollouts:
                fit = self._cost_episodes()
                refit = self.vae.fit_reward_model(latents[fit, 1:].reshape(-1, latents.shape[-1]), self.data["rewards"][fit].reshape(-1),
                                                  c.reward_refit_steps)
            dyn = fit_dynamics(states[-n:], u[-n:], states, u, c.lqr.data_strength, c.lqr.prior_window)
            cost = self._fit_cost(states)
            weights = np.ones(c.horizon)
            weights[-1] = c.final_cost_multiplier

            def terms(d: LinearGaussianDynamics) -> tuple[np.ndarray, np.ndarray]:
                return (cost.next_state_lqr_terms(d.F, d.f, weights) if c.cost_timing == "next"
                        else cost.lqr_terms(c.horizon, self.du, weights))

            C, cc = terms(dyn)
            info: dict[str, float] = {}
            if c.lqr.step_adjust and self.previous_policy is not None and self.episodes >= c.random_rollouts + n:
                # the fit the last update used: the batch before the latest, under the prior of the episodes up to it
                prev_dyn = fit_dynamics(states[-2 * n:-n], u[-2 * n:-n], states[:-n], u[:-n], c.lqr.data_strength, c.lqr.prior_window)
                Cp, cp = terms(prev_dyn)
                self.step_mult, info = adjust_step_multiplier(expected_cost(prev_dyn, self.previous_policy, Cp, cp),
                                                              expected_cost(prev_dyn, self.policy, Cp, cp),
                                                              expected_cost(dyn, self.policy, C, cc), self.step_mult)
            t0 = time.perf_counter()
            new, update = lqr_flm_update(dyn, C, cc, self.policy, LqrFlmConfig(kl_step=c.lqr.kl_step * self.step_mult))
            self.previous_policy, self.policy = self.policy, new
            if c.lqr.step_adjust:
                info["step_mult"] = self.step_mult
            return {**refit, **info, **update, "update_ms": 1e3 * (time.perf_counter() - t0)}
        except (ValueError, np.linalg.LinAlgError) as err:
            self.log(f"iteration {self.iteration}: policy update stopped, keeping the previous controller: {err}")
            self.previous_policy = None  # the next batch comes from the same policy: no step to judge
            return {"skipped": 1.0}

    def _cost_episodes(self) -> slice:
        """The episodes the cost is fitted on: all, or the last ``cost_fit_episodes`` (a local model)."""
        n = self.config.cost_fit_episodes
        return slice(-n, None) if n else slice(None)

    def _fit_cost(self, states: np.ndarray) -> Any:
        """The quadratic cost over the controller state: the VAE's learned reward model (``cost_model: vae``), or a
        least-squares refit on the latent part or the whole state (``cost_model: refit``, ``cost_on``)."""
        c = self.config
        if c.cost_model == "vae":
            return embed_cost(self.vae.quadratic_cost(c.lqr.action_weight), self.state_spec)
        fit = self._cost_episodes()
        latents = states[..., :self.state_spec.z_dim]  # the latent part of the state (the projected latent, with a projection)
        latents, states, rewards = latents[fit], states[fit], self.data["rewards"][fit].reshape(-1)
        if c.cost_target == "squared_reward":
            if (rewards > 0).any():
                raise ValueError("cost_target squared_reward needs rewards <= 0 (negative distances); got a positive reward")
            rewards = -np.square(rewards)  # cost = distance^2: exactly quadratic in a position (the paper's reacher reward)
        if c.cost_on == "state":
            return fit_quadratic_cost(states[:, 1:].reshape(-1, states.shape[-1]), rewards, c.lqr.action_weight)
        cost = fit_quadratic_cost(latents[:, 1:].reshape(-1, latents.shape[-1]), rewards, c.lqr.action_weight)
        return embed_cost(cost, self.state_spec)

    def step(self) -> dict[str, Any]:
        c = self.config
        t0 = time.time()
        self._set_projection()
        self.iteration += 1
        info = self.improve_policy()
        rng = np.random.default_rng([c.seed, self.iteration])
        batch = collect(self.env, self._act_fn(self.policy, explore=True), c.rollouts_per_iter, c.horizon, rng)
        self._add(batch)
        if c.finetune_epochs:
            self.vae_step, _ = train_epochs(self.vae, self.opt, self.data["images"], self.data["actions"], self.data["rewards"],
                                            c.finetune_epochs, self.vae_step, rng, self.generator)
        self.wall_s += time.time() - t0
        row = {"iteration": self.iteration, "episodes_trained": self.episodes, "success_rate": float(batch["success"].mean()),
               "final_distance_mean": float(np.nanmean(batch["distance"])), "return_mean": float(batch["rewards"].sum(1).mean()),
               "wall_s": round(self.wall_s, 1), **{f"lqr_{k}": float(v) for k, v in info.items()}}
        if c.iteration_eval_episodes:
            score = self._mean_policy_score(c.iteration_eval_episodes)
            row.update({"eval_success_rate": score["success_rate"], "eval_final_distance_mean": score["final_distance_mean"]})
            self._keep_if_best(row)
        self.history.append(row)
        for k in ("success_rate", "final_distance_mean", "return_mean", "eval_success_rate", "eval_final_distance_mean"):
            if k in row:
                self._scalar(f"rollouts/{k}" if not k.startswith("eval_") else f"mean_policy/{k[5:]}", row[k], self.episodes)
        mean_policy = (f", mean policy {row['eval_success_rate']:.2f} / {row['eval_final_distance_mean']:.4f}"
                       if "eval_success_rate" in row else "")
        self.log(f"iteration {self.iteration}: {self.episodes} episodes, success {row['success_rate']:.2f}, "
                 f"final distance {row['final_distance_mean']:.4f}, return {row['return_mean']:.2f}, KL {info.get('kl', float('nan')):.1f}"
                 + (f" (step x{info['step_mult']:.3g})" if "step_mult" in info else "")
                 + mean_policy)
        self._videos(self.iteration)
        self.save()
        return row

    def run(self) -> list[dict[str, Any]]:
        if not self.data or (self.iteration == 0 and self.pretrain_epochs_done < self.config.pretrain_epochs):
            self.pretrain()
        while self.iteration < self.config.iterations:
            self.step()
        if self.config.eval_episodes:
            self.last_evaluation = self.evaluate(self.config.eval_episodes)
        self._plot()
        if self._writer is not None:
            self._writer.flush()
        return self.history

    def evaluate(self, episodes: int, seed: int = 12345) -> dict[str, Any]:
        """The mean policy (no exploration noise) on fresh episodes; writes ``evaluation.json``."""
        result = {"task": self.config.task, **self._mean_policy_score(episodes, seed), "episodes": episodes,
                  "episodes_trained": self.episodes, "iteration": self.iteration, "seed": self.config.seed}
        if self.best is not None:
            result["best"] = dict(self.best)  # best_policy.pt: its iteration and mean-policy score during training
        write_json_atomic(self.run_dir / "evaluation.json", result, indent=1)
        self.log(f"evaluation ({episodes} episodes, mean policy): success {result['success_rate']:.2f}")
        return result

    def _keep_if_best(self, row: dict[str, Any]) -> None:
        """Write ``best_policy.pt`` when this iteration's mean policy beats every earlier one (success, then distance)."""
        key = (row["eval_success_rate"], -row["eval_final_distance_mean"])
        if self.best is not None and key <= (self.best["eval_success_rate"], -self.best["eval_final_distance_mean"]):
            return
        self.best = {k: row[k] for k in ("iteration", "episodes_trained", "eval_success_rate", "eval_final_distance_mean")}
        self.deployable().save(self.run_dir / "best_policy.pt")
        self.log(f"iteration {self.iteration}: best mean policy so far, saved best_policy.pt")

    def _mean_policy_score(self, episodes: int, seed: int = 12345) -> dict[str, float]:
        """Success rate and mean final distance of the mean policy on ``episodes`` episodes with fixed seeds."""
        batch = collect(self.env, self._act_fn(self.policy, explore=False), episodes, self.config.horizon, np.random.default_rng(seed))
        return {"success_rate": float(batch["success"].mean()), "final_distance_mean": float(np.nanmean(batch["distance"]))}

    # ---------------------------------------------------------------- reports
    def _videos(self, iteration: int) -> None:
        c = self.config
        if not c.video_every or iteration % c.video_every:
            return
        from anima.models.pddm.report import write_video

        vdir = self.run_dir / "videos"
        vdir.mkdir(exist_ok=True)
        ep = self.data["images"][-1]
        recon = self.vae.reconstruct(ep)
        side = [np.repeat(np.repeat(np.concatenate([a, b], 1), 3, 0), 3, 1) for a, b in zip(ep, recon)]
        write_video(side, vdir / f"recon_{iteration:03d}.mp4", 1.0 / control_dt(self.env))
        write_video([np.repeat(np.repeat(f, 3, 0), 3, 1) for f in ep], vdir / f"iter_{iteration:03d}.mp4", 1.0 / control_dt(self.env))

    def _plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from anima.models.checkpoint import atomic_write

        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot([h["episodes_trained"] for h in self.history], [h["success_rate"] for h in self.history], "o-", label="training rollouts")
        evals = [(h["episodes_trained"], h["eval_success_rate"]) for h in self.history if "eval_success_rate" in h]
        if evals:
            ax.plot(*zip(*evals), "s-", label="mean policy")
        ax.legend(loc="best")
        ax.set(xlabel="episodes", ylabel="success rate", ylim=(-0.05, 1.05), title=f"SOLAR {self.config.task}")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        with atomic_write(self.run_dir / "learning_curve.png", "wb") as f:
            fig.savefig(f, dpi=100, format="png")
        plt.close(fig)


__all__ = ["SolarTrainer", "collect", "control_dt", "make_task_env", "task_distance"]
