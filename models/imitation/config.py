"""Training configuration for motion imitation (frozen dataclasses; the paper's values are the defaults).

PPO as in the public code's ``run.py`` (stable-baselines PPO1; FACTS.md "PPO"): γ = λ = 0.95,
clip 0.2, 4,096 samples per batch (split over the workers), minibatch 256, one epoch, step size
1e-5, Adam ε 1e-5, [512, 256] ReLU policy and value networks, a fixed (untrained) action standard
deviation of 0.125; observations normalised by running mean and variance and clipped to ±5, value
loss weight 1 and no entropy bonus, advantages standardised per minibatch, no gradient clipping.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anima.controllers.config_loader import config_from_mapping, load_yaml_config, with_overrides
from anima.models.imitation.latent import LatentConfig

__all__ = ["ImitationTrainConfig", "LatentConfig", "PPOConfig"]


def _positive(owner: str, name: str, value: Any, integer: bool = False) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) if integer else isinstance(value, (int, float))
    if not ok or not math.isfinite(value) or value <= 0:
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{owner}.{name} must be {kind} > 0, got {value!r}")


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters (FACTS.md "PPO"); ``steps_per_batch`` counts all workers together."""

    gamma: float = 0.95
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    steps_per_batch: int = 4096
    minibatch_size: int = 256
    epochs: int = 1
    learning_rate: float = 1e-5
    adam_eps: float = 1e-5
    action_std: float = 0.125
    net_arch: tuple[int, ...] = (512, 256)
    value_coef: float = 1.0
    obs_clip: float = 5.0

    def __post_init__(self) -> None:
        for name in ("gamma", "gae_lambda", "clip_range", "learning_rate", "adam_eps", "action_std", "value_coef", "obs_clip"):
            _positive("PPOConfig", name, getattr(self, name))
        for name in ("steps_per_batch", "minibatch_size", "epochs"):
            _positive("PPOConfig", name, getattr(self, name), integer=True)
        if self.gamma > 1 or self.gae_lambda > 1:
            raise ValueError("PPOConfig.gamma and gae_lambda must be in (0, 1]")
        object.__setattr__(self, "net_arch", tuple(int(n) for n in self.net_arch))
        if not self.net_arch or min(self.net_arch) < 1:
            raise ValueError(f"PPOConfig.net_arch must list layer sizes >= 1, got {self.net_arch!r}")


@dataclass(frozen=True)
class ImitationTrainConfig:
    """One training run. ``env_kwargs`` go to :class:`LaikagoImitationEnv` (besides ``motion`` and
    ``profile``); ``ray`` None runs workers as local processes (one worker: in process), ``"auto"``
    or an address runs them as Ray actors. ``latent.dim`` > 0 trains an adaptive policy π(a | s, z)
    with the encoder E(z | μ) and the KL bottleneck weighted by ``latent.beta``
    (:mod:`anima.models.imitation.latent`); it needs ``env_kwargs.randomize`` (μ is the episode's
    randomized dynamics). ``randomize`` without a latent is the robust baseline."""

    motion: str = "dog_pace"
    profile: str = "paper"
    seed: int = 0
    total_samples: int = 30_000_000
    workers: int = 1
    ray: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    ppo: PPOConfig = PPOConfig()
    latent: LatentConfig = LatentConfig()
    checkpoint_every: int = 1
    keep_checkpoint_every: int = 50
    video_every: int = 100
    video_steps: int = 300
    torch_threads: int = 1

    def __post_init__(self) -> None:
        _positive("ImitationTrainConfig", "total_samples", self.total_samples, integer=True)
        for name in ("workers", "checkpoint_every", "torch_threads", "video_steps"):
            _positive("ImitationTrainConfig", name, getattr(self, name), integer=True)
        for name in ("keep_checkpoint_every", "video_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"ImitationTrainConfig.{name} must be an integer >= 0 (0 = never), got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"ImitationTrainConfig.seed must be an integer >= 0, got {self.seed!r}")
        if self.ppo.steps_per_batch % self.workers:
            raise ValueError(f"ppo.steps_per_batch ({self.ppo.steps_per_batch}) must divide evenly over "
                             f"{self.workers} workers")
        if self.ppo.steps_per_batch % self.ppo.minibatch_size:
            raise ValueError(f"ppo.steps_per_batch ({self.ppo.steps_per_batch}) must be a multiple of "
                             f"ppo.minibatch_size ({self.ppo.minibatch_size})")
        if self.latent.dim and not self.env_kwargs.get("randomize"):
            raise ValueError("latent.dim > 0 needs env_kwargs.randomize: true (the encoder reads the episode's "
                             "randomized dynamics)")
        reserved = sorted({"motion", "profile"} & set(self.env_kwargs))
        if reserved:
            raise ValueError(f"env_kwargs: set {reserved} with the config's own keys, not in env_kwargs")

    @property
    def steps_per_worker(self) -> int:
        return self.ppo.steps_per_batch // self.workers

    def env_arguments(self) -> dict[str, Any]:
        """Keyword arguments of the training env."""
        return {"motion": self.motion, "profile": self.profile, **self.env_kwargs}

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ppo"]["net_arch"] = list(self.ppo.net_arch)
        data["latent"]["encoder_net"] = list(self.latent.encoder_net)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "ImitationTrainConfig":
        """Type-checked through the project's one config loader (unknown keys and wrong types name the key)."""
        return config_from_mapping(cls, data, source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ImitationTrainConfig":
        return load_yaml_config(cls, path, ignore_private=True)

    def replace(self, **changes: Any) -> "ImitationTrainConfig":
        """A copy with ``changes``; ``ppo.<name>`` / ``latent.<name>`` keys change one nested field;
        values type-checked."""
        bad = sorted(k for k in changes if "." in k and not k.startswith(("ppo.", "latent.")))
        if bad:
            raise ValueError(f"unknown setting(s) {bad}; only ppo.<name> and latent.<name> settings are nested")
        return config_from_mapping(type(self), with_overrides(self.to_dict(), changes), "--set")
