"""LQR-FLM: the backward pass is LQR (checked against a Riccati recursion), the KL step keeps its bound."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.lqr_flm import (LinearGaussianDynamics, LinearGaussianPolicy, LqrFlmConfig, expected_cost, kl_regularised_cost,
                                       lqr_backward, lqr_flm_update, trajectory_kl)

# A double integrator, dt 0.1: x = (position, velocity), u = force.
DT = 0.1
A = np.array([[1.0, DT], [0.0, 1.0]])
B = np.array([[0.5 * DT**2], [DT]])
Qx, Ru = np.diag([1.0, 0.1]), np.array([[0.01]])


def _problem(t_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    F = np.tile(np.hstack([A, B]), (t_len, 1, 1))
    f = np.zeros((t_len, 2))
    C = np.tile(np.block([[Qx, np.zeros((2, 1))], [np.zeros((1, 2)), Ru]]), (t_len, 1, 1))
    return F, f, C, np.zeros((t_len, 3))


def test_backward_pass_matches_a_riccati_recursion() -> None:
    """Finite-horizon discrete Riccati: P_T = 0 (no terminal cost beyond the last stage cost),
    K_t = -(R + B^T P B)^-1 B^T P A, P_t = Q + A^T P (A + B K_t) computed here step by step."""
    t_len = 30
    pol = lqr_backward(*_problem(t_len), du=1)
    P = np.zeros((2, 2))
    for t in range(t_len - 1, -1, -1):
        K = -np.linalg.solve(Ru + B.T @ P @ B, B.T @ P @ A)
        np.testing.assert_allclose(pol.K[t], K, rtol=1e-9, atol=1e-12)
        P = Qx + A.T @ P @ (A + B @ K)
    np.testing.assert_allclose(pol.k, 0.0, atol=1e-12)


def test_long_horizon_gain_converges_to_the_infinite_horizon_lqr_gain() -> None:
    from scipy.linalg import solve_discrete_are

    pol = lqr_backward(*_problem(400), du=1)
    P = solve_discrete_are(A, B, Qx, Ru)
    K_inf = -np.linalg.solve(Ru + B.T @ P @ B, B.T @ P @ A)
    np.testing.assert_allclose(pol.K[0], K_inf, rtol=1e-6)


def test_affine_terms_give_the_lqr_offset_to_a_set_point() -> None:
    """Cost 1/2 (x - x*)^T Q (x - x*) -> c_x = -Q x*; the closed loop settles at x* = (1, 0)."""
    F, f, C, c = _problem(200)
    c[:, :2] = -(Qx @ np.array([1.0, 0.0]))
    pol = lqr_backward(F, f, C, c, du=1)
    x = np.zeros(2)
    for t in range(150):
        x = A @ x + B @ (pol.K[t] @ x + pol.k[t])
    np.testing.assert_allclose(x, [1.0, 0.0], atol=1e-3)


def _dynamics(t_len: int) -> LinearGaussianDynamics:
    F, f, _, _ = _problem(t_len)
    return LinearGaussianDynamics(F, f, np.tile(1e-4 * np.eye(2), (t_len, 1, 1)), np.array([1.0, 0.0]), 1e-3 * np.eye(2))


@pytest.mark.parametrize("kl_step", [0.05, 0.5, 2.0])
def test_kl_step_respects_its_bound_and_lowers_the_expected_cost(kl_step: float) -> None:
    t_len = 20
    F, f, C, c = _problem(t_len)
    dyn = _dynamics(t_len)
    prev = LinearGaussianPolicy.initial(t_len, 2, 1, std=0.5)
    new, info = lqr_flm_update(dyn, C, c, prev, LqrFlmConfig(kl_step=kl_step))
    kl = trajectory_kl(dyn, new, prev)
    assert kl == pytest.approx(info["kl"])
    assert (1 - 0.1) * kl_step * t_len <= kl <= kl_step * t_len * (1 + 1e-9)  # within the dual search tolerance, never above
    assert expected_cost(dyn, new, C, c) < expected_cost(dyn, prev, C, c)


def test_larger_steps_move_the_policy_further_towards_lqr() -> None:
    t_len = 20
    F, f, C, c = _problem(t_len)
    dyn = _dynamics(t_len)
    prev = LinearGaussianPolicy.initial(t_len, 2, 1, std=0.5)
    costs = [expected_cost(dyn, lqr_flm_update(dyn, C, c, prev, LqrFlmConfig(kl_step=s))[0], C, c) for s in (0.01, 0.1, 1.0)]
    assert costs[0] > costs[1] > costs[2]


def test_nan_in_fitted_dynamics_is_refused_naming_it() -> None:
    t_len = 5
    F, f, C, c = _problem(t_len)
    F[2, 0, 0] = np.nan
    dyn = LinearGaussianDynamics(F, f, np.tile(1e-4 * np.eye(2), (t_len, 1, 1)), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="fitted F holds 1 non-finite"):
        lqr_flm_update(dyn, C, c, LinearGaussianPolicy.initial(t_len, 2, 1))


def test_initial_policy_has_std_half() -> None:
    pol = LinearGaussianPolicy.initial(50, 10, 2)
    np.testing.assert_allclose(np.sqrt(np.diagonal(pol.cov, axis1=1, axis2=2)), 0.5)
    assert not pol.K.any() and not pol.k.any()


def test_kl_regularised_cost_adds_eta_times_minus_log_previous_policy() -> None:
    """1/2 xu^T Cp xu + cp^T xu equals -log N(u; K x + k, S) up to a constant, at any (x, u)."""
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    prev = LinearGaussianPolicy(rng.normal(size=(1, 2, 3)), rng.normal(size=(1, 2)), np.array([[[0.5, 0.1], [0.1, 0.3]]]))
    Ct, ct = kl_regularised_cost(np.zeros((1, 5, 5)), np.zeros((1, 5)), prev, eta=1.0)
    diffs = []
    for _ in range(5):
        x, u = rng.normal(size=3), rng.normal(size=2)
        xu = np.concatenate([x, u])
        nll = -multivariate_normal(prev.K[0] @ x + prev.k[0], prev.cov[0]).logpdf(u)
        diffs.append(0.5 * xu @ Ct[0] @ xu + ct[0] @ xu - nll)
    np.testing.assert_allclose(diffs, diffs[0], atol=1e-9)


def test_step_multiplier_follows_predicted_against_actual_improvement() -> None:
    from anima.controllers.lqr_flm import StepAdjustConfig, adjust_step_multiplier

    # the samples show half of the predicted improvement: the step stays (GPS's rule, change = 1)
    mult, info = adjust_step_multiplier(10.0, 6.0, 8.0, 1.0)
    assert mult == pytest.approx(1.0) and info["predicted_improvement"] == 4.0 and info["actual_improvement"] == 2.0
    # the fit was right: the step grows, at most by max_change
    assert adjust_step_multiplier(10.0, 6.0, 6.0, 1.0)[0] == pytest.approx(5.0)
    # the policy got worse than the one it replaced: the step shrinks below half (4 / (2 * 6)), at most to
    # min_change, never below min_mult
    assert adjust_step_multiplier(10.0, 6.0, 12.0, 1.0)[0] == pytest.approx(1.0 / 3.0)
    assert adjust_step_multiplier(10.0, 6.0, 46.0, 1.0)[0] == pytest.approx(0.1)
    assert adjust_step_multiplier(10.0, 6.0, 46.0, 0.05)[0] == pytest.approx(0.01)
    assert adjust_step_multiplier(10.0, 6.0, 6.0, 8.0)[0] == pytest.approx(10.0)
    # a third of the predicted improvement: change = 4 / (2 * (4 - 4/3)) = 0.75
    assert adjust_step_multiplier(10.0, 6.0, 10.0 - 4.0 / 3.0, 2.0)[0] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="actual_obj is nan"):
        adjust_step_multiplier(10.0, 6.0, float("nan"), 1.0)
    with pytest.raises(ValueError, match="StepAdjustConfig"):
        StepAdjustConfig(min_mult=2.0)
