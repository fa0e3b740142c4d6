"""VICE-RAQ training configuration: frozen dataclasses whose defaults are FACTS.md's values.

SAC (Haarnoja et al. 2018) as in the VICE-RAQ public code (Singh et al., RSS 2019; FACTS.md
"VICE-RAQ"): policy and twin-Q MLPs (256, 256), Adam 3e-4, τ 5e-3, γ 0.99, automatic entropy target
(−|A|), batch 256, 1,000 initial exploration steps, epochs of 1,000 environment steps with one
gradient step per step, episodes of 100 steps; 48×48×3 pixels through a conv preprocessor (2 conv
layers of 8 filters 5×5, each followed by 2×2 max-pooling, → 256-D). Goal classifier (256, 256) on
the same conv architecture, Adam 1e-4, 128 positives + 128 negatives per batch, mixup α 1.0, 10
classifier steps per epoch; its logit is the reward. RAQ asks every ``query_frequency`` epochs.
DisCor (Kumar et al. 2020; FACTS.md "DisCor"): error network 4×256, Adam 3e-4, τ initialised at 10.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anima.controllers.config_loader import config_from_mapping, load_yaml_config, with_overrides

__all__ = ["ClassifierConfig", "DisCorConfig", "RAQConfig", "SACConfig", "ViceRaqConfig", "TASKS", "OPERATORS", "REWARDS"]

TASKS = ("push", "bookshelf", "drape")
OPERATORS = ("oracle", "ros", "none")
# vice: VICE (classifier negatives from the replay buffer, AIRL-style loss); classifier: a plain goal
# classifier trained on the same data with binary cross-entropy; ground_truth: the env's success (upper bound).
REWARDS = ("vice", "classifier", "ground_truth")


def _check(owner: str, cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(f"{owner}.{message}")


def _sizes(owner: str, name: str, value: Any) -> tuple[int, ...]:
    sizes = tuple(int(v) for v in value)
    _check(owner, bool(sizes) and min(sizes) >= 1, f"{name} must list layer sizes >= 1, got {value!r}")
    return sizes


@dataclass(frozen=True)
class SACConfig:
    """SAC hyperparameters (FACTS.md "VICE-RAQ", SAC row). ``updates_per_step``: gradient steps per
    environment step (1.0 in the paper; fewer trades sample efficiency for wall time on a CPU)."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    learning_rate: float = 3e-4
    tau: float = 5e-3
    gamma: float = 0.99
    batch_size: int = 256
    initial_exploration_steps: int = 1000
    updates_per_step: float = 1.0
    feature_dim: int = 256
    conv_filters: int = 8
    conv_kernel: int = 5

    def __post_init__(self) -> None:
        o = "SACConfig"
        object.__setattr__(self, "hidden_sizes", _sizes(o, "hidden_sizes", self.hidden_sizes))
        _check(o, 0 < self.learning_rate < 1, f"learning_rate must be in (0, 1), got {self.learning_rate!r}")
        _check(o, 0 < self.tau <= 1 and 0 < self.gamma <= 1, "tau and gamma must be in (0, 1]")
        _check(o, self.batch_size >= 1 and self.initial_exploration_steps >= 0, "batch_size must be >= 1 and initial_exploration_steps >= 0")
        _check(o, 0 < self.updates_per_step <= 16, f"updates_per_step must be in (0, 16], got {self.updates_per_step!r}")
        _check(o, self.feature_dim >= 1 and self.conv_filters >= 1 and self.conv_kernel % 2 == 1,
               "feature_dim and conv_filters must be >= 1 and conv_kernel odd")


@dataclass(frozen=True)
class ClassifierConfig:
    """Goal classifier (FACTS.md "VICE-RAQ", classifier row). ``label_noise``: fraction of the
    classifier's training labels flipped per batch (0 in the paper; 0.2 for the DisCor experiment's
    deliberately noisy classifier)."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    learning_rate: float = 1e-4
    batch_positives: int = 128
    batch_negatives: int = 128
    mixup_alpha: float = 1.0
    train_steps_per_epoch: int = 10
    label_noise: float = 0.0

    def __post_init__(self) -> None:
        o = "ClassifierConfig"
        object.__setattr__(self, "hidden_sizes", _sizes(o, "hidden_sizes", self.hidden_sizes))
        _check(o, 0 < self.learning_rate < 1, f"learning_rate must be in (0, 1), got {self.learning_rate!r}")
        _check(o, self.batch_positives >= 1 and self.batch_negatives >= 1, "batch_positives and batch_negatives must be >= 1")
        _check(o, self.mixup_alpha >= 0 and math.isfinite(self.mixup_alpha), f"mixup_alpha must be >= 0 (0 = no mixup), got {self.mixup_alpha!r}")
        _check(o, self.train_steps_per_epoch >= 0, "train_steps_per_epoch must be >= 0")
        _check(o, 0 <= self.label_noise < 0.5, f"label_noise must be in [0, 0.5), got {self.label_noise!r}")


@dataclass(frozen=True)
class RAQConfig:
    """Reinforcement learning with Active Queries. Every ``query_frequency`` epochs the state with the
    highest classifier reward among the last ``query_frequency`` × epoch steps is shown to the operator.
    ``max_queries``: the query budget (0 = VICE without queries). ``use_negative_answers``: states the
    operator labelled "not reached" join the classifier's negatives (the public code left this a TODO)."""

    query_frequency: int = 1
    max_queries: int = 75
    use_negative_answers: bool = False

    def __post_init__(self) -> None:
        _check("RAQConfig", self.query_frequency >= 1, f"query_frequency must be >= 1, got {self.query_frequency!r}")
        _check("RAQConfig", self.max_queries >= 0, f"max_queries must be >= 0, got {self.max_queries!r}")


