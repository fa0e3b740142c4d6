"""Structured inference in SOLAR's latent linear dynamical system (Zhang, Vikram et al., ICML 2019, Sec. 3;
the public code's ``smooth=True``; Johnson et al. 2016, structured VAEs).

The encoder does not give the posterior of each frame alone: its output N(m_t, diag r_t) is a Gaussian
*potential* psi_t(z_t) = N(m_t; z_t, diag r_t), and the posterior of an episode's latents is the LDS prior
times the potentials,

    q(z_0..z_T) proportional to p(z_0) prod_t p(z_{t+1} | z_t, u_t) prod_t psi_t(z_t),
    p(z_0) = N(0, I),  p(z_{t+1} | z_t, u_t) = N(A_t z_t + B_t u_t + a_t, diag exp(logvar_t)).

That is a Kalman filter (the potentials as observations of z with noise r_t) and a Rauch-Tung-Striebel
smoother. A latent dimension the encoder leaves uncertain (large r_t) is inferred from the dynamics across
frames, which is how a velocity that no single frame shows enters the latent. The ELBO's KL term is exact:

    KL(q || p) = sum_t E_q[log psi_t(z_t)] - log Z,

with log Z the log likelihood of the potentials under the prior (the filter's innovations) and
E_q[log psi_t] = log N(m_t; mu_t, r_t) - 1/2 sum_i Sigma_t,ii / r_t,i over the smoothed marginals (mu_t, Sigma_t).

At run time the controller acts on the *filtered* mean (frames up to now): :class:`LdsFilter`, numpy, one
step per frame; :func:`kalman_smoother` (torch, differentiable, batched over episodes) trains the VAE and
gives the filtered means of stored episodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["LdsFilter", "LdsParams", "SmootherResult", "kalman_smoother", "structured_kl"]


@dataclass(frozen=True)
class LdsParams:
    """Time-varying LDS, numpy float64: A (T, dz, dz), B (T, dz, du), a (T, dz), logvar (T, dz) (process noise)."""

    A: np.ndarray
    B: np.ndarray
    a: np.ndarray
    logvar: np.ndarray

    def __post_init__(self) -> None:
        A, B, a, lv = (np.asarray(v, np.float64) for v in (self.A, self.B, self.a, self.logvar))
        t, dz = A.shape[0], A.shape[-1]
        if A.shape != (t, dz, dz) or B.ndim != 3 or B.shape[:2] != (t, dz) or a.shape != (t, dz) or lv.shape != (t, dz):
            raise ValueError(f"LdsParams: need A (T, dz, dz), B (T, dz, du), a (T, dz), logvar (T, dz); got "
                             f"{A.shape}, {B.shape}, {a.shape}, {lv.shape}")
        if not all(np.isfinite(v).all() for v in (A, B, a, lv)):
            raise ValueError("LdsParams: the dynamics hold NaN or inf")
        for name, v in zip(("A", "B", "a", "logvar"), (A, B, a, lv)):
            object.__setattr__(self, name, v)

    @property
    def horizon(self) -> int:
        return int(self.A.shape[0])

    @property
    def latent_dim(self) -> int:
        return int(self.A.shape[-1])

    @property
    def action_dim(self) -> int:
        return int(self.B.shape[-1])

    def to_tensors(self) -> dict[str, torch.Tensor]:
        return {k: torch.as_tensor(getattr(self, k), dtype=torch.float32) for k in ("A", "B", "a", "logvar")}


class LdsFilter:
    """The filtered latent mean of one episode, a frame at a time: ``reset()``, then ``update(m, logvar, u_prev)``
    per frame (``u_prev`` the action applied since the last frame; ignored at the first)."""

    def __init__(self, lds: LdsParams) -> None:
        self.lds = lds
        self.reset()

    def reset(self) -> None:
        self.t = 0
        self.mean: np.ndarray | None = None
        self.cov: np.ndarray | None = None

    def update(self, m: np.ndarray, logvar: np.ndarray, u_prev: np.ndarray | None, steps: int = 1) -> np.ndarray:
        """The filtered mean after this frame. ``steps`` > 1: the frame comes ``steps`` control periods after the last
        one (frames lost between): the filter predicts through the missing ones under ``u_prev`` (held)."""
        lds, dz = self.lds, self.lds.latent_dim
        m, r = np.asarray(m, np.float64).reshape(dz), np.exp(np.asarray(logvar, np.float64).reshape(dz))
        if self.mean is None:  # the first frame: the prior of z_0
            mu_p, P_p, steps = np.zeros(dz), np.eye(dz), 1
        else:
            if steps < 1:
                raise ValueError(f"LdsFilter.update: steps since the last frame must be >= 1, got {steps}")
            u = np.zeros(lds.action_dim) if u_prev is None else np.asarray(u_prev, np.float64).reshape(lds.action_dim)
            mu_p, P_p = self.mean, self.cov
            for k in range(steps):  # self.t: the index after the last frame; A[i] leads from frame i to i + 1
                i = min(self.t - 1 + k, lds.horizon - 1)
                mu_p = lds.A[i] @ mu_p + lds.B[i] @ u + lds.a[i]
                P_p = lds.A[i] @ P_p @ lds.A[i].T + np.diag(np.exp(lds.logvar[i]))
        S = P_p + np.diag(r)
        K = np.linalg.solve(S, P_p).T  # P S^-1 (both symmetric)
        self.mean = mu_p + K @ (m - mu_p)
        cov = P_p - K @ P_p
        self.cov = 0.5 * (cov + cov.T)
        self.t += steps
        return self.mean.copy()


@dataclass
class SmootherResult:
    """Batched over episodes (B, T+1, ...): filtered and smoothed means/covariances, and log Z (B,)."""

    filtered_mean: torch.Tensor
    filtered_cov: torch.Tensor
    smoothed_mean: torch.Tensor
    smoothed_cov: torch.Tensor
    log_z: torch.Tensor


def kalman_smoother(A: torch.Tensor, B: torch.Tensor, a: torch.Tensor, logvar: torch.Tensor, m: torch.Tensor,
                    r_logvar: torch.Tensor, u: torch.Tensor, smooth: bool = True) -> SmootherResult:
    """Filter (and smooth) potentials m, r_logvar (B, T+1, dz) under actions u (B, T, du) and the LDS
    A (>=T, dz, dz), B (>=T, dz, du), a (>=T, dz), logvar (>=T, dz); float64 inside, differentiable."""
    dt = torch.float64
    A, Bm, a, Q = A.to(dt), B.to(dt), a.to(dt), torch.diag_embed(logvar.to(dt).exp())
    m, R, u = m.to(dt), r_logvar.to(dt).exp(), u.to(dt)
    b, t1, dz = m.shape
    eye = torch.eye(dz, dtype=dt)
    mu, P = torch.zeros(b, dz, dtype=dt), eye.expand(b, dz, dz)
    f_mu, f_P, p_mu, p_P = [], [], [], []
    log_z = torch.zeros(b, dtype=dt)
    for t in range(t1):
        if t:
            mu = mu @ A[t - 1].T + u[:, t - 1] @ Bm[t - 1].T + a[t - 1]
            P = A[t - 1] @ P @ A[t - 1].T + Q[t - 1]
        p_mu.append(mu)
        p_P.append(P)
        L = torch.linalg.cholesky(P + torch.diag_embed(R[:, t]))
        resid = (m[:, t] - mu).unsqueeze(-1)
        solved = torch.cholesky_solve(resid, L)
        log_z = log_z - 0.5 * (resid * solved).sum((-2, -1)) - torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1) \
            - 0.5 * dz * math.log(2 * math.pi)
        K = torch.cholesky_solve(P, L).transpose(-1, -2)  # P S^-1
        mu = mu + (K @ resid).squeeze(-1)
        P = P - K @ P
        P = 0.5 * (P + P.transpose(-1, -2))
        f_mu.append(mu)
        f_P.append(P)
    s_mu, s_P = list(f_mu), list(f_P)
    if smooth:
        for t in range(t1 - 2, -1, -1):
            Lp = torch.linalg.cholesky(p_P[t + 1])
            G = torch.cholesky_solve(A[t] @ f_P[t], Lp).transpose(-1, -2)  # P_t A_t^T P_{t+1|t}^-1
            s_mu[t] = f_mu[t] + (G @ (s_mu[t + 1] - p_mu[t + 1]).unsqueeze(-1)).squeeze(-1)
            cov = f_P[t] + G @ (s_P[t + 1] - p_P[t + 1]) @ G.transpose(-1, -2)
            s_P[t] = 0.5 * (cov + cov.transpose(-1, -2))
    return SmootherResult(torch.stack(f_mu, 1), torch.stack(f_P, 1), torch.stack(s_mu, 1), torch.stack(s_P, 1), log_z)


def structured_kl(result: SmootherResult, m: torch.Tensor, r_logvar: torch.Tensor) -> torch.Tensor:
    """KL(q || p) per episode (B,) of the smoothed posterior q against the LDS prior (module docstring)."""
    dt = torch.float64
    m, lv = m.to(dt), r_logvar.to(dt)
    r = lv.exp()
    mu, var = result.smoothed_mean, torch.diagonal(result.smoothed_cov, dim1=-2, dim2=-1)
    expected_log_psi = -0.5 * (((m - mu) ** 2 + var) / r + lv + math.log(2 * math.pi)).sum((-2, -1))
    return expected_log_psi - result.log_z
