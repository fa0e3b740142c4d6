"""Cartesian control of an arm: end-effector pose or velocity targets -> joint position targets.

Inverse kinematics by damped least squares (Wampler 1986; Buss, "Introduction to Inverse
Kinematics with Jacobian Transpose, Pseudoinverse and Damped Least Squares methods", 2004,
Sec. 5) on the URDF chain of :mod:`anima.controllers.serial_chain`:

    dq = J^T (J J^T + lambda^2 I)^-1 e  +  (I - J^# J) k (q_rest - q)

``e`` stacks the position error (m) and the orientation error as a rotation vector (rad, scaled
by ``orientation_weight`` m/rad); the second term pulls the redundant (7th) degree of freedom
towards a rest posture inside the nullspace of the task (Siciliano et al., Sec. 3.5.1). Every
iterate is clamped into the joint limits (minus a margin). A target whose residual stays above
tolerance is reported unreachable with the residual, and :class:`CartesianController` keeps its
last safe target, as the ``cartesian_controller`` node and the Sawyer environments both need.
An accepted pose target is approached at no more than ``max_linear_speed_mps`` and
``max_angular_speed_radps`` (the setpoint moves along the straight line and the shortest
rotation), so a distant target never becomes a joint-space step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from anima.controllers.serial_chain import SerialChain
from anima.controllers.spatial import quat_to_matrix

__all__ = ["CartesianConfig", "CartesianController", "CartesianUpdate", "IkResult", "quat_to_matrix",
           "matrix_to_quat", "rotation_error", "solve_ik"]


def matrix_to_quat(R: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> unit quaternion (x, y, z, w), w >= 0."""
    from scipy.spatial.transform import Rotation

    q = Rotation.from_matrix(np.asarray(R, dtype=float)).as_quat()
    return q if q[3] >= 0 else -q


