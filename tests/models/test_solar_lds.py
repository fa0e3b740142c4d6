"""SOLAR's structured inference (models/solar/lds.py) against dense Gaussian algebra over a whole episode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anima.models.solar.lds import LdsFilter, LdsParams, kalman_smoother, structured_kl


def _episode(seed: int, t1: int = 5, dz: int = 3, du: int = 2, b: int = 2):
    rng = np.random.default_rng(seed)
    t = t1 - 1
    lds = LdsParams(np.eye(dz) + 0.3 * rng.standard_normal((t, dz, dz)), rng.standard_normal((t, dz, du)),
                    0.2 * rng.standard_normal((t, dz)), rng.uniform(-2.0, 0.0, (t, dz)))
    m = rng.standard_normal((b, t1, dz))
    r_lv = rng.uniform(-3.0, 3.0, (b, t1, dz))  # some dims nearly unobserved, as a velocity would be
    u = rng.standard_normal((b, t, du))
    return lds, m, r_lv, u


def _dense(lds: LdsParams, m: np.ndarray, r_lv: np.ndarray, u: np.ndarray):
    """Prior N(mu_p, S_p) over the stacked latents, potentials N(m; z, R): posterior, log Z, KL for one episode."""
    t1, dz = m.shape
    n = t1 * dz
    D, c = np.eye(n), np.zeros(n)
    W = np.eye(n)
    for t in range(t1 - 1):
        D[(t + 1) * dz:(t + 2) * dz, t * dz:(t + 1) * dz] = -lds.A[t]
        c[(t + 1) * dz:(t + 2) * dz] = lds.B[t] @ u[t] + lds.a[t]
        W[(t + 1) * dz:(t + 2) * dz, (t + 1) * dz:(t + 2) * dz] = np.diag(np.exp(lds.logvar[t]))
    Di = np.linalg.inv(D)
    mu_p, S_p = Di @ c, Di @ W @ Di.T
    R = np.diag(np.exp(r_lv.reshape(-1)))
    S_q = np.linalg.inv(np.linalg.inv(S_p) + np.linalg.inv(R))
    mu_q = S_q @ (np.linalg.solve(S_p, mu_p) + np.linalg.solve(R, m.reshape(-1)))
    S = S_p + R
    d = m.reshape(-1) - mu_p
    log_z = -0.5 * (d @ np.linalg.solve(S, d) + np.linalg.slogdet(S)[1] + n * np.log(2 * np.pi))
    Pi = np.linalg.inv(S_p)
    kl = 0.5 * (np.trace(Pi @ S_q) + (mu_p - mu_q) @ Pi @ (mu_p - mu_q) - n + np.linalg.slogdet(S_p)[1] - np.linalg.slogdet(S_q)[1])
    return mu_q.reshape(t1, dz), S_q, log_z, kl


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smoother_matches_the_dense_posterior_log_z_and_kl(seed: int) -> None:
    lds, m, r_lv, u = _episode(seed)
    T = lambda x: torch.as_tensor(x)  # noqa: E731
    res = kalman_smoother(T(lds.A), T(lds.B), T(lds.a), T(lds.logvar), T(m), T(r_lv), T(u))
    kl = structured_kl(res, T(m), T(r_lv))
    dz = m.shape[-1]
    for e in range(m.shape[0]):
        mu_q, S_q, log_z, kl_dense = _dense(lds, m[e], r_lv[e], u[e])
        np.testing.assert_allclose(res.smoothed_mean[e].numpy(), mu_q, atol=1e-8)
        for t in range(m.shape[1]):
            np.testing.assert_allclose(res.smoothed_cov[e, t].numpy(), S_q[t * dz:(t + 1) * dz, t * dz:(t + 1) * dz], atol=1e-8)
        assert float(res.log_z[e]) == pytest.approx(log_z, abs=1e-8)
        assert float(kl[e]) == pytest.approx(kl_dense, abs=1e-7) and kl_dense > 0


def test_filtered_mean_is_the_posterior_of_the_frames_so_far() -> None:
    lds, m, r_lv, u = _episode(3)
    res = kalman_smoother(*(torch.as_tensor(x) for x in (lds.A, lds.B, lds.a, lds.logvar, m, r_lv, u)), smooth=False)
    for t in range(1, m.shape[1] + 1):  # the dense posterior of frames 0..t-1 alone: its last latent
        cut = LdsParams(lds.A[:t - 1] if t > 1 else lds.A[:1], lds.B[:t - 1] if t > 1 else lds.B[:1],
                        lds.a[:t - 1] if t > 1 else lds.a[:1], lds.logvar[:t - 1] if t > 1 else lds.logvar[:1])
        mu_q, *_ = _dense(cut, m[0, :t], r_lv[0, :t], u[0, :t - 1])
        np.testing.assert_allclose(res.filtered_mean[0, t - 1].numpy(), mu_q[-1], atol=1e-8)


def test_the_step_filter_equals_the_batched_one() -> None:
    lds, m, r_lv, u = _episode(4, t1=7)
    res = kalman_smoother(*(torch.as_tensor(x) for x in (lds.A, lds.B, lds.a, lds.logvar, m, r_lv, u)), smooth=False)
    f = LdsFilter(lds)
    for t in range(m.shape[1]):
        x = f.update(m[1, t], r_lv[1, t], u[1, t - 1] if t else None)
        np.testing.assert_allclose(x, res.filtered_mean[1, t].numpy(), atol=1e-9)
    f.reset()
    np.testing.assert_allclose(f.update(m[1, 0], r_lv[1, 0], None), res.filtered_mean[1, 0].numpy(), atol=1e-9)


def test_a_dimension_no_frame_shows_is_inferred_from_the_dynamics() -> None:
    """Position p observed, velocity v not (huge potential variance): the filter recovers v from p's steps."""
    dt, T = 0.1, 30
    A = np.tile(np.array([[1.0, dt], [0.0, 1.0]]), (T, 1, 1))
    lds = LdsParams(A, np.zeros((T, 2, 1)), np.zeros((T, 2)), np.full((T, 2), -12.0))
    v_true = 0.7
    f = LdsFilter(lds)
    for t in range(T + 1):
        x = f.update(np.array([v_true * dt * t, 0.0]), np.array([-10.0, 12.0]), np.zeros(1))
    assert x[1] == pytest.approx(v_true, rel=1e-3)


