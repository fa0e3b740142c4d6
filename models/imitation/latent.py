"""The latent dynamics code z of an adaptive imitation policy: encoder E(z | μ) and its bottleneck.

Peng et al., "Learning Agile Robotic Locomotion Skills by Imitating Animals", RSS 2020, Sec. VI-A/B:
the policy π(a | s, z) is trained across randomized dynamics; an encoder maps the episode's
dynamics parameters μ to a Gaussian over a low-dimensional code z, and a KL penalty
β · KL(E(z | μ) ‖ N(0, I)) limits how much the code says about μ (an information bottleneck), so z
stays in a region the search can explore on a robot where μ is unknown (Sec. VI-B: the adaptation
searches z, never μ).

* μ (:func:`dynamics_vector`, :data:`MU_DIM` = 7): the randomized parameters of one episode, one value
  per group (mass, inertia, motor strength, joint friction, foot friction, latency, joint damping;
  per-link and per-joint draws are averaged), normalised to [−1, 1] over the training ranges
  (0 = the middle of the range; a group the ranges disable is 0).
The networks (SB3 classes) are in :mod:`anima.models.imitation.latent_policy`:

* Encoder: an MLP μ → (mean, log σ) of z (``z_dim`` = 8 by default). During training the rollout
  worker draws ε ~ N(0, I) once per episode and the policy's input is z = mean + σ ⊙ ε
  (reparameterised, so PPO's loss trains the encoder through z).
* :class:`LatentFeatures`: SB3 features extractor taking the worker's observation
  ``[s (normalised, D), μ (7), ε (z_dim)]`` and giving ``[s, z]`` to the policy and value networks.
* :class:`LatentActorCriticPolicy`: SB3's actor-critic whose ``evaluate_actions`` returns −β · KL as
  its "entropy"; with the action std fixed (FACTS.md "PPO") the true entropy is a constant without a
  gradient, so PPO's loss term ``ent_coef · (−mean entropy)`` with ``ent_coef = 1`` is exactly the
  bottleneck penalty β · mean KL (SB3 then logs it as ``entropy_loss``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from anima.sim_bridge.randomization import RandomizationParams, RandomizationRanges

__all__ = ["DYNAMICS_GROUPS", "LatentConfig", "MU_DIM", "dynamics_vector", "kl_to_standard_normal"]

DYNAMICS_GROUPS = ("mass_scale", "inertia_scale", "motor_strength_scale", "joint_friction_nm", "foot_friction",
                   "latency_s", "joint_damping_nms")
MU_DIM = len(DYNAMICS_GROUPS)


@dataclass(frozen=True)
class LatentConfig:
    """``dim`` 0: no latent (a plain or robust policy); ``beta``: weight of the KL bottleneck (not a
    value of the paper's code; 1e-3 keeps the penalty small against PPO's surrogate at start);
    ``encoder_net``: hidden layer sizes of E(z | μ)."""

    dim: int = 0
    beta: float = 1e-3
    encoder_net: tuple[int, ...] = (64, 64)

    def __post_init__(self) -> None:
        if not isinstance(self.dim, int) or isinstance(self.dim, bool) or self.dim < 0:
            raise ValueError(f"LatentConfig.dim must be an integer >= 0 (0 = no latent), got {self.dim!r}")
        if not (isinstance(self.beta, (int, float)) and math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"LatentConfig.beta must be a number >= 0, got {self.beta!r}")
        object.__setattr__(self, "encoder_net", tuple(int(n) for n in self.encoder_net))
        if any(n < 1 for n in self.encoder_net):
            raise ValueError(f"LatentConfig.encoder_net must list layer sizes >= 1, got {self.encoder_net!r}")


def dynamics_vector(params: RandomizationParams | dict[str, Any], ranges: RandomizationRanges | None) -> np.ndarray:
    """μ (7,): each group's mean value mapped to [−1, 1] over its training range (None -> 0).

    ``params``: a draw, or its :meth:`~RandomizationParams.as_dict` (what ``World.randomize`` returns).
    A value outside the range maps outside [−1, 1]; a group with no range (or a zero-width one) is 0.
    """
    out = np.zeros(MU_DIM)
    if ranges is None:
        return out
    for i, name in enumerate(DYNAMICS_GROUPS):
        value = params.get(name) if isinstance(params, dict) else getattr(params, name)
        bounds = getattr(ranges, name)
        if value is None or bounds is None or bounds[1] <= bounds[0]:
            continue
        mid, half = 0.5 * (bounds[0] + bounds[1]), 0.5 * (bounds[1] - bounds[0])
        out[i] = (float(np.mean(value)) - mid) / half
    return out


def kl_to_standard_normal(mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag σ²) ‖ N(0, I)) per row: ½ Σ (σ² + mean² − 1 − 2 log σ); (..., Z) -> (...)."""
    return 0.5 * torch.sum(torch.exp(2.0 * log_std) + mean ** 2 - 1.0 - 2.0 * log_std, dim=-1)