def rotation_error(R_target: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) of ``R_target R^T``: the rotation (base frame) taking ``R`` to ``R_target``."""
    E = R_target @ R.T
    cos = max(-1.0, min(1.0, (np.trace(E) - 1.0) / 2.0))
    angle = math.acos(cos)
    v = np.array([E[2, 1] - E[1, 2], E[0, 2] - E[2, 0], E[1, 0] - E[0, 1]])
    if angle < 1e-9:
        return 0.5 * v
    if math.pi - angle < 1e-4:  # near a half turn: axis from the symmetric part
        axis = np.sqrt(np.clip((np.diag(E) + 1.0) / 2.0, 0.0, None))
        axis *= np.where(v >= 0, 1.0, -1.0) if np.abs(v).max() > 1e-12 else 1.0
        return angle * axis / max(np.linalg.norm(axis), 1e-12)
    return angle / (2.0 * math.sin(angle)) * v


@dataclass(frozen=True)
class CartesianConfig:
    """IK and command settings (SI units).

    ``damping``: lambda of the damped least squares (m). ``orientation_weight``: metres of error per
    radian. Tolerances decide success; ``max_step_rad`` bounds one iteration's joint change.
    ``nullspace_gain``: pull towards the rest posture per iteration (0..1). ``limit_margin_rad``:
    iterates stay this far inside the joint limits. ``workspace_min_m``/``max_m``: box (base frame)
    that targets must lie in (None: no box). ``max_linear_speed_mps``, ``max_angular_speed_radps``
    bound ``ee_velocity`` commands; a velocity older than ``velocity_timeout_s`` stops.
    """

    damping: float = 0.02
    orientation_weight: float = 0.3
    position_tolerance_m: float = 0.001
    orientation_tolerance_rad: float = 0.01
    max_iterations: int = 100
    max_step_rad: float = 0.3
    nullspace_gain: float = 0.05
    limit_margin_rad: float = 0.02
    workspace_min_m: tuple[float, float, float] | None = None
    workspace_max_m: tuple[float, float, float] | None = None
    max_linear_speed_mps: float = 0.3
    max_angular_speed_radps: float = 1.0
    velocity_timeout_s: float = 0.2

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key in ("damping", "orientation_weight", "position_tolerance_m", "orientation_tolerance_rad",
                    "max_step_rad", "max_linear_speed_mps", "max_angular_speed_radps", "velocity_timeout_s"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}.{key} must be a finite number > 0, got {v!r}")
        if not (isinstance(self.max_iterations, int) and self.max_iterations >= 1):
            raise ValueError(f"{name}.max_iterations must be an int >= 1, got {self.max_iterations!r}")
        if not (0.0 <= self.nullspace_gain <= 1.0 and 0.0 <= self.limit_margin_rad < 0.5):
            raise ValueError(f"{name}.nullspace_gain must be in [0, 1] and limit_margin_rad in [0, 0.5)")
        if (self.workspace_min_m is None) != (self.workspace_max_m is None):
            raise ValueError(f"{name}.workspace_min_m and workspace_max_m must both be set or both None")
        if self.workspace_min_m is not None:
            lo, hi = np.asarray(self.workspace_min_m, float), np.asarray(self.workspace_max_m, float)
            if lo.shape != (3,) or hi.shape != (3,) or not np.isfinite([lo, hi]).all() or not (lo < hi).all():
                raise ValueError(f"{name}.workspace_min_m < workspace_max_m must hold as 3 finite numbers each, "
                                 f"got {self.workspace_min_m!r}, {self.workspace_max_m!r}")
            object.__setattr__(self, "workspace_min_m", tuple(lo.tolist()))
            object.__setattr__(self, "workspace_max_m", tuple(hi.tolist()))


@dataclass(frozen=True)
class IkResult:
    """``q`` (n,) best joint solution; ``success`` within tolerance; residual errors; iterations."""

    q: np.ndarray
    success: bool
    position_error_m: float
    orientation_error_rad: float
    iterations: int


def solve_ik(chain: SerialChain, position: np.ndarray, R_target: np.ndarray, q_seed: np.ndarray,
             config: CartesianConfig, q_rest: np.ndarray | None = None) -> IkResult:
    """Damped-least-squares IK for the chain tip at ``position`` (3,), orientation ``R_target`` (3, 3)."""
    lo = chain.lower + config.limit_margin_rad
    hi = chain.upper - config.limit_margin_rad
    q = np.clip(np.asarray(q_seed, dtype=float), lo, hi)
    rest = q.copy() if q_rest is None else np.asarray(q_rest, dtype=float)
    w = config.orientation_weight
    lam2 = config.damping ** 2
    eye_n = np.eye(chain.n)
    pos_err = rot_err = math.inf
    best, best_it = math.inf, 0
    for it in range(config.max_iterations + 1):
        T, J = chain.jacobian(q)
        e_p = position - T[:3, 3]
        e_r = rotation_error(R_target, T[:3, :3])
        pos_err, rot_err = float(np.linalg.norm(e_p)), float(np.linalg.norm(e_r))
        if pos_err <= config.position_tolerance_m and rot_err <= config.orientation_tolerance_rad:
            return IkResult(q, True, pos_err, rot_err, it)
        # Stalled (no 1 % progress in 10 iterations): the target is out of reach from here.
        cost = pos_err + w * rot_err
        if cost < 0.99 * best:
            best, best_it = cost, it
        if it == config.max_iterations or it - best_it >= 10:
            break
        J[3:] *= w
        e = np.concatenate([e_p, w * e_r])
        J_pinv = J.T @ np.linalg.solve(J @ J.T + lam2 * np.eye(6), np.eye(6))
        dq = J_pinv @ e + (eye_n - J_pinv @ J) @ (config.nullspace_gain * (rest - q))
        peak = np.abs(dq).max()
        if peak > config.max_step_rad:
            dq *= config.max_step_rad / peak
        q = np.clip(q + dq, lo, hi)
    return IkResult(q, False, pos_err, rot_err, it)


@dataclass(frozen=True)
class CartesianUpdate:
    """Outcome of a pose or velocity command: accepted or not, with the reason and residual."""

    accepted: bool
    reason: str = ""
    q_target: np.ndarray | None = None


class CartesianController:
    """End-effector targets (pose or twist) in, joint position targets out; keeps the last safe target.

    Typical use (node or env)::

        ctl = CartesianController(chain, config, q_rest)
        ctl.reset(q_measured)                       # hold the current pose
        ctl.set_pose_target(p, quat_xyzw)           # rejected (kept last) if unreachable or NaN
        ctl.set_velocity(v, w, t)                   # integrated by step()
        q_target = ctl.step(t)                      # at the command rate
    """

    def __init__(self, chain: SerialChain, config: CartesianConfig, q_rest: np.ndarray) -> None:
        self.chain = chain
        self.config = config
        self.q_rest = np.asarray(q_rest, dtype=float)
        if self.q_rest.shape != (chain.n,):
            raise ValueError(f"q_rest must have shape ({chain.n},), got {self.q_rest.shape}")
        self._q: np.ndarray | None = None
        self._pos = np.zeros(3)
        self._R = np.eye(3)
        self._vel = np.zeros(6)
        self._vel_t = -math.inf
        self._goal: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # position, R, q
        self._last_t: float | None = None
        self.last_reject_reason = ""
        self.targets_accepted = 0
        self.targets_rejected = 0

    @property
    def ready(self) -> bool:
        """True once :meth:`reset` gave a measured joint position."""
        return self._q is not None

    @property
    def q_target(self) -> np.ndarray | None:
        """Last safe joint target (n,), or None before :meth:`reset`."""
        return None if self._q is None else self._q.copy()

    @property
    def target_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Current end-effector target: position (3,) and rotation matrix (3, 3), base frame."""
        return self._pos.copy(), self._R.copy()

    def reset(self, q_measured: np.ndarray) -> None:
        """Hold the pose at the measured joints; velocity commands are cleared."""
        q = np.asarray(q_measured, dtype=float)
        if q.shape != (self.chain.n,) or not np.isfinite(q).all():
            raise ValueError(f"q_measured must be finite with shape ({self.chain.n},), got {q!r}")
        T = self.chain.forward(q)
        self._q, self._pos, self._R = q.copy(), T[:3, 3].copy(), T[:3, :3].copy()
        self._vel = np.zeros(6)
        self._vel_t = -math.inf
        self._goal = None
        self._last_t = None

    def _check_target(self, position: np.ndarray, quat_xyzw: np.ndarray) -> str:
        if position.shape != (3,) or quat_xyzw.shape != (4,):
            return f"position must have 3 values and orientation 4 (x, y, z, w), got {position.shape}, {quat_xyzw.shape}"
        if not (np.isfinite(position).all() and np.isfinite(quat_xyzw).all()):
            return f"non-finite target: position {position.tolist()}, orientation {quat_xyzw.tolist()}"
        if abs(np.linalg.norm(quat_xyzw) - 1.0) > 0.01:
            return f"orientation quaternion must be unit length, got norm {np.linalg.norm(quat_xyzw):.4f}"
        c = self.config
        if c.workspace_min_m is not None and (
                (position < c.workspace_min_m).any() or (position > c.workspace_max_m).any()):
            return (f"unreachable: position {np.round(position, 4).tolist()} outside the workspace box "
                    f"{list(c.workspace_min_m)} .. {list(c.workspace_max_m)}")
        return ""

    def _solve(self, position: np.ndarray, R: np.ndarray, commit: bool = True) -> CartesianUpdate:
        assert self._q is not None
        result = solve_ik(self.chain, position, R, self._q, self.config, self.q_rest)
        if not result.success:
            return self._reject(f"unreachable: IK residual {result.position_error_m * 1000:.1f} mm, "
                                f"{result.orientation_error_rad:.3f} rad after {result.iterations} iterations")
        if commit:
            self._q, self._pos, self._R = result.q, position.copy(), R.copy()
        return CartesianUpdate(True, "", result.q.copy())

    def _reject(self, reason: str) -> CartesianUpdate:
        self.last_reject_reason = reason
        self.targets_rejected += 1
        return CartesianUpdate(False, reason, None if self._q is None else self._q.copy())

    def set_pose_target(self, position: np.ndarray, quat_xyzw: np.ndarray) -> CartesianUpdate:
        """Head for a pose (base frame); rejected, keeping the last target, if bad or unreachable.

        The returned ``q_target`` is the joint solution at the pose; :meth:`step` moves there at the
        speed limits."""
        if self._q is None:
            return self._reject("no joint state yet: call reset() with a measured position first")
        position = np.asarray(position, dtype=float).reshape(-1)
        quat = np.asarray(quat_xyzw, dtype=float).reshape(-1)
        reason = self._check_target(position, quat)
        if reason:
            return self._reject(reason)
        R = quat_to_matrix(quat)
        update = self._solve(position, R, commit=False)
        if update.accepted:
            self.targets_accepted += 1
            self._vel = np.zeros(6)
            self._goal = (position.copy(), R, update.q_target)
        return update

    def set_velocity(self, linear_mps: np.ndarray, angular_radps: np.ndarray, t: float) -> CartesianUpdate:
        """End-effector twist (base frame) integrated by :meth:`step` until ``velocity_timeout_s`` passes."""
        twist = np.concatenate([np.asarray(linear_mps, float).reshape(-1), np.asarray(angular_radps, float).reshape(-1)])
        if twist.shape != (6,) or not np.isfinite(twist).all() or not math.isfinite(t):
            return self._reject(f"velocity must be 3 + 3 finite values at a finite time, got {twist.tolist()}")
        c = self.config
        for part, limit in ((slice(0, 3), c.max_linear_speed_mps), (slice(3, 6), c.max_angular_speed_radps)):
            speed = np.linalg.norm(twist[part])
            if speed > limit:
                twist[part] *= limit / speed
        self._vel, self._vel_t = twist, t
        self._goal = None
        return CartesianUpdate(True, "", self.q_target)

    def step(self, t: float) -> np.ndarray | None:
        """Advance the setpoint (towards a pose target, or by a fresh velocity) over the time since
        the last step; returns the joint target."""
        last, self._last_t = self._last_t, t
        if self._q is None:
            return None
        if self._goal is not None:
            if last is not None and t > last:
                self._approach(t - last)
            return self._q.copy()
        fresh = t - self._vel_t <= self.config.velocity_timeout_s
        if last is not None and fresh and t > last and np.any(self._vel):
            dt = t - last
            position = self._pos + self._vel[:3] * dt
            R = _rotvec_matrix(self._vel[3:] * dt) @ self._R
            reason = self._check_target(position, matrix_to_quat(R))
            if reason:
                self._reject(reason)
            else:
                self._solve(position, R)
        return self._q.copy()


    def _approach(self, dt: float) -> None:
        """Move the setpoint towards the goal by at most the speed limits times ``dt``."""
        assert self._goal is not None
        goal_p, goal_R, goal_q = self._goal
        c = self.config
        d = goal_p - self._pos
        rot = rotation_error(goal_R, self._R)
        frac = min(1.0, c.max_linear_speed_mps * dt / max(np.linalg.norm(d), 1e-12),
                   c.max_angular_speed_radps * dt / max(np.linalg.norm(rot), 1e-12))
        if frac >= 1.0:
            self._q, self._pos, self._R, self._goal = goal_q.copy(), goal_p.copy(), goal_R.copy(), None
            return
        if not self._solve(self._pos + frac * d, _rotvec_matrix(frac * rot) @ self._R).accepted:
            self._q, self._pos, self._R, self._goal = goal_q.copy(), goal_p.copy(), goal_R.copy(), None


def _rotvec_matrix(v: np.ndarray) -> np.ndarray:
    angle = float(np.linalg.norm(v))
    if angle < 1e-12:
        return np.eye(3)
    from anima.controllers.serial_chain import _axis_angle

    return _axis_angle(v / angle, angle)
