"""Ball state estimation: a constant-velocity Kalman filter per ball, with gating and dropouts.

Each ball's state is ``x = (p, v)`` (6,) in the detection frame. The motion model is the
discrete white-noise-acceleration constant-velocity model (Bar-Shalom, Li & Kirubarajan,
*Estimation with Applications to Tracking and Navigation*, 2001, Sec. 6.3.2):
``F = [[I, dt I], [0, I]]``, ``Q = sigma_a^2 [[dt^4/4 I, dt^3/2 I], [dt^3/2 I, dt^2 I]]``;
measurements are positions, ``H = [I 0]``, ``R = sigma_z^2 I``.

Faults (issue 4 "Bad input and faults"):

* **Outliers** are gated by the squared Mahalanobis distance of the innovation against the
  chi-square quantile (3 DOF, 99.9 %: 16.27). After ``max_consecutive_rejects`` rejections in a
  row the filter re-initialises at the measurement (the ball really moved, e.g. after a reset).
* **Dropouts** (ball out of view): the filter keeps predicting, so the covariance grows; the
  status goes ``COASTING`` and, after ``lost_after_s`` without an accepted measurement, ``LOST``.
* **Drops**: an estimate below ``drop_z_m`` (detection frame z, e.g. world height) is ``DROPPED``.

PDDM (Nagabandi et al., CoRL 2019) feeds ball positions and velocities to its dynamics model;
this filter provides both at the camera rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

__all__ = ["BallEstimate", "BallFilterConfig", "BallKalmanFilter", "BallStateEstimator", "BallStatus", "extrapolate_positions"]


class BallStatus(IntEnum):
    """Per-ball status code (published with the state)."""

    TRACKING = 0
    COASTING = 1
    LOST = 2
    DROPPED = 3
    UNSEEN = 4


@dataclass(frozen=True)
class BallFilterConfig:
    """Filter settings (SI units). ``accel_std_mps2``: sigma_a of the white acceleration;
    ``measurement_std_m``: sigma_z of a detection; ``gate_chi2``: innovation gate."""

    n_balls: int = 2
    accel_std_mps2: float = 5.0
    measurement_std_m: float = 0.001
    init_velocity_std_mps: float = 0.3
    gate_chi2: float = 16.27
    max_consecutive_rejects: int = 5
    lost_after_s: float = 0.5
    drop_z_m: float | None = None

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not (isinstance(self.n_balls, int) and self.n_balls >= 1):
            raise ValueError(f"{name}.n_balls must be an int >= 1, got {self.n_balls!r}")
        for key in ("accel_std_mps2", "measurement_std_m", "init_velocity_std_mps", "gate_chi2", "lost_after_s"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}.{key} must be a finite number > 0, got {v!r}")
        if not (isinstance(self.max_consecutive_rejects, int) and self.max_consecutive_rejects >= 1):
            raise ValueError(f"{name}.max_consecutive_rejects must be an int >= 1, got {self.max_consecutive_rejects!r}")
        if self.drop_z_m is not None and not math.isfinite(self.drop_z_m):
            raise ValueError(f"{name}.drop_z_m must be finite or None, got {self.drop_z_m!r}")


def cv_transition(dt: float, accel_std: float) -> tuple[np.ndarray, np.ndarray]:
    """``F`` (6×6) and ``Q`` (6×6) of the constant-velocity model over ``dt`` seconds."""
    I3 = np.eye(3)
    F = np.block([[I3, dt * I3], [np.zeros((3, 3)), I3]])
    q = accel_std ** 2
    Q = q * np.block([[dt ** 4 / 4 * I3, dt ** 3 / 2 * I3], [dt ** 3 / 2 * I3, dt ** 2 * I3]])
    return F, Q


class BallKalmanFilter:
    """One ball's constant-velocity Kalman filter (state (6,), covariance (6, 6))."""

    def __init__(self, config: BallFilterConfig) -> None:
        self.config = config
        self._R = config.measurement_std_m ** 2 * np.eye(3)
        self.reset()

    def reset(self) -> None:
        """Forget the ball (uninitialised: no estimate until the first measurement)."""
        self.x = np.full(6, np.nan)
        self.P = np.full((6, 6), np.nan)
        self.initialized = False
        self.rejects = 0

    def initialize(self, z: np.ndarray) -> None:
        """Start at position ``z`` with zero velocity of std ``init_velocity_std_mps``."""
        self.x = np.concatenate([np.asarray(z, float), np.zeros(3)])
        self.P = np.diag([self.config.measurement_std_m ** 2] * 3 + [self.config.init_velocity_std_mps ** 2] * 3)
        self.initialized = True
        self.rejects = 0

    def predict(self, dt: float) -> None:
        """Propagate state and covariance by ``dt`` >= 0 seconds."""
        if not self.initialized or dt <= 0:
            return
        F, Q = cv_transition(dt, self.config.accel_std_mps2)
        self.x = F @ self.x
        self.P = F @ self.P @ F.T + Q

    def mahalanobis2(self, z: np.ndarray) -> float:
        """Squared Mahalanobis distance of measurement ``z`` from the predicted position."""
        S = self.P[:3, :3] + self._R
        y = np.asarray(z, float) - self.x[:3]
        return float(y @ np.linalg.solve(S, y))

    def update(self, z: np.ndarray) -> bool:
        """Fuse ``z`` if it passes the gate (True); otherwise count a rejection (False).

        After ``max_consecutive_rejects`` rejections in a row the filter re-initialises at ``z``.
        """
        if not self.initialized:
            self.initialize(z)
            return True
        if self.mahalanobis2(z) > self.config.gate_chi2:
            self.rejects += 1
            if self.rejects >= self.config.max_consecutive_rejects:
                self.initialize(z)
                return True
            return False
        S = self.P[:3, :3] + self._R
        K = np.linalg.solve(S, self.P[:3, :]).T  # (6, 3) = P H^T S^-1, S symmetric
        self.x = self.x + K @ (np.asarray(z, float) - self.x[:3])
        self.P = self.P - K @ self.P[:3, :]
        self.P = 0.5 * (self.P + self.P.T)
        self.rejects = 0
        return True


