"""The driver-side guard on joint torque commands: what a motor driver enforces whatever it is sent.

The simulated robot (``sim_bridge``) applies ``joint_commands`` through this guard, as a real
robot's driver would (issue 20, items 4, 5, 13, 14):

* **Arrival-time watchdog.** A command counts from when it *arrived* (the caller's clock at
  reception: sim time under the bridge), never from its own stamp: a command stamped far in the
  future must not stay applied forever. After ``timeout_s`` without a new command the guard
  applies damping ``tau = -damping_kd * qd`` (not zero torque: zero torque drops a standing robot,
  damping lets it sink slowly), until the next valid command.
* **Stamps ahead of the clock are rejected** (beyond ``future_tolerance_s``), and counted.
* **Torque limit.** Every applied torque is clamped to ``±torque_limit`` of the robot config (the
  same limit the PD path uses); clamps are counted.
* **Cheap rejection.** Joint-name orders seen before are looked up in a dict (good and bad
  ones), so a flood of rejected commands costs a dict lookup and a finiteness check each; the
  :class:`RejectionLog` turns any number of rejections into at most one log line per period.

Modes: ``WAITING`` (no valid command yet: zero torque; the bridge does not step physics then),
``COMMANDED`` (the latest command, clamped), ``WATCHDOG`` (damping).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Sequence

import numpy as np

from anima.controllers.limits import clamp_torques
from anima.controllers.pd import damping_torque
from anima.controllers.robot_config import RobotControlConfig

_MAX_CACHED_BAD_NAMES = 64


class GuardMode(str, Enum):
    WAITING = "waiting"
    COMMANDED = "commanded"
    WATCHDOG = "watchdog"


@dataclass(frozen=True, eq=False)
class CommandGuardConfig:
    """Per-joint limits in the guarded robot's joint order (SI units)."""

    joint_names: tuple[str, ...]
    torque_limit: np.ndarray  # N·m, > 0
    damping_kd: np.ndarray  # N·m·s/rad, >= 0
    timeout_s: float = 0.05
    future_tolerance_s: float = 0.005

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        for name in ("torque_limit", "damping_kd"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (n,) or not np.isfinite(arr).all():
                raise ValueError(f"CommandGuardConfig.{name}: expected {n} finite values, got {arr!r}")
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if (self.torque_limit <= 0).any() or (self.damping_kd < 0).any():
            raise ValueError("CommandGuardConfig: torque_limit must be > 0 and damping_kd >= 0")
        for name in ("timeout_s", "future_tolerance_s"):
            val = getattr(self, name)
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val >= 0):
                raise ValueError(f"CommandGuardConfig.{name}: must be a finite number >= 0, got {val!r}")
        if self.timeout_s <= 0:
            raise ValueError(f"CommandGuardConfig.timeout_s: must be > 0, got {self.timeout_s}")

    @classmethod
    def from_robot(cls, robot: RobotControlConfig, joint_names: Sequence[str], **kwargs: float) -> CommandGuardConfig:
        """Limits of ``robot`` reordered to ``joint_names`` (the world's order); every joint must be known."""
        missing = [n for n in joint_names if n not in robot.joint_names]
        if missing:
            raise ValueError(f"{robot.source}: no limits for joints {missing} of the simulated robot")
        idx = [robot.index(n) for n in joint_names]
        return cls(tuple(joint_names), robot.torque_limit[idx], robot.damping_kd[idx], **kwargs)


@dataclass(frozen=True)
class GuardStatus:
    """Cumulative counters (for logs and reports)."""

    mode: GuardMode
    accepted: int
    rejected_future_stamp: int
    rejected_names: int
    rejected_values: int
    clamped_commands: int  # accepted commands in which at least one joint was clamped
    clamped_joints: int
    watchdog_timeouts: int

    @property
    def rejected(self) -> int:
        return self.rejected_future_stamp + self.rejected_names + self.rejected_values


