"""Bounded latency statistics: a fixed-size ring of the latest samples plus the total count.

A node that measures a latency for every message (the sim bridge at 500 Hz, the PD controller's
round trip) must not keep every sample: a list grows by about 1.8 M entries an hour. This keeps
the latest ``capacity`` samples (percentiles over a recent window) and counts all of them.
"""

from __future__ import annotations

import math

import numpy as np


class LatencyWindow:
    """The latest ``capacity`` samples in a ring buffer; ``total`` counts every sample ever added."""

    def __init__(self, capacity: int = 60_000) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        self._buf = np.empty(capacity)
        self._next = 0
        self.total = 0

    @property
    def capacity(self) -> int:
        return self._buf.size

    def __len__(self) -> int:
        return min(self.total, self._buf.size)

    def add(self, value: float) -> None:
        """Record one sample; non-finite samples are ignored (they carry no timing)."""
        if not math.isfinite(value):
            return
        self._buf[self._next] = value
        self._next = (self._next + 1) % self._buf.size
        self.total += 1

    def values(self) -> np.ndarray:
        """The stored samples, oldest first (a copy)."""
        if self.total < self._buf.size:
            return self._buf[: self.total].copy()
        return np.roll(self._buf, -self._next)

    def percentile(self, q: float) -> float:
        """Percentile ``q`` (0..100) of the stored samples; NaN when there are none."""
        if len(self) == 0:
            return math.nan
        return float(np.percentile(self._buf[: len(self)], q))

    def clear(self) -> None:
        self._next = 0
        self.total = 0


__all__ = ["LatencyWindow"]
