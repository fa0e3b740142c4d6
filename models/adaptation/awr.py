"""Latent search by advantage-weighted regression (AWR) over a Gaussian on z.

Peng et al., "Learning Agile Robotic Locomotion Skills by Imitating Animals", RSS 2020, Sec. VI-B
(with the AWR update of Peng et al., "Advantage-Weighted Regression", 2019, Sec. 3): on the target
robot the dynamics μ are unknown, so the policy π(a | s, z) is adapted by searching its latent z.
A Gaussian search distribution N(m, diag σ²) starts at the prior N(0, I); each iteration draws a
batch of z, runs one episode per z and records its return; then m, σ are refit by weighted maximum
likelihood over the latest ``fit_episodes`` (z, R) pairs (AWR's replay buffer; measured on the
synthetic objective of the tests, a buffer of the last batch converges faster than one of every
episode, whose few best samples collapse σ before the mean arrives), with weights

    w_i = min(exp(A_i / T), w_max),   A_i = (R_i − mean R) / (std R + 1e-8),

so the temperature T is in units of the returns' spread (scale free across domains) and one lucky
episode cannot take all the weight. σ is floored at ``min_std`` so the search keeps exploring.
The best z seen (highest single-episode return) is kept apart from the distribution.

:class:`LatentSearch` is a plain ask/tell state machine (no episodes, no I/O), so the same search
runs on the in-process simulator, over ROS and on a synthetic objective in the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["AWRConfig", "LatentSearch", "awr_weights", "weighted_gaussian_fit"]


@dataclass(frozen=True)
class AWRConfig:
    """``batch``: episodes per update; ``temperature``: T above (units of the returns' std);
    ``max_weight``: w_max; ``init_std``: σ of the first batch (1 = the prior N(0, I)); ``min_std``;
    ``fit_episodes``: the latest episodes each refit uses."""

    batch: int = 10
    temperature: float = 0.5
    max_weight: float = 20.0
    init_std: float = 1.0
    min_std: float = 0.1
    fit_episodes: int = 10

    def __post_init__(self) -> None:
        for name in ("batch", "fit_episodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"AWRConfig.{name} must be an integer >= 1, got {value!r}")
        for name in ("temperature", "max_weight", "init_std", "min_std"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"AWRConfig.{name} must be a number > 0, got {value!r}")
        if self.min_std > self.init_std:
            raise ValueError(f"AWRConfig.min_std ({self.min_std}) must be <= init_std ({self.init_std})")


def awr_weights(returns: np.ndarray, temperature: float, max_weight: float) -> np.ndarray:
    """Weights (N,) of returns (N,): min(exp(standardised advantage / T), w_max)."""
    r = np.asarray(returns, dtype=float)
    adv = (r - r.mean()) / (r.std() + 1e-8)
    return np.minimum(np.exp(np.clip(adv / temperature, -50.0, 50.0)), max_weight)


def weighted_gaussian_fit(z: np.ndarray, weights: np.ndarray, min_std: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted maximum-likelihood diagonal Gaussian of samples z (N, Z): mean (Z,), std (Z,) >= min_std."""
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    mean = w @ z
    std = np.sqrt(w @ (z - mean) ** 2)
    return mean, np.maximum(std, min_std)


class LatentSearch:
    """Ask/tell AWR search over z (module docstring). ``ask`` -> the next z to try; ``tell(z, R)``
    records its return and refits the distribution after every ``batch`` results."""

    def __init__(self, z_dim: int, config: AWRConfig, rng: np.random.Generator,
                 mean: np.ndarray | None = None) -> None:
        if not isinstance(z_dim, int) or z_dim < 1:
            raise ValueError(f"z_dim must be an integer >= 1, got {z_dim!r}")
        self.config = config
        self.rng = rng
        self.mean = np.zeros(z_dim) if mean is None else np.asarray(mean, dtype=float).copy()
        self.std = np.full(z_dim, float(config.init_std))
        self.z: list[np.ndarray] = []
        self.returns: list[float] = []
        self.best_z: np.ndarray | None = None
        self.best_return = -math.inf
        self.updates = 0

    @property
    def episodes(self) -> int:
        return len(self.returns)

    def ask(self) -> np.ndarray:
        return self.mean + self.std * self.rng.standard_normal(self.mean.shape)

    def tell(self, z: np.ndarray, episode_return: float) -> None:
        z = np.asarray(z, dtype=float)
        if z.shape != self.mean.shape or not np.isfinite(z).all():
            raise ValueError(f"z must be {self.mean.shape[0]} finite values, got {z!r}")
        if not math.isfinite(episode_return):
            raise ValueError(f"episode return must be finite, got {episode_return!r}")
        self.z.append(z.copy())
        self.returns.append(float(episode_return))
        if episode_return > self.best_return:
            self.best_return, self.best_z = float(episode_return), z.copy()
        if self.episodes % self.config.batch == 0:
            self._update()

    def _update(self) -> None:
        c = self.config
        w = awr_weights(np.array(self.returns[-c.fit_episodes:]), c.temperature, c.max_weight)
        self.mean, self.std = weighted_gaussian_fit(np.stack(self.z[-c.fit_episodes:]), w, c.min_std)
        self.updates += 1

    def state(self) -> dict[str, Any]:
        """Plain data: the distribution, the best z and every (z, return) so far."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "updates": self.updates,
                "best_z": None if self.best_z is None else self.best_z.tolist(),
                "best_return": None if self.best_z is None else self.best_return,
                "z": [z.tolist() for z in self.z], "returns": list(self.returns)}
