"""Structured VAE: it learns to reconstruct a toy image set; the beta schedule; the KL formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anima.models.solar.networks import SpatialSoftmaxEncoder
from anima.models.solar.vae import StructuredVAE, VAEConfig, gaussian_kl, kl_beta, train_epochs
from anima.sim_bridge.envs.planar_reacher import ReacherConfig
from anima.sim_bridge.envs.reacher_pixels import render_reacher


def _toy_episodes(n: int = 2, t_len: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reacher frames along joint sweeps: images (n, T+1, 64, 64, 3), actions (n, T, 2), rewards (n, T)."""
    rng = np.random.default_rng(0)
    cfg = ReacherConfig()
    q0 = rng.uniform(-np.pi, np.pi, size=(n, 2))
    images = np.stack([[render_reacher(q0[i] + 0.3 * t, np.array([0.0, 0.12]), cfg) for t in range(t_len + 1)] for i in range(n)])
    return images, rng.normal(size=(n, t_len, 2)), -rng.uniform(0, 2, size=(n, t_len))


def test_reconstruction_loss_drops_by_a_factor_of_four_on_a_toy_set() -> None:
    torch.manual_seed(0)
    images, actions, rewards = _toy_episodes()
    vae = StructuredVAE(VAEConfig(), horizon=3, action_dim=2)
    opt = vae.make_optimizer()
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    _, first = train_epochs(vae, opt, images, actions, rewards, 1, 0, rng, gen)
    _, later = train_epochs(vae, opt, images, actions, rewards, 40, 1, rng, gen)
    assert later[-1]["recon"] < first[0]["recon"] / 4
    recon = vae.reconstruct(images[0])
    assert recon.shape == images[0].shape and recon.dtype == np.uint8


def test_beta_is_annealed_linearly_then_capped() -> None:
    cfg = VAEConfig()
    assert kl_beta(0, cfg) == pytest.approx(1e-4)
    assert kl_beta(1000, cfg) == pytest.approx(1e-4 + 0.05)
    assert kl_beta(10**7, cfg) == 10.0


def test_gaussian_kl_matches_the_closed_form() -> None:
    """KL(N(1, 4) || N(0, 1)) = 0.5 (4 + 1 - 1 - ln 4) = 2 - ln 2."""
    kl = gaussian_kl(torch.tensor([1.0]), torch.log(torch.tensor([4.0])), torch.tensor([0.0]), torch.tensor([0.0]))
    assert float(kl) == pytest.approx(2 - np.log(2), rel=1e-6)


def test_encode_means_has_the_latent_shape() -> None:
    images, _, _ = _toy_episodes(2, 2)
    z = StructuredVAE(VAEConfig(), 2, 2).encode_means(images)
    assert z.shape == (2, 3, 10) and np.isfinite(z).all()


def test_the_reward_model_refit_learns_a_quadratic_reward_and_leaves_the_encoder_alone() -> None:
    """Rewards -|z - g|^2 on latents the pretrained model never saw near g: the refit brings the model's
    minimum to g, ranks the latent at g best, and touches only L, c, b."""
    torch.manual_seed(0)
    vae = StructuredVAE(VAEConfig(latent_dim=3), horizon=5, action_dim=2)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2000, 3)) * 2.0
    goal = np.array([1.0, -0.5, 0.25])
    reward = -0.5 * ((z - goal) ** 2).sum(1)
    encoder = {k: v.clone() for k, v in vae.encoder.state_dict().items()}
    info = vae.fit_reward_model(z, reward, steps=3000)
    assert info["reward_rmse_after"] < 0.05 * info["reward_rmse_before"]
    cost = vae.quadratic_cost(0.0)
    np.testing.assert_allclose(np.linalg.solve(cost.Cxx, -cost.cx), goal, atol=0.05)
    probes = np.stack([goal, goal + 0.5, goal - 1.0])
    assert np.argmin(cost(probes)) == 0
    for k, v in vae.encoder.state_dict().items():
        assert torch.equal(v, encoder[k]), k
    with pytest.raises(ValueError, match="finite latents"):
        vae.fit_reward_model(np.full((4, 3), np.nan), np.zeros(4), steps=1)


