"""The networks of an adaptive imitation policy: encoder E(z | μ), the [s, μ, ε] -> [s, z] features
extractor and the actor-critic whose PPO loss carries the KL bottleneck (Peng et al., RSS 2020,
Sec. VI-A; the design is in :mod:`anima.models.imitation.latent`)."""

from __future__ import annotations

from typing import Any

import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from anima.models.imitation.latent import MU_DIM, kl_to_standard_normal

__all__ = ["LatentActorCriticPolicy", "LatentEncoder", "LatentFeatures"]

_LOG_STD_MIN, _LOG_STD_MAX = -5.0, 2.0


class LatentEncoder(torch.nn.Module):
    """E(z | μ): ReLU MLP μ (…, 7) -> mean (…, Z), log σ (…, Z) (clamped to [−5, 2])."""

    def __init__(self, z_dim: int, hidden: tuple[int, ...] = (64, 64), mu_dim: int = MU_DIM) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        n_in = mu_dim
        for n in hidden:
            layers += [torch.nn.Linear(n_in, n), torch.nn.ReLU()]
            n_in = n
        self.body = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(n_in, 2 * z_dim)
        self.z_dim = z_dim

    def forward(self, mu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.head(self.body(mu)).split(self.z_dim, dim=-1)
        return mean, log_std.clamp(_LOG_STD_MIN, _LOG_STD_MAX)


class LatentFeatures(BaseFeaturesExtractor):
    """SB3 features extractor: ``[s (D), μ (7), ε (Z)]`` -> ``[s, mean + σ ⊙ ε]`` (D + Z).

    Keeps the last batch's KL to N(0, I) per row in ``last_kl`` for the bottleneck term.
    """

    def __init__(self, observation_space: Any, state_dim: int, z_dim: int, encoder_net: tuple[int, ...] = (64, 64)) -> None:
        super().__init__(observation_space, state_dim + z_dim)
        if observation_space.shape != (state_dim + MU_DIM + z_dim,):
            raise ValueError(f"latent policy input must have {state_dim} + {MU_DIM} + {z_dim} values, "
                             f"got {observation_space.shape}")
        self.state_dim, self.z_dim = state_dim, z_dim
        self.encoder = LatentEncoder(z_dim, tuple(encoder_net))
        self.last_kl: torch.Tensor | None = None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        s = obs[..., : self.state_dim]
        mu = obs[..., self.state_dim : self.state_dim + MU_DIM]
        eps = obs[..., self.state_dim + MU_DIM :]
        mean, log_std = self.encoder(mu)
        self.last_kl = kl_to_standard_normal(mean, log_std)
        return torch.cat([s, mean + torch.exp(log_std) * eps], dim=-1)


class LatentActorCriticPolicy(ActorCriticPolicy):
    """Actor-critic over ``[s, z]`` whose "entropy" is −β · KL(E(z | μ) ‖ N(0, I)) (module docstring)."""

    def __init__(self, *args: Any, beta: float = 1e-3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.beta = float(beta)

    def evaluate_actions(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple:
        values, log_prob, _entropy = super().evaluate_actions(obs, actions)
        return values, log_prob, -self.beta * self.features_extractor.last_kl
