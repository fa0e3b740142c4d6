"""Simulated sensors: an IMU noise model, a sensor latency buffer (quaternion helpers: ``anima.controllers.spatial``).

The IMU model follows the usual MEMS error budget (white noise plus a bias that is constant over
an episode) on top of exact rigid-body quantities; the orientation gets a small noise like the
output of an on-board AHRS filter. The latency buffer delays readings by a whole number of physics
steps, which is how the motion-imitation work models observation latency (Peng et al., RSS 2020,
Sec. VI-A "domain randomization": latency in [0, 0.04] s; public code: ``control_latency``
served from a history buffer).

Quaternions are ``xyzw`` (PyBullet and ROS order) and every helper broadcasts over leading axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from anima.controllers.spatial import (  # re-exported for the worlds
    cross,
    quat_conjugate,
    quat_from_rotvec,
    quat_multiply,
    quat_rotate,
    quat_rotate_inverse,
)

__all__ = [
    "DelayBuffer",
    "cross",
    "ImuModel",
    "ImuNoiseConfig",
    "ImuReading",
    "quat_conjugate",
    "quat_from_rotvec",
    "quat_multiply",
    "quat_rotate",
    "quat_rotate_inverse",
]


# --------------------------------------------------------------------------- latency buffer
class DelayBuffer:
    """Ring buffer of the last ``capacity`` samples (rows of ``width`` floats), one per physics step.

    ``get(k)`` returns the sample pushed ``k`` pushes ago (``k = 0``: the newest). Before enough
    history exists the oldest available sample is returned, and :meth:`fill` makes the whole
    history equal to one sample (used at reset, so a delayed reading starts at the reset state).
    """

    def __init__(self, width: int, capacity: int) -> None:
        if width < 1:
            raise ValueError(f"DelayBuffer width must be >= 1, got {width}")
        if capacity < 1:
            raise ValueError(f"DelayBuffer capacity must be >= 1, got {capacity}")
        self._data = np.zeros((capacity, width))
        self._head = capacity - 1
        self._count = 0

    @property
    def capacity(self) -> int:
        """Number of samples kept."""
        return self._data.shape[0]

    @property
    def width(self) -> int:
        """Floats per sample."""
        return self._data.shape[1]

    def fill(self, sample: Sequence[float] | np.ndarray) -> None:
        """Make every stored sample equal to ``sample`` (the history starts full)."""
        self._data[:] = sample
        self._head = self.capacity - 1
        self._count = self.capacity

    def push(self, sample: Sequence[float] | np.ndarray) -> None:
        """Store the newest sample, overwriting the oldest."""
        cap = self._data.shape[0]
        self._head = (self._head + 1) % cap
        self._data[self._head] = sample
        if self._count < cap:
            self._count += 1

    def get(self, delay: int) -> np.ndarray:
        """Copy of the sample pushed ``delay`` pushes ago, shape ``(width,)``."""
        if not 0 <= delay < self.capacity:
            raise ValueError(f"delay must be in [0, {self.capacity - 1}] steps, got {delay}")
        if self._count == 0:
            raise RuntimeError("DelayBuffer.get before any push or fill")
        delay = min(delay, self._count - 1)
        return self._data[(self._head - delay) % self.capacity].copy()


# --------------------------------------------------------------------------- IMU
@dataclass(frozen=True)
class ImuReading:
    """One IMU sample in the body frame (REP-103: x forward, y left, z up).

    ``orientation_xyzw``: world_R_body as a unit quaternion, shape (4,).
    ``angular_velocity``: rad/s in the body frame, shape (3,).
    ``linear_acceleration``: specific force a − g in the body frame (m/s²), shape (3,); at rest
    on level ground it reads (0, 0, +|g|).
    """

    orientation_xyzw: np.ndarray
    angular_velocity: np.ndarray
    linear_acceleration: np.ndarray


@dataclass(frozen=True)
class ImuNoiseConfig:
    """IMU error model; all standard deviations, SI units. Zeros give a perfect IMU.

    The defaults are typical of a consumer MEMS IMU with an AHRS filter (BMI088-class gyro noise
    density ≈ 0.014 °/s/√Hz × √500 Hz ≈ 0.005 rad/s; accelerometer ≈ 0.05 m/s²).
    """

    gyro_noise_std_radps: float = 0.005
    gyro_bias_std_radps: float = 0.01
    accel_noise_std_mps2: float = 0.05
    accel_bias_std_mps2: float = 0.05
    orientation_noise_std_rad: float = 0.005

    def __post_init__(self) -> None:
        for name in ("gyro_noise_std_radps", "gyro_bias_std_radps", "accel_noise_std_mps2",
                     "accel_bias_std_mps2", "orientation_noise_std_rad"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0.0):
                raise ValueError(f"ImuNoiseConfig.{name} must be a finite number >= 0, got {value!r}")


class ImuModel:
    """Adds white noise and a per-episode constant bias to exact IMU quantities.

    The biases are drawn in :meth:`reset`; the white noise comes from a generator seeded there,
    so one seed gives one noise sequence.
    """

    def __init__(self, config: ImuNoiseConfig, rng: np.random.Generator) -> None:
        self.config = config
        self._rng = rng
        self.gyro_bias = np.zeros(3)
        self.accel_bias = np.zeros(3)
        self.reset(rng)

    def reset(self, rng: np.random.Generator) -> None:
        """Draw new biases and reseed the white noise from ``rng``."""
        self._rng = np.random.default_rng(rng.integers(0, 2**63 - 1))
        self.gyro_bias = self._rng.normal(0.0, self.config.gyro_bias_std_radps, 3)
        self.accel_bias = self._rng.normal(0.0, self.config.accel_bias_std_mps2, 3)

    def measure(self, orientation_xyzw: np.ndarray, angular_velocity: np.ndarray,
                specific_force: np.ndarray) -> ImuReading:
        """Noisy reading from exact body-frame quantities (shapes (4,), (3,), (3,))."""
        cfg = self.config
        noise = self._rng.standard_normal(9)
        dq = quat_from_rotvec(noise[0:3] * cfg.orientation_noise_std_rad)
        q = quat_multiply(orientation_xyzw, dq)
        return ImuReading(
            orientation_xyzw=q / np.linalg.norm(q),
            angular_velocity=angular_velocity + self.gyro_bias + noise[3:6] * cfg.gyro_noise_std_radps,
            linear_acceleration=specific_force + self.accel_bias + noise[6:9] * cfg.accel_noise_std_mps2,
        )