def test_structured_inference_learns_the_toy_set_and_trains_the_dynamics_prior() -> None:
    """vae.inference smooth (the paper's): the reconstruction drops as with per-frame inference, the KL is the
    exact one of the smoothed posterior (finite, >= 0), and its gradient reaches the LDS prior."""
    torch.manual_seed(0)
    images, actions, rewards = _toy_episodes()
    vae = StructuredVAE(VAEConfig(inference="smooth"), horizon=3, action_dim=2)
    A0 = vae.A.detach().clone()
    opt = vae.make_optimizer()
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    _, first = train_epochs(vae, opt, images, actions, rewards, 1, 0, rng, gen)
    _, later = train_epochs(vae, opt, images, actions, rewards, 40, 1, rng, gen)
    assert later[-1]["recon"] < first[0]["recon"] / 4
    assert all(row["kl"] >= 0 and np.isfinite(row["kl"]) for row in first + later)
    assert not torch.equal(vae.A.detach(), A0)  # the prior learns from the structured KL
    z = vae.filtered_means(images, actions)
    assert z.shape == (2, 4, 10) and np.isfinite(z).all()


def test_filtered_means_are_what_the_step_filter_gives() -> None:
    from anima.models.solar.lds import LdsFilter

    torch.manual_seed(1)
    images, actions, _ = _toy_episodes(1, 3)
    vae = StructuredVAE(VAEConfig(inference="smooth"), horizon=3, action_dim=2)
    with torch.no_grad():
        vae.A.add_(0.1 * torch.randn_like(vae.A))
        vae.B.add_(0.1 * torch.randn_like(vae.B))
    batch = vae.filtered_means(images, actions)[0]
    mean, logvar = vae.encode_potentials(images[0])
    f = LdsFilter(vae.lds_params())
    for t in range(4):
        np.testing.assert_allclose(f.update(mean[t], logvar[t], actions[0, t - 1] if t else None), batch[t], atol=1e-6)


def test_an_unknown_inference_is_refused() -> None:
    with pytest.raises(ValueError, match="inference must be one of"):
        VAEConfig(inference="particle")


def test_lds_rollout_is_k_steps_of_the_mean_dynamics() -> None:
    """z_{t+k} = A z + B u + a applied k times with each step's own (A_t, B_t, a_t), from every start step t."""
    torch.manual_seed(2)
    vae = StructuredVAE(VAEConfig(latent_dim=3), horizon=5, action_dim=2)
    with torch.no_grad():
        for p in (vae.A, vae.B, vae.a):
            p.add_(0.3 * torch.randn_like(p))
    z, u = torch.randn(2, 4, 3), torch.randn(2, 5, 2)
    got = vae.lds_rollout(z, u, 2)
    A, B, a = (p.detach().numpy() for p in (vae.A, vae.B, vae.a))
    for b in range(2):
        for t in range(4):
            want = z[b, t].numpy()
            for s in (t, t + 1):
                want = A[s] @ want + B[s] @ u[b, s].numpy() + a[s]
            np.testing.assert_allclose(got[b, t].detach().numpy(), want, rtol=1e-5, atol=1e-5)


