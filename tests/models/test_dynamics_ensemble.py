"""DynamicsEnsemble: fit on synthetic dynamics, folded-normalizer inference, save/load refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anima.models.dynamics_ensemble import DynamicsEnsemble, EnsembleConfig

SMALL = EnsembleConfig(ensemble_size=2, hidden_sizes=(64, 64), epochs=40, batch_size=256)


def _linear_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # s' = s + 0.1 (A s + B a) with fixed A, B: a smooth, known map the MLPs can fit.
    a_mat = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.5], [0.0, -0.5, -0.2]])
    b_mat = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    s = rng.uniform(-1, 1, (n, 3))
    a = rng.uniform(-1, 1, (n, 2))
    return s, a, s + 0.1 * (s @ a_mat.T + a @ b_mat.T)


def test_fit_learns_synthetic_dynamics() -> None:
    rng = np.random.default_rng(0)
    s, a, s2 = _linear_data(rng, 3000)
    model = DynamicsEnsemble(3, 2, SMALL, generator=torch.Generator().manual_seed(0))
    losses = model.fit(s, a, s2, rng)
    assert losses[-1] < 0.1 * losses[0]
    ts, ta, ts2 = _linear_data(np.random.default_rng(1), 500)
    pred = model.predict(ts, ta)  # (E, N, S)
    assert pred.shape == (2, 500, 3)
    # Error relative to the spread of the true deltas (std ~0.06-0.13 per dim): below 10%.
    rel = np.abs(pred - ts2).mean(axis=(0, 1)) / (ts2 - ts).std(axis=0)
    assert np.all(rel < 0.1), rel


def _trained_small(seed: int = 0) -> DynamicsEnsemble:
    rng = np.random.default_rng(seed)
    s, a, s2 = _linear_data(rng, 600)
    model = DynamicsEnsemble(3, 2, EnsembleConfig(ensemble_size=3, hidden_sizes=(16, 16), epochs=2), joint_names=("j1", "j2"))
    model.fit(s * 5 + 2, a, s2 * 5 + 2, rng)  # non-trivial normalizers (mean 2, std ~3)
    return model


def test_predict_equals_explicit_normalized_forward() -> None:
    model = _trained_small()
    rng = np.random.default_rng(3)
    s, a = rng.normal(2, 3, (7, 3)).astype(np.float32), rng.uniform(-1, 1, (7, 2)).astype(np.float32)
    nz = model.normalizers
    x = np.concatenate([nz.state.normalize(s), nz.action.normalize(a)], axis=1)
    with torch.no_grad():
        y = model.forward_normalized(torch.as_tensor(x).expand(3, -1, -1)).numpy()
    expected = s + nz.delta.denormalize(y)  # s' = s + denorm(f(norm(s), norm(a)))
    np.testing.assert_allclose(model.predict(s, a), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["loop", "bmm"])
def test_rollout_equals_repeated_predict(backend: str) -> None:
    model = _trained_small()
    rng = np.random.default_rng(4)
    s0 = rng.normal(2, 3, 3).astype(np.float32)
    u = rng.uniform(-1, 1, (5, 4, 2)).astype(np.float32)
    out = model.rollout(s0, u, backend=backend)  # (H, E, N, S)
    assert out.shape == (4, 3, 5, 3)
    s = np.broadcast_to(s0, (3, 5, 3))
    for t in range(4):
        s = model.predict(s, u[:, t])
        np.testing.assert_allclose(out[t], s, rtol=1e-5, atol=1e-4)


def test_bf16_rollout_stays_close_to_float32() -> None:
    """bfloat16 matmuls on normalized inputs: per-step deviation from float32 within 2 % of each
    state dimension's spread (the models' own one-step error is tens of percent of it)."""
    model = _trained_small()
    rng = np.random.default_rng(5)
    s0 = rng.normal(2, 3, 3).astype(np.float32)
    u = rng.uniform(-1, 1, (64, 4, 2)).astype(np.float32)
    exact = model.rollout(s0, u, backend="loop").copy()  # the buffer is reused by the next rollout
    low = model.rollout(s0, u, backend="bf16")
    assert low.dtype == np.float32 and low.shape == exact.shape
    spread = model.normalizers.state.std
    assert np.max(np.abs(low - exact)[0] / spread) < 0.02
    assert np.median(np.abs(low - exact) / spread) < 0.01
    assert not np.array_equal(low, exact)  # it really ran in bfloat16


def test_backend_names_and_auto(tmp_path: Path) -> None:
    from anima.models.dynamics_ensemble import cpu_has_native_bf16, resolve_backend

    with pytest.raises(ValueError, match="rollout backend must be one of"):
        resolve_backend("fp8")
    assert resolve_backend("auto") == ("bf16" if cpu_has_native_bf16() else "loop")
    with_bf16, without = tmp_path / "cpuinfo_bf16", tmp_path / "cpuinfo_avx2"  # read once per path
    with_bf16.write_text("processor : 0\nflags : fpu sse avx512f avx512_bf16\n")
    without.write_text("processor : 0\nflags : fpu sse avx2\n")
    assert cpu_has_native_bf16(str(with_bf16))
    assert not cpu_has_native_bf16(str(without))
    assert not cpu_has_native_bf16(str(tmp_path / "missing"))


def test_save_load_roundtrip_and_refusals(tmp_path: Path) -> None:
    model = _trained_small()
    path = tmp_path / "m.pt"
    model.save(path)
    loaded = DynamicsEnsemble.load(path, state_dim=3, action_dim=2, joint_names=["j1", "j2"])
    s, a = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    np.testing.assert_array_equal(loaded.predict(s, a), model.predict(s, a))
    assert loaded.config == model.config
    with pytest.raises(ValueError, match="state_dim is 3 in the checkpoint, 40 expected"):
        DynamicsEnsemble.load(path, state_dim=40)
    with pytest.raises(ValueError, match="action_dim is 2 in the checkpoint, 24 expected"):
        DynamicsEnsemble.load(path, action_dim=24)
    with pytest.raises(ValueError, match=r"joint_names differ \(missing \['j3'\], unexpected \['j2'\]\)"):
        DynamicsEnsemble.load(path, joint_names=["j1", "j3"])
    with pytest.raises(ValueError, match="different order"):
        DynamicsEnsemble.load(path, joint_names=["j2", "j1"])


def test_fit_rejects_non_finite_rows() -> None:
    s = np.zeros((10, 3))
    s[4, 1] = np.nan
    model = DynamicsEnsemble(3, 2, SMALL)
    with pytest.raises(ValueError, match="states has non-finite values in row 4"):
        model.fit(s, np.zeros((10, 2)), np.zeros((10, 3)), np.random.default_rng(0))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="ensemble_size"):
        EnsembleConfig(ensemble_size=0)
    with pytest.raises(ValueError, match="noise_to_signal"):
        EnsembleConfig(noise_to_signal=-1)