@dataclass(frozen=True)
class DisCorConfig:
    """DisCor's corrected backups (Kumar et al. 2020, Sec. 5; FACTS.md "DisCor"): an error network
    Δ(s, a) and Bellman weights ∝ exp(−γ Δ(s′, a′) / τ); τ is a moving average of the mean Δ
    (``tau_update`` per step), initialised at ``tau_init``."""

    enabled: bool = False
    hidden_sizes: tuple[int, ...] = (256, 256, 256, 256)
    learning_rate: float = 3e-4
    tau_init: float = 10.0
    tau_update: float = 5e-3

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", _sizes("DisCorConfig", "hidden_sizes", self.hidden_sizes))
        _check("DisCorConfig", self.tau_init > 0 and 0 < self.tau_update <= 1 and 0 < self.learning_rate < 1,
               "tau_init must be > 0, tau_update in (0, 1] and learning_rate in (0, 1)")


@dataclass(frozen=True)
class ViceRaqConfig:
    """One training run; written to ``<run_dir>/config.yaml``.

    ``goal_examples``: positives the classifier starts from (``goal_dir``, or generated from ground
    truth when it is empty); ``validation_goal_examples``: held-out goal images for the classifier's
    true-positive rate. ``operator``: who answers queries (``oracle`` in process, ``ros`` over the
    ``goal_query`` services, ``none``). ``oracle_delay_s``/``oracle_error_rate``: the oracle's
    answer delay and label error rate. ``eval_every``/``eval_episodes``: deterministic-policy
    evaluation on ground-truth success every that many epochs.
    """

    task: str = "push"
    seed: int = 0
    n_epochs: int = 300
    epoch_steps: int = 1000
    episode_steps: int = 100
    image_size_px: int = 48
    reward: str = "vice"
    operator: str = "oracle"
    oracle_delay_s: float = 0.0
    oracle_error_rate: float = 0.0
    goal_examples: int = 80
    validation_goal_examples: int = 100
    goal_dir: str = ""
    replay_size: int = 0  # 0: n_epochs × epoch_steps (FACTS: "replay max = n_epochs × 1,000 for images")
    eval_every: int = 5
    eval_episodes: int = 10
    video_every: int = 0
    torch_threads: int = 1
    time_limit_s: float = 0.0  # > 0: stop (with a checkpoint) after the epoch that passes this much wall time
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    sac: SACConfig = SACConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    raq: RAQConfig = RAQConfig()
    discor: DisCorConfig = DisCorConfig()

    def __post_init__(self) -> None:
        o = "ViceRaqConfig"
        _check(o, self.task in TASKS, f"task must be one of {TASKS}, got {self.task!r}")
        _check(o, self.reward in REWARDS, f"reward must be one of {REWARDS}, got {self.reward!r}")
        _check(o, self.operator in OPERATORS, f"operator must be one of {OPERATORS}, got {self.operator!r}")
        _check(o, self.seed >= 0, f"seed must be >= 0, got {self.seed!r}")
        for name in ("n_epochs", "epoch_steps", "episode_steps", "torch_threads", "eval_episodes"):
            _check(o, getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("eval_every", "video_every", "replay_size", "validation_goal_examples"):
            _check(o, getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)!r}")
        _check(o, self.epoch_steps % self.episode_steps == 0,
               f"epoch_steps ({self.epoch_steps}) must be a multiple of episode_steps ({self.episode_steps}): epochs end with episodes")
        _check(o, 16 <= self.image_size_px <= 128, f"image_size_px must be in 16..128, got {self.image_size_px!r}")
        _check(o, self.goal_examples >= 1 or self.reward == "ground_truth", "goal_examples must be >= 1")
        _check(o, self.time_limit_s >= 0, f"time_limit_s must be >= 0 (0 = none), got {self.time_limit_s!r}")
        _check(o, self.oracle_delay_s >= 0 and 0 <= self.oracle_error_rate <= 1, "oracle_delay_s must be >= 0 and oracle_error_rate in [0, 1]")
        reserved = sorted({"scene", "observation", "image_size_px", "episode_steps"} & set(self.env_kwargs))
        _check(o, not reserved, f"env_kwargs: {reserved} are set by the config itself")

    @property
    def replay_capacity(self) -> int:
        return self.replay_size or self.n_epochs * self.epoch_steps

    @property
    def uses_queries(self) -> bool:
        return self.reward != "ground_truth" and self.operator != "none" and self.raq.max_queries > 0

    def env_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``make_env(f"sawyer_{task}", ...)``: image observations at the config's size."""
        return {"observation": "image", "image_size_px": self.image_size_px, "episode_steps": self.episode_steps,
                **self.env_kwargs}

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for group in ("sac", "classifier", "discor"):
            data[group]["hidden_sizes"] = list(data[group]["hidden_sizes"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "ViceRaqConfig":
        return config_from_mapping(cls, data, source, ignore_private=True)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ViceRaqConfig":
        return load_yaml_config(cls, path, ignore_private=True)

    def replace(self, source: str = "--set", **changes: Any) -> "ViceRaqConfig":
        """A copy with top-level or dotted (``sac.batch_size``) fields changed, type-checked."""
        groups = ("sac", "classifier", "raq", "discor", "env_kwargs")
        bad = sorted(k for k in changes if "." in k and k.split(".", 1)[0] not in groups)
        if bad:
            raise ValueError(f"unknown setting group in {bad}; nested groups: {list(groups)}")
        return config_from_mapping(type(self), with_overrides(self.to_dict(), changes), source, ignore_private=True)
