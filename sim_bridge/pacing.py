"""Wall-clock pacing of a fixed-step simulation loop, and step-rate bookkeeping."""

from __future__ import annotations

import time


def steps_every(physics_dt: float, rate_hz: float, name: str = "rate_hz") -> int:
    """Physics steps between two publications at ``rate_hz``; the rate must divide the physics rate.

    >>> steps_every(0.001, 500.0)
    2
    """
    if rate_hz <= 0:
        raise ValueError(f"{name} must be > 0, got {rate_hz}")
    ratio = 1.0 / (physics_dt * rate_hz)
    n = int(round(ratio))
    if n < 1 or abs(ratio - n) > 1e-6 * ratio:
        raise ValueError(f"{name}={rate_hz} Hz must divide the physics rate {1.0 / physics_dt:.6g} Hz")
    return n


class Pacer:
    """Keeps ``step * dt / real_time_factor`` of wall time per step; factor 0 runs unpaced.

    A short fall-behind (processes starting up, a busy core) is caught up by running unpaced
    until back on schedule, so the average rate stays at the requested factor; beyond
    ``max_lag_s`` (a debugger, a stopped process) the schedule is re-based instead, so the
    simulation never bursts for long.
    """

    def __init__(self, dt: float, real_time_factor: float, max_lag_s: float = 0.25) -> None:
        if real_time_factor < 0:
            raise ValueError(f"real_time_factor must be >= 0, got {real_time_factor}")
        self._period = dt / real_time_factor if real_time_factor > 0 else 0.0
        self._max_lag = max_lag_s
        self._t0 = time.perf_counter()
        self._step0 = 0

    def restart(self, step: int) -> None:
        """Schedule from now on as if ``step`` were due now (after a pause: no catch-up burst)."""
        self._t0, self._step0 = time.perf_counter(), step

    def wait(self, step: int) -> None:
        """Sleep until the wall time at which ``step`` is due."""
        if self._period == 0.0:
            return
        due = self._t0 + (step - self._step0) * self._period
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        elif now - due > self._max_lag:
            self._t0, self._step0 = now, step
