"""The five imitation reward terms against hand-computed values on constructed states."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anima.models.imitation.reward import (RewardConfig, end_effector_error, imitation_reward, pose_error,
                                           root_pose_error, root_velocity_error, velocity_error)


def _yaw(angle: float) -> np.ndarray:
    return np.array([0.0, 0.0, math.sin(angle / 2), math.cos(angle / 2)])


def test_pose_error_sums_squared_joint_differences():
    # 12 joints each 0.1 rad off: 12 × 0.01 = 0.12 rad²
    assert pose_error(np.zeros(12), np.full(12, 0.1)) == pytest.approx(0.12)


def test_velocity_error_sums_squared_rate_differences():
    qd_ref = np.zeros(12)
    qd_sim = np.zeros(12)
    qd_sim[3] = 2.0
    qd_sim[7] = -1.0
    assert velocity_error(qd_ref, qd_sim) == pytest.approx(5.0)  # 4 + 1


def test_end_effector_error_is_heading_invariant_and_weights_height_by_three():
    local = np.array([[0.2, 0.1, -0.45], [0.2, -0.1, -0.45], [-0.2, 0.1, -0.45], [-0.2, -0.1, -0.45]])
    root_ref = np.array([0.0, 0.0, 0.45])
    toes_ref = root_ref + local
    # The sim robot stands elsewhere, turned by 90°: its toes in its heading frame are the same.
    root_sim = np.array([1.0, 2.0, 0.45])
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    toes_sim = root_sim + local @ rot.T
    assert end_effector_error(toes_ref, root_ref, 0.0, toes_sim, root_sim, math.pi / 2) == pytest.approx(0.0, abs=1e-12)
    # Every sim toe 1 cm higher: 4 feet × 3 × 1e-4 = 1.2e-3; one toe also 2 cm ahead in its heading
    # frame (heading π/2: ahead is world +y): + 0.02² = 1.6e-3.
    toes_up = toes_sim + np.array([0.0, 0.0, 0.01])
    toes_up[0] += np.array([0.0, 0.02, 0.0])
    assert end_effector_error(toes_ref, root_ref, 0.0, toes_up, root_sim, math.pi / 2) == pytest.approx(1.6e-3)


def test_root_pose_error_adds_half_the_squared_rotation_angle():
    # 0.1 m off and turned 0.2 rad: 0.01 + 0.5 × 0.04 = 0.03
    err = root_pose_error(np.array([1.0, 0.0, 0.5]), _yaw(0.3), np.array([1.1, 0.0, 0.5]), _yaw(0.1))
    assert err == pytest.approx(0.03)


def test_root_velocity_error_weights_angular_velocity_by_a_tenth():
    err = root_velocity_error(np.array([1.0, 0.0, 0.0]), np.zeros(3), np.zeros(3), np.array([0.0, 0.0, 2.0]))
    assert err == pytest.approx(1.4)  # 1 + 0.1 × 4


def test_imitation_reward_weights_and_scales():
    errors = {"pose": 0.12, "velocity": 5.0, "end_effector": 1.6e-3, "root_pose": 0.03, "root_velocity": 1.4}
    reward, terms = imitation_reward(errors)
    expected = {"pose": math.exp(-5 * 0.12), "velocity": math.exp(-0.1 * 5.0), "end_effector": math.exp(-40 * 1.6e-3),
                "root_pose": math.exp(-20 * 0.03), "root_velocity": math.exp(-2 * 1.4)}
    assert terms == pytest.approx(expected)
    total = (0.5 * expected["pose"] + 0.05 * expected["velocity"] + 0.2 * expected["end_effector"]
             + 0.15 * expected["root_pose"] + 0.1 * expected["root_velocity"])
    assert reward == pytest.approx(total)
    perfect, _ = imitation_reward(dict.fromkeys(errors, 0.0))
    assert perfect == pytest.approx(1.0)  # the weights sum to one


def test_imitation_reward_names_a_missing_term():
    with pytest.raises(ValueError, match="root_velocity"):
        imitation_reward({"pose": 0.0, "velocity": 0.0, "end_effector": 0.0, "root_pose": 0.0})
    with pytest.raises(ValueError, match="pose_weight"):
        RewardConfig(pose_weight=-1.0)
