"""steps_every and Pacer: rate bookkeeping of the bridge loop."""

from __future__ import annotations

import time

import pytest

from anima.sim_bridge.pacing import Pacer, steps_every


def test_steps_every_divides_physics_rate() -> None:
    assert steps_every(0.001, 500.0) == 2  # 1 kHz physics, 500 Hz topic -> every 2nd step
    assert steps_every(0.001, 1000.0) == 1
    assert steps_every(0.002, 100.0) == 5


@pytest.mark.parametrize("rate", [0.0, -5.0, 300.0, 2000.0])
def test_steps_every_rejects_bad_rates(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        steps_every(0.001, rate)


def test_pacer_unpaced_never_sleeps_and_paced_keeps_schedule() -> None:
    unpaced = Pacer(0.001, 0.0)
    t0 = time.perf_counter()
    for k in range(1000):
        unpaced.wait(k)
    assert time.perf_counter() - t0 < 0.5  # generous: 1000 no-op calls
    paced = Pacer(0.01, 1.0)
    t0 = time.perf_counter()
    paced.wait(5)  # due 50 ms after construction
    assert time.perf_counter() - t0 >= 0.045
    with pytest.raises(ValueError):
        Pacer(0.001, -1.0)


def test_pacer_restart_schedules_from_now_without_a_catch_up_burst() -> None:
    paced = Pacer(0.01, 1.0, max_lag_s=10.0)  # a lag this large would otherwise be caught up unpaced
    time.sleep(0.1)  # 10 steps' worth of wall time pass while the world is paused
    paced.restart(3)
    t0 = time.perf_counter()
    paced.wait(5)  # 2 steps after the restart: due 20 ms from now, not 50 ms in the past
    assert time.perf_counter() - t0 >= 0.015
