"""The SOLAR structured VAE: image encoder/decoder, a linear-Gaussian latent dynamics prior, a
quadratic reward model, and the KL annealing schedule (Zhang, Vikram et al., ICML 2019, Sec. 3, 5).

Generative model over an episode of images o_0..o_T, actions u_0..u_{T-1} and rewards r_0..r_{T-1}:

    z_0 ~ N(0, I),  z_{t+1} ~ N(A_t z_t + B_t u_t + a_t, diag exp(logvar_t))      (time-varying LDS)
    o_t ~ Bernoulli(decoder(z_t)),  r_t ~ N(-(1/2 z_{t+1}^T L L^T z_{t+1} + c^T z_{t+1} + b), reward_std^2)

Inference (``inference``): ``frame``, q(z_t | o_t) = N(encoder(o_t)) per frame; or ``smooth`` (the paper's,
FACTS ``smooth=True``), the encoder's output is a Gaussian potential and q(z_0..z_T) is the LDS prior times the
potentials, a Kalman smoother over the episode (``lds.py``): a dimension no single frame shows (a velocity) is
inferred from the frames around it. The loss per frame is the negative ELBO with the
KL weighted by beta (annealed linearly from ``beta_start`` by ``beta_rate`` per gradient step up to
``beta_max``; FACTS: 1e-4 -> 10 at 5e-5 per step): reconstruction + beta * KL(q(z_t|o_t) || prior)
+ reward negative log-likelihood. The reward term shapes the latent space so that the cost is
quadratic in it, which LQR-FLM needs; the LDS term so that the dynamics are linear in it.

Two learning rates (FACTS): encoder/decoder ``lr`` (1e-3), the LDS and reward model ``model_lr``
(2e-5 * T). Batches are whole episodes (``batch_rollouts`` = 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as Fn

from anima.models.solar.cost import QuadraticCost
from anima.models.solar.lds import LdsParams, kalman_smoother, structured_kl
from anima.models.solar.networks import ENCODERS, Decoder, images_to_tensor, make_encoder


INFERENCE_KINDS = ("frame", "smooth")
LDS_STRUCTURES = ("free", "second_order")


@dataclass(frozen=True)
class VAEConfig:
    """Structured VAE sizes and optimisation (FACTS.md "SOLAR" defaults)."""

    latent_dim: int = 10
    image_size: int = 64
    lr: float = 1e-3
    model_lr_per_step: float = 2e-5  # x horizon T
    batch_rollouts: int = 2
    beta_start: float = 1e-4
    beta_max: float = 10.0
    beta_rate: float = 5e-5
    reward_std: float = 0.05
    # "frame": the latent of each frame from the encoder alone; "smooth": the encoder gives potentials and the posterior
    # is the LDS smoother over the episode (FACTS smooth=True; models/solar/lds.py)
    inference: str = "frame"
    # k > 0 (not in the paper): the ELBO also decodes frame t+k from the LDS's k-step mean prediction from the sampled
    # z_t under the episode's actions, a reconstruction the latent can only make with the arm's velocity in it
    predict_steps: int = 0
    # "free": A, B, a learned whole (the paper's); "second_order" (not in the paper): z = [p, v], half positions half
    # velocities, with p_{t+1} = p_t + v_t fixed and only the velocity rows (and every process noise) learned, so the
    # filter infers v from successive frames' positions as a Kalman filter on a moving object does
    lds_structure: str = "free"
    # "conv": the paper's encoder (networks.Encoder); "spatial_softmax" (not in the paper): feature points of a deep
    # spatial autoencoder (networks.SpatialSoftmaxEncoder), image positions of parts of the arm
    encoder: str = "conv"

    def __post_init__(self) -> None:
        if self.lds_structure not in LDS_STRUCTURES:
            raise ValueError(f"VAEConfig.lds_structure must be one of {LDS_STRUCTURES}, got {self.lds_structure!r}")
        if self.lds_structure == "second_order" and self.latent_dim % 2:
            raise ValueError(f"VAEConfig: lds_structure second_order splits the latent into positions and velocities, "
                             f"so latent_dim must be even, got {self.latent_dim}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"VAEConfig.encoder must be one of {tuple(ENCODERS)}, got {self.encoder!r}")
        if self.encoder == "spatial_softmax" and self.latent_dim % 2:
            raise ValueError(f"VAEConfig: encoder spatial_softmax gives (x, y) per feature point, so latent_dim must be even, "
                             f"got {self.latent_dim}")
        if self.predict_steps < 0:
            raise ValueError(f"VAEConfig.predict_steps must be >= 0, got {self.predict_steps}")
        if self.inference not in INFERENCE_KINDS:
            raise ValueError(f"VAEConfig.inference must be one of {INFERENCE_KINDS}, got {self.inference!r}")
        if self.latent_dim < 1 or self.batch_rollouts < 1 or self.lr <= 0 or self.model_lr_per_step <= 0 or self.reward_std <= 0:
            raise ValueError(f"VAEConfig: latent_dim, batch_rollouts >= 1; lr, model_lr_per_step, reward_std > 0; got {self}")
        if not 0 <= self.beta_start <= self.beta_max or self.beta_rate < 0:
            raise ValueError(f"VAEConfig: need 0 <= beta_start <= beta_max and beta_rate >= 0, got {self.beta_start}, {self.beta_max}, {self.beta_rate}")


def kl_beta(step: int, config: VAEConfig) -> float:
    """beta at gradient step ``step``: beta_start + beta_rate * step, capped at beta_max."""
    return float(min(config.beta_max, config.beta_start + config.beta_rate * step))


def gaussian_kl(m_q: torch.Tensor, lv_q: torch.Tensor, m_p: torch.Tensor, lv_p: torch.Tensor) -> torch.Tensor:
    """KL(N(m_q, e^lv_q) || N(m_p, e^lv_p)) for diagonal Gaussians, summed over the last axis."""
    return 0.5 * (lv_p - lv_q + (lv_q.exp() + (m_q - m_p) ** 2) / lv_p.exp() - 1.0).sum(-1)


class StructuredVAE(nn.Module):
    """Encoder, decoder, time-varying LDS prior (T steps) and quadratic reward model."""

    def __init__(self, config: VAEConfig, horizon: int, action_dim: int) -> None:
        super().__init__()
        self.config, self.horizon, self.action_dim = config, horizon, action_dim
        dz = config.latent_dim
        self.encoder = make_encoder(config.encoder, dz, config.image_size)
        self.decoder = Decoder(dz)
        self.A = nn.Parameter(torch.eye(dz).repeat(horizon, 1, 1))
        self.B = nn.Parameter(torch.zeros(horizon, dz, action_dim))
        self.a = nn.Parameter(torch.zeros(horizon, dz))
        self.dyn_logvar = nn.Parameter(torch.full((horizon, dz), -2.0))
        self.cost_L = nn.Parameter(0.1 * torch.eye(dz))
        self.cost_c = nn.Parameter(torch.zeros(dz))
        self.cost_b = nn.Parameter(torch.zeros(()))

    def transition(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The LDS mean dynamics (A, B, a) the prior uses: the parameters, or for ``second_order`` the parameters'
        velocity rows under fixed position rows p_{t+1} = p_t + v_t (no action, no offset)."""
        if self.config.lds_structure == "free":
            return self.A, self.B, self.a
        dp = self.config.latent_dim // 2
        eye = torch.eye(dp, dtype=self.A.dtype).expand(self.horizon, dp, dp)
        A = torch.cat([torch.cat([eye, eye], -1), self.A[:, dp:]], 1)
        B = torch.cat([torch.zeros_like(self.B[:, :dp]), self.B[:, dp:]], 1)
        a = torch.cat([torch.zeros_like(self.a[:, :dp]), self.a[:, dp:]], 1)
        return A, B, a

    def model_parameters(self) -> list[nn.Parameter]:
        return [self.A, self.B, self.a, self.dyn_logvar, self.cost_L, self.cost_c, self.cost_b]

    def make_optimizer(self) -> torch.optim.Optimizer:
        c = self.config
        return torch.optim.Adam([{"params": list(self.encoder.parameters()) + list(self.decoder.parameters()), "lr": c.lr},
                                 {"params": self.model_parameters(), "lr": c.model_lr_per_step * self.horizon}])

    def predicted_reward(self, z: torch.Tensor) -> torch.Tensor:
        """-(1/2 z^T L L^T z + c^T z + b) for z (..., dz)."""
        lz = z @ self.cost_L
        return -(0.5 * (lz**2).sum(-1) + z @ self.cost_c + self.cost_b)

    def fit_reward_model(self, latents: np.ndarray, rewards: np.ndarray, steps: int, lr: float = 1e-3) -> dict[str, float]:
        """Train the reward model alone (L, c, b; encoder and LDS untouched, so latents and the controller stay
        valid) on latent means (N, dz) of next frames and their rewards (N,): ``steps`` full-batch Adam steps
        (``lr`` 1e-3: the model learning rate 2e-5 T at T = 50). The pretraining data never come near the goal, so a reward model fitted only on
        them can rank frames at the goal worse than frames 13 cm away; the episodes of each iteration show it
        what the policy now reaches. Returns the RMS reward error before and after."""
        z = torch.as_tensor(np.asarray(latents), dtype=torch.float32)
        r = torch.as_tensor(np.asarray(rewards), dtype=torch.float32)
        if z.ndim != 2 or r.shape != (z.shape[0],) or not (torch.isfinite(z).all() and torch.isfinite(r).all()):
            raise ValueError(f"fit_reward_model: need finite latents (N, dz) and rewards (N,), got {tuple(z.shape)}, {tuple(r.shape)}")
        params = [self.cost_L, self.cost_c, self.cost_b]
        opt = torch.optim.Adam(params, lr=lr)
        with torch.no_grad():
            before = float((self.predicted_reward(z) - r).pow(2).mean().sqrt())
        for _ in range(steps):
            loss = (self.predicted_reward(z) - r).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            after = float((self.predicted_reward(z) - r).pow(2).mean().sqrt())
        if not np.isfinite(after):
            raise ValueError(f"fit_reward_model: the reward model diverged (RMS error {after})")
        return {"reward_rmse_before": before, "reward_rmse_after": after}

    def quadratic_cost(self, action_weight: float) -> "QuadraticCost":
        """The learned reward model as an LQR cost: 1/2 z^T L L^T z + c^T z + b (= -predicted reward)."""
        L = self.cost_L.detach().double().numpy()
        return QuadraticCost(L @ L.T, self.cost_c.detach().double().numpy().copy(), float(self.cost_b.detach()), float(action_weight))

    def loss(self, images: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, beta: float,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative ELBO per frame for episodes: images (B, T+1, S, S, 3) uint8, actions (B, T, du), rewards (B, T)."""
        b, t1 = images.shape[:2]
        flat = images.reshape(b * t1, *images.shape[2:])
        mean, logvar = self.encoder(flat)
        mean, logvar = mean.reshape(b, t1, -1), logvar.reshape(b, t1, -1)
        if self.config.inference == "smooth":
            post = kalman_smoother(*self.transition(), self.dyn_logvar, mean, logvar, actions)
            kl = structured_kl(post, mean, logvar).sum().float() / (b * t1)
            chol = torch.linalg.cholesky(post.smoothed_cov)
            eps = torch.randn(post.smoothed_mean.shape, generator=generator, dtype=torch.float64)
            z = (post.smoothed_mean + (chol @ eps.unsqueeze(-1)).squeeze(-1)).float()
            z_mean = post.smoothed_mean.float()
        else:
            eps = torch.randn(mean.shape, generator=generator)
            z = mean + (0.5 * logvar).exp() * eps
            t = t1 - 1
            A, B, a = self.transition()
            prior_mean = torch.einsum("tij,btj->bti", A[:t], z[:, :-1]) + torch.einsum("tij,btj->bti", B[:t], actions) + a[:t]
            kl_dyn = gaussian_kl(mean[:, 1:], logvar[:, 1:], prior_mean, self.dyn_logvar[:t].expand_as(prior_mean))
            kl0 = gaussian_kl(mean[:, 0], logvar[:, 0], torch.zeros_like(mean[:, 0]), torch.zeros_like(mean[:, 0]))
            kl = (kl0.sum() + kl_dyn.sum()) / (b * t1)
            z_mean = mean
        recon = self._bce(z, images)
        reward_nll = 0.5 * ((self.predicted_reward(z_mean[:, 1:]) - rewards) / self.config.reward_std).pow(2).mean()
        total = recon + beta * kl + reward_nll
        parts = {"recon": recon.item(), "kl": kl.item(), "reward_nll": reward_nll.item(), "beta": beta}
        k = self.config.predict_steps
        if 0 < k < t1:
            predicted = self.lds_rollout(z[:, :t1 - k], actions, k)
            pred_recon = self._bce(predicted, images[:, k:])
            total = total + pred_recon
            parts["pred_recon"] = pred_recon.item()
        return total, {"loss": total.item(), **parts}

    def _bce(self, z: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Bernoulli negative log-likelihood per frame of images (B, n, S, S, 3) uint8 decoded from latents (B, n, dz)."""
        flat = images.reshape(-1, *images.shape[2:])
        return Fn.binary_cross_entropy_with_logits(self.decoder(z.reshape(len(flat), -1)), images_to_tensor(flat),
                                                   reduction="none").sum((1, 2, 3)).mean()

    def lds_rollout(self, z: torch.Tensor, actions: torch.Tensor, k: int) -> torch.Tensor:
        """The LDS's mean k steps on from latents z (B, n, dz) at steps 0..n-1 under the episodes' actions (B, T, du):
        z_{t+k} predicted for each t (B, n, dz), without process noise."""
        n = z.shape[1]
        A, B, a = self.transition()
        for j in range(k):
            steps = slice(j, j + n)
            z = torch.einsum("tij,btj->bti", A[steps], z) + torch.einsum("tij,btj->bti", B[steps], actions[:, steps]) + a[steps]
        return z

    def lds_params(self) -> LdsParams:
        """The latent dynamics prior as numpy arrays (for the run-time filter)."""
        return LdsParams(*(p.detach().double().numpy().copy() for p in (*self.transition(), self.dyn_logvar)))

    @torch.no_grad()
    def encode_potentials(self, images: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Encoder means and log-variances for images (..., S, S, 3) uint8 -> two (..., dz) float64."""
        lead = images.shape[:-3]
        flat = images.reshape(-1, *images.shape[-3:])
        out = [self.encoder(torch.from_numpy(np.ascontiguousarray(flat[i:i + batch]))) for i in range(0, len(flat), batch)]
        mean = torch.cat([o[0] for o in out]).double().numpy().reshape(*lead, -1)
        logvar = torch.cat([o[1] for o in out]).double().numpy().reshape(*lead, -1)
        return mean, logvar

    @torch.no_grad()
    def filtered_means(self, images: np.ndarray, actions: np.ndarray, batch: int = 64, smoothed: bool = False) -> np.ndarray:
        """Kalman-filtered latent means (N, T+1, dz) of episodes: images (N, T+1, S, S, 3), actions (N, T, du) --
        what the controller sees at each step (the frames up to it), as :class:`~anima.models.solar.lds.LdsFilter` gives;
        ``smoothed``: the smoothed means instead (every frame of the episode, the structured posterior's)."""
        mean, logvar = self.encode_potentials(images)
        u = torch.as_tensor(np.asarray(actions, np.float64))
        A, B, a = self.transition()
        out = []
        for i in range(0, len(mean), batch):
            res = kalman_smoother(A, B, a, self.dyn_logvar, torch.from_numpy(mean[i:i + batch]),
                                  torch.from_numpy(logvar[i:i + batch]), u[i:i + batch], smooth=smoothed)
            out.append((res.smoothed_mean if smoothed else res.filtered_mean).numpy())
        return np.concatenate(out)

    def encode_means(self, images: np.ndarray, batch: int = 256) -> np.ndarray:
        """Latent means for images (..., S, S, 3) uint8 -> (..., dz) float64."""
        return self.encode_potentials(images, batch)[0]

    @torch.no_grad()
    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """Decoded means (sigmoid of the logits) of the latent means: (N, S, S, 3) uint8."""
        mean, _ = self.encoder(torch.from_numpy(np.ascontiguousarray(images)))
        probs = torch.sigmoid(self.decoder(mean)).permute(0, 2, 3, 1)
        return (probs.numpy() * 255).round().astype(np.uint8)


def train_epochs(vae: StructuredVAE, opt: torch.optim.Optimizer, images: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                 epochs: int, step: int, rng: np.random.Generator, generator: torch.Generator) -> tuple[int, list[dict[str, float]]]:
    """``epochs`` passes over episodes (N, T+1, S, S, 3) in shuffled batches of ``batch_rollouts``.

    Returns the new global step count (for the beta schedule) and the mean losses of each epoch.
    """
    vae.train()
    per_epoch = []
    bsz = vae.config.batch_rollouts
    for _ in range(epochs):
        sums: dict[str, float] = {}
        order = rng.permutation(len(images))
        batches = [order[i:i + bsz] for i in range(0, len(order), bsz)]
        for idx in batches:
            loss, parts = vae.loss(torch.from_numpy(images[idx]), torch.as_tensor(actions[idx], dtype=torch.float32),
                                   torch.as_tensor(rewards[idx], dtype=torch.float32), kl_beta(step, vae.config), generator)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"VAE loss is not finite at step {step}: {parts}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v / len(batches)
        per_epoch.append(sums)
    vae.eval()
    return step, per_epoch


__all__ = ["INFERENCE_KINDS", "LDS_STRUCTURES", "StructuredVAE", "VAEConfig", "gaussian_kl", "kl_beta", "train_epochs"]
