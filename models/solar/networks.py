"""The SOLAR image encoder and decoder (FACTS.md "SOLAR", from the public code's reacher experiment).

Encoder: conv 7x7x64 -> conv 5x5x32 stride 2 -> conv 3x3x8 stride 2 -> FC 256 -> Gaussian(latent)
(mean, log-variance). Decoder: FC 512 -> 8x8x8 -> three 4x4 transposed convolutions (x2 each; 16, 8, 3 channels, which
FACTS leaves open) -> 64x64x3 Bernoulli logits. Images enter as (N, S, S, 3) uint8 and are scaled to [0, 1] inside ``forward``.
Zhang, Vikram et al., ICML 2019, Sec. 5 and Appendix (architecture).

Deviation, measured: FACTS does not give the first convolution's stride; at stride 1 the encoder took
38 ms per 64x64 frame on one (shared) core here, eight times the 5 ms budget, and a 100-image
training step 4.7 s. The first convolution therefore has stride 2 as well (filters, kernel sizes
and the other strides as FACTS gives them).
"""

from __future__ import annotations

import torch
from torch import nn


def images_to_tensor(images: torch.Tensor) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> (N, 3, S, S) float32 in [0, 1]."""
    return images.permute(0, 3, 1, 2).to(torch.float32) / 255.0


class Encoder(nn.Module):
    """(N, S, S, 3) uint8 -> mean (N, latent), log-variance (N, latent). S must be a multiple of 8."""

    def __init__(self, latent_dim: int = 10, image_size: int = 64) -> None:
        super().__init__()
        if latent_dim < 1 or image_size % 8 or image_size < 8:
            raise ValueError(f"Encoder: latent_dim must be >= 1 and image_size a multiple of 8 (>= 8), got {latent_dim}, {image_size}")
        self.latent_dim, self.image_size = latent_dim, image_size
        self.conv = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.ReLU(),
            nn.Conv2d(64, 32, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(32, 8, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(8 * (image_size // 8) ** 2, 256), nn.ReLU(), nn.Linear(256, 2 * latent_dim))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.fc(self.conv(images_to_tensor(images)))
        mean, logvar = out.chunk(2, dim=-1)
        return mean, logvar.clamp(-12.0, 6.0)


class Decoder(nn.Module):
    """latent (N, latent) -> Bernoulli logits (N, 3, 64, 64)."""

    def __init__(self, latent_dim: int = 10) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(latent_dim, 512), nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(8, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, 8, 8, 8))


__all__ = ["Decoder", "Encoder", "images_to_tensor"]