def _moving_episodes(n: int, t_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arm swept at a constant velocity that differs between episodes (+-0.25 rad per step): frame t+k
    follows from frame t only with the velocity. Actions carry nothing (zeros)."""
    rng = np.random.default_rng(3)
    cfg = ReacherConfig()
    q0 = rng.uniform(-np.pi, np.pi, size=(n, 2))
    v = rng.choice([-0.25, 0.25], size=(n, 2))
    images = np.stack([[render_reacher(q0[i] + v[i] * t, np.array([0.0, 0.12]), cfg) for t in range(t_len + 1)] for i in range(n)])
    return images, np.zeros((n, t_len, 2)), -rng.uniform(0, 2, size=(n, t_len))


def test_the_predictive_term_trains_the_lds_to_predict_frames_k_steps_on() -> None:
    """vae.predict_steps k (not in the paper): the loss also decodes frame t+k from the LDS's k-step prediction from
    z_t; on sweeps at per-episode velocities that prediction's error falls by a factor of three."""
    torch.manual_seed(0)
    images, actions, rewards = _moving_episodes(2, 4)
    vae = StructuredVAE(VAEConfig(inference="smooth", predict_steps=2), horizon=4, action_dim=2)
    opt = vae.make_optimizer()
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    _, rows = train_epochs(vae, opt, images, actions, rewards, 40, 0, rng, gen)
    assert rows[-1]["pred_recon"] < rows[0]["pred_recon"] / 3


def test_a_second_order_lds_integrates_velocities_into_positions() -> None:
    """vae.lds_structure second_order: z = [p, v] with p_{t+1} = p_t + v_t fixed (no action or offset on p); only the
    velocity rows are learned, and the run-time filter gets the same dynamics as training."""
    torch.manual_seed(3)
    vae = StructuredVAE(VAEConfig(latent_dim=4, inference="smooth", lds_structure="second_order"), horizon=3, action_dim=2)
    with torch.no_grad():
        for p in (vae.A, vae.B, vae.a):
            p.add_(torch.randn_like(p))
    A, B, a = (x.detach().numpy() for x in vae.transition())
    np.testing.assert_array_equal(A[:, :2], np.tile(np.hstack([np.eye(2), np.eye(2)]), (3, 1, 1)))
    np.testing.assert_array_equal(B[:, :2], 0.0)
    np.testing.assert_array_equal(a[:, :2], 0.0)
    np.testing.assert_array_equal(A[:, 2:], vae.A.detach().numpy()[:, 2:])
    np.testing.assert_array_equal(vae.lds_params().A, A)
    z = torch.tensor([[[1.0, 2.0, 0.5, -0.25]]])
    p_next = vae.lds_rollout(z, torch.zeros(1, 3, 2), 1)[0, 0, :2]
    np.testing.assert_allclose(p_next.detach().numpy(), [1.5, 1.75], rtol=1e-6)
    images, actions, rewards = _moving_episodes(2, 3)
    loss, _ = vae.loss(torch.from_numpy(images), torch.as_tensor(actions, dtype=torch.float32),
                       torch.as_tensor(rewards, dtype=torch.float32), 1.0)
    loss.backward()
    assert float(vae.A.grad[:, :2].abs().sum()) == 0.0 and float(vae.A.grad[:, 2:].abs().sum()) > 0


def test_a_second_order_lds_needs_an_even_latent_and_a_known_structure() -> None:
    with pytest.raises(ValueError, match="latent_dim must be even"):
        VAEConfig(latent_dim=5, lds_structure="second_order")
    with pytest.raises(ValueError, match="lds_structure must be one of"):
        VAEConfig(lds_structure="third_order")


def test_a_negative_predict_steps_is_refused() -> None:
    with pytest.raises(ValueError, match="predict_steps must be >= 0"):
        VAEConfig(predict_steps=-1)


def test_spatial_softmax_points_are_the_image_positions_of_the_feature_peaks() -> None:
    enc = SpatialSoftmaxEncoder(latent_dim=4, image_size=64, temperature=0.01)
    peaks = [(5, 50), (40, 12)]  # (row, column) of each map's single peak

    class Peaks(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(len(x), 2, 64, 64)
            for i, (r, c) in enumerate(peaks):
                out[:, i, r, c] = 1.0
            return out

    enc.conv = Peaks()
    points = enc.feature_points(torch.zeros(3, 64, 64, 3, dtype=torch.uint8)).detach().numpy()
    expect_x = [(c + 0.5) / 32 - 1 for _, c in peaks]
    expect_y = [1 - (r + 0.5) / 32 for r, _ in peaks]  # +y up
    np.testing.assert_allclose(points, np.tile(expect_x + expect_y, (3, 1)), atol=1e-4)
    mean, logvar = enc(torch.zeros(1, 64, 64, 3, dtype=torch.uint8))
    np.testing.assert_allclose(mean.detach().numpy()[0], expect_x + expect_y, atol=1e-4)  # scale 1, offset 0 at start
    assert logvar.shape == (1, 4)


def test_a_spatial_softmax_vae_learns_the_toy_set() -> None:
    torch.manual_seed(0)
    images, actions, rewards = _toy_episodes()
    vae = StructuredVAE(VAEConfig(encoder="spatial_softmax"), horizon=3, action_dim=2)
    assert isinstance(vae.encoder, SpatialSoftmaxEncoder)
    opt = vae.make_optimizer()
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    _, first = train_epochs(vae, opt, images, actions, rewards, 1, 0, rng, gen)
    _, later = train_epochs(vae, opt, images, actions, rewards, 80, 1, rng, gen)  # the points find the arm after ~40 epochs
    assert later[-1]["recon"] < first[0]["recon"] / 4
    assert vae.encode_means(images).shape == (2, 4, 10)


def test_a_spatial_softmax_encoder_needs_an_even_latent_and_a_known_name() -> None:
    with pytest.raises(ValueError, match="spatial_softmax .* latent_dim must be even, got 9"):
        VAEConfig(encoder="spatial_softmax", latent_dim=9)
    with pytest.raises(ValueError, match="VAEConfig.encoder must be one of .*got 'resnet'"):
        VAEConfig(encoder="resnet")
