"""DisCor: distribution correction for Bellman backups (Kumar, Gupta, Levine, NeurIPS 2020, Sec. 5-6).

An error network Δ(s, a) estimates the accumulated error of the Q-function,
``Δ(s, a) ← |Q(s, a) − y(s, a)| + γ Δ̄(s′, a′)`` (a′ ~ π(·|s′), Δ̄ its target copy), and every
backup is weighted by ``w ∝ exp(−γ Δ̄(s′, a′) / τ)``, so transitions whose targets rest on
large errors count less. Weights are self-normalised over the batch (a softmax), scaled here to mean 1
so the loss has plain SAC's magnitude; τ is a moving average of the mean Δ(s, a), initialised at 10
(FACTS.md "DisCor", after the toshikwa/discor.pytorch port's design).
"""

from __future__ import annotations

import torch

__all__ = ["discor_weights", "error_targets", "update_tau"]


def discor_weights(next_errors: torch.Tensor, gamma: float, tau: float) -> torch.Tensor:
    """``B · softmax(−γ Δ̄(s′, a′) / τ)`` over the batch; ``next_errors`` (B, 1) -> (B, 1), mean 1."""
    if tau <= 0:
        raise ValueError(f"DisCor temperature tau must be > 0, got {tau!r}")
    x = -gamma * next_errors / tau
    return torch.softmax(x, dim=0) * next_errors.shape[0]


def error_targets(q: torch.Tensor, q_target: torch.Tensor, next_errors: torch.Tensor, gamma: float) -> torch.Tensor:
    """Target of the error network: ``|Q(s, a) − y| + γ Δ̄(s′, a′)``, all (B, 1)."""
    return (q - q_target).abs() + gamma * next_errors


def update_tau(tau: float, errors: torch.Tensor, rate: float) -> float:
    """Moving average ``(1 − rate)·τ + rate·mean(Δ(s, a))``."""
    return (1.0 - rate) * tau + rate * float(errors.mean())
