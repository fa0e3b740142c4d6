"""Sampling-based MPC over a learned ensemble: filtered MPPI (PDDM) and CEM.

Nagabandi, Konolige, Levine, Kumar, "Deep Dynamics Models for Learning Dexterous Manipulation",
CoRL 2019, Sec. 4.2 (filtering and reward-weighted refinement). Values from the public code
(FACTS.md "PDDM"): Baoding N = 700, H = 7, gamma (``mppi_kappa``) = 20, beta = 0.6, sigma = 0.9;
10% of the samples drawn at 0.3 sigma; actions filtered u_t = beta (mu_t + eps_t) + (1 - beta) u_{t-1}
starting from the previously executed action and clipped; the mean is shifted one step (warm start);
every ensemble member rolls out every sequence and sequences are ranked by the ensemble-mean return;
+500 cost per step once a rollout is ``done``. CEM: 3 iterations, 20 elites.

The planner needs only a model with ``ensemble_size`` and either ``rollout(state (S,), actions (N, H, A))
-> (H, E, N, S)`` or ``predict(states (E, N, S), actions (N, A)) -> (E, N, S)``, and a task with
``reward(states (..., S), actions (..., A), t (...)) -> (reward (...), done (...))`` in numpy, so one
trained model serves several tasks (swap ``planner.task``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class BatchedModel(Protocol):
    """What the planner needs from a dynamics model (``DynamicsEnsemble`` implements both methods)."""

    ensemble_size: int

    def predict(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray: ...


class BatchedTask(Protocol):
    """A batched reward: states (..., S), actions (..., A), time step index t (...) -> (reward, done).

    A task may also define ``from_state(state (S,), t) -> task``: the task as seen from the measured
    state at step t (e.g. targets anchored to where the balls are); the planner scores each step's
    samples with it.
    """

    def reward(self, states: np.ndarray, actions: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class PlannerConfig:
    """Planner hyperparameters; defaults are PDDM's Baoding values (FACTS.md)."""

    optimizer: str = "mppi"
    num_samples: int = 700
    horizon: int = 7
    gamma: float = 20.0
    beta: float = 0.6
    sigma: float = 0.9
    low_noise_fraction: float = 0.1
    low_noise_scale: float = 0.3
    action_low: float = -1.0
    action_high: float = 1.0
    done_penalty: float = 500.0
    cem_iterations: int = 3
    cem_elites: int = 20
    backend: str = "loop"  # model rollout: "loop"/"bmm" float32, "bf16" bfloat16 hidden layers, "auto" (DynamicsEnsemble.rollout)

    def __post_init__(self) -> None:
        if self.optimizer not in ("mppi", "cem"):
            raise ValueError(f"PlannerConfig.optimizer must be 'mppi' or 'cem', got {self.optimizer!r}")
        if self.num_samples < 1 or self.horizon < 1:
            raise ValueError(f"PlannerConfig.num_samples and horizon must be >= 1, got {self.num_samples}, {self.horizon}")
        if not 0.0 < self.beta <= 1.0:
            raise ValueError(f"PlannerConfig.beta must be in (0, 1], got {self.beta}")
        if self.gamma <= 0 or self.sigma < 0:
            raise ValueError(f"PlannerConfig.gamma must be > 0 and sigma >= 0, got {self.gamma}, {self.sigma}")
        if not 0.0 <= self.low_noise_fraction <= 1.0:
            raise ValueError(f"PlannerConfig.low_noise_fraction must be in [0, 1], got {self.low_noise_fraction}")
        if not self.action_low < self.action_high:
            raise ValueError(f"PlannerConfig.action_low must be < action_high, got {self.action_low}, {self.action_high}")
        if self.backend not in ("loop", "bmm", "bf16", "auto"):
            raise ValueError(f"PlannerConfig.backend must be 'loop', 'bmm', 'bf16' or 'auto', got {self.backend!r}")
        if self.optimizer == "cem" and (not 1 <= self.cem_elites <= self.num_samples or self.cem_iterations < 1):
            raise ValueError(f"PlannerConfig.cem_elites must be in [1, num_samples] and cem_iterations >= 1, got {self.cem_elites}, {self.cem_iterations}")


