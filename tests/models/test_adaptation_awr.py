"""AWR latent search (Peng et al., RSS 2020, Sec. VI-B) on synthetic objectives with a known optimum."""

from __future__ import annotations

import numpy as np
import pytest

from anima.models.adaptation.awr import AWRConfig, LatentSearch, awr_weights, weighted_gaussian_fit

Z_STAR = np.array([1.0, -0.5, 0.3, 0.0, 0.8, -1.2, 0.4, -0.2])  # ‖z*‖ = 1.90 from the prior mean 0


def _search(episodes: int, seed: int, noise: float = 0.0) -> LatentSearch:
    search = LatentSearch(8, AWRConfig(), np.random.default_rng(seed))
    noise_rng = np.random.default_rng(seed + 100)
    for _ in range(episodes):
        z = search.ask()
        search.tell(z, -float(np.sum((z - Z_STAR) ** 2)) + noise * noise_rng.standard_normal())
    return search


def test_awr_converges_to_the_optimum_of_a_quadratic() -> None:
    errors = [np.linalg.norm(_search(300, seed).mean - Z_STAR) for seed in range(4)]
    # From 1.90 away; the σ floor of 0.1 in 8-D leaves the mean within ~0.1-0.3 (measured 0.16-0.25 at 200).
    assert max(errors) < 0.5, errors


def test_awr_improves_within_fifty_episodes_under_noise() -> None:
    for seed in range(3):
        s = _search(50, seed, noise=0.3)
        assert np.linalg.norm(s.mean - Z_STAR) < 0.75 * np.linalg.norm(Z_STAR), (seed, s.mean)
        first, last = np.mean(s.returns[:10]), np.mean(s.returns[-10:])
        assert last > first + 1.0, (seed, first, last)


def test_best_z_is_the_highest_return_seen_and_budget_counts_episodes() -> None:
    s = _search(23, seed=0)
    assert s.episodes == 23 and s.updates == 2  # refits after 10 and 20
    k = int(np.argmax(s.returns))
    np.testing.assert_array_equal(s.best_z, s.z[k])
    assert s.best_return == max(s.returns)


def test_weights_and_fit_by_hand() -> None:
    # returns (0, 1, 2): mean 1, std sqrt(2/3) = 0.8165; A = (-1.2247, 0, 1.2247); T = 1 -> exp(A)
    w = awr_weights(np.array([0.0, 1.0, 2.0]), temperature=1.0, max_weight=100.0)
    np.testing.assert_allclose(w, np.exp([-1.2247449, 0.0, 1.2247449]), rtol=1e-6)
    assert awr_weights(np.array([0.0, 1.0, 2.0]), 0.1, 5.0)[2] == 5.0  # clipped at w_max
    # weights (1, 3) on z = 0 and 4 -> mean 3, var (1·9 + 3·1)/4 = 3
    mean, std = weighted_gaussian_fit(np.array([[0.0], [4.0]]), np.array([1.0, 3.0]), 0.1)
    np.testing.assert_allclose(mean, [3.0])
    np.testing.assert_allclose(std, [np.sqrt(3.0)])


@pytest.mark.parametrize("bad", [{"batch": 0}, {"temperature": -1.0}, {"min_std": 2.0}, {"fit_episodes": 1.5}])
def test_bad_config_is_refused_naming_the_field(bad) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        AWRConfig(**bad)


def test_non_finite_return_is_refused() -> None:
    s = LatentSearch(2, AWRConfig(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="finite"):
        s.tell(np.zeros(2), float("nan"))
