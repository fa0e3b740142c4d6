"""BLDS: the NIW conjugate update against a hand computation; dynamics recovered by conditioning;
the global prior dominates few local samples; NaN in a fit is refused naming the step; the cost of
the next state as a quadratic in (x, u)."""

from __future__ import annotations

import numpy as np
import pytest

from anima.models.solar.blds import NIW, condition, fit_dynamics, global_prior, niw_posterior
from anima.models.solar.cost import QuadraticCost, fit_quadratic_cost


def test_niw_posterior_matches_a_hand_computed_update_in_one_dimension() -> None:
    """Prior mu0 0, kappa0 1, Psi0 1, nu0 3; data {1, 3}: n 2, mean 2, S = 1 + 1 = 2.
    kappa_n = 3, nu_n = 5, mu_n = (1*0 + 2*2)/3 = 4/3, Psi_n = 1 + 2 + (1*2/3)(2-0)^2 = 17/3,
    E[Sigma] = Psi_n / (nu_n - D - 1) = (17/3) / 3 = 17/9."""
    post = niw_posterior(NIW(np.zeros(1), 1.0, np.eye(1), 3.0), np.array([[1.0], [3.0]]))
    assert post.kappa == 3.0 and post.nu == 5.0
    np.testing.assert_allclose(post.mu, [4 / 3])
    np.testing.assert_allclose(post.psi, [[17 / 3]])
    np.testing.assert_allclose(post.mean_cov(), [[17 / 9]])


def test_niw_posterior_matches_a_hand_computed_update_in_two_dimensions() -> None:
    """Prior mu0 (1, 0), kappa0 2, Psi0 I, nu0 4; data (0,0), (2,2): mean (1,1), S = [[2,2],[2,2]],
    kappa_n 4, mu_n = (2*(1,0) + 2*(1,1))/4 = (1, 0.5); d = (0, 1), kappa0 n / kappa_n = 1:
    Psi_n = I + S + [[0,0],[0,1]] = [[3,2],[2,4]]; nu_n 6."""
    post = niw_posterior(NIW(np.array([1.0, 0.0]), 2.0, np.eye(2), 4.0), np.array([[0.0, 0.0], [2.0, 2.0]]))
    np.testing.assert_allclose(post.mu, [1.0, 0.5])
    np.testing.assert_allclose(post.psi, [[3.0, 2.0], [2.0, 4.0]])
    assert post.kappa == 4.0 and post.nu == 6.0


def test_conditioning_recovers_linear_dynamics() -> None:
    rng = np.random.default_rng(0)
    F_true = np.array([[0.9, 0.1, 0.5], [0.0, 0.8, -0.3]])
    xu = rng.normal(size=(20000, 3))
    xn = xu @ F_true.T + np.array([0.2, -0.1]) + 0.01 * rng.normal(size=(20000, 2))
    w = np.concatenate([xu, xn], axis=1)
    F, f, W = condition(w.mean(0), np.cov(w, rowvar=False), 2, 1)
    np.testing.assert_allclose(F, F_true, atol=5e-3)
    np.testing.assert_allclose(f, [0.2, -0.1], atol=5e-3)
    np.testing.assert_allclose(np.diag(W), 1e-4, rtol=0.1)


def _episodes(rng: np.random.Generator, n: int, A: float, t_len: int = 6) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros((n, t_len + 1, 1))
    u = rng.normal(size=(n, t_len, 1))
    x[:, 0, 0] = rng.normal(size=n)
    for t in range(t_len):
        x[:, t + 1] = A * x[:, t] + 0.5 * u[:, t] + 0.01 * rng.normal(size=(n, 1))
    return x, u


def test_few_local_samples_lean_on_the_global_prior_many_override_it() -> None:
    """Global data: x' = 0.9 x + 0.5 u; local data: x' = 0.5 x + 0.5 u. Strength 50."""
    rng = np.random.default_rng(1)
    xg, ug = _episodes(rng, 400, 0.9)
    few = _episodes(rng, 3, 0.5)
    many = _episodes(rng, 2000, 0.5)
    a_few = fit_dynamics(*few, xg, ug, data_strength=50.0).F[2, 0, 0]
    a_many = fit_dynamics(*many, xg, ug, data_strength=50.0).F[2, 0, 0]
    assert abs(a_few - 0.9) < abs(a_few - 0.5)
    assert a_many == pytest.approx(0.5, abs=0.03)


