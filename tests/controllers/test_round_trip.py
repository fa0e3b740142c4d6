"""RoundTripMonitor: the round trip of an effort loop from the driver's own stamps, and its gate."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.round_trip import RoundTripConfig, RoundTripMonitor

DT = 0.002  # a 500 Hz driver


def drive(delay_samples: int, n: int, cfg: RoundTripConfig, seed: int = 0) -> RoundTripMonitor:
    """A driver that applies each command ``delay_samples`` samples after the sample it answers."""
    rng = np.random.default_rng(seed)
    mon = RoundTripMonitor(cfg, 2)
    sent: list[np.ndarray] = []
    applied = np.zeros(2)
    for k in range(n):
        if k - delay_samples >= 0:
            applied = sent[k - delay_samples]
        mon.observed(k * DT, applied)  # sample k reports the torque applied since the last sample
        sent.append(rng.normal(size=2))  # the command answering sample k
        mon.sent(k * DT, sent[-1])
    return mon


def test_round_trip_in_samples_of_the_drivers_clock() -> None:
    # applied 3 samples later: every round trip is 3 x 2 ms = 6 ms
    mon = drive(3, 200, RoundTripConfig(limit_ms=10.0))
    assert mon.rtt_ms.total == 200 - 3
    assert mon.p99_ms == pytest.approx(6.0)
    assert mon.over_warning() and mon.allows_control()


def test_gate_refuses_control_beyond_the_limit_and_before_enough_samples() -> None:
    cfg = RoundTripConfig(limit_ms=10.0, min_samples=50)
    assert not drive(1, 30, cfg).allows_control()  # only 29 round trips timed
    fast = drive(1, 100, cfg)
    assert fast.allows_control() and not fast.over_warning()  # 2 ms
    slow = drive(15, 200, RoundTripConfig(limit_ms=10.0, min_samples=50))  # 30 ms
    assert slow.p99_ms == pytest.approx(30.0) and not slow.allows_control()
    assert drive(15, 200, RoundTripConfig(limit_ms=0.0)).allows_control()  # gate off


def test_a_held_command_is_timed_once_and_equal_commands_are_not_timed() -> None:
    mon = RoundTripMonitor(RoundTripConfig(), 2)
    mon.sent(0.0, np.array([1.0, 2.0]))
    assert mon.observed(0.002, [1.0, 2.0]) == pytest.approx(2.0)
    assert mon.observed(0.004, [1.0, 2.0]) is None  # still applied (zero-order hold): not timed again
    mon.sent(0.004, np.zeros(2))
    mon.sent(0.006, np.zeros(2))
    assert mon.observed(0.008, [0.0, 0.0]) is None and mon.ambiguous == 1
    assert mon.observed(0.010, [0.5, 0.5]) is None  # not a command of ours (a driver-side limit)
    assert mon.observed(0.012, [np.nan, 0.0]) is None


@pytest.mark.parametrize("kwargs", [{"warn_ms": -1.0}, {"limit_ms": float("nan")}, {"window": 0}, {"history": 2.5}])
def test_config_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="RoundTripConfig"):
        RoundTripConfig(**kwargs)


def test_commands_never_seen_applied_count_as_at_least_their_age() -> None:
    # a driver slower than the history (or one that never echoes the applied torque): every command
    # is pushed out unseen after 16 samples (32 ms), so the p99 is at least 30 ms and the gate stays shut
    mon = drive(100, 200, RoundTripConfig(history=16, limit_ms=10.0, min_samples=50))
    assert mon.expired >= 150 and mon.p99_ms >= 30.0 and not mon.allows_control()
    deaf = RoundTripMonitor(RoundTripConfig(history=16, limit_ms=10.0), 2)
    for k in range(100):
        deaf.observed(k * DT, np.full(2, 7.0))  # a measured torque, never equal to a command
        deaf.sent(k * DT, np.random.default_rng(k).normal(size=2))
    assert not deaf.allows_control() and deaf.p99_ms == pytest.approx(32.0)
