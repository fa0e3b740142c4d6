"""LaikagoImitationEnv: reference state init, warm-up, termination, curriculum, determinism, check_env."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anima.controllers.command_path import JointCommandPath
from anima.models.imitation.observation import OBS_LAYOUT
from anima.sim_bridge.envs.laikago_imitation import LaikagoImitationEnv, curriculum_episode_steps, standing_frame


@pytest.fixture(scope="module")
def env():
    e = LaikagoImitationEnv(motion="dog_pace", episode_steps=30)
    yield e
    e.close()


def test_reference_state_init_puts_the_robot_on_the_clip(env):
    obs, info = env.reset(seed=1, options={"ref_state_init": True, "motion_time": 0.3})
    assert info["ref_state_init"] and not info["warmup"]
    ref = env.tracker.state(0.3)
    assert env.world.true_joints().position == pytest.approx(ref.joints, abs=1e-9)
    pos, quat, vel, _ = env.world.root_state()
    assert pos == pytest.approx(ref.root_position, abs=1e-9)
    assert vel == pytest.approx(ref.root_linear_velocity, abs=1e-9)
    assert obs.shape == (160,) and obs.dtype == np.float32
    # the first target frame's joints are the clip's one control step later
    frame = obs[OBS_LAYOUT["target_frames"]][:19]
    assert frame[7:] == pytest.approx(env.tracker.state(0.3 + env.control_dt).joints, abs=1e-6)


def test_without_reference_init_the_robot_stands_through_the_warmup(env):
    _, info = env.reset(seed=2, options={"ref_state_init": False})
    assert info["warmup"] and -0.25 <= info["motion_time"] <= 0.0
    _, reward, terminated, _, step_info = env.step(np.zeros(12, np.float32))
    # zero residual = the default pose = the warm-up reference: the pose term is near perfect
    assert not terminated
    assert step_info["terms"]["pose"] > 0.9
    assert reward > 0.7


def test_the_node_gets_the_same_warmup_pose_without_a_world(env):
    frame = standing_frame()
    assert frame == pytest.approx(env.default_frame, abs=1e-12)
    assert frame[7:] == pytest.approx(env.world.nominal_pose()) and 0.4 < frame[2] < 0.55


def test_reset_draws_reference_init_with_probability_0_9(env):
    starts = [env.reset(seed=s)[1]["ref_state_init"] for s in range(60)]
    assert 0.75 <= np.mean(starts) <= 1.0 and not all(starts)


def test_a_robot_far_from_its_reference_terminates(env):
    env.reset(seed=3, options={"ref_state_init": True})
    pos, quat, _, _ = env.world.root_state()
    env.world.set_root_state(pos + np.array([1.5, 0.0, 0.0]), quat, np.zeros(3), np.zeros(3))
    _, _, terminated, truncated, info = env.step(np.zeros(12, np.float32))
    assert terminated and info["fell"] and not truncated


def test_a_robot_on_its_back_terminates_by_contact_or_rotation(env):
    env.reset(seed=4, options={"ref_state_init": True})
    pos, quat, _, _ = env.world.root_state()
    flipped = np.array([quat[3], -quat[2], quat[1], -quat[0]])  # quat ⊗ (1, 0, 0, 0): 180° about URDF x
    env.world.set_root_state(pos, flipped, np.zeros(3), np.zeros(3))
    done = False
    for _ in range(3):
        _, _, done, _, info = env.step(np.zeros(12, np.float32))
        if done:
            break
    assert done and info["fell"]


def test_an_absurd_target_is_refused_as_pd_controller_refuses_it(env):
    env.reset(seed=6, options={"ref_state_init": False})
    _, _, _, _, info = env.step(np.zeros(12, np.float32))
    assert not info["target_rejected"]
    far = np.zeros(12, np.float32)
    far[1] = 5.0  # FR hip: default motor 0.67 + 5 -> URDF 5.07, 1.67 rad beyond its 3.4 limit
    _, _, _, _, info = env.step(far)
    assert info["target_rejected"]
    assert env.path.target_positions[1] == pytest.approx(env.world.nominal_pose()[1])  # the last target held


def test_episode_is_truncated_at_its_length(env):
    env.reset(seed=5, options={"ref_state_init": False})
    for k in range(30):
        _, _, terminated, truncated, _ = env.step(np.zeros(12, np.float32))
        assert not terminated
        if truncated:
            break
    assert truncated and k == 29


def test_curriculum_grows_from_20_to_600_steps():
    assert curriculum_episode_steps(0) == 20
    assert curriculum_episode_steps(1.5e7) == 310
    assert curriculum_episode_steps(3e7) == 600 == curriculum_episode_steps(1e9)


def test_uses_the_pd_controller_command_path_at_the_control_rate(env):
    assert isinstance(env.path, JointCommandPath)
    cfg = env.path.config
    assert cfg.kp == pytest.approx([220.0] * 12)
    assert cfg.kd == pytest.approx([0.3, 2.0, 2.0] * 4)
    assert cfg.max_change_per_step == 0.2 and cfg.filter_order == 2 and cfg.filter_cutoff_hz == 4.0
    assert cfg.target_rate_hz == pytest.approx(1.0 / 0.033) and env.substeps == 33


def test_same_seed_same_episode():
    actions = np.random.default_rng(0).normal(0.0, 0.1, (8, 12)).astype(np.float32)
    runs = []
    for _ in range(2):
        e = LaikagoImitationEnv(episode_steps=30)
        e.reset(seed=7)
        e.reset(seed=11)  # a second episode on the same env replays exactly too
        runs.append([e.step(a)[:2] for a in actions])
        e.close()
    for (o1, r1), (o2, r2) in zip(*runs):
        assert np.array_equal(o1, o2) and r1 == r2


def test_check_env_passes():
    from gymnasium.utils.env_checker import check_env

    e = LaikagoImitationEnv(episode_steps=20)
    check_env(e, skip_render_check=True)
    e.close()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="profile"):
        LaikagoImitationEnv(profile="fast")
    with pytest.raises(ValueError, match="no such file or shipped motion"):
        LaikagoImitationEnv(motion="dog_moonwalk")
