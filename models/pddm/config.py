"""PDDM training configuration: one frozen dataclass, loaded from ``config/pddm/<task>.yaml``.

Defaults are the paper's public-code Baoding values (FACTS.md "PDDM"): 200 iterations x 40
rollouts of 100 steps, 100/50 random rollouts of 30 steps for train/validation, ensemble 3 x 2x250,
Adam 1e-3, batch 512, 40 epochs, retrained from scratch every iteration; MPPI N 700, H 7, gamma 20,
beta 0.6, sigma 0.9.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anima.controllers.config_loader import config_from_mapping, load_yaml_config, with_overrides
from anima.controllers.mppi import PlannerConfig
from anima.models.dynamics_ensemble import EnsembleConfig


@dataclass(frozen=True)
class PDDMTrainConfig:
    """Everything a run needs; written to ``<run_dir>/config.yaml``."""

    task: str = "baoding"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    iterations: int = 200
    rollouts_per_iter: int = 40
    rollout_length: int = 100
    random_rollouts_train: int = 100
    random_rollouts_val: int = 50
    random_rollout_length: int = 30
    random_hold_steps: int = 1
    video_every: int = 0
    torch_threads: int = 2
    workers: int = 1
    rollout_tasks: tuple[str, ...] = ()  # planned rollout k uses rollout_tasks[k % len]; () = env_kwargs' task
    keep_models: bool = True  # also save every iteration's model as models/iter_NNN.pt (pick one by hours of data)
    ensemble: EnsembleConfig = EnsembleConfig()
    planner: PlannerConfig = PlannerConfig()

    def __post_init__(self) -> None:
        for name in ("iterations", "rollouts_per_iter", "rollout_length", "random_rollout_length", "random_hold_steps", "torch_threads", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"PDDMTrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if isinstance(self.rollout_tasks, str) or not all(isinstance(t, str) for t in self.rollout_tasks):
            raise ValueError(f"PDDMTrainConfig.rollout_tasks must be a list of task names, got {self.rollout_tasks!r}")
        object.__setattr__(self, "rollout_tasks", tuple(self.rollout_tasks))
        if self.random_rollouts_train < 1 or self.random_rollouts_val < 1:
            raise ValueError("PDDMTrainConfig.random_rollouts_train and random_rollouts_val must be >= 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "PDDMTrainConfig":
        """Build from a plain dict (YAML) through the shared loader: unknown keys and values of the wrong
        type raise a ValueError naming the key, its expected type and ``source``; keys starting with
        ``_`` are informational sections written into run directories and are skipped."""
        return config_from_mapping(cls, data, source, ignore_private=True)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "PDDMTrainConfig":
        return load_yaml_config(cls, path, ignore_private=True)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["ensemble"]["hidden_sizes"] = list(self.ensemble.hidden_sizes)
        out["rollout_tasks"] = list(self.rollout_tasks)
        return out

    def replace(self, source: str = "override", **changes: Any) -> "PDDMTrainConfig":
        """A copy with top-level fields or dotted nested fields (``planner.num_samples``, ``env_kwargs.task``)
        changed, type-checked as a loaded file is (``--set workers=abc`` is an error naming ``workers``)."""
        for key in changes:
            group = key.split(".", 1)[0]
            if "." in key and group not in ("ensemble", "planner", "env_kwargs"):
                raise ValueError(f"unknown config group {group!r} in override {key!r} (groups: ensemble, planner, env_kwargs)")
        return config_from_mapping(type(self), with_overrides(self.to_dict(), changes), source)


NODE_PLANNER_KEYS = ("optimizer", "num_samples", "horizon", "gamma", "beta", "sigma", "backend")


@dataclass(frozen=True)
class BaodingNodeConfig:
    """How the ``pddm_planner`` node plans: the core config it is built from, and what an ``--as-node``
    evaluation plans with. Loaded from ``config/pddm/planner/baoding.yaml`` (plain YAML, not a ROS
    parameter file); the node's ROS parameters of the same names override it at launch.

    ``planner``: MPPI settings (PDDM's values except ``beta``); ``target_lead_rad``: the rotation
    targets' lead for ccw and cw (``BaodingRotateTask.lead_rad``); ``settle_speed_mps`` and
    ``settle_time_s``: a task starts once both balls were slower than this for that long.
    """

    planner: PlannerConfig = PlannerConfig(beta=0.4, backend="auto")
    target_lead_rad: tuple[float, float] = (0.0, 0.52)
    settle_speed_mps: float = 0.01
    settle_time_s: float = 0.5

    def __post_init__(self) -> None:
        if len(self.target_lead_rad) != 2:
            raise ValueError(f"BaodingNodeConfig.target_lead_rad must be [ccw, cw], got {self.target_lead_rad!r}")
        object.__setattr__(self, "target_lead_rad", tuple(float(v) for v in self.target_lead_rad))
        if self.settle_speed_mps <= 0 or self.settle_time_s < 0:
            raise ValueError("BaodingNodeConfig.settle_speed_mps must be > 0 and settle_time_s >= 0")

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> "BaodingNodeConfig":
        """``path`` or, by default, ``config/pddm/planner/baoding.yaml`` of the package."""
        if path is None or str(path) == "":
            from anima.controllers.paths import share_dir

            path = share_dir() / "config" / "pddm" / "planner" / "baoding.yaml"
        return load_yaml_config(cls, path)
