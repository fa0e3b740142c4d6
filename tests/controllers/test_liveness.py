"""SilenceWatch: a stream that stops while the clock runs is reported; unheard streams are not."""

from __future__ import annotations

import pytest

from anima.controllers.liveness import SilenceWatch


def test_reports_a_stream_silent_beyond_the_limit() -> None:
    w = SilenceWatch(limit_s=0.5)
    assert w.silent(100.0) == []  # nothing heard yet: nothing to flag
    w.heard("joint_commands", 1.0)
    w.heard("odom", 1.0)
    assert w.silent(1.5) == []  # exactly at the limit: not yet
    w.heard("odom", 1.6)
    (s,) = w.silent(1.6)
    assert (s.stream, s.last_heard_s) == ("joint_commands", 1.0)
    assert s.silent_s == pytest.approx(0.6)


def test_a_stream_that_speaks_again_is_no_longer_silent() -> None:
    w = SilenceWatch(0.5)
    w.heard("joint_commands", 0.0)
    assert len(w.silent(2.0)) == 1
    w.heard("joint_commands", 2.0)
    assert w.silent(2.1) == []


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_limit_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="limit_s"):
        SilenceWatch(bad)
