"""Action filters: a Butterworth low pass designed here and run as a direct-form IIR.

The imitation work smooths every policy action with a 2nd-order Butterworth low pass, 4 Hz
cutoff, sampled at the policy rate (~30 Hz), with its history initialised to the current
joint angles at episode start (Peng et al., RSS 2020, Sec. V-A "action filter"; FACTS.md
"Action processing"). The design is the classic one: analog Butterworth prototype poles, cutoff
pre-warped so that the digital -3 dB point falls exactly at ``cutoff_hz``, bilinear transform
(Oppenheim & Schafer, Discrete-Time Signal Processing, Sec. 7.2), gain normalised to unit DC
gain. ``scipy.signal.butter`` gives the same coefficients (the tests check this).
"""

from __future__ import annotations

import math

import numpy as np


def butterworth_lowpass_coefficients(order: int, cutoff_hz: float, sample_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Digital Butterworth low pass ``(b, a)``, each of length ``order + 1``, ``a[0] == 1``.

    H(z) = (b0 + b1 z^-1 + ...) / (1 + a1 z^-1 + ...).
    """
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"order: must be a positive integer, got {order!r}")
    if not (0.0 < cutoff_hz < sample_rate_hz / 2.0):
        raise ValueError(f"cutoff_hz: must be in (0, sample_rate_hz/2 = {sample_rate_hz / 2.0}), got {cutoff_hz}")
    fs2 = 2.0 * sample_rate_hz
    # Pre-warped analog cutoff: the bilinear map s = 2 fs (z-1)/(z+1) sends w_a = 2 fs tan(w_d / (2 fs)).
    wc = fs2 * math.tan(math.pi * cutoff_hz / sample_rate_hz)
    k = np.arange(1, order + 1)
    poles_s = wc * np.exp(1j * math.pi * (2 * k + order - 1) / (2 * order))  # left half plane
    poles_z = (fs2 + poles_s) / (fs2 - poles_s)
    a = np.real(np.poly(poles_z))
    b = np.real(np.poly(-np.ones(order)))  # all zeros at z = -1 (Nyquist)
    b *= a.sum() / b.sum()  # unit gain at DC (z = 1)
    return b, a


class ButterworthLowPass:
    """Per-channel Butterworth low pass, direct form I.

    ``y[n] = b0 x[n] + ... + bN x[n-N] - a1 y[n-1] - ... - aN y[n-N]``.

    Channels have any shape (``n`` is an int or a shape tuple, e.g. ``(num_envs, 12)``); inputs
    to :meth:`step` must have that shape.
    """

    def __init__(self, order: int = 2, cutoff_hz: float = 4.0, sample_rate_hz: float = 30.0,
                 n: int | tuple[int, ...] = 12) -> None:
        self.b, self.a = butterworth_lowpass_coefficients(order, cutoff_hz, sample_rate_hz)
        self.order = order
        self.cutoff_hz = float(cutoff_hz)
        self.sample_rate_hz = float(sample_rate_hz)
        self.shape: tuple[int, ...] = (n,) if isinstance(n, (int, np.integer)) else tuple(n)
        self._x = np.zeros((order,) + self.shape)  # x[n-1], x[n-2], ...
        self._y = np.zeros((order,) + self.shape)
        self.reset()

    def reset(self, x0: np.ndarray | float | None = None) -> None:
        """Fill the history with ``x0`` (zeros if None): a constant ``x0`` input then passes unchanged."""
        val = 0.0 if x0 is None else np.asarray(x0, dtype=float)
        val = np.broadcast_to(val, self.shape)
        self._x[...] = val
        self._y[...] = val

    def reset_channels(self, mask: np.ndarray, x0: np.ndarray) -> None:
        """Reset only the channels where ``mask`` is true (e.g. one env of a batch) to ``x0``."""
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), self.shape)
        val = np.broadcast_to(np.asarray(x0, dtype=float), self.shape)
        self._x[:, mask] = val[mask]
        self._y[:, mask] = val[mask]

    def step(self, x: np.ndarray) -> np.ndarray:
        """Filter one sample; returns the new output (a copy)."""
        x = np.asarray(x, dtype=float)
        if x.shape != self.shape:
            raise ValueError(f"x: expected shape {self.shape}, got {x.shape}")
        y = self.b[0] * x
        for i in range(self.order):
            y = y + self.b[i + 1] * self._x[i] - self.a[i + 1] * self._y[i]
        self._x = np.roll(self._x, 1, axis=0)
        self._y = np.roll(self._y, 1, axis=0)
        self._x[0] = x
        self._y[0] = y
        return y.copy()

    @property
    def output(self) -> np.ndarray:
        """The most recent output (the history's newest value)."""
        return self._y[0].copy()


__all__ = ["ButterworthLowPass", "butterworth_lowpass_coefficients"]
