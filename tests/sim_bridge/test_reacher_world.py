"""The reacher as a bridge world: same episodes and same physics as the training environment."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.planning_tasks import ReachTask
from anima.controllers.robot_config import load_robot_config
from anima.sim_bridge.envs.planar_reacher import PlanarReacherEnv, PlanarReacherWorld, ReacherConfig
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, ReacherPixelsEnv
from anima.sim_bridge.reacher_world import ReacherSimWorld, draw_reacher_episode, draw_solar_episode, fingertip_xy

NAMES = ("reacher_shoulder", "reacher_elbow")


def test_a_seed_draws_the_environments_episode() -> None:
    env = PlanarReacherEnv()
    for seed in (0, 7, 123):
        _, info = env.reset(seed=seed)
        ep = draw_reacher_episode(np.random.default_rng(seed), env.config)
        np.testing.assert_array_equal(ep.q0, env.world.q)
        np.testing.assert_array_equal(ep.target_xy, info["target"])


def test_a_seed_draws_the_solar_environments_episode() -> None:
    env = ReacherPixelsEnv()
    for seed in (0, 7, 123):
        _, info = env.reset(seed=seed)
        ep = draw_solar_episode(np.random.default_rng(seed), env.config)
        np.testing.assert_array_equal(ep.q0, info["q"])
        np.testing.assert_array_equal(ep.target_xy, info["target"])
    # the bridge's guard limit is SOLAR's arm (0.1 N m; PDDM's reacher keeps 0.02)
    assert ReacherPixelsConfig().reacher.max_torque == load_robot_config("reacher").torque_limit[0] == 0.1
    assert ReacherConfig().max_torque == 0.02


def test_substeps_with_a_held_torque_are_one_environment_step() -> None:
    config = ReacherConfig()
    world = ReacherSimWorld(config, NAMES)
    ep = draw_reacher_episode(np.random.default_rng(3), config)
    world.reset(ep)
    ref = PlanarReacherWorld(config)
    ref.reset(np.asarray(ep.q0))
    for tau in ([0.015, -0.01], [-0.02, 0.005], [0.0, 0.02]):
        world.apply_torques(np.array(tau))
        world.step(config.substeps)
        ref.step(np.array(tau))
        np.testing.assert_allclose(world.read_joints().position, ref.q, rtol=0, atol=1e-12)
        np.testing.assert_allclose(world.read_joints().velocity, ref.qd, rtol=0, atol=1e-12)
    assert world.time_s == pytest.approx(3 * config.control_dt)


def test_torque_is_clipped_and_reported_and_reset_keeps_time() -> None:
    config = ReacherConfig()
    world = ReacherSimWorld(config, NAMES)
    world.apply_torques(np.array([1.0, -1.0]))  # 50x the limit
    world.step(2)
    np.testing.assert_array_equal(world.read_joints().effort, [0.02, -0.02])
    t = world.time_s
    world.reset(draw_reacher_episode(np.random.default_rng(1), config))
    assert world.time_s == t  # /clock never goes back
    np.testing.assert_array_equal(world.read_joints().velocity, [0.0, 0.0])
    world.step(1)
    np.testing.assert_array_equal(world.read_joints().effort, [0.0, 0.0])  # a reset drops the held torque


def test_fingertip_and_distance_match_the_reach_task() -> None:
    config = ReacherConfig()
    world = ReacherSimWorld(config, NAMES)
    ep = draw_reacher_episode(np.random.default_rng(5), config)
    world.reset(ep)
    env_world = PlanarReacherWorld(config)
    env_world.reset(np.asarray(ep.q0))
    task = ReachTask(ep.target_xy, config.link_lengths)
    np.testing.assert_allclose(world.fingertip(), task.fingertip(env_world.state()), atol=1e-6)
    assert world.distance() == pytest.approx(float(task.distance(env_world.state())), abs=1e-6)
    # q = (0, 0): the arm stretched along x, tip at (0.2, 0); q = (pi/2, -pi/2): tip at (0.1, 0.1)
    np.testing.assert_allclose(fingertip_xy(np.zeros(2), (0.1, 0.1)), [0.2, 0.0], atol=1e-12)
    np.testing.assert_allclose(fingertip_xy(np.array([np.pi / 2, -np.pi / 2]), (0.1, 0.1)), [0.1, 0.1], atol=1e-12)


def test_robot_config_matches_the_reacher() -> None:
    robot = load_robot_config("reacher")
    assert robot.joint_names == NAMES
    np.testing.assert_array_equal(robot.torque_limit, [ReacherPixelsConfig().reacher.max_torque] * 2)
    assert robot.target_rate_hz == pytest.approx(1.0 / ReacherConfig().control_dt)


def test_no_randomization_and_two_joints() -> None:
    with pytest.raises(ValueError, match="planar reacher has 2 joints"):
        ReacherSimWorld(ReacherConfig(), ("a",))
    with pytest.raises(ValueError, match="no domain randomization"):
        ReacherSimWorld(ReacherConfig(), NAMES).randomize(np.random.default_rng(0))
