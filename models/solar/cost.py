"""Quadratic cost model in latent space, fitted from rewards (SOLAR, Zhang, Vikram et al., ICML 2019, Sec. 4).

cost(x, u) = 1/2 x^T Cxx x + cx^T x + const  (fitted: -reward ~ quadratic features of the latent x)
           + 1/2 action_weight |u|^2          (known action penalty)

Least squares on the features [vech(x x^T), x, 1] with a small ridge; Cxx is then projected onto the
positive semi-definite cone (negative eigenvalues clipped to ``min_eig``) so LQR stays well posed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QuadraticCost:
    """Cxx (dx, dx), cx (dx,), const, action_weight: the LQR-FLM cost terms via :meth:`lqr_terms`."""

    Cxx: np.ndarray
    cx: np.ndarray
    const: float
    action_weight: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """State part of the cost for x (..., dx)."""
        return 0.5 * np.einsum("...i,ij,...j->...", x, self.Cxx, x) + x @ self.cx + self.const

    def lqr_terms(self, horizon: int, du: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """C (T, dx+du, dx+du), c (T, dx+du) for ``controllers.lqr_flm``; ``weights`` (T,) scale each step's state cost."""
        dx = self.cx.shape[0]
        w = _step_weights(weights, horizon)
        C = np.zeros((horizon, dx + du, dx + du))
        C[:, :dx, :dx] = w[:, None, None] * self.Cxx
        C[:, dx:, dx:] = self.action_weight * np.eye(du)
        c = np.zeros((horizon, dx + du))
        c[:, :dx] = w[:, None] * self.cx
        return C, c


    def next_state_lqr_terms(self, F: np.ndarray, f: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """C (T, dx+du, dx+du), c (T, dx+du): the cost of the state each step leads to, as a function of (x_t, u_t).

        The reward of step t is a function of x_{t+1} (the frame after the action): with the fitted
        dynamics x_{t+1} = F_t [x_t; u_t] + f_t (+ noise, whose cost is a constant), its expected state
        cost is 1/2 xu^T F_t^T Cxx F_t xu + (F_t^T (Cxx f_t + cx))^T xu + const, plus the action penalty.
        Unlike :meth:`lqr_terms`, which charges x_0 .. x_{T-1}, this charges x_1 .. x_T: the final state,
        which decides success, is costed, and the uncontrollable x_0 is not. ``weights`` (T,) scale the
        state cost of each step (not the action penalty).
        """
        horizon, dx = f.shape
        du = F.shape[2] - dx
        if self.cx.shape != (dx,):
            raise ValueError(f"next_state_lqr_terms: the cost is over {self.cx.shape[0]} dims, the dynamics over {dx}")
        w = _step_weights(weights, horizon)
        FT = F.transpose(0, 2, 1)
        C = w[:, None, None] * (FT @ self.Cxx @ F)
        C[:, dx:, dx:] += self.action_weight * np.eye(du)
        c = w[:, None] * np.einsum("tij,tj->ti", FT, f @ self.Cxx.T + self.cx)
        return 0.5 * (C + C.transpose(0, 2, 1)), c

def _step_weights(weights: np.ndarray | None, horizon: int) -> np.ndarray:
    if weights is None:
        return np.ones(horizon)
    w = np.asarray(weights, np.float64)
    if w.shape != (horizon,) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"cost step weights: need {horizon} finite values >= 0, got shape {w.shape}")
    return w


def _features(x: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(x.shape[1])
    outer = x[:, :, None] * x[:, None, :]
    return np.concatenate([outer[:, iu[0], iu[1]], x, np.ones((x.shape[0], 1))], axis=1)


def fit_quadratic_cost(x: np.ndarray, reward: np.ndarray, action_weight: float = 1e-2, ridge: float = 1e-4,
                       min_eig: float = 1e-6) -> QuadraticCost:
    """Fit -reward (N,) ~ 1/2 x^T C x + c^T x + b from latents x (N, dx).

    The fit runs on x standardized per dimension and is mapped back, so the ridge does not depend on the units or
    the offset of x (on raw positions in metres, squared features ~1e-3, it shrank an exact quadratic far off)."""
    x, y = np.asarray(x, np.float64), -np.asarray(reward, np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],) or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"fit_quadratic_cost: need finite latents (N, dx) and rewards (N,), got {x.shape}, {y.shape}")
    dx = x.shape[1]
    mu, sd = x.mean(0), x.std(0)
    scale = 1.0 / np.where(sd > 0, sd, 1.0)
    phi = _features((x - mu) * scale)
    w = np.linalg.solve(phi.T @ phi + ridge * x.shape[0] * np.eye(phi.shape[1]), phi.T @ y)
    iu = np.triu_indices(dx)
    M = np.zeros((dx, dx))
    M[iu] = w[: len(iu[0])]
    Cs, cs, bs = M + M.T, w[len(iu[0]):len(iu[0]) + dx], float(w[-1])  # 1/2 s^T Cs s + cs^T s + bs, s = scale (x - mu)
    C = scale[:, None] * Cs * scale[None, :]
    c = scale * cs - C @ mu
    b = bs - float(cs @ (scale * mu)) + 0.5 * float(mu @ C @ mu)
    evals, evecs = np.linalg.eigh(0.5 * (C + C.T))
    C = (evecs * np.maximum(evals, min_eig)) @ evecs.T
    return QuadraticCost(C, c, b, float(action_weight))


__all__ = ["QuadraticCost", "fit_quadratic_cost"]
