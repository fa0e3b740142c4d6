"""BaodingEnv on BaodingWorld: spaces, state layout, rest pose holds the balls, drop ends the episode."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.planning_tasks import BAODING_STATE_DIM, BaodingGoToTask, BaodingRotateTask
from anima.sim_bridge.envs import make_env

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def env():
    e = make_env("baoding", episode_steps=20)
    yield e
    e.close()


def test_layout_and_rest_pose_holds_balls(env) -> None:
    obs, info = env.reset(seed=0)
    assert obs.shape == (BAODING_STATE_DIM,) and env.action_space.shape == (24,)
    assert isinstance(env.task, BaodingRotateTask) and env.task.direction == 1
    # Ball positions sit in [24:30]: above the drop height the task uses.
    assert obs[26] > env.task.params.drop_z and obs[29] > env.task.params.drop_z
    # The episode starts with the balls at rest in the held grip (settle_s), as the ROS launch does.
    assert np.abs(obs[30:36]).max() < 0.005
    assert abs(env.world.read_joints().position[1] - env.world.rest_pose[1]) < 0.05  # the wrist did not go limp
    # The target ellipse is centred on the balls; ball_0 rests towards the wrist, where its target starts.
    p = env.task.params
    center = obs[24:30].reshape(2, 3)[:, :2].mean(axis=0)
    assert p.center_xy == pytest.approx(tuple(center), abs=1e-6) and obs[24] < obs[27]
    np.testing.assert_allclose(env.task.targets(np.array(0))[0], center - (p.radius_x, 0.0), atol=1e-6)
    # Action 0 = rest pose: both balls stay in the hand for the whole (short) episode.
    for _ in range(20):
        obs, reward, terminated, truncated, info = env.step(np.zeros(24, np.float32))
        assert not terminated
    assert truncated and not info["dropped"]
    # The env's reward is the task's reward on the state it returns (no drop, ground truth).
    expected, _ = env.task.reward(obs, np.zeros(24), np.asarray(env.t))
    assert reward == pytest.approx(float(expected), rel=1e-5)


def test_gymnasium_api_and_seeded_replay(env) -> None:
    # gymnasium's passive checkers (spaces, dtypes, return types). Full ``check_env`` also demands that
    # a replay after a *different* history be bit-exact, which PyBullet does not give (its contact
    # warm-start cache survives resets: ~2e-2 m apart after one step, measured). What seeded training
    # needs holds: a fresh env running the same seeded sequence reproduces the data exactly.
    from gymnasium.utils.passive_env_checker import check_action_space, check_observation_space, env_reset_passive_checker, env_step_passive_checker

    check_observation_space(env.observation_space)
    check_action_space(env.action_space)
    env_reset_passive_checker(env, seed=5)
    env_step_passive_checker(env, env.action_space.sample())
    assert env.render().shape == (180, 280, 3)  # the left camera of the stereo pair

    def sequence(e) -> np.ndarray:
        out = []
        for seed in (11, 12):
            e.reset(seed=seed)
            out += [e.step(np.full(24, 0.3 * (-1) ** k, np.float32))[0] for k in range(4)]
        return np.array(out)

    first, second = make_env("baoding", episode_steps=20), make_env("baoding", episode_steps=20)
    try:
        np.testing.assert_array_equal(sequence(first), sequence(second))
    finally:
        first.close()
        second.close()


def test_action_mapping_and_bad_action(env) -> None:
    env.reset(seed=1)
    # 0 -> rest pose; +1 -> rest + half range, clipped to the upper limit.
    np.testing.assert_allclose(env.action_to_targets(np.zeros(24)), np.clip(env.world.rest_pose, env.low, env.high))
    assert np.all(env.action_to_targets(np.ones(24)) <= env.high + 1e-12)
    with pytest.raises(ValueError, match="24 finite values"):
        env.step(np.full(24, np.nan))


def test_goto_task_built_from_kwargs() -> None:
    e = make_env("baoding", task="goto", goto_target_xy=(0.0, 0.02), goto_ball=1)
    try:
        e.reset(seed=0)
        assert isinstance(e.task, BaodingGoToTask) and e.task.ball == 1
    finally:
        e.close()
    with pytest.raises(ValueError, match="task must be"):
        make_env("baoding", task="spin")


def test_task_per_episode_via_reset_options(env) -> None:
    env.reset(seed=0, options={"task": "cw"})
    assert isinstance(env.task, BaodingRotateTask) and env.task.direction == -1
    env.reset(seed=0, options={"task": "goto"})
    assert isinstance(env.task, BaodingGoToTask)
    env.reset(seed=0, options={"task": "ccw"})
    assert env.task.direction == 1
    with pytest.raises(ValueError, match="task must be one of"):
        env.reset(seed=0, options={"task": "spin"})
    with pytest.raises(ValueError, match="unknown option"):
        env.reset(seed=0, options={"speed": 2})


def test_action_latency_holds_the_previous_targets() -> None:
    """With action_latency_s the previous targets act first: after a jump the joints lag a latency-free env."""
    with pytest.raises(ValueError, match="action_latency_s"):
        make_env("baoding", action_latency_s=0.1)
    envs = [make_env("baoding", episode_steps=5, action_latency_s=lat) for lat in (0.0, 0.05)]
    try:
        moved = []
        for e in envs:
            start, _ = e.reset(seed=3)
            obs = e.step(np.full(24, 0.8, np.float32))[0]
            moved.append(np.abs(obs[:24] - start[:24]).sum())
        assert moved[1] < 0.8 * moved[0]
    finally:
        for e in envs:
            e.close()


def test_target_lead_reaches_the_rotation_tasks() -> None:
    for bad in (-0.2, "fast", float("nan")):
        with pytest.raises(ValueError, match=r"target_lead_rad must be in \[0, pi\)"):
            make_env("baoding", target_lead_rad=bad)
    e = make_env("baoding", task="cw", target_lead_rad=0.5)
    try:
        e.reset(seed=0)
        assert isinstance(e.task, BaodingRotateTask) and e.task.lead_rad == 0.5 and e.task.direction == -1
    finally:
        e.close()


def test_settle_time_is_validated() -> None:
    with pytest.raises(ValueError, match="settle_s"):
        make_env("baoding", settle_s=0.0)


def test_tracked_ball_state_is_filtered_noisy_fixes() -> None:
    """ball_state="tracked": the observed balls come from noisy fixes through the ball Kalman filter."""
    with pytest.raises(ValueError, match="ball_state"):
        make_env("baoding", ball_state="perfect")
    e = make_env("baoding", episode_steps=10, ball_state="tracked", ball_noise_std_m=0.0005)
    try:
        assert e._fix_steps == 15  # 3 PD periods of 5 physics steps: 33 Hz, near the 30 Hz camera
        obs, _ = e.reset(seed=2)
        truth = e._observe_true()
        assert not np.array_equal(obs[24:36], truth[24:36])  # not the simulator's state
        assert np.abs(obs[24:30] - truth[24:30]).max() < 0.003  # resting balls: within 3 mm
        for _ in range(4):
            obs, reward, *_ = e.step(np.zeros(24, np.float32))
            truth = e._observe_true()
            expected, _ = e.task.reward(truth, np.zeros(24), np.asarray(e.t))
            assert reward == pytest.approx(float(expected), rel=1e-5)  # reward from the true state
        assert np.abs(obs[30:36] - truth[30:36]).max() < 0.05  # filtered velocity of the settled balls
    finally:
        e.close()
