"""Position, change and torque limits."""

import numpy as np

from anima.controllers.limits import clamp_positions, clamp_torques, finite_mask, limit_change


def test_clamp_positions_reports_clamped_entries() -> None:
    # Laikago knee limits -2.164 .. 0.0: 0.3 -> 0.0 (clamped), -3 -> -2.164 (clamped), -1 stays.
    out, mask = clamp_positions(np.array([0.3, -3.0, -1.0]), -2.164, 0.0)
    np.testing.assert_allclose(out, [0.0, -2.164, -1.0])
    assert mask.tolist() == [True, True, False]


def test_limit_change_clips_to_measured_plus_minus_max() -> None:
    # q = 0.5, max 0.2 -> window [0.3, 0.7]: 1.0 -> 0.7, 0.0 -> 0.3, 0.6 unchanged.
    q = np.array([0.5, 0.5, 0.5, np.nan])
    out, mask = limit_change(np.array([1.0, 0.0, 0.6, 4.0]), q, 0.2)
    np.testing.assert_allclose(out, [0.7, 0.3, 0.6, 4.0])
    assert mask.tolist() == [True, True, False, False]  # NaN q: passed through, caller handles it


def test_clamp_torques_symmetric_and_nan_to_zero() -> None:
    out, mask = clamp_torques(np.array([150.0, -150.0, 20.0, np.nan]), np.array([100.0, 100.0, 100.0, 100.0]))
    np.testing.assert_allclose(out, [100.0, -100.0, 20.0, 0.0])
    assert mask.tolist() == [True, True, False, True]


def test_finite_mask() -> None:
    assert finite_mask([1.0, np.nan, np.inf, -np.inf]).tolist() == [True, False, False, False]
