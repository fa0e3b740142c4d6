"""Start-up sanity check of an IMU's frame: at rest, the accelerometer must read gravity along +z.

A legged robot's base estimator assumes the IMU frame is the base frame, z up (REP 103), so at rest
the accelerometer's specific force is ``(0, 0, +g)`` rotated by the base's small tilt. An IMU
mounted or reporting in another frame (y up, z down, a driver in g instead of m/s^2) makes the
estimator integrate gravity sideways: the odometry drifts by metres within seconds, with no other
symptom (issue 20, item 8). The estimator therefore publishes nothing until this check passes.

The check waits for ``window_samples`` consecutive still samples (gyro norm below
``still_gyro_radps`` and, over the window, each accelerometer axis's standard deviation below
``still_accel_std_mps2``), then decides once on the window's mean specific force ``f``:
``| |f| - g | <= gravity_tolerance * g`` and ``angle(f, +z) <= max_tilt_rad``. A robot that
is moving at start (or a falling one: ``|f|`` near 0 and steady) keeps the check waiting only while
it moves; a robot lying on its side at start fails, as it should. Non-finite samples are ignored.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np


class ImuVerdict(enum.Enum):
    WAITING = "waiting"  # not yet enough still samples
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class GravityCheckConfig:
    gravity_mps2: float = 9.81
    window_samples: int = 100  # 0.2 s at the 500 Hz IMU rate
    max_tilt_rad: float = math.radians(30.0)  # a standing robot tilts a few degrees; a wrong axis is 90 or 180
    gravity_tolerance: float = 0.25  # relative: a driver reporting in g (|f| = 1) fails
    still_gyro_radps: float = 0.2
    still_accel_std_mps2: float = 0.5

    def __post_init__(self) -> None:
        for name in ("gravity_mps2", "max_tilt_rad", "gravity_tolerance", "still_gyro_radps", "still_accel_std_mps2"):
            val = getattr(self, name)
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ValueError(f"GravityCheckConfig.{name}: must be a finite number > 0, got {val!r}")
        if not (isinstance(self.window_samples, int) and self.window_samples >= 1):
            raise ValueError(f"GravityCheckConfig.window_samples: must be an integer >= 1, got {self.window_samples!r}")
        if self.max_tilt_rad >= math.pi / 2:
            raise ValueError(f"GravityCheckConfig.max_tilt_rad: must be below pi/2 (90 deg), got {self.max_tilt_rad!r}")


class GravityCheck:
    """Decides once, from still samples at start, whether the IMU frame has +z up (module docstring)."""

    def __init__(self, config: GravityCheckConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self.verdict = ImuVerdict.WAITING
        self.reason = "waiting for the robot to be still"
        self.mean_specific_force: np.ndarray | None = None
        self._window: list[np.ndarray] = []

    def add(self, angular_velocity: np.ndarray, linear_acceleration: np.ndarray) -> ImuVerdict:
        """Feed one IMU sample (gyro rad/s, specific force m/s^2, IMU frame); returns the verdict so far."""
        if self.verdict is not ImuVerdict.WAITING:
            return self.verdict
        w = np.asarray(angular_velocity, dtype=float).reshape(3)
        f = np.asarray(linear_acceleration, dtype=float).reshape(3)
        if not (np.isfinite(w).all() and np.isfinite(f).all()):
            return self.verdict
        c = self.config
        if np.linalg.norm(w) > c.still_gyro_radps:
            self._window.clear()
            self.reason = f"waiting for the robot to be still (gyro {np.linalg.norm(w):.2f} rad/s)"
            return self.verdict
        self._window.append(f)
        if len(self._window) < c.window_samples:
            return self.verdict
        window = np.array(self._window)
        self._window.clear()
        spread = window.std(axis=0).max()
        if spread > c.still_accel_std_mps2:
            self.reason = f"waiting for the robot to be still (accelerometer std {spread:.2f} m/s^2)"
            return self.verdict
        self._decide(window.mean(axis=0))
        return self.verdict

    def _decide(self, f: np.ndarray) -> None:
        c = self.config
        self.mean_specific_force = f
        norm = float(np.linalg.norm(f))
        vec = "(" + ", ".join(f"{v:.2f}" for v in f) + ") m/s^2"
        if abs(norm - c.gravity_mps2) > c.gravity_tolerance * c.gravity_mps2:
            self.verdict = ImuVerdict.FAILED
            self.reason = (f"IMU at rest reads |specific force| {norm:.2f} m/s^2 {vec}, expected "
                           f"{c.gravity_mps2:.2f} +- {c.gravity_tolerance * 100:.0f} %: wrong units or a broken sensor")
            return
        tilt = math.degrees(math.acos(float(np.clip(f[2] / norm, -1.0, 1.0))))
        if tilt > math.degrees(c.max_tilt_rad):
            axis = "xyz"[int(np.argmax(np.abs(f)))]
            sign = "+" if f[int(np.argmax(np.abs(f)))] > 0 else "-"
            self.verdict = ImuVerdict.FAILED
            self.reason = (f"IMU at rest reads gravity {tilt:.0f} deg from +z of its frame {vec}, along {sign}{axis}; "
                           f"allowed {math.degrees(c.max_tilt_rad):.0f} deg: the IMU frame is not z-up "
                           f"(REP 103), or the robot is not upright")
            return
        self.verdict = ImuVerdict.PASSED
        self.reason = f"IMU gravity check passed: {vec}, {tilt:.1f} deg from +z"


__all__ = ["GravityCheck", "GravityCheckConfig", "ImuVerdict"]
