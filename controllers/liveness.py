"""Detecting a silent stream: a node that is alive but has stopped publishing (issue 20, item 14).

A hung node (deadlocked, stopped by SIGSTOP, stuck in a system call) keeps its process and its
DDS participant, so neither the launcher nor discovery notices it. What is visible is that its
output stops while the rest of the robot carries on. :class:`SilenceWatch` keeps, per stream, the
time of the latest message on the robot's clock (the newest ``joint_states`` stamp when it
arrived, i.e. arrival time, not the message's own stamp) and reports the streams silent for longer
than a limit. A stream is watched only once it has been heard, so slow starters are not flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Silence:
    stream: str
    silent_s: float
    last_heard_s: float


class SilenceWatch:
    """``heard(stream, now)`` on each message; ``silent(now)`` lists streams quiet beyond ``limit_s``."""

    def __init__(self, limit_s: float) -> None:
        if not (isinstance(limit_s, (int, float)) and math.isfinite(limit_s) and limit_s > 0):
            raise ValueError(f"limit_s must be a finite number > 0, got {limit_s!r}")
        self.limit_s = float(limit_s)
        self._last: dict[str, float] = {}

    def heard(self, stream: str, now_s: float) -> None:
        self._last[stream] = now_s

    def silent(self, now_s: float) -> list[Silence]:
        """Streams heard before whose latest message is more than ``limit_s`` older than ``now_s``."""
        return [Silence(s, now_s - t, t) for s, t in self._last.items() if now_s - t > self.limit_s]


__all__ = ["Silence", "SilenceWatch"]
