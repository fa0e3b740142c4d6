"""Sawyer gymnasium environments: check_env, end-effector actions, gripper, success in info, goal images."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from anima.sim_bridge.envs import make_env

pytestmark = pytest.mark.sim


@pytest.mark.parametrize("name, kwargs", [("sawyer_reach", {"observation": "image"}),
                                          ("sawyer_push", {"observation": "image"}),
                                          ("sawyer_stack", {"observation": "dict", "image_size_px": 48}),
                                          ("sawyer_mug", {"observation": "state"}),
                                          ("sawyer_bookshelf", {"observation": "image", "image_size_px": 48}),
                                          ("sawyer_drape", {"observation": "state"})])
def test_check_env_passes(name: str, kwargs: dict) -> None:
    env = make_env(name, **kwargs)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


@pytest.fixture(scope="module")
def push_env():
    env = make_env("sawyer_push", observation="state", episode_steps=20)
    yield env
    env.close()


def test_actions_move_the_end_effector_and_the_gripper(push_env) -> None:
    obs, info = push_env.reset(seed=0)
    assert info["push_success"] is False and info["is_success"] is False and "puck_goal_distance_m" in info
    start = obs[:3].copy()
    for _ in range(5):  # +1 on x: 5 x 2 cm = 10 cm forward; gripper -1 = closed
        obs, _, _, _, info = push_env.step(np.array([1.0, 0.0, 0.0, -1.0], np.float32))
    np.testing.assert_allclose(obs[:3] - start, [0.10, 0.0, 0.0], atol=0.01)
    assert obs[3] < 0.01  # fingers closing (0 = closed, 0.04 = open)
    for k in range(15):  # down 15 x 2 cm from 0.25 m: stops at the floor
        obs, _, terminated, truncated, _ = push_env.step(np.array([0.0, 0.0, -1.0, 1.0], np.float32))
    assert obs[2] == pytest.approx(0.02, abs=0.006)  # clamped at the workspace floor (2 cm above the table)
    assert obs[3] > 0.03 and truncated and not terminated  # 20 steps: the episode ends by time


@pytest.mark.parametrize("reward", ["sparse", "dense"])
def test_success_and_reward_follow_the_ground_truth(reward: str) -> None:
    env = make_env("sawyer_mug", observation="state", reward=reward)
    env.reset(seed=0)
    _, r_start, _, _, info = env.step(np.array([0.0, 0.0, 0.0, 1.0], np.float32))
    assert info["mug_success"] is False
    env.world.place_at_goal()  # ground truth puts the mug on the coaster
    _, r_goal, _, _, info = env.step(np.array([0.0, 0.0, 0.0, 1.0], np.float32))
    env.close()
    assert info["mug_success"] is True and info["is_success"] is True
    if reward == "sparse":
        assert (r_start, r_goal) == (0.0, 1.0)
    else:  # minus the mug-coaster distance
        assert r_start == pytest.approx(-0.23, abs=0.03) and r_goal == pytest.approx(0.0, abs=0.005)


def _push_policy(obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Scripted feedback pusher: get 6 cm behind the puck on the puck-goal line (from above),
    go down, push through the puck's centre; re-align whenever it drifts off the line."""
    ee, puck = obs[:3], obs[4:7]
    d = (goal - puck[:2]) / np.linalg.norm(goal - puck[:2])
    behind = puck[:2] - 0.06 * d
    rel = ee[:2] - puck[:2]
    along, lateral = rel @ d, d[0] * rel[1] - d[1] * rel[0]
    if along > -0.03 or abs(lateral) > 0.015:  # not behind the puck: go round, high
        target = np.append(behind, 0.08 if np.linalg.norm(ee[:2] - behind) > 0.03 else 0.025)
    elif ee[2] > 0.035:
        target = np.append(behind, 0.025)
    else:
        target = np.append(puck[:2], 0.025)
    return np.array([*np.clip((target - ee) / 0.02, -0.5, 0.5), -1.0], np.float32)


def test_a_scripted_push_through_the_action_interface_succeeds() -> None:
    # The task is feasible with (dx, dy, dz, gripper) actions at 10 Hz (3 of 3 seeds in ~8 s, measured).
    env = make_env("sawyer_push", observation="state", reward="sparse", episode_steps=150)
    obs, info = env.reset(seed=1)
    for _ in range(150):
        obs, reward, _, truncated, info = env.step(_push_policy(obs, env.world.scene.goal))
        if info["push_success"] or truncated:
            break
    env.close()
    assert info["push_success"] and reward == 1.0, info


def test_goal_image_shows_the_goal_configuration() -> None:
    env = make_env("sawyer_stack", observation="image", image_size_px=48)
    start, _ = env.reset(seed=3)
    goal = env.goal_image(seed=3)
    assert goal.shape == (48, 48, 3) and env.world.success()
    assert np.abs(goal.astype(int) - start.astype(int)).sum() > 0
    env.close()


def test_bad_action_and_config_are_refused() -> None:
    with pytest.raises(ValueError, match="observation must be one of"):
        make_env("sawyer_reach", observation="pixels")
    env = make_env("sawyer_reach", observation="state")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be 4 finite values"):
        env.step(np.array([np.nan, 0, 0, 0]))
    env.close()
