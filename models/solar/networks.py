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

import numpy as np
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


class SpatialSoftmaxEncoder(nn.Module):
    """(N, S, S, 3) uint8 -> mean (N, latent), log-variance (N, latent): feature points, not in the paper.

    The deep spatial autoencoder's encoder (Finn et al., "Deep Spatial Autoencoders for Visuomotor Learning",
    ICRA 2016), built for the same pairing with a linear-Gaussian controller: three convolutions (the first with
    ``stride``, 1: full resolution; 2 measured worse, BENCHMARKS.md) end in ``latent_dim / 2`` feature maps, and a spatial softmax (a learned temperature) turns each into the expected
    image position (x, y) of its activation. The latent is those points under a learned per-dimension affine map,
    so a feature that fires on one part of the arm (the fingertip) gives that part's image position, which a
    camera looking down on a plane makes a linear function of its position on the plane: the quadratic cost and
    the linear dynamics LQR-FLM fits are then those of the part itself. The per-frame log-variance is one
    learned value per dimension (the points' noise does not depend on the image).
    """

    def __init__(self, latent_dim: int = 10, image_size: int = 64, channels: int = 16, stride: int = 1,
                 temperature: float = 1.0) -> None:
        super().__init__()
        if latent_dim < 2 or latent_dim % 2 or image_size % 2 or image_size < 8:
            raise ValueError(f"SpatialSoftmaxEncoder: latent_dim must be even and >= 2 (x, y per point) and image_size even "
                             f"(>= 8), got {latent_dim}, {image_size}")
        self.latent_dim, self.image_size = latent_dim, image_size
        points = latent_dim // 2
        self.conv = nn.Sequential(
            nn.Conv2d(3, channels, 5, stride=stride, padding=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, points, 3, padding=1),
        )
        side = image_size // stride
        grid = (torch.arange(side, dtype=torch.float32) + 0.5) / side * 2.0 - 1.0  # pixel centres in [-1, 1]
        gy, gx = torch.meshgrid(grid, grid, indexing="ij")
        self.register_buffer("grid_x", gx.reshape(-1), persistent=False)
        self.register_buffer("grid_y", -gy.reshape(-1), persistent=False)  # +y up, as the image's scene
        self.log_temperature = nn.Parameter(torch.tensor(float(np.log(temperature))))
        self.scale = nn.Parameter(torch.ones(latent_dim))
        self.offset = nn.Parameter(torch.zeros(latent_dim))
        self.logvar = nn.Parameter(torch.full((latent_dim,), -4.0))

    def feature_points(self, images: torch.Tensor) -> torch.Tensor:
        """(N, S, S, 3) uint8 -> (N, latent): x then y of each point, in [-1, 1] of the image."""
        maps = self.conv(images_to_tensor(images)).flatten(2)  # (N, P, side*side)
        soft = torch.softmax(maps / self.log_temperature.exp(), dim=-1)
        return torch.cat([soft @ self.grid_x, soft @ self.grid_y], dim=-1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.feature_points(images) * self.scale + self.offset
        return mean, self.logvar.clamp(-12.0, 6.0).expand_as(mean)


ENCODERS = {"conv": Encoder, "spatial_softmax": SpatialSoftmaxEncoder}


def make_encoder(kind: str, latent_dim: int, image_size: int) -> nn.Module:
    """The encoder named ``kind`` (:data:`ENCODERS`)."""
    if kind not in ENCODERS:
        raise ValueError(f"unknown SOLAR encoder {kind!r} (known: {sorted(ENCODERS)})")
    return ENCODERS[kind](latent_dim, image_size)


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


def flush_denormals() -> bool:
    """Flush float32 denormals to zero in this process (torch's CPU kernels); True where the CPU supports it.

    The spatial softmax's peaks sharpen as the VAE learns, and most of a map's 4 096 ``exp`` values then fall
    below 1.2e-38, where x86 arithmetic on denormal numbers is many times slower: one seed's VAE epochs ran 2.7x
    slower than another's, and a softmax-and-backward over such maps takes 50 ms against 10 ms flushed (twelfth
    session, BENCHMARKS.md). Values that small are zero to every result here."""
    return bool(torch.set_flush_denormal(True))


__all__ = ["ENCODERS", "Decoder", "Encoder", "SpatialSoftmaxEncoder", "flush_denormals", "images_to_tensor", "make_encoder"]