class CommandGuard:
    """Validates, clamps and times out joint torque commands; see the module docstring."""

    def __init__(self, config: CommandGuardConfig) -> None:
        self.config = config
        self._n = len(config.joint_names)
        self._lim = np.asarray(config.torque_limit)
        self._index_of: dict[tuple[str, ...], np.ndarray] = {}
        self._bad_names: dict[tuple[str, ...], str] = {}
        self._tau = np.zeros(self._n)
        self._arrival: float | None = None
        self._mode = GuardMode.WAITING
        self._counts = dict.fromkeys(("accepted", "rejected_future_stamp", "rejected_names", "rejected_values",
                                      "clamped_commands", "clamped_joints", "watchdog_timeouts"), 0)
        self.last_clamped: tuple[str, ...] = ()  # joints clamped in the latest accepted command

    @property
    def mode(self) -> GuardMode:
        return self._mode

    @property
    def started(self) -> bool:
        """True once a valid command arrived."""
        return self._mode is not GuardMode.WAITING

    def status(self) -> GuardStatus:
        return GuardStatus(mode=self._mode, **self._counts)

    # --------------------------------------------------------------------------------- commands
    def offer(self, names: Sequence[str], effort: Sequence[float], stamp_s: float, now_s: float) -> str:
        """Take a command that arrived at ``now_s``; returns "" if accepted, else the reason.

        ``names`` may be in any order (each joint exactly once); ``effort`` in N·m, one per name.
        """
        if stamp_s > now_s + self.config.future_tolerance_s:
            self._counts["rejected_future_stamp"] += 1
            return f"stamp {stamp_s:.6f} s is {stamp_s - now_s:.6f} s ahead of the clock ({now_s:.6f} s)"
        key = names if isinstance(names, tuple) else tuple(names)
        index = self._index_of.get(key)
        if index is None:
            reason = self._bad_names.get(key) or self._learn_names(key)
            if reason:
                self._counts["rejected_names"] += 1
                return reason
            index = self._index_of[key]
        tau = np.asarray(effort, dtype=float)
        if tau.shape != (self._n,):
            self._counts["rejected_values"] += 1
            return f"effort: expected {self._n} values (one per name), got {tau.size}"
        tau = tau[index]
        if not np.isfinite(tau).all():
            self._counts["rejected_values"] += 1
            return "effort: non-finite values"
        self._accept(tau, now_s)
        return ""

    def _learn_names(self, key: tuple[str, ...]) -> str:
        """Index for a new name order (cached), or the reason it is refused (cached, bounded)."""
        where = {name: i for i, name in enumerate(key)}
        reason = ""
        if len(where) != len(key):
            reason = f"names: duplicates in {sorted({n for n in key if key.count(n) > 1})}"
        else:
            missing = [n for n in self.config.joint_names if n not in where]
            extra = [n for n in key if n not in self.config.joint_names]
            if missing or extra:
                reason = f"names: missing {missing[:4]}{'...' if len(missing) > 4 else ''}, unknown {extra[:4]}"
        if reason:
            if len(self._bad_names) >= _MAX_CACHED_BAD_NAMES:
                self._bad_names.pop(next(iter(self._bad_names)))
            self._bad_names[key] = reason
            return reason
        self._index_of[key] = np.array([where[n] for n in self.config.joint_names], dtype=np.intp)
        return ""

    def _accept(self, tau: np.ndarray, now_s: float) -> None:
        clamped, mask = clamp_torques(tau, self._lim)
        self.last_clamped = ()
        if mask.any():
            self._counts["clamped_commands"] += 1
            self._counts["clamped_joints"] += int(mask.sum())
            self.last_clamped = tuple(self.config.joint_names[i] for i in np.flatnonzero(mask))
        self._tau = clamped
        self._arrival = now_s
        self._mode = GuardMode.COMMANDED
        self._counts["accepted"] += 1

    # --------------------------------------------------------------------------------- torques
    def torque(self, now_s: float, velocity: Callable[[], np.ndarray]) -> np.ndarray:
        """Torque to apply at ``now_s`` (world joint order); ``velocity()`` is read only when damping."""
        if self._mode is GuardMode.COMMANDED and now_s - self._arrival > self.config.timeout_s:
            self._mode = GuardMode.WATCHDOG
            self._counts["watchdog_timeouts"] += 1
        if self._mode is GuardMode.WATCHDOG:
            return clamp_torques(damping_torque(velocity(), self.config.damping_kd), self._lim)[0]
        return self._tau


class RejectionLog:
    """Turns any number of events (rejections, clamps) into at most one line per ``period_s``.

    ``note`` is cheap (a counter and a comparison) and returns the line to log now, or None: the
    count since the last line and the latest detail. ``now`` is any monotonic clock (wall time).
    """

    def __init__(self, what: str, period_s: float = 1.0) -> None:
        self._what = what  # e.g. "joint_commands rejected"
        self._period = period_s
        self._next = -math.inf
        self._since = 0
        self.total = 0

    def note(self, reason: str, now: float) -> str | None:
        self._since += 1
        self.total += 1
        if now < self._next:
            return None
        line = f"{self._what} ({self._since} since the last report, {self.total} in all): {reason}"
        self._since = 0
        self._next = now + self._period
        return line


__all__ = ["CommandGuard", "CommandGuardConfig", "GuardMode", "GuardStatus", "RejectionLog"]