# ------------------------------------------------------------------ pure math
def sample_noise(rng: np.random.Generator, n: int, h: int, a: int, sigma: float, low_fraction: float = 0.0, low_scale: float = 1.0) -> np.ndarray:
    """eps ~ N(0, sigma^2), (N, H, A) float32; the first ``round(low_fraction N)`` samples use ``low_scale`` sigma."""
    eps = rng.standard_normal((n, h, a), dtype=np.float32)
    eps *= sigma
    n_low = int(round(low_fraction * n))
    if n_low:
        eps[:n_low] *= low_scale
    return eps


def filtered_samples(mean: np.ndarray, eps: np.ndarray, prev_action: np.ndarray, beta: float, low: float, high: float) -> np.ndarray:
    """u_t = beta (mu_t + eps_t) + (1 - beta) u_{t-1}, u_{-1} = ``prev_action``; then clip (PDDM Sec. 4.2).

    mean: (H, A), eps: (N, H, A), prev_action: (A,) -> (N, H, A). The filter runs on unclipped values as
    in the public code; clipping is applied to the whole sequence at the end.
    """
    u = np.empty_like(eps)
    prev = np.broadcast_to(np.asarray(prev_action, dtype=eps.dtype), eps[:, 0].shape)
    for t in range(eps.shape[1]):
        u[:, t] = beta * (mean[t] + eps[:, t]) + (1.0 - beta) * prev
        prev = u[:, t]
    return np.clip(u, low, high, out=u)


def mppi_weights(returns: np.ndarray, gamma: float) -> np.ndarray:
    """w_i = exp(gamma (R_i - R_max)) / sum_j exp(gamma (R_j - R_max)); non-finite returns get weight 0."""
    r = np.asarray(returns, dtype=np.float64)
    finite = np.isfinite(r)
    if not finite.any():
        raise ValueError("mppi_weights: no finite return among the samples")
    w = np.zeros_like(r)
    w[finite] = np.exp(gamma * (r[finite] - r[finite].max()))
    return w / w.sum()


def shift_mean(mean: np.ndarray) -> np.ndarray:
    """Warm start: mu_t <- mu_{t+1}; the last step repeats (H, A)."""
    return np.concatenate([mean[1:], mean[-1:]], axis=0)


def rollout_model(model: Any, state: np.ndarray, actions: np.ndarray, backend: str = "loop") -> np.ndarray:
    """Predicted states (H, E, N, S) of every member for action sequences (N, H, A)."""
    if hasattr(model, "rollout"):
        return model.rollout(state, actions, backend=backend)
    n, h, _ = actions.shape
    s = np.broadcast_to(np.asarray(state, np.float32), (model.ensemble_size, n, len(state)))
    out = []
    for t in range(h):
        s = np.asarray(model.predict(s, actions[:, t]), dtype=np.float32)
        out.append(s)
    return np.stack(out)


def ensemble_returns(task: BatchedTask, states: np.ndarray, actions: np.ndarray, t0: int, done_penalty: float) -> np.ndarray:
    """Ensemble-mean return (N,) of each sequence; non-finite predictions give -inf (never chosen).

    states: (H, E, N, S) predicted s_{t0+1..t0+H}; actions: (N, H, A). Once a rollout is done, every
    later step (and the done step) costs ``done_penalty`` on top of the task reward.
    """
    h = states.shape[0]
    t = t0 + 1 + np.arange(h).reshape(h, 1, 1)
    acts = np.moveaxis(actions, 1, 0)[:, None]  # (H, 1, N, A)
    with np.errstate(invalid="ignore", over="ignore"):
        reward, done = task.reward(states, acts, t)
        reward = np.broadcast_to(reward, states.shape[:3]).astype(np.float64)
        done_so_far = np.logical_or.accumulate(np.broadcast_to(done, states.shape[:3]), axis=0)
        total = (reward - done_penalty * done_so_far).sum(axis=0)  # (E, N)
        # A non-finite value at step h reaches every dimension at h + 1 through the first layer, so
        # checking the last step (and the returns) covers the whole rollout at 1/H of the cost.
        bad = ~np.isfinite(total) | ~np.isfinite(states[-1]).all(axis=-1)
        total[bad] = -np.inf
    return total.mean(axis=0)


