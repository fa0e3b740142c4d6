"""Filtered MPPI and CEM: math against hand-computed values, and planning on a known optimum."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.mppi import (
    PlannerConfig,
    SamplingPlanner,
    ensemble_returns,
    filtered_samples,
    mppi_weights,
    sample_noise,
    shift_mean,
)


class Integrator:
    """s' = s + a for every member: a linear system with a known optimum."""

    def __init__(self, ensemble_size: int = 2) -> None:
        self.ensemble_size = ensemble_size

    def predict(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return np.asarray(states) + np.asarray(actions)[None]


class ToOrigin:
    """reward = -s'^2: from s0 = 0.5 the best first action is exactly -0.5 (then 0)."""

    def reward(self, states: np.ndarray, actions: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = -(states[..., 0] ** 2)
        return r, np.zeros(r.shape, bool)


def test_filter_matches_hand_computation() -> None:
    # beta 0.6, prev 1.0, mu = (0.5, 0), eps = (0.2, -0.5):
    # u0 = 0.6 (0.5 + 0.2) + 0.4 * 1.0 = 0.82; u1 = 0.6 (0 - 0.5) + 0.4 * 0.82 = 0.028.
    u = filtered_samples(np.array([[0.5], [0.0]]), np.array([[[0.2], [-0.5]]]), np.array([1.0]), 0.6, -1, 1)
    np.testing.assert_allclose(u[0, :, 0], [0.82, 0.028], atol=1e-12)
    # Clipping: mu = 3 gives u0 = 0.5 * 3 = 1.5 -> 1.0.
    u = filtered_samples(np.full((2, 1), 3.0), np.zeros((1, 2, 1)), np.zeros(1), 0.5, -1, 1)
    np.testing.assert_array_equal(u[0, :, 0], [1.0, 1.0])


def test_weights_match_hand_computation() -> None:
    # gamma 20, R = (0, -0.1, -1): exp(0) = 1, exp(-2) = 0.1353353, exp(-20) = 2.061e-9, normalized.
    w = mppi_weights(np.array([0.0, -0.1, -1.0]), 20.0)
    raw = np.array([1.0, 0.1353352832, 2.0611536e-9])
    np.testing.assert_allclose(w, raw / raw.sum(), rtol=1e-7)
    # A non-finite return gets weight 0; the finite one takes all.
    np.testing.assert_array_equal(mppi_weights(np.array([np.nan, -3.0]), 20.0), [0.0, 1.0])
    with pytest.raises(ValueError, match="no finite return"):
        mppi_weights(np.array([np.nan, -np.inf]), 1.0)


def test_noise_low_fraction_and_shift() -> None:
    # 10 samples, fraction 0.1 -> exactly sample 0 is scaled by 0.3; the others by sigma only.
    a = sample_noise(np.random.default_rng(5), 10, 3, 2, 0.9, 0.1, 0.3)
    b = sample_noise(np.random.default_rng(5), 10, 3, 2, 0.9, 0.0, 1.0)
    np.testing.assert_allclose(a[0], 0.3 * b[0], rtol=1e-6)
    np.testing.assert_array_equal(a[1:], b[1:])
    np.testing.assert_array_equal(shift_mean(np.array([[1.0], [2.0], [3.0]]))[:, 0], [2.0, 3.0, 3.0])


def test_done_penalty_and_ensemble_mean() -> None:
    class Done:
        def reward(self, s, a, t):  # reward 1 per step, done from step index 1 on for member 0 only
            done = np.zeros(s.shape[:3], bool)
            done[1:, 0] = True
            return np.ones(s.shape[:3]), done

    states = np.zeros((3, 2, 1, 1))  # (H, E, N, S)
    # member 0: 1 + (1 - 500) + (1 - 500) = -997; member 1: 3. Ensemble mean: (-997 + 3) / 2 = -497.
    r = ensemble_returns(Done(), states, np.zeros((1, 3, 1)), 0, 500.0)
    np.testing.assert_allclose(r, [-497.0])


@pytest.mark.parametrize("optimizer", ["mppi", "cem"])
def test_first_action_is_known_optimum(optimizer: str) -> None:
    cfg = PlannerConfig(optimizer=optimizer, num_samples=3000, horizon=4, gamma=200.0, beta=1.0, sigma=0.5, low_noise_fraction=0.0, cem_elites=30)
    planner = SamplingPlanner(cfg, Integrator(), ToOrigin(), 1, np.random.default_rng(0))
    action = planner.plan(np.array([0.5]), t=0)
    assert action.shape == (1,)
    assert abs(action[0] - (-0.5)) < 0.1


def test_closed_loop_with_paper_defaults_reaches_origin() -> None:
    # Baoding defaults (N 700, H 7, gamma 20, beta 0.6, sigma 0.9) on s' = s + a from s = 0.8.
    planner = SamplingPlanner(PlannerConfig(), Integrator(3), ToOrigin(), 1, np.random.default_rng(1))
    s = np.array([0.8])
    first = None
    for t in range(15):
        a = planner.plan(s, t)
        assert -1.0 <= a[0] <= 1.0
        first = a[0] if first is None else first
        s = s + a
    assert first < -0.3
    assert abs(s[0]) < 0.1


@pytest.mark.parametrize("optimizer", ["mppi", "cem"])
def test_task_from_state_is_what_each_step_optimizes(optimizer: str) -> None:
    class Carrot:
        """Target 0.3 ahead of where the state is measured (a task anchored to the state)."""

        def __init__(self, target: float = 0.0) -> None:
            self.target = target

        def from_state(self, state, t):
            return Carrot(float(state[0]) + 0.3)

        def reward(self, states, actions, t):
            r = -((states[..., 0] - self.target) ** 2)
            return r, np.zeros(r.shape, bool)

    task = Carrot()
    cfg = PlannerConfig(optimizer=optimizer, num_samples=2000, horizon=1, beta=1.0, sigma=0.5, gamma=200.0)
    planner = SamplingPlanner(cfg, Integrator(), task, 1, np.random.default_rng(3))
    for s0 in (0.5, -0.2):  # the best action is +0.3 from wherever the state is, not -s0 (the unanchored target 0)
        planner.reset()
        assert planner.plan(np.array([s0]), 0)[0] == pytest.approx(0.3, abs=0.05)
    assert planner.task is task  # the planner keeps the task it was given


def test_non_finite_predictions_are_never_executed() -> None:
    class Diverges(Integrator):
        def predict(self, states, actions):  # any positive action makes the model blow up
            out = np.asarray(states) + np.asarray(actions)[None]
            return np.where(np.asarray(actions)[None] > 0, np.nan, out)

    class PreferUp:
        def reward(self, s, a, t):
            return s[..., 0], np.zeros(s.shape[:-1], bool)

    cfg = PlannerConfig(num_samples=200, horizon=1, beta=1.0)
    planner = SamplingPlanner(cfg, Diverges(), PreferUp(), 1, np.random.default_rng(2))
    action = planner.plan(np.zeros(1), 0)
    # Only samples with u <= 0 are finite; the weighted mean of those is <= 0 despite rewarding "up".
    assert action[0] <= 0.0
    assert 0.0 < planner.last_info["finite_fraction"] < 1.0


def test_all_non_finite_holds_previous_action() -> None:
    class Nan(Integrator):
        def predict(self, states, actions):
            return np.full(np.broadcast_shapes(np.shape(states), (self.ensemble_size,) + np.shape(actions)), np.nan)

    planner = SamplingPlanner(PlannerConfig(num_samples=10, horizon=2), Nan(), ToOrigin(), 2, np.random.default_rng(0))
    planner.reset(prev_action=np.array([0.25, -0.5]))
    np.testing.assert_array_equal(planner.plan(np.zeros(2), 0), [0.25, -0.5])


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        PlannerConfig(optimizer="ilqr")
    with pytest.raises(ValueError, match="beta"):
        PlannerConfig(beta=0.0)
