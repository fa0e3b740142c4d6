"""Soft actor-critic from pixels (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and
Applications", Sec. 4-5, automatic temperature), with DisCor's weighted backups as an option.

Why our own SAC and not Stable-Baselines3's: VICE's reward is the *current* classifier's logit of
the next state, recomputed for every sampled batch (the classifier keeps changing, so rewards cannot
be stored in the replay buffer as SB3's ``SAC.train`` assumes), and DisCor changes the critic loss
itself (a second network and per-sample weights) inside that same ``train`` method. Both would mean
overriding SB3's whole update, i.e. writing SAC anyway, plus its buffer and callbacks around it.
This module is the compact update that the trainer calls with a reward function.

Networks (FACTS.md "VICE-RAQ"): one conv preprocessor shared by the policy and the twin Q-functions
(trained by the critic's loss only; the policy reads its features detached), (256, 256) MLPs, a
target copy of the encoder and the Q-functions (Polyak τ). The next state's features come from the
target encoder and serve both the target Q and the next action; DisCor's error network reads the
same (detached) features.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from anima.models.vice_raq.config import DisCorConfig, SACConfig
from anima.models.vice_raq.discor import discor_weights, error_targets, update_tau
from anima.models.vice_raq.networks import ConvEncoder, GaussianActor, TwinQ

__all__ = ["Batch", "SACAgent"]

RewardFn = Callable[[torch.Tensor], torch.Tensor]  # next images (B, H, W, 3) -> rewards (B, 1)


@dataclass
class Batch:
    """A replay batch: images uint8 (B, H, W, 3), actions (B, A), done (B, 1) (1 at true terminals only)."""

    obs: torch.Tensor
    actions: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor


class SACAgent(nn.Module):
    """Encoder + actor + twin critic (+ DisCor error network), their targets and optimizers."""

    def __init__(self, image_size_px: int, action_dim: int, config: SACConfig, discor: DisCorConfig | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        c = config
        self.config, self.discor_config = c, discor or DisCorConfig()
        self.image_size_px, self.action_dim = image_size_px, action_dim
        self.encoder = ConvEncoder(image_size_px, c.conv_filters, c.conv_kernel, c.feature_dim)
        self.actor = GaussianActor(c.feature_dim, action_dim, c.hidden_sizes)
        self.critic = TwinQ(c.feature_dim, action_dim, c.hidden_sizes)
        self.encoder_target = copy.deepcopy(self.encoder).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.zeros(1))
        self.target_entropy = -float(action_dim)
        self.critic_opt = torch.optim.Adam([*self.encoder.parameters(), *self.critic.parameters()], lr=c.learning_rate)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=c.learning_rate)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=c.learning_rate)
        self.error_net: TwinQ | None = None
        self.discor_tau = [self.discor_config.tau_init, self.discor_config.tau_init]
        if self.discor_config.enabled:
            self.error_net = TwinQ(c.feature_dim, action_dim, self.discor_config.hidden_sizes)
            self.error_target = copy.deepcopy(self.error_net).requires_grad_(False)
            self.error_opt = torch.optim.Adam(self.error_net.parameters(), lr=self.discor_config.learning_rate)
        self.generator = torch.Generator().manual_seed(seed)

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, images: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions in [-1, 1] for ``images`` (B, H, W, 3) uint8 -> (B, A) float32."""
        feats = self.encoder(torch.as_tensor(np.ascontiguousarray(images)))
        actions, _ = self.actor(feats, deterministic, self.generator)
        return actions.numpy().astype(np.float32)

    @torch.no_grad()
    def log_pi(self, images: torch.Tensor) -> torch.Tensor:
        """log π(a|s) of one action sampled at each image, (B, 1) (VICE's discriminator input)."""
        _, lp = self.actor(self.encoder(images), False, self.generator)
        return lp

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    # ------------------------------------------------------------------ learning
    def update(self, batch: Batch, reward_fn: RewardFn) -> dict[str, float]:
        """One gradient step of critic (+ error network), actor and temperature; returns scalars to log."""
        c = self.config
        with torch.no_grad():
            rewards = reward_fn(batch.next_obs)
            next_feats = self.encoder_target(batch.next_obs)
            next_actions, next_logp = self.actor(next_feats, False, self.generator)
            tq1, tq2 = self.critic_target(next_feats, next_actions)
            y = rewards + c.gamma * (1 - batch.done) * (torch.min(tq1, tq2) - self.alpha * next_logp)
        feats = self.encoder(batch.obs)
        q1, q2 = self.critic(feats, batch.actions)
        w1 = w2 = torch.ones_like(q1)
        out: dict[str, float] = {}
        if self.error_net is not None:
            w1, w2, err_stats = self._discor_step(feats.detach(), batch, next_feats, next_actions, q1.detach(), q2.detach(), y)
            out.update(err_stats)
        critic_loss = (w1 * (q1 - y) ** 2).mean() + (w2 * (q2 - y) ** 2).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()

        f = feats.detach()
        actions, logp = self.actor(f, False, self.generator)
        pq1, pq2 = self.critic(f, actions)
        actor_loss = (self.alpha * logp - torch.min(pq1, pq2)).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()
        self._soft_update()
        out.update({"critic_loss": float(critic_loss.detach()), "actor_loss": float(actor_loss.detach()), "alpha": self.alpha,
                    "q_mean": float(q1.detach().mean()), "reward_mean": float(rewards.mean()), "entropy": float(-logp.detach().mean())})
        return out

    def _discor_step(self, feats: torch.Tensor, batch: Batch, next_feats: torch.Tensor, next_actions: torch.Tensor,
                     q1: torch.Tensor, q2: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """Fit Δ(s, a) to ``|Q − y| + γ Δ̄(s′, a′)`` and return the backup weights of both Q heads."""
        assert self.error_net is not None
        gamma, d = self.config.gamma, self.discor_config
        with torch.no_grad():
            ne1, ne2 = self.error_target(next_feats, next_actions)
            ne1, ne2 = (1 - batch.done) * ne1, (1 - batch.done) * ne2
            t1, t2 = error_targets(q1, y, ne1, gamma), error_targets(q2, y, ne2, gamma)
            w1 = discor_weights(ne1, gamma, self.discor_tau[0])
            w2 = discor_weights(ne2, gamma, self.discor_tau[1])
        e1, e2 = self.error_net(feats, batch.actions)
        loss = ((e1 - t1) ** 2).mean() + ((e2 - t2) ** 2).mean()
        self.error_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.error_opt.step()
        self.discor_tau = [update_tau(self.discor_tau[0], e1.detach(), d.tau_update),
                           update_tau(self.discor_tau[1], e2.detach(), d.tau_update)]
        return w1, w2, {"discor_error_loss": float(loss.detach()), "discor_tau": self.discor_tau[0],
                        "discor_weight_max": float(w1.max())}

    @torch.no_grad()
    def _soft_update(self) -> None:
        tau = self.config.tau
        pairs = [(self.encoder, self.encoder_target), (self.critic, self.critic_target)]
        if self.error_net is not None:
            pairs.append((self.error_net, self.error_target))
        for net, target in pairs:
            for p, tp in zip(net.parameters(), target.parameters()):
                tp.lerp_(p, tau)

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        """Plain data (tensors, numbers) for ``torch.save``; :meth:`load_state` restores everything."""
        opts = {"critic_opt": self.critic_opt, "actor_opt": self.actor_opt, "alpha_opt": self.alpha_opt}
        if self.error_net is not None:
            opts["error_opt"] = self.error_opt
        return {"modules": self.state_dict(), "optimizers": {k: o.state_dict() for k, o in opts.items()},
                "discor_tau": list(self.discor_tau), "generator": self.generator.get_state()}

    def load_state(self, data: dict) -> None:
        self.load_state_dict(data["modules"])
        for k, sd in data["optimizers"].items():
            getattr(self, k).load_state_dict(sd)
        self.discor_tau = [float(t) for t in data["discor_tau"]]
        self.generator.set_state(data["generator"])


