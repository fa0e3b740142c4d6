"""Networks of VICE-RAQ from pixels (FACTS.md "VICE-RAQ"): the conv preprocessor, MLPs, the squashed
Gaussian policy and the twin Q-functions.

Images are ``(B, H, W, 3)`` uint8 (as the camera and the replay buffer hold them) and become floats
in [-0.5, 0.5] inside :class:`ConvEncoder`. The encoder is the paper's preprocessor: two 5×5 conv
layers with 8 filters, each followed by 2×2 max-pooling, flattened and projected to 256-D; the
projection ends in LayerNorm + tanh (as in SAC from pixels, Yarats et al. 2019), which keeps the
features bounded when the critic's gradients train them.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ConvEncoder", "GaussianActor", "TwinQ", "mlp", "squashed_gaussian"]

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> nn.Sequential:
    """ReLU MLP ``in_dim -> hidden... -> out_dim`` (linear output)."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(in_dim, h), nn.ReLU()]
        in_dim = h
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class ConvEncoder(nn.Module):
    """``(B, H, W, 3)`` uint8 -> ``(B, feature_dim)``: [conv k×k, ReLU, 2×2 max-pool] × 2, linear, LayerNorm, tanh."""

    def __init__(self, image_size_px: int, filters: int = 8, kernel: int = 5, feature_dim: int = 256) -> None:
        super().__init__()
        if image_size_px % 4:
            raise ValueError(f"image_size_px must be a multiple of 4 (two 2x2 poolings), got {image_size_px}")
        self.image_size_px = image_size_px
        self.conv = nn.Sequential(
            nn.Conv2d(3, filters, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(filters, filters, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten())
        self.project = nn.Sequential(nn.Linear(filters * (image_size_px // 4) ** 2, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())
        self.feature_dim = feature_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        s = self.image_size_px
        if images.dim() != 4 or tuple(images.shape[1:]) != (s, s, 3):
            raise ValueError(f"images must be (B, {s}, {s}, 3), got {tuple(images.shape)}")
        x = images.permute(0, 3, 1, 2).float() / 255.0 - 0.5
        return self.project(self.conv(x))


def squashed_gaussian(mean: torch.Tensor, log_std: torch.Tensor, deterministic: bool = False,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """tanh(u), u ~ N(mean, exp(log_std)) (reparameterised) and log π(a|s) with the tanh correction, (B, A), (B, 1)."""
    std = log_std.exp()
    u = mean if deterministic else mean + std * torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
    log_prob = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1, keepdim=True)
    # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), numerically stable
    log_prob = log_prob - (2 * (math.log(2.0) - u - F.softplus(-2 * u))).sum(-1, keepdim=True)
    return torch.tanh(u), log_prob


class GaussianActor(nn.Module):
    """Features ``(B, F)`` -> tanh-squashed Gaussian actions in [-1, 1]^A and their log-probabilities."""

    def __init__(self, feature_dim: int, action_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = mlp(feature_dim, hidden, 2 * action_dim)
        self.action_dim = action_dim

    def forward(self, features: torch.Tensor, deterministic: bool = False,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(features).chunk(2, dim=-1)
        return squashed_gaussian(mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX), deterministic, generator)


class TwinQ(nn.Module):
    """Two independent heads ``(features, action) -> (B, 1)`` each; also DisCor's error network."""

    def __init__(self, feature_dim: int, action_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.q1 = mlp(feature_dim + action_dim, hidden, 1)
        self.q2 = mlp(feature_dim + action_dim, hidden, 1)

    def forward(self, features: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([features, actions], dim=-1)
        return self.q1(x), self.q2(x)
