"""The latent dynamics encoder E(z | μ) and its KL bottleneck (Peng et al., RSS 2020, Sec. VI-A)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from anima.models.imitation.latent import MU_DIM, dynamics_vector, kl_to_standard_normal
from anima.models.imitation.latent_policy import LatentEncoder, LatentFeatures
from anima.sim_bridge.randomization import RandomizationParams, RandomizationRanges


def test_kl_against_a_hand_value() -> None:
    # 1-D: mean 1, σ = e^0.5: ½(e^1 + 1 − 1 − 1) = ½(e − 1) = 0.859141; 2-D sums the rows' terms.
    kl = kl_to_standard_normal(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.5], [0.0]]))
    np.testing.assert_allclose(kl.numpy(), [0.5 * (np.e - 1.0), 0.0], rtol=1e-6)
    kl2 = kl_to_standard_normal(torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.0]))
    assert abs(float(kl2) - 0.5 * (np.e - 1.0)) < 1e-6


def test_encoder_output_shape_and_determinism() -> None:
    torch.manual_seed(0)
    enc = LatentEncoder(8)
    mu = torch.randn(5, MU_DIM)
    m1, s1 = enc(mu)
    m2, s2 = enc(mu)
    assert m1.shape == (5, 8) and s1.shape == (5, 8)
    assert torch.equal(m1, m2) and torch.equal(s1, s2)
    assert not torch.equal(m1[0], m1[1])  # it depends on μ


def test_features_reparameterise_z_and_keep_the_kl() -> None:
    space = gym.spaces.Box(-np.inf, np.inf, (4 + MU_DIM + 8,), np.float32)
    feats = LatentFeatures(space, state_dim=4, z_dim=8)
    s, mu, eps = torch.randn(3, 4), torch.randn(3, MU_DIM), torch.randn(3, 8)
    out = feats(torch.cat([s, mu, eps], -1))
    mean, log_std = feats.encoder(mu)
    assert out.shape == (3, 12)
    torch.testing.assert_close(out[:, :4], s)
    torch.testing.assert_close(out[:, 4:], mean + torch.exp(log_std) * eps)
    torch.testing.assert_close(feats.last_kl, kl_to_standard_normal(mean, log_std))


def test_dynamics_vector_maps_the_training_ranges_to_minus_one_one() -> None:
    ranges = RandomizationRanges()
    low = RandomizationParams(mass_scale=np.full(17, 0.8), motor_strength_scale=np.full(12, 1.2), foot_friction=0.875,
                              latency_s=0.05)
    mu = dynamics_vector(low, ranges)
    # mass at the low end -1; strength at the high end +1; foot friction mid 0; latency 0.05 over [0, 0.04] -> 1.5
    np.testing.assert_allclose(mu, [-1.0, 0.0, 1.0, 0.0, 0.0, 1.5, 0.0])
    assert np.all(dynamics_vector(low, None) == 0)
