"""SOLAR training configuration: one frozen dataclass, loaded from ``config/solar/<task>.yaml``.

Defaults are FACTS.md "SOLAR" (the public code's reacher-from-images values): latent 10, 64x64
images, T = 50, 100 random rollouts (std 0.5) to pretrain, 10 iterations x 40 rollouts, VAE
1000 epochs at lr 1e-3 (model lr 2e-5 T), batch 2 rollouts, beta 1e-4 -> 10 at 5e-5 per step,
LQR-FLM KL step 2.0, init std 0.5, BLDS prior data strength 50. A task YAML states where it differs
(e.g. fewer VAE epochs on a shared CPU) in its comments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anima.controllers.config_loader import config_from_mapping, load_yaml_config, with_overrides
from anima.models.solar.state import STATE_KINDS
from anima.models.solar.vae import VAEConfig

TASKS = ("reacher", "sawyer_reach", "sawyer_push", "sawyer_stack")


@dataclass(frozen=True)
class LqrConfig:
    """LQR-FLM and its fitted models: KL step (nats per step), initial std, BLDS prior strength and
    smoothing window (steps), action penalty of the cost."""

    kl_step: float = 2.0
    init_std: float = 0.5
    data_strength: float = 50.0
    prior_window: int = 2
    action_weight: float = 1e-2
    # guided policy search's step adjustment (controllers/lqr_flm.py: adjust_step_multiplier): each iteration the
    # KL step is kl_step * a multiplier that follows the improvement the last fit predicted against the one the
    # new samples show (within [0.01, 10]); off: every iteration takes the full kl_step
    step_adjust: bool = False

    def __post_init__(self) -> None:
        if self.kl_step <= 0 or self.init_std <= 0 or self.data_strength <= 0 or self.prior_window < 0 or self.action_weight < 0:
            raise ValueError(f"LqrConfig: kl_step, init_std, data_strength > 0; prior_window, action_weight >= 0; got {self}")


@dataclass(frozen=True)
class SolarTrainConfig:
    """Everything a run needs; written to ``<run_dir>/config.yaml``."""

    task: str = "reacher"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    horizon: int = 50
    random_rollouts: int = 100
    rollouts_per_iter: int = 40
    iterations: int = 10
    pretrain_epochs: int = 1000
    finetune_epochs: int = 0  # VAE epochs on all data after each iteration (0: the latent space stays fixed)
    eval_episodes: int = 20
    # mean-policy episodes after every iteration (fixed seeds, not training data): the learning curve of the
    # deployable controller; training rollouts carry the policy's exploration noise, which costs a reacher most of
    # its 2-cm successes (0.30 of the noisy rollouts against 0.82 of the mean policy's, same controller)
    iteration_eval_episodes: int = 0
    # before each LQR-FLM update that has episodes beyond the random ones: Adam steps on the VAE's reward model alone
    # (its quadratic cost; the encoder stays, so the latent space and the controller do too) over every episode so
    # far. The random episodes never come near the goal, and the pretrained reward model ranked frames at the goal
    # worse than frames 13 cm away (BENCHMARKS.md "SOLAR"): without the refit, later iterations walk away from it.
    reward_refit_steps: int = 0
    video_every: int = 1
    torch_threads: int = 1
    state_kind: str = "latent"  # models/solar/state.py: "latent" (one frame, the paper) or "latent_history" (+ its change and the last action)
    # the quadratic cost is fitted to -reward ("reward") or to reward^2 ("squared_reward": for rewards that are
    # negative distances, the squared distance, which a quadratic in a position represents exactly; the
    # paper's reacher reward is -|d|^2, this project's envs give -|d|)
    cost_target: str = "reward"
    # the LQR cost: "vae", the quadratic reward model learned with the VAE (the paper's; positive semi-definite by
    # construction, 1/2 z^T L L^T z + c^T z + b), or "refit", a least-squares quadratic on the latents (cost_target,
    # cost_on) projected onto the PSD cone. On the reacher the refit's PSD projection left it worse than a constant
    # (R^2 -6 on its own training data) while the learned model fits held-out rewards with R^2 0.99.
    cost_model: str = "vae"
    # which states the LQR cost charges: "next" (the reward of step t is a function of the frame after the action, so
    # the cost of (x_t, u_t) is the expected cost of x_{t+1} under the fitted dynamics: x_1 .. x_T, the final state
    # included) or "current" (x_0 .. x_{T-1}, the final state never costed)
    cost_timing: str = "next"
    # the state cost of the last step is multiplied by this (guided policy search's wp_final_multiplier): success is
    # judged on the final state, while a sum of distances over the episode also rewards getting near early
    final_cost_multiplier: float = 1.0
    cost_on: str = "latent"  # the quadratic cost is fitted on the "latent" part of the state (zero elsewhere) or the whole "state"
    # the episodes the cost is fitted on (the VAE reward model's refit, or the least-squares refit): every episode (0) or
    # the last N (not in the paper). A latent is a curved image of the arm's workspace, and one quadratic over all of it
    # misplaces the minimum; fitted where the policy now goes, it is a local model, as the dynamics are (BENCHMARKS.md)
    cost_fit_episodes: int = 0
    # with state_kind filtered, the latents the dynamics and the cost are fitted on: the "filtered" means the controller
    # acts on, or the "smoothed" means (each frame's posterior given the whole episode; not in the paper's code as such).
    # Fitting on the filtered means regresses x_{t+1} on an estimate that carries each frame's noise; LQG's separation
    # principle fits the model on the best estimate of the state and acts on the filter's (BENCHMARKS.md)
    fit_on: str = "filtered"
    # k > 0 (not in the paper): the controller's state is built from the latent's k leading principal components over the
    # pretraining episodes (models/solar/state.py: Projection), fixed after pretraining; 0: the whole latent. With
    # vae.encoder spatial_softmax, k = 2 learned the reacher on every seed where the whole latent did not (BENCHMARKS.md)
    latent_components: int = 0
    vae: VAEConfig = VAEConfig()
    lqr: LqrConfig = LqrConfig()

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"SolarTrainConfig.task must be one of {TASKS}, got {self.task!r}")
        for name in ("horizon", "random_rollouts", "rollouts_per_iter", "iterations", "torch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"SolarTrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.state_kind not in STATE_KINDS:
            raise ValueError(f"SolarTrainConfig.state_kind must be one of {STATE_KINDS}, got {self.state_kind!r}")
        if self.cost_target not in ("reward", "squared_reward"):
            raise ValueError(f"SolarTrainConfig.cost_target must be 'reward' or 'squared_reward', got {self.cost_target!r}")
        if not (self.final_cost_multiplier >= 0 and self.final_cost_multiplier < float("inf")):
            raise ValueError(f"SolarTrainConfig.final_cost_multiplier must be finite and >= 0, got {self.final_cost_multiplier}")
        if self.cost_timing not in ("next", "current"):
            raise ValueError(f"SolarTrainConfig.cost_timing must be 'next' or 'current', got {self.cost_timing!r}")
        if self.cost_model not in ("vae", "refit"):
            raise ValueError(f"SolarTrainConfig.cost_model must be 'vae' or 'refit', got {self.cost_model!r}")
        if self.fit_on not in ("filtered", "smoothed"):
            raise ValueError(f"SolarTrainConfig.fit_on must be 'filtered' or 'smoothed', got {self.fit_on!r}")
        if self.fit_on == "smoothed" and self.state_kind != "filtered":
            raise ValueError(f"SolarTrainConfig.fit_on smoothed needs state_kind filtered, got {self.state_kind!r}")
        if not 0 <= self.latent_components <= self.vae.latent_dim:
            raise ValueError(f"SolarTrainConfig.latent_components must be 0..vae.latent_dim ({self.vae.latent_dim}), got {self.latent_components}")
        if self.latent_components and (self.state_kind == "filtered" or self.cost_model != "refit"):
            raise ValueError(f"SolarTrainConfig.latent_components {self.latent_components} needs state_kind latent or latent_history "
                             f"and cost_model refit (the VAE's reward model is over the whole latent); got {self.state_kind!r}, "
                             f"{self.cost_model!r}")
        if self.cost_on not in ("latent", "state"):
            raise ValueError(f"SolarTrainConfig.cost_on must be 'latent' or 'state', got {self.cost_on!r}")
        for name in ("pretrain_epochs", "finetune_epochs", "eval_episodes", "iteration_eval_episodes", "video_every", "reward_refit_steps",
                     "cost_fit_episodes"):
            if getattr(self, name) < 0:
                raise ValueError(f"SolarTrainConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.task == "reacher":
            object.__setattr__(self, "env_kwargs", _with_reacher_arm(self.env_kwargs))
            if self.cost_target == "squared_reward" and self.env_kwargs.get("reward") == "squared_distance":
                raise ValueError("SolarTrainConfig: cost_target squared_reward squares the reward, and env_kwargs.reward "
                                 "squared_distance is already -100 |d|^2; use cost_target reward")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "SolarTrainConfig":
        return config_from_mapping(cls, data, source, ignore_private=True)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SolarTrainConfig":
        return load_yaml_config(cls, path, ignore_private=True)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, source: str = "override", **changes: Any) -> "SolarTrainConfig":
        """A copy with fields or dotted nested fields (``vae.lr``, ``lqr.kl_step``) changed, type-checked."""
        for key in changes:
            group = key.split(".", 1)[0]
            if "." in key and group not in ("vae", "lqr", "env_kwargs"):
                raise ValueError(f"unknown config group {group!r} in override {key!r} (groups: vae, lqr, env_kwargs)")
        return config_from_mapping(type(self), with_overrides(self.to_dict(), changes), source)


def _with_reacher_arm(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The reacher's env_kwargs with the arm's torque written out (``SOLAR_REACHER``'s unless given), so that a run's
    config.yaml and its policies say which arm they were trained on whatever the default is later."""
    from anima.sim_bridge.envs.reacher_pixels import SOLAR_REACHER

    reacher = env_kwargs.get("reacher", {})
    if not isinstance(reacher, dict) or "max_torque" in reacher:
        return env_kwargs  # a ReacherConfig, or an explicit torque: ReacherPixelsConfig checks it
    return {**env_kwargs, "reacher": {**reacher, "max_torque": SOLAR_REACHER.max_torque}}


def task_config_path(task: str, path: str | Path | None = None) -> Path:
    """``path``, or the package's training YAML for ``task`` (``<share>/config/solar/<task>.yaml``); FileNotFoundError
    naming the tasks that have one."""
    from anima.controllers.paths import share_dir

    folder = share_dir() / "config" / "solar"
    path = Path(path) if path is not None else folder / f"{task}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no training config {path} (tasks with configs: {sorted(p.stem for p in folder.glob('*.yaml'))})")
    return path


__all__ = ["LqrConfig", "SolarTrainConfig", "TASKS", "task_config_path"]
