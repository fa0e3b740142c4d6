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

import yaml

__all__ = ["ImitationTrainConfig", "PPOConfig"]


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
    or an address runs them as Ray actors."""

    motion: str = "dog_pace"
    profile: str = "paper"
    seed: int = 0
    total_samples: int = 30_000_000
    workers: int = 1
    ray: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    ppo: PPOConfig = PPOConfig()
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
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "ImitationTrainConfig":
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping of training settings")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {unknown}; valid: {sorted(known)}")
        data = dict(data)
        try:
            if isinstance(data.get("ppo"), dict):
                ppo_known = {f.name for f in dataclasses.fields(PPOConfig)}
                bad = sorted(set(data["ppo"]) - ppo_known)
                if bad:
                    raise ValueError(f"unknown ppo key(s) {bad}; valid: {sorted(ppo_known)}")
                data["ppo"] = PPOConfig(**data["ppo"])
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: {exc}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ImitationTrainConfig":
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: cannot read training config: {exc}") from exc
        data = {k: v for k, v in (data or {}).items() if not str(k).startswith("_")}
        return cls.from_dict(data, str(path))

    def replace(self, **changes: Any) -> "ImitationTrainConfig":
        """A copy with ``changes``; ``ppo.<name>`` keys change one PPO field."""
        ppo = {k.split(".", 1)[1]: v for k, v in changes.items() if k.startswith("ppo.")}
        rest = {k: v for k, v in changes.items() if not k.startswith("ppo.")}
        for names, given, prefix in (({f.name for f in dataclasses.fields(PPOConfig)}, ppo, "ppo."),
                                     ({f.name for f in dataclasses.fields(self)}, rest, "")):
            unknown = sorted(set(given) - names)
            if unknown:
                raise ValueError(f"unknown setting(s) {[prefix + k for k in unknown]}; valid: "
                                 f"{sorted(prefix + n for n in names)}")
        if ppo:
            rest["ppo"] = dataclasses.replace(rest.get("ppo", self.ppo), **ppo)
        return dataclasses.replace(self, **rest)
