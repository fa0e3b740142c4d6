"""Sensor models: quaternion helpers, the latency ring buffer, the IMU noise model (no PyBullet)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anima.sim_bridge.sensors import (DelayBuffer, ImuModel, ImuNoiseConfig, quat_conjugate, quat_from_rotvec,
                                      quat_multiply, quat_rotate, quat_rotate_inverse)

S = math.sqrt(0.5)


def test_quat_rotate_quarter_turn_about_z() -> None:
    # 90° about z: q = (0, 0, sin 45°, cos 45°); x -> y, y -> -x, z unchanged.
    q = np.array([0.0, 0.0, S, S])
    np.testing.assert_allclose(quat_rotate(q, [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(quat_rotate(q, [0.0, 1.0, 0.0]), [-1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(quat_rotate_inverse(q, [0.0, 1.0, 0.0]), [1.0, 0.0, 0.0], atol=1e-12)


def test_load_orientation_maps_urdf_axes_to_body_axes() -> None:
    # R_load = Euler(π/2, 0, π/2) = Rz(π/2)·Rx(π/2) = quaternion (½, ½, ½, ½) (Laikago URDF is y-up):
    # Rx(π/2) sends z -> -y, then Rz(π/2) sends -y -> x, so URDF z (forward) -> body x;
    # URDF x -> x -> y (left); URDF y -> z -> z (up).
    q = np.array([0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(quat_rotate(q, np.eye(3)), [[0, 1, 0], [0, 0, 1], [1, 0, 0]], atol=1e-12)


def test_quat_multiply_composes_rotations_and_broadcasts() -> None:
    qz = np.array([0.0, 0.0, S, S])           # 90° about z
    # two quarter turns about z = half turn: (0, 0, 1, 0)
    np.testing.assert_allclose(quat_multiply(qz, qz), [0.0, 0.0, 1.0, 0.0], atol=1e-12)
    # q ⊗ q⁻¹ = identity, batched over 2 quaternions
    batch = np.stack([qz, [0.5, 0.5, 0.5, 0.5]])
    np.testing.assert_allclose(quat_multiply(batch, quat_conjugate(batch)), [[0, 0, 0, 1]] * 2, atol=1e-12)


def test_quat_from_rotvec() -> None:
    # rotation vector (0, 0, π/2) is the quarter turn about z; a tiny vector gives ≈ (v/2, 1)
    np.testing.assert_allclose(quat_from_rotvec([0.0, 0.0, math.pi / 2]), [0.0, 0.0, S, S], atol=1e-12)
    np.testing.assert_allclose(quat_from_rotvec([1e-10, 0.0, 0.0]), [5e-11, 0.0, 0.0, 1.0], atol=1e-20)
    np.testing.assert_allclose(quat_from_rotvec(np.zeros((2, 3))), [[0, 0, 0, 1]] * 2)


def test_delay_buffer_returns_sample_k_pushes_ago() -> None:
    buf = DelayBuffer(width=2, capacity=4)
    for i in range(6):                        # keeps pushes 2, 3, 4, 5
        buf.push([i, 10 * i])
    assert buf.get(0).tolist() == [5, 50]
    assert buf.get(3).tolist() == [2, 20]
    with pytest.raises(ValueError, match="delay"):
        buf.get(4)


def test_delay_buffer_short_history_and_fill() -> None:
    buf = DelayBuffer(width=1, capacity=5)
    with pytest.raises(RuntimeError):
        buf.get(0)
    buf.push([1.0])
    buf.push([2.0])
    assert buf.get(4).tolist() == [1.0]       # only 2 samples yet: the oldest one is served
    buf.fill([7.0])
    buf.push([8.0])
    assert [buf.get(k)[0] for k in range(5)] == [8.0, 7.0, 7.0, 7.0, 7.0]


def test_delay_buffer_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="capacity"):
        DelayBuffer(width=3, capacity=0)
    with pytest.raises(ValueError, match="width"):
        DelayBuffer(width=0, capacity=3)


def test_imu_without_noise_is_exact() -> None:
    zero = ImuNoiseConfig(0.0, 0.0, 0.0, 0.0, 0.0)
    imu = ImuModel(zero, np.random.default_rng(0))
    q = np.array([0.0, 0.0, S, S])
    r = imu.measure(q, np.array([0.1, 0.2, 0.3]), np.array([0.0, 0.0, 10.0]))
    np.testing.assert_allclose(r.orientation_xyzw, q, atol=1e-15)
    np.testing.assert_array_equal(r.angular_velocity, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(r.linear_acceleration, [0.0, 0.0, 10.0])


def test_imu_bias_is_constant_per_reset_and_seeded() -> None:
    cfg = ImuNoiseConfig(gyro_noise_std_radps=0.01, gyro_bias_std_radps=0.1, accel_noise_std_mps2=0.05,
                         accel_bias_std_mps2=0.2, orientation_noise_std_rad=0.0)
    a = ImuModel(cfg, np.random.default_rng(3))
    b = ImuModel(cfg, np.random.default_rng(3))
    np.testing.assert_array_equal(a.gyro_bias, b.gyro_bias)
    reads = [a.measure(np.array([0, 0, 0, 1.0]), np.zeros(3), np.zeros(3)) for _ in range(2000)]
    gyro = np.array([r.angular_velocity for r in reads])
    accel = np.array([r.linear_acceleration for r in reads])
    # mean of 2000 samples = bias ± 4σ/√2000 (σ = 0.01 -> 0.0009; σ = 0.05 -> 0.0045)
    np.testing.assert_allclose(gyro.mean(axis=0), a.gyro_bias, atol=0.0009)
    np.testing.assert_allclose(accel.mean(axis=0), a.accel_bias, atol=0.0045)
    np.testing.assert_allclose(gyro.std(axis=0), 0.01, rtol=0.1)
    old = a.gyro_bias.copy()
    a.reset(np.random.default_rng(4))
    assert not np.array_equal(old, a.gyro_bias)


def test_imu_orientation_noise_stays_unit_and_small() -> None:
    cfg = ImuNoiseConfig(0.0, 0.0, 0.0, 0.0, orientation_noise_std_rad=0.01)
    imu = ImuModel(cfg, np.random.default_rng(0))
    q = imu.measure(np.array([0, 0, 0, 1.0]), np.zeros(3), np.zeros(3)).orientation_xyzw
    assert math.isclose(float(np.linalg.norm(q)), 1.0, rel_tol=1e-12)
    # rotation angle 2·acos(w); 3 axes of σ = 0.01 rad stay far below 0.1 rad
    assert 0.0 < 2 * math.acos(min(1.0, q[3])) < 0.1


def test_imu_noise_config_rejects_negative() -> None:
    with pytest.raises(ValueError, match="accel_noise_std_mps2"):
        ImuNoiseConfig(accel_noise_std_mps2=-1.0)
