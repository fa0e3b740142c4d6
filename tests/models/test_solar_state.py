"""The SOLAR controller state (models/solar/state.py): whole episodes and the online tracker agree, the
cost sits on the latent part, and a latent_history policy file round-trips and acts on that state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anima.models.solar.cost import QuadraticCost
from anima.models.solar.networks import Encoder
from anima.models.solar.policy import SolarPolicy, make_spec
from anima.models.solar.state import Projection, StateSpec, StateTracker, embed_cost, episode_states, principal_projection

DZ, DU, T = 3, 2, 6
SPEC = StateSpec("latent_history", DZ, DU, 20.0)


def test_episode_states_are_latent_scaled_change_and_last_action() -> None:
    rng = np.random.default_rng(0)
    z, u = rng.normal(size=(2, T + 1, DZ)), rng.normal(size=(2, T, DU))
    x = episode_states(SPEC, z, u)
    assert x.shape == (2, T + 1, 2 * DZ + DU) == (2, T + 1, SPEC.dim)
    np.testing.assert_allclose(x[:, 0], np.concatenate([z[:, 0], np.zeros((2, DZ + DU))], axis=1))  # at rest
    np.testing.assert_allclose(x[1, 4], np.concatenate([z[1, 4], 20.0 * (z[1, 4] - z[1, 3]), u[1, 3]]))


def test_the_tracker_builds_the_same_states_online() -> None:
    rng = np.random.default_rng(1)
    z, u = rng.normal(size=(T + 1, DZ)), rng.normal(size=(T, DU))
    track = StateTracker(SPEC)
    online = []
    for t in range(T + 1):
        online.append(track.state(z[t]))
        if t < T:
            track.applied(u[t])
    np.testing.assert_allclose(np.array(online), episode_states(SPEC, z[None], u[None])[0])
    track.reset()
    np.testing.assert_allclose(track.state(z[3]), np.concatenate([z[3], np.zeros(DZ + DU)]))


def test_latent_kind_is_the_latent_itself() -> None:
    spec = StateSpec("latent", DZ, DU)
    z = np.arange(DZ, dtype=float)
    assert spec.dim == DZ
    np.testing.assert_array_equal(StateTracker(spec).state(z), z)
    zz = np.random.default_rng(3).normal(size=(1, T + 1, DZ))
    np.testing.assert_array_equal(episode_states(spec, zz, np.zeros((1, T, DU))), zz)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "smoothed"}, "state kind must be one of"),
    ({"diff_scale": 0.0}, "diff_scale > 0"),
    ({"diff_scale": float("nan")}, "diff_scale > 0"),
])
def test_a_bad_state_spec_is_refused(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        StateSpec(**{"kind": "latent_history", "latent_dim": DZ, "action_dim": DU, **kwargs})


def test_episode_states_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="episode_states: need latents"):
        episode_states(SPEC, np.zeros((1, T + 1, DZ)), np.zeros((1, T + 1, DU)))


def test_the_cost_acts_on_the_latent_part_only() -> None:
    cost = QuadraticCost(np.diag([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3]), 4.0, 0.01)
    full = embed_cost(cost, SPEC)
    x = np.concatenate([[1.0, -1.0, 2.0], 5.0 * np.ones(DZ + DU)])
    assert full(x) == pytest.approx(cost(x[:DZ]), abs=1e-4)  # the rest costs only min_eig
    with pytest.raises(ValueError, match="the latent has 3"):
        embed_cost(QuadraticCost(np.eye(2), np.zeros(2), 0.0, 0.01), SPEC)


def test_a_latent_history_policy_round_trips_and_acts_on_its_state(tmp_path: Path) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    spec = make_spec("reacher", DZ, T, 0.05, "joint_torque", [-1, -1], [1, 1], state=SPEC.to_dict(), torque_limit_nm=0.1)
    K = rng.normal(size=(T, DU, SPEC.dim)) * 0.1
    policy = SolarPolicy(spec, Encoder(DZ, 64), K, np.zeros((T, DU)), np.tile(0.25 * np.eye(DU), (T, 1, 1)))
    policy.save(tmp_path / "h.pt")
    loaded = SolarPolicy.load(tmp_path / "h.pt", expect_task="reacher", expect_latent_dim=DZ)
    assert loaded.state_spec == SPEC
    images = rng.integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    actor = loaded.actor()
    track = policy.tracker()
    for t, image in enumerate(images):
        x = track.state(policy.encode(image))
        u = np.clip(K[t] @ x, -1, 1)
        np.testing.assert_allclose(actor(t, image), u, atol=1e-5)
        track.applied(u)
    with pytest.raises(ValueError, match="the state must be 8 finite values"):
        loaded.act(0, np.zeros(DZ))  # a bare latent is not this policy's state
    with pytest.raises(ValueError, match="gains must be K"):
        SolarPolicy(spec, Encoder(DZ, 64), K[:, :, :DZ], np.zeros((T, DU)), np.tile(np.eye(DU), (T, 1, 1)))


def _plane_latents(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latents (n, 5) that vary along a 2-D plane (+ 1e-3 noise): positions p (n, 2), the map A (5, 2), latents."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(-1, 1, (n, 2))
    A = rng.normal(size=(5, 2))
    return p, A, p @ A.T + np.array([1.0, 2.0, 3.0, 4.0, 5.0]) + 1e-3 * rng.normal(size=(n, 5))


def test_the_principal_projection_recovers_the_plane_the_latents_vary_in() -> None:
    p, A, z = _plane_latents()
    proj = principal_projection(z, 2)
    assert proj.components == 2 and np.allclose(np.asarray(proj.basis) @ np.asarray(proj.basis).T, np.eye(2))
    y = proj(z)
    W = np.linalg.lstsq(np.c_[y, np.ones(len(y))], p, rcond=None)[0]  # the projection is an invertible linear map of p
    assert np.abs(np.c_[y, np.ones(len(y))] @ W - p).max() < 0.01
    assert principal_projection(z[::-1], 2) == proj or np.allclose(principal_projection(z[::-1], 2).basis, proj.basis)
    assert Projection.from_dict(proj.to_dict()) == proj
    with pytest.raises(ValueError, match="components must be 1..5, got 6"):
        principal_projection(z, 6)
    with pytest.raises(ValueError, match="need at least 2 finite latents"):
        principal_projection(np.full((3, 5), np.nan), 2)


def test_a_projected_state_is_built_from_the_components_online_and_offline_alike() -> None:
    _, _, z = _plane_latents(2 * (T + 1))
    proj = principal_projection(z, 2)
    spec = StateSpec("latent_history", 5, DU, 20.0, proj)
    assert spec.z_dim == 2 and spec.dim == 2 * 2 + DU
    latents, u = z.reshape(2, T + 1, 5), np.random.default_rng(1).normal(size=(2, T, DU))
    states = episode_states(spec, latents, u)
    np.testing.assert_allclose(states[..., :2], proj(latents))
    track = StateTracker(spec)
    for t in range(T + 1):
        np.testing.assert_allclose(track.state(latents[1, t]), states[1, t], atol=1e-12)
        if t < T:
            track.applied(u[1, t])
    cost = embed_cost(QuadraticCost(np.eye(2), np.zeros(2), 0.0, 0.01), spec)
    assert cost.Cxx.shape == (spec.dim, spec.dim)


@pytest.mark.parametrize(("change", "match"), [
    ({"kind": "filtered"}, "projection of the latent is for kinds latent and latent_history"),
    ({"latent_dim": 4}, "projection is of a 5-dimensional latent, the latent has 4"),
])
def test_a_projection_is_refused_where_it_does_not_fit(change, match) -> None:
    proj = principal_projection(_plane_latents()[2], 2)
    with pytest.raises(ValueError, match=match):
        StateSpec(**{"kind": "latent", "latent_dim": 5, "action_dim": DU, "projection": proj, **change})
    with pytest.raises(ValueError, match="basis rows must be orthonormal"):
        Projection(proj.mean, tuple(tuple(2 * v for v in row) for row in proj.basis))
    with pytest.raises(ValueError, match="mapping of mean and basis"):
        Projection.from_dict({"mean": [0.0]})


def test_a_projected_policy_round_trips_and_acts_on_the_components(tmp_path: Path) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    proj = principal_projection(rng.normal(size=(50, 10)) * np.r_[3.0, 2.0, 0.1 * np.ones(8)], 2)
    spec_state = StateSpec("latent_history", 10, DU, 20.0, proj)
    spec = make_spec("reacher", 10, T, 0.05, "joint_torque", [-1, -1], [1, 1], state=spec_state.to_dict(), torque_limit_nm=0.1)
    K = rng.normal(size=(T, DU, spec_state.dim)) * 0.1
    policy = SolarPolicy(spec, Encoder(10, 64), K, np.zeros((T, DU)), np.tile(0.25 * np.eye(DU), (T, 1, 1)))
    policy.save(tmp_path / "p.pt")
    loaded = SolarPolicy.load(tmp_path / "p.pt", expect_task="reacher", expect_latent_dim=10)
    assert loaded.state_spec == spec_state and loaded.K.shape == (T, DU, 6)
    images = rng.integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
    actor, track = loaded.actor(), policy.tracker()
    for t, image in enumerate(images):
        x = track.state(policy.encode(image))
        np.testing.assert_allclose(x[:2], proj(policy.encode(image)), atol=1e-5)
        u = np.clip(K[t] @ x, -1, 1)
        np.testing.assert_allclose(actor(t, image), u, atol=1e-5)
        track.applied(u)
