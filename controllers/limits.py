"""Safety limits on the command path: joint position, per-step change and torque clamps.

Pure, batch-first functions (``(..., n)``); each clamp also returns a mask of the entries it
changed, so callers can report which joints were limited (ros2_controllers' joint-limits
style: the limit math is small, pure and unit tested).
"""

from __future__ import annotations

import numpy as np


def finite_mask(x: np.ndarray) -> np.ndarray:
    """True where ``x`` is finite (neither NaN nor ±Inf)."""
    return np.isfinite(np.asarray(x, dtype=float))


def clamp_positions(q_des: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clamp desired positions into ``[lower, upper]``; returns ``(clamped, was_clamped)``."""
    q_des = np.asarray(q_des, dtype=float)
    out = np.clip(q_des, lower, upper)
    return out, out != q_des


def limit_change(q_des: np.ndarray, q: np.ndarray, max_change: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Clip ``q_des`` to ``q ± max_change`` (``q`` = measured position at this control step).

    Applied at every PD step, this bounds the position error the PD law sees, as the imitation
    work's ``MAX_MOTOR_ANGLE_CHANGE_PER_STEP`` does at each 1 ms substep. Entries where ``q`` is
    not finite are passed through unchanged (the caller handles them). Returns ``(out, limited)``.
    """
    q_des = np.asarray(q_des, dtype=float)
    q = np.asarray(q, dtype=float)
    ok = np.isfinite(q)
    lo = np.where(ok, q - max_change, -np.inf)
    hi = np.where(ok, q + max_change, np.inf)
    out = np.clip(q_des, lo, hi)
    return out, out != q_des


def clamp_torques(tau: np.ndarray, limit: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Clamp torques to ``±limit``; NaN torques become 0. Returns ``(clamped, was_clamped)``."""
    tau = np.asarray(tau, dtype=float)
    lim = np.asarray(limit, dtype=float)
    bad = np.isnan(tau)
    out = np.clip(np.where(bad, 0.0, tau), -lim, lim)
    return out, (out != tau) | bad


__all__ = ["clamp_positions", "clamp_torques", "finite_mask", "limit_change"]
