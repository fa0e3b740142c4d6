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
from anima.models.solar.state import StateSpec, StateTracker, embed_cost, episode_states

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
