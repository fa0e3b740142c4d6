"""The joint command path: sparse policy targets -> safe joint torques at the control rate.

Order of operations (ARCHITECTURE.md "Control path"; Peng et al., RSS 2020, Sec. V-A and the
public code's action processing, FACTS.md "Action processing"):

1. ``set_targets`` (policy rate, ~30 Hz): validate, fill unnamed joints with their previous
   target, reject targets more than ``target_limit_margin`` beyond a joint limit (an absurd
   target means the policy is broken: holding the last safe target is safer than driving the
   joint into its stop), clamp the nearer ones to the joint position limits, low-pass with the
   Butterworth action filter.
2. ``compute`` (control rate, 500 Hz): linear interpolation from where the desired position was
   when the target arrived to the new filtered target over one target period,
   ``alpha = clamp((t - t_target) * target_rate, 0, 1)`` (the original uses ``(i + 1) / 33`` over
   its 33 substeps, i.e. it evaluates at the end of each substep: a training env that wants
   exact parity passes ``t = t_target + (i + 1) dt`` to :meth:`JointCommandPath.compute`;
   with targets arriving every period the segment end points agree) -> clip to
   ``q_measured ± max_change_per_step`` -> PD law -> torque limits.

Modes:

* ``WAITING``: no target yet. Hold the first measured position with the PD gains ("hold on
  start", as a ros2_control position controller does when activated); joints never measured
  finite get damping only.
* ``TRACKING``: following targets.
* ``TIMEOUT``: no target for more than ``command_timeout_s`` -> damping ``tau = -kd_damp qd``.
  The next valid target restarts filter and interpolation from the measured position, and for
  ``resume_ramp_s`` the desired position is blended from the pose measured at the resume into
  the tracked one along a smooth step. Damping lets the robot sag; without the ramp the filter
  (4 Hz) brought a sagged Laikago back to its stance in ~0.15 s and threw it 0.2 m into the air
  (a policy node stalled 0.5 s while standing up: ``tests/faults/test_late_policy.py``).
* ``ESTOP``: after :meth:`JointCommandPath.emergency_stop`: damping until :meth:`reset`;
  targets are refused.

Time ``t`` is the caller's monotonic clock (sim or wall), seconds. If it jumps backwards the
interpolation segment and the timeout clock are re-anchored at the new time (starting from the
current desired position), so nothing jumps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Sequence

import numpy as np

from anima.controllers.filters import ButterworthLowPass
from anima.controllers.limits import clamp_positions, clamp_torques, limit_change
from anima.controllers.pd import damping_torque, pd_torque
from anima.controllers.pose_schedule import smooth_step
from anima.controllers.robot_config import RobotControlConfig


class CommandMode(str, Enum):
    WAITING = "waiting"
    TRACKING = "tracking"
    TIMEOUT = "timeout"
    ESTOP = "estop"


@dataclass(frozen=True)
class TargetUpdate:
    """Result of :meth:`JointCommandPath.set_targets`."""

    accepted: bool
    mode: CommandMode
    reason: str = ""
    clamped: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class JointCommand:
    """One control step for a driver that runs the PD loop itself (URDF order, SI units).

    The driver applies ``tau = kp (position - q) + kd (velocity - qd) + effort`` at its own rate
    until the next command (``launch/laikago_real.launch.xml``, ``pd:=driver``).
    """

    position: np.ndarray  # rad, target
    velocity: np.ndarray  # rad/s, target velocity (0: the PD law damps towards rest)
    kp: np.ndarray  # N·m/rad (0 while damping)
    kd: np.ndarray  # N·m·s/rad
    effort: np.ndarray  # N·m, feed-forward torque


@dataclass(frozen=True)
class CommandPathStatus:
    """Diagnostics counters (cumulative over the object's life, kept across :meth:`reset`)."""

    mode: CommandMode
    targets_accepted: int
    targets_rejected: int
    targets_clamped: int  # accepted target messages in which at least one joint was clamped
    joints_clamped: int  # total joint clamps over all target messages
    timeouts: int
    estops: int
    change_limited_steps: int  # control steps in which the change limit clipped a joint
    torque_limited_steps: int
    nonfinite_state_steps: int  # control steps with a non-finite q or qd
    time_jumps_back: int
    last_reject_reason: str


class JointCommandPath:
    """Policy targets in, torques out; the one object the PD node and training envs share.

    Typical use (a training env at 1 kHz physics, 30 Hz policy; the PD node is the same with
    message callbacks)::

        path = JointCommandPath(load_robot_config("laikago"))
        path.reset(q0)                                   # episode start: hold q0, filter at q0
        path.set_targets(None, q_target, t)              # each policy step (names None = all)
        tau = path.compute(q, qd, t + i * dt)            # each physics/control step
    """

    def __init__(self, config: RobotControlConfig) -> None:
        self.config = config
        self._n = config.num_joints
        self._index = {name: i for i, name in enumerate(config.joint_names)}
        self._period = 1.0 / config.target_rate_hz
        self._filter = (ButterworthLowPass(config.filter_order, config.filter_cutoff_hz, config.target_rate_hz, self._n)
                        if config.filter_order > 0 else None)
        self._counts = dict.fromkeys(
            ("targets_accepted", "targets_rejected", "targets_clamped", "joints_clamped", "timeouts", "estops",
             "change_limited_steps", "torque_limited_steps", "nonfinite_state_steps", "time_jumps_back"), 0)
        self._last_reject = ""
        self.reset()

    # ----------------------------------------------------------------------------------- state
    def reset(self, q: np.ndarray | None = None) -> None:
        """Back to ``WAITING``; ``q`` (optional) is the measured position to hold and start from."""
        nan = np.full(self._n, np.nan)
        q0 = nan.copy() if q is None else self._vector(q, "q")
        self._mode = CommandMode.WAITING
        self._hold = q0.copy()
        self._last_q = q0.copy()
        self._target = nan.copy()
        self._seg_start = nan.copy()
        self._seg_end = nan.copy()
        self._seg_t = 0.0
        self._last_target_t: float | None = None
        self._last_t: float | None = None
        self._desired = q0.copy()
        self._ramp: tuple[float, np.ndarray] | None = None  # (resume time, measured pose) after a timeout
        self._reset_filter(np.where(np.isfinite(q0), q0, 0.0))

    def _reset_filter(self, x0: np.ndarray) -> None:
        if self._filter is not None:
            self._filter.reset(x0)

    def emergency_stop(self) -> None:
        """Damping only until :meth:`reset`; targets are refused meanwhile."""
        if self._mode is not CommandMode.ESTOP:
            self._counts["estops"] += 1
        self._mode = CommandMode.ESTOP

    @property
    def mode(self) -> CommandMode:
        return self._mode

    @property
    def desired_positions(self) -> np.ndarray:
        """Desired positions of the last :meth:`compute` after the change limit (NaN = damping)."""
        return self._desired.copy()

    @property
    def target_positions(self) -> np.ndarray:
        """Last accepted (limit-clamped, unfiltered) target, URDF order; NaN before the first."""
        return self._target.copy()

    def status(self) -> CommandPathStatus:
        return CommandPathStatus(mode=self._mode, last_reject_reason=self._last_reject, **self._counts)

    # --------------------------------------------------------------------------------- targets
    def set_targets(self, names: Sequence[str] | None, positions: np.ndarray, t: float) -> TargetUpdate:
        """Accept new position targets for ``names`` (any subset, any order; None = all in URDF order).

        Rejected (with a reason; the last safe target is kept) on: e-stop, non-finite ``t``,
        length mismatch, unknown or duplicate names, non-finite positions, positions more than
        ``config.target_limit_margin`` beyond a joint limit, or joints that have neither a
        previous target nor a measured position. Positions beyond a limit by less than the
        margin are clamped to it (reported in ``TargetUpdate.clamped``).
        """
        if self._mode is CommandMode.ESTOP:
            return self._reject("emergency stop active: targets refused until reset()")
        if not math.isfinite(t):
            return self._reject(f"t: time must be finite, got {t}")
        full, reason = self._merge(names, positions)
        if full is None:
            return self._reject(reason)
        reason = self._far_beyond_limits(full)
        if reason:
            return self._reject(reason)
        full, clamped_mask = clamp_positions(full, self.config.position_lower, self.config.position_upper)
        clamped = tuple(self.config.joint_names[i] for i in np.flatnonzero(clamped_mask))
        # A target stamped before the last control step starts its segment at that step.
        t = t if self._last_t is None else max(t, self._last_t)
        if self._mode in (CommandMode.WAITING, CommandMode.TIMEOUT):
            start = self._hold if self._mode is CommandMode.WAITING else self._last_q
            start = np.where(np.isfinite(start), start, full)
            self._reset_filter(start)
            if self._mode is CommandMode.TIMEOUT and self.config.resume_ramp_s > 0:
                self._ramp = (t, start.copy())
        else:
            start = self._interpolate(t)
        self._seg_start = start
        self._seg_end = full.copy() if self._filter is None else self._filter.step(full)
        self._seg_t = t
        self._target = full
        self._last_target_t = t
        self._mode = CommandMode.TRACKING
        self._counts["targets_accepted"] += 1
        if clamped:
            self._counts["targets_clamped"] += 1
            self._counts["joints_clamped"] += len(clamped)
        return TargetUpdate(True, self._mode, "", clamped)

    def _merge(self, names: Sequence[str] | None, positions: np.ndarray) -> tuple[np.ndarray | None, str]:
        """Full target vector from a (possibly partial) message, or ``(None, reason)``."""
        try:
            pos = np.asarray(positions, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            return None, "positions: not numeric"
        if names is None:
            names = self.config.joint_names
        names = list(names)
        if len(names) != pos.size:
            return None, f"length mismatch: {len(names)} names but {pos.size} positions"
        if not names:
            return None, "empty target: no joint names"
        unknown = [n for n in names if n not in self._index]
        if unknown:
            return None, f"unknown joint names {unknown}"
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            return None, f"duplicate joint names {dup}"
        bad = [n for n, p in zip(names, pos) if not math.isfinite(p)]
        if bad:
            return None, f"non-finite positions for joints {bad}"
        full = np.where(np.isfinite(self._target), self._target, self._hold if self._mode is CommandMode.WAITING
                        else self._last_q)
        full = full.copy()
        full[[self._index[n] for n in names]] = pos
        missing = [self.config.joint_names[i] for i in np.flatnonzero(~np.isfinite(full))]
        if missing:
            return None, f"joints {missing} have no previous target and no measured position yet; name them"
        return full, ""

    def _far_beyond_limits(self, full: np.ndarray) -> str:
        """Reason naming the joints whose target is more than the margin beyond a limit, or ""."""
        c = self.config
        excess = np.maximum(c.position_lower - full, full - c.position_upper)
        far = np.flatnonzero(excess > c.target_limit_margin)
        if far.size == 0:
            return ""
        detail = ", ".join(f"{c.joint_names[i]}={full[i]:.6g} (limits [{c.position_lower[i]:g}, "
                           f"{c.position_upper[i]:g}])" for i in far[:4])
        more = f" and {far.size - 4} more" if far.size > 4 else ""
        return (f"targets more than {c.target_limit_margin:g} rad beyond the joint limits: {detail}{more}; "
                "refused, holding the last safe target")

    def _reject(self, reason: str) -> TargetUpdate:
        self._counts["targets_rejected"] += 1
        self._last_reject = reason
        return TargetUpdate(False, self._mode, reason, ())

    # --------------------------------------------------------------------------------- control
    def compute(self, q: np.ndarray, qd: np.ndarray, t: float) -> np.ndarray:
        """Joint torques (URDF order, N·m) for measured ``q``, ``qd`` at time ``t``; never NaN."""
        q, qd, use_pd, desired = self._control_step(q, qd, t)
        tau = damping_torque(qd, self.config.damping_kd)
        if use_pd.any():
            tau = np.where(use_pd, pd_torque(q, qd, desired, self.config.kp, self.config.kd), tau)
        tau, tau_limited = clamp_torques(tau, self.config.torque_limit)
        if tau_limited.any():
            self._counts["torque_limited_steps"] += 1
        return tau

    def command(self, q: np.ndarray, qd: np.ndarray, t: float) -> JointCommand:
        """The same control step as :meth:`compute`, as a command for a driver that closes the loop.

        Tracking joints get the desired position (interpolated, change-limited, and further
        limited to ``q ± torque_limit / kp`` so the position term alone cannot exceed the torque
        limit at this sample) with ``kp``/``kd``; damped joints (timeout, e-stop, non-finite
        state) get ``kp = 0``, ``kd = damping_kd`` and the measured position. The driver applies
        ``tau = kp (position - q) + kd (velocity - qd) + effort`` and its own torque limit.
        """
        q, qd, use_pd, desired = self._control_step(q, qd, t)
        c = self.config
        hold = np.where(np.isfinite(self._last_q), self._last_q, 0.0)
        with np.errstate(divide="ignore"):
            reach = np.where(c.kp > 0, c.torque_limit / c.kp, np.inf)
        position = np.where(use_pd, np.clip(desired, q - reach, q + reach), hold)
        return JointCommand(
            position=np.where(np.isfinite(position), position, hold),
            velocity=np.zeros(self._n),
            kp=np.where(use_pd, c.kp, 0.0),
            kd=np.where(use_pd, c.kd, c.damping_kd),
            effort=np.zeros(self._n),
        )

    def _control_step(self, q: np.ndarray, qd: np.ndarray,
                      t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mode update and desired positions: ``(q, qd, use_pd, desired)`` (desired NaN where damping)."""
        q = self._vector(q, "q")
        qd = self._vector(qd, "qd")
        if not math.isfinite(t):
            raise ValueError(f"t: time must be finite, got {t}")
        self._check_time(t)
        self._last_t = t
        ok = np.isfinite(q) & np.isfinite(qd)
        if not ok.all():
            self._counts["nonfinite_state_steps"] += 1
        self._last_q = np.where(np.isfinite(q), q, self._last_q)
        desired = self._desired_at(q, t)
        use_pd = np.zeros(self._n, dtype=bool)
        if desired is not None:
            limited_des, limited = limit_change(desired, q, self.config.max_change_per_step)
            use_pd = ok & np.isfinite(limited_des)
            if (limited & use_pd).any():
                self._counts["change_limited_steps"] += 1
            self._desired = np.where(use_pd, limited_des, np.nan)
        else:
            self._desired = np.full(self._n, np.nan)
        return q, qd, use_pd, self._desired.copy()

    def _desired_at(self, q: np.ndarray, t: float) -> np.ndarray | None:
        """Desired positions before the change limit, or None for damping-only modes."""
        if self._mode is CommandMode.WAITING:
            self._hold = np.where(np.isfinite(self._hold), self._hold, q)
            return self._hold
        if self._mode is CommandMode.TRACKING:
            assert self._last_target_t is not None
            if t - self._last_target_t > self.config.command_timeout_s:
                self._mode = CommandMode.TIMEOUT
                self._counts["timeouts"] += 1
                self._ramp = None
                return None
            return self._ramped(self._interpolate(t), t)
        return None

    def _ramped(self, desired: np.ndarray, t: float) -> np.ndarray:
        """``desired``, blended in from the pose measured at a resume after a timeout (smooth step)."""
        if self._ramp is None:
            return desired
        t0, start = self._ramp
        u = (t - t0) / self.config.resume_ramp_s
        if u >= 1.0:
            self._ramp = None
            return desired
        s = float(smooth_step(max(u, 0.0)))
        return start + s * (desired - start)

    def _interpolate(self, t: float) -> np.ndarray:
        alpha = min(max((t - self._seg_t) / self._period, 0.0), 1.0)
        return self._seg_start + alpha * (self._seg_end - self._seg_start)

    def _check_time(self, t: float) -> None:
        """Re-anchor interpolation and timeout clocks if time went backwards."""
        if self._last_t is None or t >= self._last_t:
            return
        self._counts["time_jumps_back"] += 1
        if self._mode is CommandMode.TRACKING:
            self._seg_start = self._interpolate(self._last_t)
            self._seg_t = t
            self._last_target_t = t
            if self._ramp is not None:  # the ramp goes on from where it was, on the new clock
                self._ramp = (t - (self._last_t - self._ramp[0]), self._ramp[1])
        self._last_t = t

    def _vector(self, x: np.ndarray, name: str) -> np.ndarray:
        arr = np.asarray(x, dtype=float)
        if arr.shape != (self._n,):
            raise ValueError(f"{name}: expected shape ({self._n},) in URDF joint order, got {arr.shape}")
        return arr.copy()


__all__ = ["CommandMode", "CommandPathStatus", "JointCommand", "JointCommandPath", "TargetUpdate"]
