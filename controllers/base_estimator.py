"""Floating-base state estimator for a legged robot: IMU-driven linear Kalman filter with leg odometry.

Design: the linear Kalman filter of MIT Cheetah 3 (Bledt et al., IROS 2018, "MIT Cheetah 3:
Design and Control of a Robust, Dynamic Quadruped Robot", Sec. IV-C "State estimation"), which
keeps the foot positions in the state as in Bloesch et al. (RSS 2012/2013, "State estimation for
legged robots - consistent fusion of leg kinematics and IMU", Sec. III-IV), with the
orientation taken from the IMU's attitude (AHRS) output rather than estimated.

State (world / odom frame, z up): ``x = [p (3), v (3), b_a (3), s_1 .. s_L (3 each)]`` with
``p`` the body-frame origin (URDF base link origin, not PyBullet's inertial base position),
``v`` its velocity, ``b_a`` the accelerometer bias in the body frame, ``s_i`` foot positions.

* Prediction (every IMU sample): ``a = R (f - b_a) + g`` with ``f`` the measured specific force
  and ``g = (0, 0, -gravity)``; ``p += v dt + a dt^2 / 2``, ``v += a dt``. Feet are modelled
  as random walks: slow in stance, fast in swing, so a swing foot just follows kinematics.
* Correction (every joint sample), per leg ``i`` with body-frame foot ``r_i = fk(q)``:
  relative position ``R r_i = s_i - p`` (all legs), zero stance-foot velocity
  ``-R (J_i qd_i + w x r_i) = v`` (legs in contact) and, optionally, a known ground height
  for stance feet ``s_i,z = foot_height_m``.
* Contact: explicit flags from the caller, or from joint efforts: the ground reaction force on
  the foot is ``F = -(J_i^T)^-1 tau_i`` (static, massless leg), rotated to the world; contact
  switches on when ``F_z >= contact_force_threshold_n`` and off below the threshold minus
  ``contact_hysteresis_n``.

Assumes the IMU is at the body-frame origin and aligned with it (the simulated IMU is).
Non-finite samples are skipped and counted (:attr:`BaseEstimator.skipped_samples`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from anima.controllers.spatial import cross, quat_to_matrix


class LegKinematicsLike(Protocol):
    """What the estimator needs from :class:`anima.controllers.leg_kinematics.LegKinematics`."""

    joint_names: tuple[str, ...]

    def foot_positions(self, q: np.ndarray) -> np.ndarray: ...  # (..., 3L) -> (..., L, 3), body frame

    def foot_jacobians(self, q: np.ndarray) -> np.ndarray: ...  # (..., 3L) -> (..., L, 3, 3)


@dataclass(frozen=True)
class BaseEstimatorConfig:
    """Noise and model parameters (SI units). Densities are per sqrt(Hz) (continuous time)."""

    gravity_mps2: float = 9.8  # the imitation sim uses 10 (FACTS.md); set it to match the world
    initial_height_m: float = 0.456  # Laikago standing: toes 0.426 m below the base + toe radius 0.03
    accel_noise_density: float = 0.3  # m/s^2/sqrt(Hz): accelerometer noise + unmodelled motion
    accel_bias_walk: float = 0.01  # m/s^3/sqrt(Hz)
    initial_accel_bias_std_mps2: float = 0.2
    position_walk: float = 1e-3  # m/sqrt(s), keeps the position block well conditioned
    foot_stance_walk: float = 2e-3  # m/sqrt(s): stance feet barely move (slip allowance)
    foot_swing_walk: float = 2.0  # m/sqrt(s): swing feet are free
    foot_position_std_m: float = 0.005  # kinematic foot position (model + encoder error)
    foot_velocity_std_mps: float = 0.05  # stance foot velocity (encoder velocity noise, slip)
    foot_height_m: float | None = None  # known stance-foot height (flat ground); None: not used
    foot_height_std_m: float = 0.01
    initial_position_std_m: float = 0.01
    initial_velocity_std_mps: float = 0.1
    orientation_std_rad: float = 0.01  # reported with the pose (orientation comes from the IMU)
    gyro_noise_std_radps: float = 0.01  # reported with the twist
    contact_force_threshold_n: float = 20.0  # Laikago weighs ~25.6 kg: ~64 N per foot standing
    contact_hysteresis_n: float = 8.0
    max_dt_s: float = 0.1  # longer gaps are integrated in steps of at most this
    # Foot velocity relative to the body: "joint_velocity" = J qd (measured qd), or
    # "differentiated" = difference of fk(q) between joint samples. PyBullet's reported joint
    # velocities carry a contact-solver bias (~0.1 rad/s at the knees of a standing Laikago,
    # i.e. ~0.02 m/s of foot velocity) that differencing avoids, at the cost of amplifying
    # encoder noise by ~sqrt(2)/dt.
    foot_velocity_source: str = "joint_velocity"

    def __post_init__(self) -> None:
        positive = ("gravity_mps2", "accel_noise_density", "accel_bias_walk", "initial_accel_bias_std_mps2",
                    "position_walk", "foot_stance_walk", "foot_swing_walk", "foot_position_std_m",
                    "foot_velocity_std_mps", "foot_height_std_m", "initial_position_std_m",
                    "initial_velocity_std_mps", "orientation_std_rad", "gyro_noise_std_radps",
                    "contact_force_threshold_n", "max_dt_s")
        for name in positive:
            val = getattr(self, name)
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ValueError(f"BaseEstimatorConfig.{name}: must be a finite number > 0, got {val!r}")
        if not (0 <= self.contact_hysteresis_n < self.contact_force_threshold_n):
            raise ValueError("BaseEstimatorConfig.contact_hysteresis_n: must be in [0, contact_force_threshold_n)")
        if self.foot_velocity_source not in ("joint_velocity", "differentiated"):
            raise ValueError("BaseEstimatorConfig.foot_velocity_source: must be 'joint_velocity' or 'differentiated', "
                             f"got {self.foot_velocity_source!r}")
        if not math.isfinite(self.initial_height_m):
            raise ValueError("BaseEstimatorConfig.initial_height_m: must be finite")
        if self.foot_height_m is not None and not math.isfinite(self.foot_height_m):
            raise ValueError("BaseEstimatorConfig.foot_height_m: must be finite or None")


@dataclass(frozen=True, eq=False)
class BaseState:
    """Estimated base state; covariances are laid out as nav_msgs/Odometry expects.

    ``pose_covariance``: (x, y, z, rot x, rot y, rot z) in the odom frame.
    ``twist_covariance``: (v, w) in the BODY frame (Odometry's twist is in ``child_frame_id``);
    use :attr:`linear_velocity_body` for the matching velocity.
    """

    t: float
    position: np.ndarray  # (3,) odom frame
    orientation_xyzw: np.ndarray  # (4,)
    linear_velocity_world: np.ndarray  # (3,)
    angular_velocity_body: np.ndarray  # (3,)
    pose_covariance: np.ndarray  # (6, 6)
    twist_covariance: np.ndarray  # (6, 6)
    contacts: np.ndarray  # (L,) bool
    foot_positions_world: np.ndarray  # (L, 3)
    accel_bias_body: np.ndarray  # (3,)

    @property
    def linear_velocity_body(self) -> np.ndarray:
        return quat_to_matrix(self.orientation_xyzw).T @ self.linear_velocity_world


def foot_forces_from_efforts(jacobians: np.ndarray, efforts: np.ndarray) -> np.ndarray:
    """Ground reaction forces on the feet in the body frame, ``F_i = -(J_i^T)^-1 tau_i``.

    Static, massless-leg balance ``tau + J^T F = 0``. ``jacobians (..., L, 3, 3)``,
    ``efforts (..., 3L)`` -> ``(..., L, 3)``. Singular legs (stretched straight) use the
    pseudo-inverse.
    """
    jt = np.swapaxes(np.asarray(jacobians, dtype=float), -1, -2)
    tau = np.asarray(efforts, dtype=float).reshape(jt.shape[:-1])
    try:
        if np.all(np.abs(np.linalg.det(jt)) > 1e-9):
            return -np.linalg.solve(jt, tau[..., None])[..., 0]
    except np.linalg.LinAlgError:
        pass
    return -np.einsum("...ij,...j->...i", np.linalg.pinv(jt), tau)


class BaseEstimator:
    """Kalman filter for base position and velocity (see module docstring)."""

    def __init__(self, config: BaseEstimatorConfig, kinematics: LegKinematicsLike) -> None:
        self.config = config
        self.kin = kinematics
        self.num_joints = len(kinematics.joint_names)
        self.num_legs = int(np.asarray(kinematics.foot_positions(np.zeros(self.num_joints))).shape[-2])
        if self.num_joints != 3 * self.num_legs:
            raise ValueError(f"kinematics: expected 3 joints per leg, got {self.num_joints} joints for {self.num_legs} legs")
        self.dim = 9 + 3 * self.num_legs
        self.skipped_samples = 0
        self.time_jumps_back = 0
        self.reset()

    def reset(self, position: Sequence[float] | None = None, orientation_xyzw: Sequence[float] = (0, 0, 0, 1)) -> None:
        """Start at ``position`` (default ``(0, 0, initial_height_m)``), at rest, unknown feet."""
        c = self.config
        pos = np.array((0.0, 0.0, c.initial_height_m) if position is None else position, dtype=float)
        quat = np.asarray(orientation_xyzw, dtype=float)
        if pos.shape != (3,) or not np.isfinite(pos).all():
            raise ValueError(f"position: expected 3 finite values, got {position!r}")
        if quat.shape != (4,) or not np.isfinite(quat).all() or np.linalg.norm(quat) < 1e-6:
            raise ValueError(f"orientation_xyzw: expected a non-zero finite quaternion (x, y, z, w), got {orientation_xyzw!r}")
        self._x = np.zeros(self.dim)
        self._x[0:3] = pos
        stds = [c.initial_position_std_m] * 3 + [c.initial_velocity_std_mps] * 3 + [c.initial_accel_bias_std_mps2] * 3
        self._P = np.diag(np.array(stds + [1.0] * (3 * self.num_legs)) ** 2)
        self._quat = quat / np.linalg.norm(quat)
        self._R = quat_to_matrix(self._quat)
        self._omega = np.zeros(3)
        self._accel: np.ndarray | None = None  # last specific force (body)
        self._t: float | None = None
        self._feet_initialised = False
        self._prev_feet: tuple[float, np.ndarray] | None = None
        self._contacts = np.ones(self.num_legs, dtype=bool)  # assume it starts standing

    # ------------------------------------------------------------------------------ prediction
    def update_imu(self, t: float, orientation_xyzw: Sequence[float], angular_velocity_body: Sequence[float],
                   linear_acceleration_body: Sequence[float]) -> None:
        """Predict to ``t`` with this IMU sample, as sensor_msgs/Imu reports it.

        ``orientation_xyzw``: body -> world (odom) attitude; ``angular_velocity_body``: gyro,
        rad/s; ``linear_acceleration_body``: specific force, m/s^2 (reads ``(0, 0, +g)`` at rest,
        level). The new acceleration is held over the interval since the previous sample.
        """
        quat = _vec(orientation_xyzw, 4, "orientation_xyzw")
        omega = _vec(angular_velocity_body, 3, "angular_velocity_body")
        acc = _vec(linear_acceleration_body, 3, "linear_acceleration_body")
        if not (math.isfinite(t) and np.isfinite(quat).all() and np.isfinite(omega).all() and np.isfinite(acc).all()) \
                or np.linalg.norm(quat) < 1e-6:
            self.skipped_samples += 1
            return
        self._accel = acc
        self._propagate_to(t)
        self._quat = quat / np.linalg.norm(quat)
        self._R = quat_to_matrix(self._quat)
        self._omega = omega

    def _propagate_to(self, t: float) -> None:
        """Predict from the filter time to ``t``.

        Slightly older samples (out of order by less than ``max_dt_s``) do not move the filter
        time; a larger backwards jump (clock reset, e.g. a simulation restart) re-anchors it.
        """
        if self._t is None or t < self._t - self.config.max_dt_s:
            if self._t is not None:
                self.time_jumps_back += 1
            self._t = t
            return
        remaining = t - self._t
        while remaining > 0:
            dt = min(remaining, self.config.max_dt_s)
            self._predict(dt)
            remaining -= dt
        self._t = max(self._t, t)

    def _predict(self, dt: float) -> None:
        c, R = self.config, self._R
        F = np.eye(self.dim)
        F[0:3, 3:6] = np.eye(3) * dt
        if self._accel is not None:
            a = R @ (self._accel - self._x[6:9]) + np.array([0.0, 0.0, -c.gravity_mps2])
            self._x[0:3] += self._x[3:6] * dt + 0.5 * a * dt * dt
            self._x[3:6] += a * dt
            F[0:3, 6:9] = -0.5 * R * dt * dt
            F[3:6, 6:9] = -R * dt
        else:
            self._x[0:3] += self._x[3:6] * dt
        q = np.empty(self.dim)
        # White acceleration noise of density sigma: var(v) = sigma^2 dt, var(p) = sigma^2 dt^3 / 3.
        q[0:3] = c.position_walk**2 * dt + c.accel_noise_density**2 * dt**3 / 3.0
        q[3:6] = c.accel_noise_density**2 * dt
        q[6:9] = c.accel_bias_walk**2 * dt
        walk = np.where(self._contacts, c.foot_stance_walk, c.foot_swing_walk) ** 2 * dt
        q[9:] = np.repeat(walk, 3)
        self._P = F @ self._P @ F.T + np.diag(q)

    # ------------------------------------------------------------------------------ correction
    def update_joints(self, t: float, q: Sequence[float], qd: Sequence[float], effort: Sequence[float] | None,
                      contacts: np.ndarray | None = None) -> None:
        """Correct with leg kinematics at ``t`` (URDF joint order, rad, rad/s, N·m).

        ``contacts (L,)`` overrides effort-based detection; with neither efforts nor contacts
        the previous decision is kept (all feet in contact after :meth:`reset`).
        """
        n = self.num_joints
        q_arr, qd_arr = _vec(q, n, "q"), _vec(qd, n, "qd")
        eff = None if effort is None else _vec(effort, n, "effort")
        if not (math.isfinite(t) and np.isfinite(q_arr).all() and np.isfinite(qd_arr).all()):
            self.skipped_samples += 1
            return
        self._propagate_to(t)  # uses the last IMU sample; a no-op when the IMU is up to date
        feet_body, jac = self._kinematics(q_arr)  # (L, 3), (L, 3, 3)
        self._contacts = self._detect_contacts(jac, eff, contacts)
        rel_world = feet_body @ self._R.T  # (L, 3): s_i - p
        if not self._feet_initialised:
            self._init_feet(rel_world)
        foot_vel_body = self._foot_velocity(t, feet_body, jac, qd_arr) + cross(self._omega, feet_body)
        self._correct(rel_world, -(foot_vel_body @ self._R.T))

    def _kinematics(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        both = getattr(self.kin, "foot_positions_and_jacobians", None)  # one FK pass when offered
        if both is not None:
            feet, jac = both(q)
        else:
            feet, jac = self.kin.foot_positions(q), self.kin.foot_jacobians(q)
        return np.asarray(feet, dtype=float), np.asarray(jac, dtype=float)

    def _foot_velocity(self, t: float, feet_body: np.ndarray, jac: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """Foot velocities relative to the body, in the body frame ``(L, 3)``."""
        prev, self._prev_feet = self._prev_feet, (t, feet_body)
        if self.config.foot_velocity_source == "differentiated" and prev is not None:
            dt = t - prev[0]
            if 1e-5 < dt <= self.config.max_dt_s:
                return (feet_body - prev[1]) / dt
        return np.einsum("lij,lj->li", jac, qd.reshape(self.num_legs, 3))

    def _detect_contacts(self, jac: np.ndarray, effort: np.ndarray | None, contacts: np.ndarray | None) -> np.ndarray:
        if contacts is not None:
            flags = np.asarray(contacts, dtype=bool).reshape(-1)
            if flags.shape != (self.num_legs,):
                raise ValueError(f"contacts: expected {self.num_legs} flags, got shape {np.shape(contacts)}")
            return flags
        if effort is None or not np.isfinite(effort).all():
            return self._contacts  # no information: keep the previous decision
        fz = (foot_forces_from_efforts(jac, effort) @ self._R.T)[:, 2]
        c = self.config
        on = fz >= c.contact_force_threshold_n
        stay = self._contacts & (fz >= c.contact_force_threshold_n - c.contact_hysteresis_n)
        return on | stay

    def _init_feet(self, rel_world: np.ndarray) -> None:
        p = self._x[0:3]
        for i in range(self.num_legs):
            s = slice(9 + 3 * i, 12 + 3 * i)
            self._x[s] = p + rel_world[i]
            self._P[s, :] = 0.0
            self._P[:, s] = 0.0
            self._P[s, s] = self._P[0:3, 0:3] + np.eye(3) * self.config.foot_position_std_m**2
            self._P[s, 0:3] = self._P[0:3, 0:3]
            self._P[0:3, s] = self._P[0:3, 0:3]
        self._feet_initialised = True

    def _correct(self, rel_world: np.ndarray, stance_vel: np.ndarray) -> None:
        c, L = self.config, self.num_legs
        stance = np.flatnonzero(self._contacts)
        use_height = c.foot_height_m is not None
        m = 3 * L + 3 * len(stance) + (len(stance) if use_height else 0)
        H = np.zeros((m, self.dim))
        y = np.empty(m)
        r = np.empty(m)
        # s_i - p = R r_i, all legs.
        H[0:3 * L, 0:3] = np.tile(-np.eye(3), (L, 1))
        H[0:3 * L, 9:] = np.eye(3 * L)
        y[0:3 * L] = rel_world.reshape(-1)
        r[0:3 * L] = c.foot_position_std_m**2
        # v = -R (J qd + w x r_i), stance legs.
        row, n_st = 3 * L, len(stance)
        H[row:row + 3 * n_st, 3:6] = np.tile(np.eye(3), (n_st, 1))
        y[row:row + 3 * n_st] = stance_vel[stance].reshape(-1)
        r[row:row + 3 * n_st] = c.foot_velocity_std_mps**2
        row += 3 * n_st
        if use_height:  # s_i,z = ground height, stance legs
            H[row + np.arange(n_st), 11 + 3 * stance] = 1.0
            y[row:] = c.foot_height_m
            r[row:] = c.foot_height_std_m**2
        self._kalman_update(H, y, r)

    def _kalman_update(self, H: np.ndarray, y: np.ndarray, r_diag: np.ndarray) -> None:
        P = self._P
        PHt = P @ H.T
        S = H @ PHt + np.diag(r_diag)
        K = np.linalg.solve(S, PHt.T).T
        self._x = self._x + K @ (y - H @ self._x)
        IKH = np.eye(self.dim) - K @ H
        P = IKH @ P @ IKH.T + (K * r_diag) @ K.T  # Joseph form
        self._P = 0.5 * (P + P.T)

    # ---------------------------------------------------------------------------------- output
    def state(self) -> BaseState:
        c, R = self.config, self._R
        pose_cov = np.zeros((6, 6))
        pose_cov[0:3, 0:3] = self._P[0:3, 0:3]
        pose_cov[3:6, 3:6] = np.eye(3) * c.orientation_std_rad**2
        twist_cov = np.zeros((6, 6))
        twist_cov[0:3, 0:3] = R.T @ self._P[3:6, 3:6] @ R
        twist_cov[3:6, 3:6] = np.eye(3) * c.gyro_noise_std_radps**2
        return BaseState(
            t=float("nan") if self._t is None else self._t, position=self._x[0:3].copy(),
            orientation_xyzw=self._quat.copy(), linear_velocity_world=self._x[3:6].copy(),
            angular_velocity_body=self._omega.copy(), pose_covariance=pose_cov, twist_covariance=twist_cov,
            contacts=self._contacts.copy(), foot_positions_world=self._x[9:].reshape(self.num_legs, 3).copy(),
            accel_bias_body=self._x[6:9].copy(),
        )

    @property
    def covariance(self) -> np.ndarray:
        """Full state covariance (copy), state order ``[p, v, b_a, s_1..s_L]``."""
        return self._P.copy()


def _vec(x: Sequence[float] | np.ndarray, n: int, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected {n} values, got shape {np.shape(x)}")
    return arr


__all__ = ["BaseEstimator", "BaseEstimatorConfig", "BaseState", "foot_forces_from_efforts", "quat_to_matrix"]
