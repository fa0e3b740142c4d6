"""Procedural dog gaits: phase pattern, duty factor, stationary stance feet, speed, skeleton."""

from __future__ import annotations

import numpy as np
import pytest

from anima.models.retarget.generator import DogSkeleton, GaitParams, generate_gait
from anima.models.retarget.retarget import detect_stance

TOES = ("right_fore_toe", "left_fore_toe", "right_hind_toe", "left_hind_toe")


def stance(params: GaitParams) -> tuple[np.ndarray, np.ndarray]:
    kp = generate_gait(params)
    toes = np.stack([kp.get(n) for n in TOES], axis=1)
    return toes, toes[..., 2] < 1e-9


def test_trot_moves_diagonal_pairs_together() -> None:
    _, on = stance(GaitParams("trot", speed_m_s=0.8, stride_m=0.4, duty_factor=0.5, cycles=2))
    # Trot: RF with LH, LF with RH; the two pairs alternate.
    np.testing.assert_array_equal(on[:, 0], on[:, 3])
    np.testing.assert_array_equal(on[:, 1], on[:, 2])
    # Pairs overlap only at the instants of exchange (lift-off and touch-down frames share z = 0).
    assert np.mean(on[:, 0] & on[:, 1]) < 0.1 and np.mean(on[:, 0] | on[:, 1]) == 1.0


def test_pace_and_bound_pairs() -> None:
    _, pace = stance(GaitParams("pace", cycles=1))
    np.testing.assert_array_equal(pace[:, 0], pace[:, 2])  # right pair together
    _, bound = stance(GaitParams("bound", duty_factor=0.4, cycles=1))
    np.testing.assert_array_equal(bound[:, 0], bound[:, 1])  # fore pair together


@pytest.mark.parametrize("duty", [0.5, 0.7])
def test_duty_factor(duty: float) -> None:
    # Fraction of frames in stance per foot = duty factor, within one frame per stance (60 Hz, 1 s).
    _, on = stance(GaitParams("walk", speed_m_s=0.4, stride_m=0.4, duty_factor=duty, cycles=1))
    np.testing.assert_allclose(on.mean(axis=0), duty, atol=2.5 / on.shape[0])


def test_stance_feet_do_not_move_and_body_speed() -> None:
    params = GaitParams("trot", speed_m_s=0.8, stride_m=0.4, turn_rate_rad_s=0.5, cycles=2)
    toes, on = stance(params)
    for leg in range(4):
        both = on[1:, leg] & on[:-1, leg]
        assert np.abs(np.diff(toes[:, leg], axis=0)[both]).max() < 1e-12
    kp = generate_gait(GaitParams("trot", speed_m_s=0.8, stride_m=0.4, cycles=2))
    pelvis = kp.get("pelvis")
    # 2 cycles x 0.4 m stride at 0.8 m/s = 1 s travelling 0.8 m.
    assert pelvis[-1, 0] - pelvis[0, 0] == pytest.approx(0.8, abs=1e-9)


def test_skeleton_proportions_are_used() -> None:
    kp = generate_gait(GaitParams("walk", cycles=1), DogSkeleton(body_length_m=0.7))
    d = kp.get("left_shoulder")[0] - kp.get("left_hip")[0]
    # Heading 0 at t = 0: x gap = body length; y gap = (shoulder width 0.16 - hip width 0.14) / 2.
    np.testing.assert_allclose(d, [0.7, 0.01, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="DogSkeleton.hip_width_m: must be positive"):
        DogSkeleton(hip_width_m=0.0)
    with pytest.raises(ValueError, match="gait: unknown 'gallop'"):
        GaitParams("gallop")


def test_detect_stance_debounces_flicker() -> None:
    # Toe on the ground for 10 frames with a 1-frame marker glitch at frame 4 and a lone frame at 14.
    toes = np.zeros((16, 1, 3))
    toes[10:, 0, 2] = 0.1
    toes[4, 0, 2] = 0.05
    toes[14, 0, 2] = 0.0
    flags = detect_stance(toes, 60.0, height_m=0.02, speed_m_s=0.1, min_frames=3)[:, 0]
    np.testing.assert_array_equal(flags, np.arange(16) < 10)
