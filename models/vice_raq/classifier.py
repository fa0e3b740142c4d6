"""The goal classifier, mixup, and VICE's discriminator loss (Singh et al., RSS 2019, Sec. IV-V;
Fu et al., "Variational Inverse Control with Events", NeurIPS 2018, Sec. 4).

The classifier's logit ``f(s)`` is the reward (``reward_type`` logits, FACTS.md). VICE trains it as an
AIRL-style discriminator: positives are goal examples, negatives are states from the replay buffer,
and the two-way softmax over ``[log π(a|s), f(s)]`` (a ~ π(·|s)) is fitted to the labels with
cross-entropy, i.e. ``D(s) = σ(f(s) − log π(a|s))``. Every batch is mixed up (Zhang et al. 2018)
with λ ~ Beta(α, α) per example, α = 1.0, images and labels alike. The plain classifier
(``reward: classifier``) fits ``σ(f(s))`` with binary cross-entropy on the same data.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from anima.models.vice_raq.networks import ConvEncoder, mlp

__all__ = ["GoalClassifier", "binary_loss", "classifier_step", "flip_labels", "mixup", "sample_mixup", "vice_loss"]


class GoalClassifier(nn.Module):
    """``(B, H, W, 3)`` images -> ``(B, 1)`` logits: its own conv preprocessor and a (256, 256) MLP."""

    def __init__(self, image_size_px: int, hidden: tuple[int, ...] = (256, 256), filters: int = 8, kernel: int = 5,
                 feature_dim: int = 256) -> None:
        super().__init__()
        self.encoder = ConvEncoder(image_size_px, filters, kernel, feature_dim)
        self.head = mlp(feature_dim, hidden, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(images))

    @torch.no_grad()
    def reward(self, images: torch.Tensor) -> torch.Tensor:
        """The reward of ``images``: the logit, ``(B, 1)``, without gradients."""
        return self(images)


def mixup(x: torch.Tensor, y: torch.Tensor, lam: torch.Tensor, perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``lam·x + (1−lam)·x[perm]`` and the same for ``y``; ``x`` (B, ...), ``y`` (B, 1), ``lam`` (B,), ``perm`` (B,)."""
    if lam.shape != (x.shape[0],) or perm.shape != (x.shape[0],):
        raise ValueError(f"lam and perm must be ({x.shape[0]},), got {tuple(lam.shape)} and {tuple(perm.shape)}")
    lx = lam.view(-1, *([1] * (x.dim() - 1))).to(torch.float32)
    ly = lam.view(-1, *([1] * (y.dim() - 1))).to(torch.float32)
    xf, yf = x.to(torch.float32), y.to(torch.float32)
    return lx * xf + (1 - lx) * xf[perm], ly * yf + (1 - ly) * yf[perm]


def sample_mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`mixup` with λ ~ Beta(α, α) per example and a random pairing; α = 0 returns the batch unmixed (as floats)."""
    if alpha <= 0:
        return x.to(torch.float32), y.to(torch.float32)
    n = x.shape[0]
    lam = torch.as_tensor(rng.beta(alpha, alpha, size=n), dtype=torch.float32)
    return mixup(x, y, lam, torch.as_tensor(rng.permutation(n)))


def flip_labels(y: torch.Tensor, fraction: float, rng: np.random.Generator) -> torch.Tensor:
    """Labels ``y`` (B, 1) in {0, 1} with each one flipped with probability ``fraction`` (a deliberately noisy classifier)."""
    if fraction <= 0:
        return y
    flip = torch.as_tensor(rng.random(y.shape[0]) < fraction).view(-1, 1)
    return torch.where(flip, 1.0 - y, y)


def vice_loss(logits: torch.Tensor, log_pi: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy over ``[log π, f]`` with target ``[1 − y, y]``; all (B, 1).

    ``−y log softmax_f − (1−y) log softmax_π = y·softplus(log π − f) + (1−y)·softplus(f − log π)``.
    """
    z = logits - log_pi
    return (labels * F.softplus(-z) + (1 - labels) * F.softplus(z)).mean()


def binary_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of ``σ(f)`` against soft labels ``y`` (B, 1)."""
    return F.binary_cross_entropy_with_logits(logits, labels)


LogPi = Callable[[torch.Tensor], torch.Tensor]


def classifier_step(classifier: GoalClassifier, optimizer: torch.optim.Optimizer, positives: torch.Tensor,
                    negatives: torch.Tensor, rng: np.random.Generator, mixup_alpha: float, label_noise: float = 0.0,
                    log_pi: LogPi | None = None) -> float:
    """One gradient step on positives (label 1) and negatives (label 0); returns the loss.

    ``log_pi(images) -> (B, 1)``: the policy's log-probability of an action it samples at each (mixed)
    image, without gradients; given, the loss is :func:`vice_loss` (VICE), else :func:`binary_loss`.
    """
    x = torch.cat([positives, negatives])
    y = torch.cat([torch.ones(len(positives), 1), torch.zeros(len(negatives), 1)])
    y = flip_labels(y, label_noise, rng)
    x, y = sample_mixup(x, y, mixup_alpha, rng)
    logits = classifier(x)
    if log_pi is None:
        loss = binary_loss(logits, y)
    else:
        with torch.no_grad():
            lp = log_pi(x)
        loss = vice_loss(logits, lp, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())
