"""Scripted joint-target schedules: rise from the initial pose to a stance, then hold or cycle.

Used by the ``pose_hold`` node (Laikago stand / crouch-stand cycle) and by tests that need a
reference trajectory. Blends use the smooth cosine profile s(u) = (1 - cos(pi u)) / 2, whose
velocity is zero at both ends, so the PD path sees no step in the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def smooth_step(u: np.ndarray | float) -> np.ndarray:
    """(1 - cos(pi u)) / 2 for u clipped to [0, 1]: 0 -> 0, 0.5 -> 0.5, 1 -> 1, zero end slopes."""
    u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
    return 0.5 * (1.0 - np.cos(np.pi * u))


@dataclass(frozen=True)
class PoseSchedule:
    """Rise from ``start`` to ``stand`` over ``rise_time_s``; then hold, or cycle stand -> crouch -> stand.

    ``cycle_period_s`` 0 holds the stance; otherwise the target goes stand -> crouch -> stand with
    a full period of ``cycle_period_s`` (cosine blend, so the crouch is reached at half period).
    """

    start: tuple[float, ...]
    stand: tuple[float, ...]
    crouch: tuple[float, ...]
    rise_time_s: float = 1.5
    cycle_period_s: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.stand)
        if len(self.start) != n or len(self.crouch) != n:
            raise ValueError(f"start, stand and crouch must have the same length ({len(self.start)}, {n}, {len(self.crouch)})")
        if self.rise_time_s < 0 or self.cycle_period_s < 0:
            raise ValueError("rise_time_s and cycle_period_s must be >= 0")
        if not np.all(np.isfinite(np.r_[self.start, self.stand, self.crouch])):
            raise ValueError("poses must be finite")

    def at(self, t: float) -> np.ndarray:
        """Target joint positions at time ``t`` seconds after the schedule started."""
        start, stand, crouch = (np.asarray(x, dtype=float) for x in (self.start, self.stand, self.crouch))
        if t < self.rise_time_s:
            return start + smooth_step(t / self.rise_time_s) * (stand - start)
        if self.cycle_period_s == 0.0:
            return stand
        phase = ((t - self.rise_time_s) % self.cycle_period_s) / self.cycle_period_s
        depth = smooth_step(1.0 - abs(2.0 * phase - 1.0))  # 0 at stand, 1 at half period
        return stand + depth * (crouch - stand)


def named_pose(config: object, name: str) -> np.ndarray:
    """The pose ``<name>_pose`` of a robot control config (e.g. "standing", "crouch"), validated."""
    pose = getattr(config, f"{name}_pose", None)
    if pose is None:
        known = sorted(a[: -len("_pose")] for a in dir(config) if a.endswith("_pose") and not a.startswith("_"))
        raise ValueError(f"unknown pose '{name}' for robot {getattr(config, 'robot', '?')}: known poses {known}")
    return np.asarray(pose, dtype=float)
