"""The SOLAR policy file: save/load round trip, refusals naming what differs, the linear-Gaussian act."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anima.models.checkpoint import CheckpointError
from anima.models.solar.networks import Encoder, SpatialSoftmaxEncoder
from anima.models.solar.policy import FORMAT, LEGACY_REACHER_TORQUE_NM, SolarPolicy, make_spec, torque_limit_of

T, DU, DZ = 5, 2, 10


def _policy(seed: int = 0) -> SolarPolicy:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    spec = make_spec("reacher", DZ, T, 0.05, "joint_torque", [-1, -1], [1, 1], torque_limit_nm=0.1)
    return SolarPolicy(spec, Encoder(DZ, 64), rng.normal(size=(T, DU, DZ)) * 0.1, rng.normal(size=(T, DU)) * 0.1,
                       np.tile(0.25 * np.eye(DU), (T, 1, 1)))


def test_save_load_round_trip_gives_the_same_latents_and_actions(tmp_path: Path) -> None:
    p = _policy()
    p.save(tmp_path / "p.pt")
    q = SolarPolicy.load(tmp_path / "p.pt", expect_task="reacher", expect_latent_dim=DZ)
    assert q.spec == p.spec and q.spec["format"] == FORMAT
    img = np.random.default_rng(1).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    z = p.encode(img)
    assert z.shape == (DZ,) and z.dtype == np.float32
    np.testing.assert_allclose(q.encode(img), z, atol=1e-6)
    for t in range(T):
        np.testing.assert_allclose(q.act(t, z), p.act(t, z), atol=1e-5)


def test_act_is_k_times_z_plus_k_clipped_and_holds_the_last_step() -> None:
    p = _policy()
    z = np.linspace(-1, 1, DZ)
    expected = np.clip(p.K[2] @ z + p.k[2], -1, 1)
    np.testing.assert_allclose(p.act(2, z), expected, atol=1e-6)
    np.testing.assert_allclose(p.act(T + 7, z), np.clip(p.K[-1] @ z + p.k[-1], -1, 1), atol=1e-6)
    big = p.act(0, 1e3 * np.ones(DZ))
    assert np.all(np.abs(big) <= 1.0)


def test_exploration_noise_has_the_policy_std() -> None:
    p = _policy()
    rng = np.random.default_rng(0)
    z = np.zeros(DZ)
    p.k[:] = 0.0  # centre the mean so clipping at +-1 barely matters for std 0.5
    u = np.array([p.act(1, z, explore=True, rng=rng) for _ in range(4000)])
    assert np.allclose(u.std(0), 0.5, atol=0.03)
    assert not np.allclose(p.act(1, z), u[0])


def test_load_refuses_another_task_or_latent_size_naming_what_differs(tmp_path: Path) -> None:
    _policy().save(tmp_path / "p.pt")
    with pytest.raises(CheckpointError, match=r"task is 'reacher', expected 'sawyer_push'"):
        SolarPolicy.load(tmp_path / "p.pt", expect_task="sawyer_push")
    with pytest.raises(CheckpointError, match=r"latent_dim is 10, expected 8"):
        SolarPolicy.load(tmp_path / "p.pt", expect_latent_dim=8)


def test_load_refuses_nan_gains(tmp_path: Path) -> None:
    p = _policy()
    p.save(tmp_path / "p.pt")
    data = torch.load(tmp_path / "p.pt", weights_only=True)
    data["K"][0, 0, 0] = float("nan")
    torch.save(data, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="K has 1 non-finite"):
        SolarPolicy.load(tmp_path / "nan.pt")


def test_load_refuses_a_file_of_another_format(tmp_path: Path) -> None:
    torch.save({"format": "anima.vice_raq.policy"}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="not a SOLAR policy"):
        SolarPolicy.load(tmp_path / "x.pt")


def test_encode_refuses_wrong_shape_or_dtype() -> None:
    p = _policy()
    with pytest.raises(ValueError, match=r"\(64, 64, 3\) uint8 RGB image, got \(48, 48, 3\) uint8"):
        p.encode(np.zeros((48, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="float32"):
        p.encode(np.zeros((64, 64, 3), np.float32))


def test_a_joint_torque_spec_records_the_arms_torque_and_only_it_does() -> None:
    spec = make_spec("reacher", DZ, T, 0.05, "joint_torque", [-1, -1], [1, 1], torque_limit_nm=0.1)
    assert torque_limit_of(spec) == 0.1
    with pytest.raises(ValueError, match="torque_limit_nm .* is required for joint_torque actions"):
        make_spec("reacher", DZ, T, 0.05, "joint_torque", [-1, -1], [1, 1])
    with pytest.raises(ValueError, match="only for them; action_kind 'ee_delta'"):
        make_spec("sawyer_reach", DZ, T, 0.1, "ee_delta", [-1] * 4, [1] * 4, torque_limit_nm=0.1)
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="torque_limit_nm must be a finite value > 0"):
            make_spec("reacher", DZ, T, 0.05, "joint_torque", [-1, -1], [1, 1], torque_limit_nm=bad)
    legacy = {k: v for k, v in spec.items() if k != "torque_limit_nm"}  # files before the key: the 0.02 N m arm
    assert torque_limit_of(legacy) == LEGACY_REACHER_TORQUE_NM == 0.02


def test_load_refuses_a_bad_torque_limit_naming_the_file(tmp_path: Path) -> None:
    _policy().save(tmp_path / "p.pt")
    data = torch.load(tmp_path / "p.pt", weights_only=True)
    data["spec"]["torque_limit_nm"] = -1.0
    torch.save(data, tmp_path / "p.pt")
    with pytest.raises(CheckpointError, match=r"p.pt: .*torque_limit_nm must be a finite value > 0"):
        SolarPolicy.load(tmp_path / "p.pt")


def _filtered_policy(seed: int = 0) -> tuple[SolarPolicy, "LdsParams"]:
    from anima.models.solar.lds import LdsParams

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    spec = make_spec("reacher", DZ, T, 0.05, "joint_torque", [-1, -1], [1, 1], torque_limit_nm=0.1,
                     state={"kind": "filtered", "diff_scale": 1.0})
    lds = LdsParams(np.eye(DZ) + 0.05 * rng.normal(size=(T, DZ, DZ)), 0.1 * rng.normal(size=(T, DZ, DU)),
                    0.1 * rng.normal(size=(T, DZ)), np.full((T, DZ), -2.0))
    return SolarPolicy(spec, Encoder(DZ, 64), rng.normal(size=(T, DU, DZ)) * 0.1, np.zeros((T, DU)),
                       np.tile(0.25 * np.eye(DU), (T, 1, 1)), lds=lds), lds


def test_a_filtered_policy_carries_its_dynamics_and_acts_on_the_filtered_latent(tmp_path: Path) -> None:
    from anima.models.solar.lds import LdsFilter

    p, lds = _filtered_policy()
    p.save(tmp_path / "f.pt")
    q = SolarPolicy.load(tmp_path / "f.pt", expect_task="reacher", expect_latent_dim=DZ)
    np.testing.assert_allclose(q.lds.A, lds.A, atol=1e-6)
    images = np.random.default_rng(3).integers(0, 256, size=(4, 64, 64, 3), dtype=np.uint8)
    actor, f = q.actor(), LdsFilter(lds)
    u_prev = None
    for t, image in enumerate(images):
        m, lv = p.encode_potential(image)
        x = f.update(m, lv, u_prev)
        u_prev = np.clip(p.K[t] @ x, -1, 1)
        np.testing.assert_allclose(actor(t, image), u_prev, atol=1e-4)
    with pytest.raises(ValueError, match="needs the encoder's log-variance"):
        q.tracker().state(m)


def test_a_filtered_policy_without_dynamics_or_with_bad_ones_is_refused(tmp_path: Path) -> None:
    p, lds = _filtered_policy()
    with pytest.raises(ValueError, match="lds\\) are part of a policy of state kind 'filtered'"):
        SolarPolicy(p.spec, p.encoder, p.K, p.k, p.cov)
    with pytest.raises(ValueError, match="lds\\) are part of a policy of state kind 'filtered'"):
        SolarPolicy(_policy().spec, p.encoder, p.K, p.k, p.cov, lds=lds)
    p.save(tmp_path / "f.pt")
    data = torch.load(tmp_path / "f.pt", weights_only=True)
    data["lds"]["B"][0, 0, 0] = float("nan")
    torch.save(data, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="nan.pt"):
        SolarPolicy.load(tmp_path / "nan.pt")
    del data["lds"]
    torch.save(data, tmp_path / "none.pt")
    with pytest.raises(CheckpointError, match="none.pt.*state kind 'filtered'"):
        SolarPolicy.load(tmp_path / "none.pt")


def _spatial_policy(seed: int = 0) -> SolarPolicy:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    spec = make_spec("reacher", DZ, T, 0.05, "joint_torque", [-1, -1], [1, 1], torque_limit_nm=0.1, encoder="spatial_softmax")
    return SolarPolicy(spec, SpatialSoftmaxEncoder(DZ, 64), rng.normal(size=(T, DU, DZ)) * 0.1, rng.normal(size=(T, DU)) * 0.1,
                       np.tile(0.25 * np.eye(DU), (T, 1, 1)))


def test_a_spatial_softmax_policy_round_trips_and_its_spec_names_the_encoder(tmp_path: Path) -> None:
    p = _spatial_policy()
    assert p.spec["encoder"] == "spatial_softmax" and _policy().spec["encoder"] == "conv"
    p.save(tmp_path / "p.pt")
    q = SolarPolicy.load(tmp_path / "p.pt", expect_task="reacher", expect_latent_dim=DZ)
    assert isinstance(q.encoder, SpatialSoftmaxEncoder)
    img = np.random.default_rng(1).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(q.encode(img), p.encode(img), atol=1e-6)


def test_a_file_without_an_encoder_entry_is_the_papers_conv_encoder(tmp_path: Path) -> None:
    p = _policy()
    p.save(tmp_path / "p.pt")
    data = torch.load(tmp_path / "p.pt", weights_only=True)
    del data["spec"]["encoder"]
    torch.save(data, tmp_path / "old.pt")
    assert isinstance(SolarPolicy.load(tmp_path / "old.pt").encoder, Encoder)


def test_an_unknown_or_mismatched_encoder_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="encoder must be one of .*'pixels'"):
        make_spec("reacher", DZ, T, 0.05, "joint_torque", [-1, -1], [1, 1], torque_limit_nm=0.1, encoder="pixels")
    p = _policy()
    with pytest.raises(ValueError, match="encoder is a Encoder, spec says 'spatial_softmax'"):
        SolarPolicy({**p.spec, "encoder": "spatial_softmax"}, p.encoder, p.K, p.k, p.cov)
    p.save(tmp_path / "p.pt")
    data = torch.load(tmp_path / "p.pt", weights_only=True)
    data["spec"]["encoder"] = "spatial_softmax"  # conv weights under a spatial-softmax spec
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="bad.pt.*incomplete or inconsistent"):
        SolarPolicy.load(tmp_path / "bad.pt")
