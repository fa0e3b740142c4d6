"""LatencyWindow: bounded memory, percentiles over the latest samples, a total count of all."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anima.controllers.latency import LatencyWindow


def test_keeps_only_the_latest_samples_and_counts_all() -> None:
    w = LatencyWindow(capacity=4)
    for x in range(10):  # 0..9: the ring holds 6, 7, 8, 9
        w.add(float(x))
    assert w.total == 10 and len(w) == 4
    np.testing.assert_array_equal(w.values(), [6.0, 7.0, 8.0, 9.0])
    assert w.percentile(50) == pytest.approx(7.5)  # median of 6..9
    assert w.percentile(100) == 9.0


def test_memory_stays_bounded_however_long_it_runs() -> None:
    # 5 x capacity samples (10 min at 500 Hz with the default 60 000): the ring keeps its size
    w = LatencyWindow()
    for chunk in range(5):
        for x in np.full(60_000, float(chunk)):
            w.add(x)
    assert w.total == 300_000
    assert len(w) == w.capacity == 60_000
    assert w.percentile(50) == 4.0  # only the last chunk is left


def test_partial_ring_nan_ignored_and_empty_is_nan() -> None:
    w = LatencyWindow(capacity=8)
    assert math.isnan(w.percentile(99))
    for x in (1.0, float("nan"), 3.0):
        w.add(x)
    assert w.total == 2
    np.testing.assert_array_equal(w.values(), [1.0, 3.0])


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_capacity_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="capacity"):
        LatencyWindow(capacity=bad)  # type: ignore[arg-type]
