"""PoseSchedule: smooth rise, hold, and crouch-stand cycle against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.pose_schedule import PoseSchedule, smooth_step


def test_smooth_step_values() -> None:
    # (1 - cos(pi u)) / 2: u=0 -> 0, 0.5 -> 0.5, 1 -> 1; clipped outside [0, 1].
    np.testing.assert_allclose(smooth_step([-1.0, 0.0, 0.5, 1.0, 2.0]), [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-12)


def test_rise_then_hold() -> None:
    s = PoseSchedule(start=(0.0, 1.0), stand=(1.0, -1.0), crouch=(2.0, -2.0), rise_time_s=2.0)
    np.testing.assert_allclose(s.at(0.0), [0.0, 1.0])
    np.testing.assert_allclose(s.at(1.0), [0.5, 0.0], atol=1e-12)  # halfway in time = halfway in position
    np.testing.assert_allclose(s.at(2.0), [1.0, -1.0])
    np.testing.assert_allclose(s.at(50.0), [1.0, -1.0])


def test_cycle_reaches_crouch_at_half_period() -> None:
    s = PoseSchedule(start=(1.0,), stand=(1.0,), crouch=(3.0,), rise_time_s=1.0, cycle_period_s=4.0)
    np.testing.assert_allclose(s.at(1.0), [1.0])  # cycle start: stand
    np.testing.assert_allclose(s.at(2.0), [2.0])  # quarter period: depth smooth_step(0.5) = 0.5
    np.testing.assert_allclose(s.at(3.0), [3.0])  # half period: crouch
    np.testing.assert_allclose(s.at(5.0), [1.0])  # full period: stand again


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        PoseSchedule(start=(0.0,), stand=(0.0, 1.0), crouch=(0.0, 1.0))
    with pytest.raises(ValueError, match="finite"):
        PoseSchedule(start=(np.nan,), stand=(0.0,), crouch=(0.0,))
