"""IMU gravity check at start (issue 20, item 8): hand-built samples, expected verdicts by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anima.controllers.imu_check import GravityCheck, GravityCheckConfig, ImuVerdict

G = 9.81
STILL = np.zeros(3)


def _feed(check: GravityCheck, accel, n: int, gyro=STILL) -> ImuVerdict:
    for _ in range(n):
        verdict = check.add(gyro, np.asarray(accel, float))
    return verdict


def test_level_imu_passes_after_one_window() -> None:
    check = GravityCheck(GravityCheckConfig(window_samples=10))
    assert _feed(check, [0, 0, G], 9) is ImuVerdict.WAITING  # one sample short of the window
    assert _feed(check, [0, 0, G], 1) is ImuVerdict.PASSED
    assert "0.0 deg from +z" in check.reason


def test_y_up_imu_fails_naming_the_axis() -> None:
    # y up: at rest the specific force is (0, +g, 0), 90 deg from +z.
    check = GravityCheck(GravityCheckConfig(window_samples=10))
    assert _feed(check, [0, G, 0], 10) is ImuVerdict.FAILED
    assert "90 deg from +z" in check.reason and "along +y" in check.reason
    assert _feed(check, [0, 0, G], 50) is ImuVerdict.FAILED  # decided once: no later pass


def test_upside_down_and_wrong_units_fail() -> None:
    down = GravityCheck(GravityCheckConfig(window_samples=5))
    assert _feed(down, [0, 0, -G], 5) is ImuVerdict.FAILED and "180 deg" in down.reason
    in_g = GravityCheck(GravityCheckConfig(window_samples=5))  # a driver reporting in g: |f| = 1
    assert _feed(in_g, [0, 0, 1.0], 5) is ImuVerdict.FAILED and "wrong units" in in_g.reason


def test_tilt_within_the_tolerance_passes_and_beyond_fails() -> None:
    # 20 deg about x: f = g (0, sin 20, cos 20) -> 20 deg from +z, inside 30; 40 deg is outside.
    for deg, verdict in ((20.0, ImuVerdict.PASSED), (40.0, ImuVerdict.FAILED)):
        a = math.radians(deg)
        check = GravityCheck(GravityCheckConfig(window_samples=5))
        assert _feed(check, [0, G * math.sin(a), G * math.cos(a)], 5) is verdict, deg


def test_waits_while_the_robot_moves() -> None:
    check = GravityCheck(GravityCheckConfig(window_samples=5, still_gyro_radps=0.2))
    assert _feed(check, [0, G, 0], 20, gyro=np.array([0, 0, 1.0])) is ImuVerdict.WAITING  # turning: no verdict
    assert "gyro 1.00 rad/s" in check.reason
    # shaking: accelerometer std 2 m/s^2 over the window -> still waiting
    for k in range(5):
        check.add(STILL, np.array([0, 0, G + (2.0 if k % 2 else -2.0)]))
    assert check.verdict is ImuVerdict.WAITING and "accelerometer std" in check.reason
    assert _feed(check, [0, 0, G], 5) is ImuVerdict.PASSED


def test_non_finite_samples_are_ignored() -> None:
    check = GravityCheck(GravityCheckConfig(window_samples=3))
    assert _feed(check, [np.nan, 0, G], 10) is ImuVerdict.WAITING
    assert _feed(check, [0, 0, G], 3) is ImuVerdict.PASSED


@pytest.mark.parametrize("field,value", [("window_samples", 0), ("max_tilt_rad", 2.0), ("gravity_mps2", float("nan"))])
def test_config_rejects_bad_values(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        GravityCheckConfig(**{field: value})