def test_global_prior_expected_covariance_is_the_data_covariance() -> None:
    rng = np.random.default_rng(2)
    s = rng.normal(size=(5000, 3)) * np.array([1.0, 2.0, 0.5])
    prior = global_prior(s, 50.0)
    np.testing.assert_allclose(prior.mean_cov(), np.cov(s, rowvar=False, bias=True), atol=1e-5)


def test_nan_latents_stop_the_fit_naming_the_step() -> None:
    rng = np.random.default_rng(3)
    x, u = _episodes(rng, 10, 0.9)
    x[:, 3] = np.nan
    with pytest.raises(ValueError, match=r"x holds 10 NaN/inf value\(s\), first at episode 0, step 3"):
        fit_dynamics(x, u, x, u)


def test_quadratic_cost_fit_recovers_a_known_cost() -> None:
    """-reward = 1/2 x^T C x + c^T x + 3 with C = [[2, 0.5], [0.5, 1]], c = (1, -1)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 2))
    C, c = np.array([[2.0, 0.5], [0.5, 1.0]]), np.array([1.0, -1.0])
    reward = -(0.5 * np.einsum("ni,ij,nj->n", x, C, x) + x @ c + 3.0)
    cost = fit_quadratic_cost(x, reward, ridge=1e-9)
    np.testing.assert_allclose(cost.Cxx, C, atol=1e-4)
    np.testing.assert_allclose(cost.cx, c, atol=1e-4)
    assert cost.const == pytest.approx(3.0, abs=1e-4)
    Cl, cl = cost.lqr_terms(4, 1)
    assert Cl.shape == (4, 3, 3) and Cl[0, 2, 2] == pytest.approx(1e-2) and cl.shape == (4, 3)


def test_the_default_ridge_recovers_an_exact_quadratic_in_metres() -> None:
    """-reward = 10^4 |x - g|^2 on fingertip positions in metres around the reacher's start (squared features ~1e-3):
    with the default ridge the fitted minimum is the target within a millimetre (a ridge on the raw features put it at (-0.58, 0.93) m)."""
    rng = np.random.default_rng(0)
    g = np.array([0.0, 0.12])
    x = np.array([0.2, 0.0]) + rng.normal(scale=0.05, size=(5000, 2))
    cost = fit_quadratic_cost(x, -1e4 * ((x - g) ** 2).sum(1), 0.3)
    np.testing.assert_allclose(-np.linalg.solve(cost.Cxx, cost.cx), g, atol=1e-3)
    np.testing.assert_allclose(cost.Cxx, 2e4 * np.eye(2), atol=50)


def test_next_state_cost_is_the_cost_of_where_the_dynamics_lead() -> None:
    """1/2 xu^T C_t xu + c_t^T xu + const_t = cost(F_t xu + f_t) + 1/2 w |u|^2 for every xu (dx 3, du 2, T 4)."""
    rng = np.random.default_rng(7)
    A = rng.normal(size=(3, 3))
    cost = QuadraticCost(A @ A.T, rng.normal(size=3), 0.7, 0.05)
    F, f = rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 3))
    C, c = cost.next_state_lqr_terms(F, f)
    assert C.shape == (4, 5, 5) and c.shape == (4, 5)
    xu = rng.normal(size=(6, 5))
    for t in range(4):
        lhs = 0.5 * np.einsum("ni,ij,nj->n", xu, C[t], xu) + xu @ c[t]
        rhs = cost(xu @ F[t].T + f[t]) + 0.5 * 0.05 * np.square(xu[:, 3:]).sum(1)
        np.testing.assert_allclose(lhs - rhs, (lhs - rhs)[0], atol=1e-9)  # equal up to a constant per step
    with pytest.raises(ValueError, match="the cost is over 3 dims, the dynamics over 4"):
        cost.next_state_lqr_terms(np.zeros((2, 4, 6)), np.zeros((2, 4)))
