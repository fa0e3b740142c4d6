"""The ROS-side episode score (on-robot signals vs the reference) equals the training env's reward
when it is fed the true body state, so the search optimises the same objective over ROS."""

from __future__ import annotations

import numpy as np
import pytest

from anima.models.adaptation.signal_score import BodyState, SignalScorer
from anima.sim_bridge.envs.laikago_imitation import LaikagoImitationEnv


def _body(env) -> BodyState:
    g, j = env.world.ground_truth(), env.world.true_joints()
    return BodyState(g.position, g.linear_velocity_world, g.orientation_xyzw, g.angular_velocity_body, j.position,
                     j.velocity)


@pytest.mark.parametrize("action_scale", [0.0, 0.3])
def test_score_from_body_signals_equals_the_env_reward(action_scale: float) -> None:
    env = LaikagoImitationEnv(profile="training", episode_steps=40)
    try:
        _, info = env.reset(seed=3, options={"ref_state_init": False, "motion_time": -0.25})
        scorer = SignalScorer(env.tracker.motion, env.default_frame)
        scorer.start(info["motion_time"], _body(env), warmup=True)
        rng = np.random.default_rng(0)
        env_rewards, scores = [], []
        for _ in range(40):
            _, reward, terminated, truncated, _ = env.step(action_scale * rng.standard_normal(12))
            env_rewards.append(reward)
            scores.append(scorer.step(env.motion_time, _body(env)))
            if terminated or truncated:
                break
        # Same terms and reference; the score's root comes from the body frame through the leg
        # kinematics' inertial offset (the env reads PyBullet's inertial frame directly).
        np.testing.assert_allclose(scores, env_rewards, atol=2e-3)
        assert scorer.steps == len(env_rewards)
    finally:
        env.close()


def test_a_robot_far_from_the_reference_is_a_fall() -> None:
    env = LaikagoImitationEnv(profile="training", episode_steps=5)
    try:
        _, info = env.reset(seed=0, options={"ref_state_init": False, "motion_time": -0.25})
        scorer = SignalScorer(env.tracker.motion, env.default_frame)
        scorer.start(info["motion_time"], _body(env), warmup=True)
        b = _body(env)
        assert scorer.step(0.0, b) > 0 and not scorer.fell
        moved = BodyState(b.position + np.array([1.5, 0.0, 0.0]), b.linear_velocity_world, b.orientation_xyzw,
                          b.angular_velocity_body, b.q, b.qd)
        scorer.step(0.033, moved)
        assert scorer.fell and scorer.step(0.066, b) == 0.0
    finally:
        env.close()
