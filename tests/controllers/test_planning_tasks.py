"""Batched task rewards: targets, penalties and broadcasting against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.planning_tasks import BAODING_STATE_DIM, BaodingGoToTask, BaodingParams, BaodingRotateTask, ReachTask, pair_phase, start_phase

PARAMS = BaodingParams(center_xy=(0.1, 0.2), drop_z=0.06, wrist_indices=(0, 1))


def _state(ball0_xy, ball1_xy, z: float = 0.1) -> np.ndarray:
    s = np.zeros(BAODING_STATE_DIM)
    s[24:27] = (*ball0_xy, z)
    s[27:30] = (*ball1_xy, z)
    return s


def test_baoding_targets_quarter_turn() -> None:
    ccw, cw = BaodingRotateTask(PARAMS, 1), BaodingRotateTask(PARAMS, -1)
    # t = 0: ball_0 at centre + (rx, 0) = (0.136, 0.2) (rx 0.036 m along the fingers); ball_1 opposite.
    t0, t1 = ccw.targets(np.array(0))
    np.testing.assert_allclose(t0, [0.136, 0.2], atol=1e-12)
    np.testing.assert_allclose(t1, [0.064, 0.2], atol=1e-12)
    # t = 15 = quarter of the 60-step period: ccw ball_0 at (0.1, 0.2 + 0.02) (ry 0.02 m across); cw at (0.1, 0.2 - 0.02).
    np.testing.assert_allclose(ccw.targets(np.array(15))[0], [0.1, 0.22], atol=1e-12)
    np.testing.assert_allclose(cw.targets(np.array(15))[0], [0.1, 0.18], atol=1e-12)


def test_start_phase_puts_ball_0s_target_at_its_end_of_the_long_axis() -> None:
    assert start_phase(np.array([0.036, 0.018]), np.array([0.06, -0.019])) == pytest.approx(np.pi)  # ball_0 towards the wrist
    assert start_phase(np.array([0.08, 0.0]), np.array([0.04, 0.01])) == 0.0  # swapped after turning: ball_0 at the fingertips
    task = BaodingRotateTask(BaodingParams(center_xy=(0.05, 0.01), phase0=start_phase(np.array([0.03, 0.0]), np.array([0.07, 0.0]))))
    np.testing.assert_allclose(task.targets(np.array(0))[0], [0.05 - 0.036, 0.01], atol=1e-12)


def test_lead_re_anchors_the_targets_ahead_of_the_balls() -> None:
    # Balls a quarter turn along (ball_0 at the +y end of the short axis, ball_1 opposite): phase pi/2.
    state = _state((0.1, 0.22), (0.1, 0.18))
    assert pair_phase(state, PARAMS) == pytest.approx(np.pi / 2)
    clock = BaodingRotateTask(PARAMS, 1)
    assert clock.from_state(state, 40) is clock  # lead 0: PDDM's clock, unchanged
    lead = np.pi / 6
    for direction in (1, -1):
        task = BaodingRotateTask(PARAMS, direction, lead).from_state(state, 40)
        # At step 40 ball_0's target sits 30 deg ahead of the balls in the task's direction ...
        a = np.pi / 2 + direction * lead
        np.testing.assert_allclose(task.targets(np.array(40))[0], [0.1 + 0.036 * np.cos(a), 0.2 + 0.02 * np.sin(a)], atol=1e-12)
        # ... and runs on at the clock's speed: 15 steps later, a quarter turn further.
        a += direction * np.pi / 2
        np.testing.assert_allclose(task.targets(np.array(55))[0], [0.1 + 0.036 * np.cos(a), 0.2 + 0.02 * np.sin(a)], atol=1e-12)
    # Balls lagging the clock by 330 deg (at phase 0 while ball_0's target is at 11 pi / 6, step 55):
    # the clock's target lies 30 deg behind them, so turning on (ccw) lowers the clock's reward; the
    # re-anchored target lies ahead, so turning on raises it.
    on_ellipse = lambda a: _state((0.1 + 0.036 * np.cos(a), 0.2 + 0.02 * np.sin(a)), (0.1 - 0.036 * np.cos(a), 0.2 - 0.02 * np.sin(a)))
    gain = lambda task: float(task.reward(on_ellipse(0.1), np.zeros(24), np.array(56))[0] - task.reward(on_ellipse(0.0), np.zeros(24), np.array(56))[0])
    assert gain(clock) < 0
    assert gain(BaodingRotateTask(PARAMS, 1, lead).from_state(on_ellipse(0.0), 55)) > 0


def test_baoding_reward_values() -> None:
    task = BaodingRotateTask(PARAMS, 1)
    on_target = _state((0.136, 0.2), (0.064, 0.2))
    r, done = task.reward(on_target, np.zeros(24), np.array(0))
    assert r == pytest.approx(0.0) and not done
    # ball_0 0.01 m off in x: -5 * 0.01 = -0.05.
    r, _ = task.reward(_state((0.146, 0.2), (0.064, 0.2)), np.zeros(24), np.array(0))
    assert r == pytest.approx(-0.05)
    # ball_1 below the drop height: -500 and done.
    dropped = _state((0.136, 0.2), (0.064, 0.2))
    dropped[29] = 0.05
    r, done = task.reward(dropped, np.zeros(24), np.array(0))
    assert r == pytest.approx(-500.0) and done
    # wrist joint 1 at 0.2 rad > 0.15: -10.
    wrist = on_target.copy()
    wrist[1] = -0.2
    assert task.reward(wrist, np.zeros(24), np.array(0))[0] == pytest.approx(-10.0)


def test_goto_and_broadcasting() -> None:
    task = BaodingGoToTask(target_xy=(0.1, 0.25), ball=1, params=PARAMS)
    # ball_1 at (0.1, 0.2): distance 0.05 -> -0.25; batched over (H=2, E=3, N=4).
    states = np.broadcast_to(_state((0.0, 0.0), (0.1, 0.2)), (2, 3, 4, BAODING_STATE_DIM))
    t = np.arange(2).reshape(2, 1, 1)
    r, done = task.reward(states, np.zeros((2, 1, 4, 24)), t)
    assert r.shape == (2, 3, 4) and done.shape == (2, 3, 4)
    np.testing.assert_allclose(r, -0.25)
    r, _ = BaodingRotateTask(PARAMS).reward(states, np.zeros((2, 1, 4, 24)), t)
    assert r.shape == (2, 3, 4)


def test_reach_fingertip() -> None:
    task = ReachTask((0.1, 0.1))
    # q1 = 0, q2 = pi/2: elbow at (0.1, 0), tip at (0.1, 0.1) -> on target, at rest: reward 0.
    s = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(task.fingertip(s), [0.1, 0.1], atol=1e-12)
    assert task.reward(s, np.zeros(2), np.array(0))[0] == pytest.approx(0.0)
    # Moving at qd = (1, 0): -0.01 * 1 = -0.01.
    s[4] = 1.0
    assert task.reward(s, np.zeros(2), np.array(0))[0] == pytest.approx(-0.01)


def test_validation() -> None:
    with pytest.raises(ValueError, match="direction"):
        BaodingRotateTask(PARAMS, 2)
    for bad in (-0.1, np.pi, float("nan")):
        with pytest.raises(ValueError, match="lead_rad"):
            BaodingRotateTask(PARAMS, 1, bad)
    with pytest.raises(ValueError, match="wrist_indices"):
        BaodingParams(wrist_indices=(30,))


def test_one_episode_start_for_the_env_and_the_node() -> None:
    from anima.controllers.planning_tasks import BaodingGoToTask, BaodingParams, BaodingRotateTask, start_baoding_task

    balls = np.array([[0.0, 0.0], [0.05, 0.01]])  # ball_0 nearer the wrist (smaller x): targets start at phase pi
    params = BaodingParams(drop_z=0.15, wrist_indices=(0, 1))
    rot = start_baoding_task("cw", balls, params, lead_rad=0.3)
    assert isinstance(rot, BaodingRotateTask) and rot.direction == -1 and rot.lead_rad == 0.3
    assert rot.params.center_xy == pytest.approx((0.025, 0.005)) and rot.params.phase0 == pytest.approx(np.pi)
    assert rot.params.drop_z == 0.15  # the given geometry is kept
    goto = start_baoding_task("goto", balls[::-1], params, goto_target_xy=(0.0, 0.03), goto_ball=1)
    assert isinstance(goto, BaodingGoToTask) and goto.ball == 1
    assert goto.target_xy == pytest.approx((0.025, 0.035)) and goto.params.phase0 == 0.0  # ball_0 now at larger x
    with pytest.raises(ValueError, match="task must be one of"):
        start_baoding_task("spin", balls, params)
