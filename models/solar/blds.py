"""Bayesian linear dynamical system (BLDS): a global Normal-inverse-Wishart prior over time-varying
linear-Gaussian latent dynamics, and the local posteriors fitted from the current episodes.

SOLAR (Zhang, Vikram et al., ICML 2019, Sec. 3.2 and 4) fits local time-varying linear dynamics
x_{t+1} = F_t [x_t; u_t] + f_t + noise for LQR-FLM from few episodes by conditioning on a global
prior. Here, per time step t, the joint vector w = [x_t; u_t; x_{t+1}] (D = 2 dx + du) is Gaussian
with a Normal-inverse-Wishart NIW(mu0, kappa0, Psi0, nu0) prior:

* global prior (``time_varying=True, smooth=True``): the mean and covariance of w over *all*
  episodes so far at the steps within ``window`` of t, with pseudo-counts ``data_strength`` (50):
  kappa0 = data_strength, nu0 = data_strength + D + 1, Psi0 = data_strength * Sigma_global, so the
  prior's expected covariance is Sigma_global;
* local posterior: the conjugate update with the current episodes' w at step t (Murphy,
  "Conjugate Bayesian analysis of the Gaussian distribution", 2007, Sec. 9):
  kappa_n = kappa0 + n, nu_n = nu0 + n, mu_n = (kappa0 mu0 + n wbar) / kappa_n,
  Psi_n = Psi0 + S + kappa0 n / kappa_n (wbar - mu0)(wbar - mu0)^T, S = sum (w_i - wbar)(w_i - wbar)^T;
* dynamics from the posterior mean (mu_n, Psi_n / (nu_n - D - 1)) by Gaussian conditioning:
  F = Sigma_{x' xu} Sigma_{xu xu}^-1, f = mu_x' - F mu_xu, W = Sigma_x'x' - F Sigma_{xu xu} F^T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anima.controllers.lqr_flm import LinearGaussianDynamics


@dataclass(frozen=True)
class NIW:
    """Normal-inverse-Wishart: mean mu (D,), kappa, scale Psi (D, D), degrees of freedom nu."""

    mu: np.ndarray
    kappa: float
    psi: np.ndarray
    nu: float

    def mean_cov(self) -> np.ndarray:
        """E[Sigma] = Psi / (nu - D - 1)."""
        d = self.mu.shape[0]
        if self.nu <= d + 1:
            raise ValueError(f"NIW.mean_cov: nu must exceed D + 1 = {d + 1}, got {self.nu}")
        return self.psi / (self.nu - d - 1)


def niw_posterior(prior: NIW, data: np.ndarray) -> NIW:
    """Conjugate update of ``prior`` with samples ``data`` (n, D)."""
    data = np.asarray(data, dtype=np.float64)
    n = data.shape[0]
    if n == 0:
        return prior
    wbar = data.mean(0)
    centred = data - wbar
    S = centred.T @ centred
    kappa_n = prior.kappa + n
    d = wbar - prior.mu
    return NIW((prior.kappa * prior.mu + n * wbar) / kappa_n, kappa_n,
               prior.psi + S + (prior.kappa * n / kappa_n) * np.outer(d, d), prior.nu + n)


def global_prior(samples: np.ndarray, strength: float, ridge: float = 1e-6) -> NIW:
    """NIW with the samples' (n, D) mean and covariance (+ ridge I) and pseudo-counts ``strength``."""
    d = samples.shape[1]
    cov = np.cov(samples, rowvar=False, bias=True) + ridge * np.eye(d) if samples.shape[0] > 1 else np.eye(d)
    return NIW(samples.mean(0), float(strength), strength * cov, float(strength + d + 1))


def condition(mean: np.ndarray, cov: np.ndarray, dx: int, du: int, ridge: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian over [x; u; x'] -> (F (dx, dx+du), f (dx,), W (dx, dx)) of p(x' | x, u)."""
    n = dx + du
    s_in = cov[:n, :n] + ridge * np.eye(n)
    F = np.linalg.solve(s_in, cov[:n, n:]).T
    f = mean[n:] - F @ mean[:n]
    W = cov[n:, n:] - F @ s_in @ F.T
    W = 0.5 * (W + W.T) + ridge * np.eye(dx)
    return F, f, W


def transitions(x: np.ndarray, u: np.ndarray, t: int) -> np.ndarray:
    """Joint samples [x_t; u_t; x_{t+1}] (N, D) from latents x (N, T+1, dx) and actions u (N, T, du)."""
    return np.concatenate([x[:, t], u[:, t], x[:, t + 1]], axis=1)


def fit_dynamics(x: np.ndarray, u: np.ndarray, x_all: np.ndarray, u_all: np.ndarray, data_strength: float = 50.0,
                 window: int = 2) -> LinearGaussianDynamics:
    """Local time-varying dynamics for the current episodes (x (N, T+1, dx), u (N, T, du)) under the
    global prior from every episode so far (x_all (M, T+1, dx), u_all (M, T, du)).

    Raises ValueError naming the step when the fit is not finite (the caller keeps its controller).
    """
    n_eps, t1, dx = x.shape
    t_len, du = u.shape[1], u.shape[2]
    if t1 != t_len + 1 or x_all.shape[1:] != x.shape[1:] or u_all.shape[1:] != u.shape[1:]:
        raise ValueError(f"fit_dynamics: x {x.shape}, u {u.shape}, x_all {x_all.shape}, u_all {u_all.shape} do not agree (x has T+1 steps)")
    for name, a in (("x", x), ("u", u), ("x_all", x_all), ("u_all", u_all)):
        bad = np.argwhere(~np.isfinite(a))
        if len(bad):
            raise ValueError(f"fit_dynamics: {name} holds {len(bad)} NaN/inf value(s), first at episode {bad[0][0]}, step {bad[0][1]}; no fit")
    F, f, W = np.zeros((t_len, dx, dx + du)), np.zeros((t_len, dx)), np.zeros((t_len, dx, dx))
    for t in range(t_len):
        near = range(max(0, t - window), min(t_len, t + window + 1))
        prior = global_prior(np.concatenate([transitions(x_all, u_all, s) for s in near]), data_strength)
        post = niw_posterior(prior, transitions(x, u, t))
        F[t], f[t], W[t] = condition(post.mu, post.mean_cov(), dx, du)
        if not (np.isfinite(F[t]).all() and np.isfinite(f[t]).all() and np.isfinite(W[t]).all()):
            raise ValueError(f"fit_dynamics: the fitted dynamics at t={t} hold NaN/inf (latents or actions not finite?)")
    x0 = x[:, 0]
    x0_cov = np.cov(x0, rowvar=False, bias=True) + 1e-6 * np.eye(dx) if n_eps > 1 else 1e-6 * np.eye(dx)
    return LinearGaussianDynamics(F, f, W, x0.mean(0), x0_cov)


__all__ = ["NIW", "condition", "fit_dynamics", "global_prior", "niw_posterior", "transitions"]