def test_bad_dynamics_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN or inf"):
        LdsParams(np.full((2, 3, 3), np.nan), np.zeros((2, 3, 1)), np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="need A"):
        LdsParams(np.zeros((2, 3, 3)), np.zeros((2, 3, 1)), np.zeros((2, 4)), np.zeros((2, 3)))


def test_a_lost_frame_is_predicted_through_as_an_uninformative_one() -> None:
    """Frames 0, 1, 3 (2 lost, its period under the held action): the filter equals the batched one given an
    uninformative potential at step 2."""
    lds, m, r_lv, u = _episode(5, t1=4, b=1)
    u[0, 2] = u[0, 1]  # the action held over the lost period
    r_lv = r_lv.copy()
    r_lv[0, 2] = 40.0
    res = kalman_smoother(*(torch.as_tensor(x) for x in (lds.A, lds.B, lds.a, lds.logvar, m, r_lv, u)), smooth=False)
    f = LdsFilter(lds)
    f.update(m[0, 0], r_lv[0, 0], None)
    f.update(m[0, 1], r_lv[0, 1], u[0, 0])
    x = f.update(m[0, 3], r_lv[0, 3], u[0, 1], steps=2)
    np.testing.assert_allclose(x, res.filtered_mean[0, 3].numpy(), atol=1e-7)
    with pytest.raises(ValueError, match="steps since the last frame must be >= 1"):
        f.update(m[0, 0], r_lv[0, 0], None, steps=0)