# ------------------------------------------------------------------ planner
class SamplingPlanner:
    """Receding-horizon planner: call ``plan(state, t)`` once per control step; it returns the action.

    State across calls: the warm-started mean (H, A) and the previously executed action. ``task`` may be
    replaced between calls (model reuse across tasks).
    """

    def __init__(self, config: PlannerConfig, model: BatchedModel, task: BatchedTask, action_dim: int, rng: np.random.Generator) -> None:
        self.config, self.model, self.task, self.action_dim, self.rng = config, model, task, int(action_dim), rng
        self.last_info: dict[str, float] = {}
        self.step_task: BatchedTask = task  # what the last plan optimized: task.from_state(state, t), or task
        self.reset()

    def reset(self, prev_action: np.ndarray | None = None) -> None:
        """Forget the plan: zero mean (mid-range for asymmetric bounds) and the given previous action."""
        c = self.config
        mid = 0.5 * (c.action_low + c.action_high)
        self.mean = np.full((c.horizon, self.action_dim), mid, np.float32)
        self.std = np.full((c.horizon, self.action_dim), c.sigma, np.float32)
        self.prev_action = np.full(self.action_dim, mid, np.float32) if prev_action is None else np.asarray(prev_action, np.float32).copy()

    def plan(self, state: np.ndarray, t: int = 0) -> np.ndarray:
        """One planning step from ``state`` at episode step ``t``; returns the action to execute (A,)."""
        state = np.asarray(state, dtype=np.float32)
        if not np.isfinite(state).all():
            raise ValueError(f"plan: state has non-finite entries at {np.flatnonzero(~np.isfinite(state)).tolist()}")
        from_state = getattr(self.task, "from_state", None)
        self.step_task = from_state(state, t) if callable(from_state) else self.task
        if self.config.optimizer == "cem":
            action = self._plan_cem(state, t)
        else:
            action = self._plan_mppi(state, t)
        self.prev_action = action.copy()
        return action

    def _evaluate(self, state: np.ndarray, u: np.ndarray, t: int) -> np.ndarray:
        states = rollout_model(self.model, state, u, self.config.backend)
        return ensemble_returns(self.step_task, states, u, t, self.config.done_penalty)

    def _plan_mppi(self, state: np.ndarray, t: int) -> np.ndarray:
        c = self.config
        eps = sample_noise(self.rng, c.num_samples, c.horizon, self.action_dim, c.sigma, c.low_noise_fraction, c.low_noise_scale)
        u = filtered_samples(self.mean, eps, self.prev_action, c.beta, c.action_low, c.action_high)
        returns = self._evaluate(state, u, t)
        finite = np.isfinite(returns)
        self.last_info = {"best_return": float(returns[finite].max()) if finite.any() else float("nan"), "finite_fraction": float(finite.mean())}
        if not finite.any():
            # Every prediction diverged: execute nothing new, hold the previous action.
            self.mean = shift_mean(self.mean)
            return self.prev_action.copy()
        w = mppi_weights(returns, c.gamma)
        # einsum, not tensordot: keeps OpenBLAS's thread pool (which spins after each call and then
        # competes with torch's threads) out of the planning step.
        mean = np.einsum("n,nha->ha", w.astype(np.float32), u)  # (H, A)
        action = mean[0].copy()
        self.mean = shift_mean(mean)
        return action

    def _plan_cem(self, state: np.ndarray, t: int) -> np.ndarray:
        """Cross-entropy method: refit a diagonal Gaussian to the elites, ``cem_iterations`` times."""
        c = self.config
        mean, std = self.mean.copy(), np.full_like(self.mean, c.sigma)
        best_u, best_r = None, -np.inf
        for _ in range(c.cem_iterations):
            u = mean + std * self.rng.standard_normal((c.num_samples, c.horizon, self.action_dim), dtype=np.float32)
            np.clip(u, c.action_low, c.action_high, out=u)
            returns = self._evaluate(state, u, t)
            if not np.isfinite(returns).any():
                continue
            elite_idx = np.argsort(np.where(np.isfinite(returns), returns, -np.inf))[-c.cem_elites :]
            elites = u[elite_idx]
            mean, std = elites.mean(axis=0), elites.std(axis=0) + 1e-6
            if returns[elite_idx[-1]] > best_r:
                best_r, best_u = float(returns[elite_idx[-1]]), u[elite_idx[-1]]
        self.last_info = {"best_return": best_r if best_u is not None else float("nan")}
        if best_u is None:
            self.mean = shift_mean(self.mean)
            return self.prev_action.copy()
        self.mean = shift_mean(mean.astype(np.float32))
        return mean[0].astype(np.float32).copy()


__all__ = [
    "BatchedModel",
    "BatchedTask",
    "PlannerConfig",
    "SamplingPlanner",
    "sample_noise",
    "filtered_samples",
    "mppi_weights",
    "shift_mean",
    "rollout_model",
    "ensemble_returns",
]
