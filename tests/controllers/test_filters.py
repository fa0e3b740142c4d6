"""Butterworth action filter: coefficients, DC gain, step response."""

import math

import numpy as np
import pytest

from anima.controllers.filters import ButterworthLowPass, butterworth_lowpass_coefficients


def test_second_order_coefficients_hand_derived() -> None:
    # Bilinear transform with pre-warping, order 2, fc = 4 Hz, fs = 30.3 Hz (the original's rate):
    #   K = tan(pi*4/30.3) = 0.440268,  D = 1 + sqrt(2) K + K^2 = 1.816460
    #   b = K^2/D * (1, 2, 1) = (0.106710, 0.213421, 0.106710)
    #   a = (1, 2(K^2-1)/D, (1 - sqrt(2) K + K^2)/D) = (1, -0.887616, 0.314458)
    b, a = butterworth_lowpass_coefficients(2, 4.0, 30.3)
    np.testing.assert_allclose(b, [0.106710, 0.213421, 0.106710], atol=2e-6)
    np.testing.assert_allclose(a, [1.0, -0.887616, 0.314458], atol=2e-6)
    assert b.sum() / a.sum() == pytest.approx(1.0, abs=1e-12)  # DC gain H(1) = 1


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_scipy_design(order: int) -> None:
    from scipy.signal import butter

    b, a = butterworth_lowpass_coefficients(order, 4.0, 30.0)
    b_ref, a_ref = butter(order, 4.0, btype="low", fs=30.0)
    np.testing.assert_allclose(b, b_ref, atol=1e-12)
    np.testing.assert_allclose(a, a_ref, atol=1e-12)


def test_minus_3db_at_cutoff() -> None:
    # |H(e^{jw})| at w = 2 pi fc / fs must be 1/sqrt(2) for a Butterworth with pre-warping.
    b, a = butterworth_lowpass_coefficients(2, 4.0, 30.0)
    z = np.exp(-1j * 2 * math.pi * 4.0 / 30.0 * np.arange(3))
    assert abs(np.dot(b, z) / np.dot(a, z)) == pytest.approx(1 / math.sqrt(2), abs=1e-9)


def test_reset_passes_constant_unchanged() -> None:
    f = ButterworthLowPass(2, 4.0, 30.0, n=3)
    x0 = np.array([0.1, -0.59, 0.67])
    f.reset(x0)
    for _ in range(10):
        np.testing.assert_allclose(f.step(x0), x0, atol=1e-12)


def test_step_response_first_samples_and_settling() -> None:
    # Direct form I from zero history, unit step:
    #   y0 = b0 = 0.106710 (fs 30.3)
    #   y1 = b0 + b1 - a1*y0 = 0.320131 + 0.887616*0.106710 = 0.414849
    f = ButterworthLowPass(2, 4.0, 30.3, n=1)
    y = np.array([f.step(np.ones(1))[0] for _ in range(60)])
    assert y[0] == pytest.approx(0.106710, abs=2e-6)
    assert y[1] == pytest.approx(0.414849, abs=2e-6)
    # 2nd-order Butterworth overshoots by ~4.3 % (analog value), and settles to 1 (DC gain 1).
    assert 1.02 < y.max() < 1.07
    assert y[-1] == pytest.approx(1.0, abs=1e-4)


def test_batch_shape_and_partial_reset() -> None:
    f = ButterworthLowPass(2, 4.0, 30.0, n=(2, 3))
    f.reset(np.ones((2, 3)))
    f.reset_channels(np.array([[True], [False]]), np.zeros((2, 3)))
    y = f.step(np.vstack([np.zeros(3), np.ones(3)]))
    np.testing.assert_allclose(y, np.vstack([np.zeros(3), np.ones(3)]), atol=1e-12)
    with pytest.raises(ValueError, match="x: expected shape"):
        f.step(np.zeros(3))


def test_bad_design_parameters_rejected() -> None:
    with pytest.raises(ValueError, match="cutoff_hz"):
        butterworth_lowpass_coefficients(2, 20.0, 30.0)
    with pytest.raises(ValueError, match="order"):
        butterworth_lowpass_coefficients(0, 4.0, 30.0)
