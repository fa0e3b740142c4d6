"""Command round trip of an effort loop over the network, measured on the robot's own clock.

With ``pd:=node`` the PD loop runs in ``pd_controller`` and each torque crosses DDS to the
driver. Against a driver with 10-40 ms of round trip, a 500 Hz loop at kp 220 tumbled the robot
(issue 20, item 7). This core measures that round trip without any clock synchronisation:

* each command is remembered with the stamp of the ``joint_states`` sample it answers (``sent``);
* the driver reports the torque it applies in ``joint_states.effort`` (node-mode contract); the
  first sample whose effort equals a remembered command (exactly: floats cross DDS bit for bit)
  shows that command applied, and ``sample stamp - answered stamp`` is the round trip: the age
  of the state a torque was computed from when it first acts, in whole samples of the driver's
  clock (the delay the control loop really has).

A command equal to another one still waiting (e.g. exact zeros) is ambiguous and is not timed.
A command pushed out of the history before it was seen applied counts as a round trip of at least
its age then (a censored sample): a driver slower than the history, or one that never echoes the
torque it applies, keeps the p99 high and the gate closed.
``allows_control`` is False until ``min_samples`` round trips were timed, and whenever the p99 of
the latest ``window`` exceeds ``limit_ms``: the caller then stays in damping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from anima.controllers.latency import LatencyWindow


@dataclass(frozen=True)
class RoundTripConfig:
    warn_ms: float = 5.0  # p99 above this: warn
    limit_ms: float = 10.0  # p99 above this: refuse to leave damping (0 = no gate)
    window: int = 500  # round trips in the p99 (1 s at 500 Hz)
    min_samples: int = 50  # round trips timed before control is allowed
    history: int = 256  # commands remembered while waiting to be seen applied (0.5 s at 500 Hz)

    def __post_init__(self) -> None:
        for name in ("warn_ms", "limit_ms"):
            val = getattr(self, name)
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val >= 0):
                raise ValueError(f"RoundTripConfig.{name}: must be a finite number >= 0 (ms), got {val!r}")
        for name in ("window", "min_samples", "history"):
            val = getattr(self, name)
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ValueError(f"RoundTripConfig.{name}: must be an integer >= 1, got {val!r}")


class RoundTripMonitor:
    """Times commands from the sample they answer to the first sample that reports them applied."""

    def __init__(self, config: RoundTripConfig, n_joints: int) -> None:
        self.config = config
        self._efforts = np.full((config.history, n_joints), np.nan)
        self._stamps = np.full(config.history, np.nan)
        self._next = 0
        self.rtt_ms = LatencyWindow(config.window)
        self.ambiguous = 0
        self.expired = 0

    def sent(self, stamp_s: float, effort: np.ndarray) -> None:
        """A command answering the sample stamped ``stamp_s`` was published."""
        old = self._stamps[self._next]
        if math.isfinite(old):  # never seen applied while remembered: at least this old
            self.expired += 1
            self.rtt_ms.add((stamp_s - old) * 1e3)
        self._efforts[self._next] = effort
        self._stamps[self._next] = stamp_s
        self._next = (self._next + 1) % self.config.history

    def observed(self, stamp_s: float, effort: np.ndarray) -> float | None:
        """A sample reports ``effort`` applied; returns the round trip (ms) if it timed a command."""
        effort = np.asarray(effort, dtype=float)
        if effort.shape != (self._efforts.shape[1],) or not np.isfinite(effort).all():
            return None
        hits = np.flatnonzero(np.all(self._efforts == effort, axis=1))
        if hits.size == 0:
            return None
        answered = self._stamps[hits]
        self._forget(answered.max())  # this command and every older one are no longer awaited
        if hits.size > 1:
            self.ambiguous += 1
            return None
        rtt = (stamp_s - float(answered[0])) * 1e3
        if rtt < 0:
            return None
        self.rtt_ms.add(rtt)
        return rtt

    def _forget(self, up_to_stamp: float) -> None:
        old = self._stamps <= up_to_stamp
        self._stamps[old] = np.nan
        self._efforts[old] = np.nan

    @property
    def p99_ms(self) -> float:
        return self.rtt_ms.percentile(99)

    def allows_control(self) -> bool:
        """True when the gate is off, or enough round trips were timed and their p99 is within the limit."""
        if self.config.limit_ms <= 0:
            return True
        return len(self.rtt_ms) >= self.config.min_samples and self.p99_ms <= self.config.limit_ms

    def over_warning(self) -> bool:
        return len(self.rtt_ms) > 0 and self.p99_ms > self.config.warn_ms


__all__ = ["RoundTripConfig", "RoundTripMonitor"]
