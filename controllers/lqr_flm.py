"""LQR-FLM: a time-varying linear-Gaussian policy improved by LQR under a KL constraint (pure numpy).

SOLAR (Zhang, Vikram et al., ICML 2019, Sec. 4 "LQR-FLM") improves the policy p(u_t | x_t) =
N(K_t x_t + k_t, S_t) over the latent state x by solving

    min_p  E_p[ sum_t c(x_t, u_t) ]   s.t.   KL(p(tau) || pbar(tau)) <= epsilon

on fitted time-varying linear-Gaussian dynamics x_{t+1} ~ N(F_t [x; u] + f_t, W_t) and a quadratic
cost c = 1/2 [x;u]^T C_t [x;u] + [x;u]^T c_t. With a Lagrange multiplier eta the solution is the
maximum-entropy LQR of the cost c - eta log pbar(u|x) at temperature eta (Levine and Abbeel,
NeurIPS 2014, Sec. 3.1; the dual search over eta as in guided policy search, Levine et al., JMLR
2016, Sec. 4): backward pass -> K, k, S = eta Q_uu^-1; a forward pass gives the state marginals and
the trajectory KL; eta is found by bisection in log space so that the KL meets the bound.

Shapes: T steps, dx latent, du action. ``F`` (T, dx, dx+du), ``f`` (T, dx), ``W`` (T, dx, dx);
``C`` (T, dx+du, dx+du), ``c`` (T, dx+du). The KL bound is ``kl_step * T`` (the per-step
convention of the guided-policy-search code, FACTS.md "SOLAR": kl_step 2.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinearGaussianPolicy:
    """u_t ~ N(K_t x_t + k_t, cov_t): K (T, du, dx), k (T, du), cov (T, du, du)."""

    K: np.ndarray
    k: np.ndarray
    cov: np.ndarray

    def __post_init__(self) -> None:
        t, du, dx = np.shape(self.K)
        if np.shape(self.k) != (t, du) or np.shape(self.cov) != (t, du, du):
            raise ValueError(f"LinearGaussianPolicy: K {np.shape(self.K)}, k {np.shape(self.k)}, cov {np.shape(self.cov)} do not agree")

    @property
    def horizon(self) -> int:
        return int(self.K.shape[0])

    @classmethod
    def initial(cls, horizon: int, dx: int, du: int, std: float = 0.5, mean: np.ndarray | None = None) -> "LinearGaussianPolicy":
        """Zero gains, action mean ``mean`` (default 0) and std ``std`` (SOLAR's init_std 0.5)."""
        if horizon < 1 or std <= 0:
            raise ValueError(f"LinearGaussianPolicy.initial: horizon >= 1 and std > 0 needed, got {horizon}, {std}")
        k = np.zeros((horizon, du)) if mean is None else np.tile(np.asarray(mean, float), (horizon, 1))
        return cls(np.zeros((horizon, du, dx)), k, np.tile(std**2 * np.eye(du), (horizon, 1, 1)))


@dataclass(frozen=True)
class LinearGaussianDynamics:
    """x_{t+1} ~ N(F_t [x;u] + f_t, W_t); x_0 ~ N(x0_mean, x0_cov)."""

    F: np.ndarray
    f: np.ndarray
    W: np.ndarray
    x0_mean: np.ndarray
    x0_cov: np.ndarray


@dataclass(frozen=True)
class LqrFlmConfig:
    """KL step (nats per time step), dual-search bracket and tolerance."""

    kl_step: float = 2.0
    eta_min: float = 1e-8
    eta_max: float = 1e8
    kl_tolerance: float = 0.1  # accept |KL - bound| <= tolerance * bound
    max_dual_iterations: int = 40

    def __post_init__(self) -> None:
        if self.kl_step <= 0 or not 0 < self.eta_min < self.eta_max or not 0 < self.kl_tolerance < 1 or self.max_dual_iterations < 1:
            raise ValueError(f"LqrFlmConfig: kl_step > 0, 0 < eta_min < eta_max, 0 < kl_tolerance < 1, max_dual_iterations >= 1; got {self}")


class NotPositiveDefinite(np.linalg.LinAlgError):
    """Q_uu lost positive definiteness in the backward pass (eta too small)."""


def lqr_backward(F: np.ndarray, f: np.ndarray, C: np.ndarray, c: np.ndarray, du: int,
                 temperature: float = 1.0) -> LinearGaussianPolicy:
    """Finite-horizon (max-entropy) LQR: minimises sum_t 1/2 xu^T C_t xu + c_t^T xu on x' = F xu + f.

    Returns the time-varying policy u = K_t x + k_t with cov_t = temperature * Q_uu^-1 (the
    maximum-entropy solution; the mean is the ordinary LQR controller). Raises NotPositiveDefinite.
    """
    t_len, dx = f.shape
    V, v = np.zeros((dx, dx)), np.zeros(dx)
    K, k, cov = np.zeros((t_len, du, dx)), np.zeros((t_len, du)), np.zeros((t_len, du, du))
    FT = F.transpose(0, 2, 1)
    for t in range(t_len - 1, -1, -1):
        FtV = FT[t] @ V
        Q = C[t] + FtV @ F[t]
        q = c[t] + FtV @ f[t] + FT[t] @ v
        Quu = 0.5 * (Q[dx:, dx:] + Q[dx:, dx:].T)
        Qux, qu = 0.5 * (Q[dx:, :dx] + Q[:dx, dx:].T), q[dx:]
        try:
            np.linalg.cholesky(Quu)
        except np.linalg.LinAlgError:
            raise NotPositiveDefinite(f"Q_uu not positive definite at t={t}") from None
        inv = np.linalg.inv(Quu)
        K[t], k[t], cov[t] = -inv @ Qux, -inv @ qu, temperature * inv
        V = Q[:dx, :dx] + Qux.T @ K[t]
        v = q[:dx] + Qux.T @ k[t]
    return LinearGaussianPolicy(K, k, cov)


def forward_marginals(dyn: LinearGaussianDynamics, pol: LinearGaussianPolicy) -> tuple[np.ndarray, np.ndarray]:
    """State-action marginals under ``pol``: means (T, dx+du), covariances (T, dx+du, dx+du)."""
    t_len, du, dx = pol.K.shape
    mu, sigma = np.zeros((t_len, dx + du)), np.zeros((t_len, dx + du, dx + du))
    mx, sx = np.asarray(dyn.x0_mean, float), np.asarray(dyn.x0_cov, float)
    FT = dyn.F.transpose(0, 2, 1)
    for t in range(t_len):
        K = pol.K[t]
        sxkt = sx @ K.T
        mu[t, :dx], mu[t, dx:] = mx, K @ mx + pol.k[t]
        st = sigma[t]
        st[:dx, :dx], st[:dx, dx:], st[dx:, :dx], st[dx:, dx:] = sx, sxkt, sxkt.T, K @ sxkt + pol.cov[t]
        if t + 1 < t_len:
            mx = dyn.F[t] @ mu[t] + dyn.f[t]
            sx = dyn.F[t] @ st @ FT[t] + dyn.W[t]
    return mu, sigma


def _prev_terms(prev: LinearGaussianPolicy) -> tuple[np.ndarray, np.ndarray]:
    """Precisions P_t = cov_t^-1 (T, du, du) and log det cov_t (T,) of a policy."""
    return np.linalg.inv(prev.cov), np.linalg.slogdet(prev.cov)[1]


def trajectory_kl(dyn: LinearGaussianDynamics, new: LinearGaussianPolicy, prev: LinearGaussianPolicy,
                  prev_terms: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """KL(p_new(tau) || p_prev(tau)) = sum_t E_{x_t ~ p_new}[KL(p_new(u|x_t) || p_prev(u|x_t))] (same dynamics)."""
    mu, sigma = forward_marginals(dyn, new)
    dx, du = new.K.shape[2], new.K.shape[1]
    P, logdet_prev = prev_terms if prev_terms is not None else _prev_terms(prev)
    logdet_new = np.linalg.slogdet(new.cov)[1]
    dK, dk = new.K - prev.K, new.k - prev.k
    d_mean = np.einsum("tij,tj->ti", dK, mu[:, :dx]) + dk
    quad = np.einsum("ti,tij,tj->t", d_mean, P, d_mean)
    spread = np.einsum("tij,tjk,tkl,tli->t", P, dK, sigma[:, :dx, :dx], dK.transpose(0, 2, 1))
    trace = np.einsum("tij,tji->t", P, new.cov)
    return float(0.5 * (trace - du + logdet_prev - logdet_new + quad + spread).sum())


def expected_cost(dyn: LinearGaussianDynamics, pol: LinearGaussianPolicy, C: np.ndarray, c: np.ndarray) -> float:
    """E_p[sum_t 1/2 xu^T C_t xu + c_t^T xu] under the linear-Gaussian marginals."""
    mu, sigma = forward_marginals(dyn, pol)
    return float(sum(0.5 * mu[t] @ C[t] @ mu[t] + 0.5 * np.trace(C[t] @ sigma[t]) + c[t] @ mu[t] for t in range(pol.horizon)))


def kl_regularised_cost(C: np.ndarray, c: np.ndarray, prev: LinearGaussianPolicy, eta: float,
                        prev_terms: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Quadratic form of c(x,u) - eta log pbar(u|x) (constants dropped): (C~ (T, n, n), c~ (T, n))."""
    Cp, cp = _log_prev_quadratic(prev, prev_terms)
    return C + eta * Cp, c + eta * cp


def _log_prev_quadratic(prev: LinearGaussianPolicy, prev_terms: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """-log pbar(u|x) = 1/2 [x;u]^T Cp [x;u] + cp^T [x;u] + const, with P = cov^-1:
    Cp = [[K^T P K, -K^T P], [-P K, P]], cp = [K^T P k, -P k]."""
    P = prev_terms[0] if prev_terms is not None else np.linalg.inv(prev.cov)
    K, k = prev.K, prev.k
    KT = K.transpose(0, 2, 1)
    PK = P @ K
    Cp = np.concatenate([np.concatenate([KT @ PK, -PK.transpose(0, 2, 1)], axis=2), np.concatenate([-PK, P], axis=2)], axis=1)
    Pk = np.einsum("tij,tj->ti", P, k)
    cp = np.concatenate([np.einsum("tji,tj->ti", K, Pk), -Pk], axis=1)
    return Cp, cp


def lqr_flm_update(dyn: LinearGaussianDynamics, C: np.ndarray, c: np.ndarray, prev: LinearGaussianPolicy,
                   config: LqrFlmConfig = LqrFlmConfig()) -> tuple[LinearGaussianPolicy, dict[str, float]]:
    """One LQR-FLM step: the new policy with KL(new || prev) close to (and not above) ``kl_step * T``.

    Raises ValueError naming the input when the dynamics or the cost hold NaN/inf (the caller keeps
    its previous controller). Info: ``eta``, ``kl``, ``kl_bound``, ``dual_iterations``.
    """
    for name, a in (("F", dyn.F), ("f", dyn.f), ("W", dyn.W), ("x0_mean", dyn.x0_mean), ("x0_cov", dyn.x0_cov), ("C", C), ("c", c)):
        if not np.isfinite(a).all():
            raise ValueError(f"lqr_flm_update: fitted {name} holds {int((~np.isfinite(a)).sum())} non-finite value(s); update skipped")
    bound = config.kl_step * prev.horizon
    du = prev.K.shape[1]
    terms = _prev_terms(prev)
    Cp, cp = _log_prev_quadratic(prev, terms)
    best: tuple[LinearGaussianPolicy, float, float] | None = None
    lo_y, hi_y = np.log(config.eta_min), np.log(config.eta_max)
    calls = 0

    def g(y: float) -> float:
        """log KL(eta = e^y) - log bound (decreasing in y); +inf where Q_uu is indefinite."""
        nonlocal best, calls
        calls += 1
        eta = float(np.exp(y))
        try:
            new = lqr_backward(dyn.F, dyn.f, C + eta * Cp, c + eta * cp, du, temperature=eta)
            kl = trajectory_kl(dyn, new, prev, terms)
        except np.linalg.LinAlgError:
            return np.inf
        if kl <= bound and (best is None or kl > best[2]):
            best = (new, eta, kl)
        return float(np.log(max(kl, 1e-300)) - np.log(bound))

    # Bracket the root of g in log eta from eta = 1 outwards, then regula falsi (Illinois) in log-log,
    # where KL(eta) is close to a power law, so a few backward passes suffice.
    a, ga = 0.0, g(0.0)
    step = 3.0 if ga > 0 else -3.0
    b, gb = a, ga
    while (gb > 0) == (ga > 0) and lo_y < b + step < hi_y and calls < config.max_dual_iterations:
        a, ga = b, gb
        b = b + step
        gb = g(b)
    ok = lambda: best is not None and best[2] >= (1 - config.kl_tolerance) * bound  # noqa: E731
    side = 0
    while (gb > 0) != (ga > 0) and not ok() and calls < config.max_dual_iterations:
        if not np.isfinite(ga) or not np.isfinite(gb):
            y = 0.5 * (a + b)
        else:
            y = b - gb * (b - a) / (gb - ga)
        gy = g(y)
        if (gy > 0) == (gb > 0):
            b, gb = y, gy
            if side == -1:
                ga *= 0.5
            side = -1
        else:
            a, ga = y, gy
            if side == 1:
                gb *= 0.5
            side = 1
    if best is None:
        raise ValueError(f"lqr_flm_update: no eta in [{config.eta_min:g}, {config.eta_max:g}] keeps KL <= {bound:g}; update skipped")
    it = calls
    new, eta, kl = best
    return new, {"eta": eta, "kl": kl, "kl_bound": bound, "dual_iterations": float(it)}


@dataclass(frozen=True)
class StepAdjustConfig:
    """Guided policy search's step-size rule: the multiplier on the KL step moves by the ratio of the
    improvement the previous fit predicted to the one the new samples show, within [min_mult, max_mult]."""

    min_mult: float = 0.01
    max_mult: float = 10.0
    min_change: float = 0.1
    max_change: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.min_mult <= 1 <= self.max_mult or not 0 < self.min_change <= 1 <= self.max_change:
            raise ValueError(f"StepAdjustConfig: 0 < min_mult <= 1 <= max_mult and 0 < min_change <= 1 <= max_change; got {self}")


def adjust_step_multiplier(previous_obj: float, predicted_obj: float, actual_obj: float, mult: float,
                           config: StepAdjustConfig = StepAdjustConfig()) -> tuple[float, dict[str, float]]:
    """The next KL-step multiplier from the last update (Levine et al., JMLR 2016, guided policy search's
    step adjustment): ``previous_obj`` the expected cost of the old policy under the fit it was improved on,
    ``predicted_obj`` the new policy's under that same fit, ``actual_obj`` the new policy's under the fit to
    its own samples. The change is predicted / (2 (predicted - actual)) improvement, clipped to
    [min_change, max_change]: 1 when the samples show half of what was predicted, more when the fit was
    right, below 1/2 when the policy got worse than the one it replaced."""
    for name, v in (("previous_obj", previous_obj), ("predicted_obj", predicted_obj), ("actual_obj", actual_obj), ("mult", mult)):
        if not np.isfinite(v):
            raise ValueError(f"adjust_step_multiplier: {name} is {v}")
    predicted, actual = previous_obj - predicted_obj, previous_obj - actual_obj
    change = float(np.clip(predicted / (2.0 * max(1e-4, predicted - actual)), config.min_change, config.max_change))
    new = float(np.clip(change * mult, config.min_mult, config.max_mult))
    return new, {"predicted_improvement": float(predicted), "actual_improvement": float(actual), "step_change": change, "step_mult": new}


__all__ = ["LinearGaussianDynamics", "LinearGaussianPolicy", "LqrFlmConfig", "NotPositiveDefinite", "StepAdjustConfig", "adjust_step_multiplier", "expected_cost",
           "forward_marginals", "kl_regularised_cost", "lqr_backward", "lqr_flm_update", "trajectory_kl"]