@dataclass(frozen=True)
class BallEstimate:
    """Estimates at time ``t`` (s): ``position``/``velocity`` (N, 3), their stds (N, 3) (NaN for
    balls never seen), ``status`` (N,) :class:`BallStatus` codes, ``accepted`` (N,) bool: a
    measurement was fused this step."""

    t: float
    position: np.ndarray
    velocity: np.ndarray
    position_std: np.ndarray
    velocity_std: np.ndarray
    status: np.ndarray
    accepted: np.ndarray


def extrapolate_positions(position: np.ndarray, velocity: np.ndarray, age_s: float, max_age_s: float = 0.1) -> np.ndarray:
    """Positions carried forward ``age_s`` (clipped to [0, ``max_age_s``]) at constant velocity.

    An estimate is as old as its last camera frame (up to a frame period plus latency). A ball rolling at
    0.1 m/s moves 3 mm in 30 ms, enough to matter to a planner, so it predicts to its own time first.
    """
    return np.asarray(position, float) + np.asarray(velocity, float) * float(np.clip(age_s, 0.0, max_age_s))


class BallStateEstimator:
    """Kalman filters for all balls, stepped once per stereo pair."""

    def __init__(self, config: BallFilterConfig) -> None:
        self.config = config
        self.filters = [BallKalmanFilter(config) for _ in range(config.n_balls)]
        self.reset()

    def reset(self) -> None:
        """Forget every ball and the time base."""
        for f in self.filters:
            f.reset()
        self._t: float | None = None
        self._last_fix = np.full(self.config.n_balls, -np.inf)

    def step(self, t: float, measurements: np.ndarray) -> BallEstimate:
        """Predict to time ``t`` and fuse ``measurements`` (N, 3); NaN rows mean "not detected".

        A time earlier than the previous step is treated as dt = 0 (no backwards prediction).
        """
        z = np.asarray(measurements, dtype=float)
        if z.shape != (self.config.n_balls, 3):
            raise ValueError(f"measurements must have shape ({self.config.n_balls}, 3), got {z.shape}")
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t if self._t is None else max(self._t, t)
        accepted = np.zeros(self.config.n_balls, dtype=bool)
        for i, f in enumerate(self.filters):
            f.predict(dt)
            if np.isfinite(z[i]).all():
                accepted[i] = f.update(z[i])
                if accepted[i]:
                    self._last_fix[i] = self._t
        return self._estimate(accepted)

    def _estimate(self, accepted: np.ndarray) -> BallEstimate:
        n = self.config.n_balls
        x = np.array([f.x for f in self.filters])
        var = np.array([np.diag(f.P) for f in self.filters])
        std = np.sqrt(np.where(np.isfinite(var), np.maximum(var, 0.0), np.nan))
        status = np.empty(n, dtype=int)
        for i, f in enumerate(self.filters):
            since = self._t - self._last_fix[i] if self._t is not None else math.inf
            if not f.initialized:
                status[i] = BallStatus.UNSEEN
            elif self.config.drop_z_m is not None and x[i, 2] < self.config.drop_z_m:
                status[i] = BallStatus.DROPPED
            elif accepted[i]:
                status[i] = BallStatus.TRACKING
            elif since > self.config.lost_after_s:
                status[i] = BallStatus.LOST
            else:
                status[i] = BallStatus.COASTING
        return BallEstimate(float(self._t if self._t is not None else 0.0), x[:, :3].copy(), x[:, 3:].copy(),
                            std[:, :3], std[:, 3:], status, accepted.copy())
