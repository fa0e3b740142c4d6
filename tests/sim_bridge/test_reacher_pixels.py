"""The reacher image: deterministic pixels that show the arm and the target where they are; the image env."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from anima.sim_bridge.envs import make_env
from anima.sim_bridge.envs.planar_reacher import ReacherConfig
from anima.sim_bridge.envs.reacher_pixels import TARGET_COLOR, ReacherPixelsConfig, ReacherPixelsEnv, render_reacher

CFG = ReacherConfig()


def _pixel(xy: tuple[float, float], size: int = 64) -> tuple[int, int]:
    """(row, col) of a point: centre of the image is the base, the view spans 2.4 x reach (0.2 m)."""
    scale = size / (2.4 * 0.2)
    return int(size / 2 - xy[1] * scale), int(size / 2 + xy[0] * scale)


def test_render_is_deterministic_uint8_rgb() -> None:
    a = render_reacher(np.array([0.3, -0.7]), np.array([0.05, 0.1]), CFG)
    b = render_reacher(np.array([0.3, -0.7]), np.array([0.05, 0.1]), CFG)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)


def test_target_is_red_where_it_is_and_arm_tip_where_forward_kinematics_puts_it() -> None:
    img = render_reacher(np.array([0.0, 0.0]), np.array([-0.1, -0.1]), CFG).astype(int)
    r, c = _pixel((-0.1, -0.1))
    assert img[r, c, 0] > 150 and img[r, c, 1] < 100  # red target
    # arm straight along +x: the pixel at x = 0.1 m (elbow region) is lit, the mirror point at -0.1 m is dark
    r, c = _pixel((0.15, 0.0))
    assert img[r, c].sum() > 150
    r, c = _pixel((-0.15, 0.0))
    assert img[r, c].sum() == 0


def test_moving_a_joint_changes_the_image_and_a_moved_target_moves_the_red() -> None:
    a = render_reacher(np.array([0.0, 0.0]), np.array([0.0, 0.12]), CFG)
    b = render_reacher(np.array([0.05, 0.0]), np.array([0.0, 0.12]), CFG)
    assert np.abs(a.astype(int) - b.astype(int)).sum() > 0
    red = lambda img: np.argwhere((img[..., 0] > 150) & (img[..., 2] < 100)).mean(0)  # noqa: E731
    c = render_reacher(np.array([0.0, 0.0]), np.array([0.0, -0.12]), CFG)
    assert red(a)[0] < 32 < red(c)[0]  # +y is up in the image
    assert tuple(TARGET_COLOR) == (255, 40, 40)


def _roughness(antialias: bool, step_rad: float) -> float:
    """|second difference| / |first difference| of the images over 0.1-cm fingertip steps: 0 for an image that changes
    linearly with the pose, about sqrt(3) for changes that are white noise from one step to the next."""
    q = np.stack([np.full(200, 0.8), 0.5 + step_rad * np.arange(200)], axis=1)
    ims = np.stack([render_reacher(qq, np.array([0.0, 0.12]), CFG, 64, antialias).astype(float).ravel() for qq in q])
    d1, d2 = np.diff(ims, axis=0), np.diff(ims, 2, axis=0)
    return float(np.sqrt((d2**2).sum(1).mean()) / np.sqrt((d1**2).sum(1).mean()))


def test_antialiased_images_change_smoothly_with_sub_pixel_motion() -> None:
    # 0.01 rad of the elbow moves the fingertip 0.1 cm, an eighth of a 64x64 pixel (0.75 cm)
    aliased, smooth = _roughness(False, 0.01), _roughness(True, 0.01)
    assert aliased > 0.9  # the drawn edges snap to the 4x grid: step-to-step changes are close to noise
    assert smooth < 0.5 * aliased  # anti-aliased edges move with the arm
    a = render_reacher(np.array([0.3, -0.7]), np.array([0.05, 0.1]), CFG, 64, True)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8 and np.array_equal(a, render_reacher(
        np.array([0.3, -0.7]), np.array([0.05, 0.1]), CFG, 64, True))
    with pytest.raises(ValueError, match="antialias"):
        ReacherPixelsConfig(antialias="yes")
    env = ReacherPixelsEnv(ReacherPixelsConfig(antialias=True))
    assert np.array_equal(env.reset(seed=0)[0], render_reacher(env.world.q, np.array(env.config.target_xy), CFG, 64, True))


@pytest.mark.parametrize("q, target, size", [(np.zeros(3), np.zeros(2), 64), (np.array([np.nan, 0]), np.zeros(2), 64), (np.zeros(2), np.zeros(2), 4)])
def test_bad_render_input_is_refused(q: np.ndarray, target: np.ndarray, size: int) -> None:
    with pytest.raises(ValueError, match="render_reacher"):
        render_reacher(q, target, CFG, size)


def test_env_passes_gymnasium_checker_and_rolls_out_50_steps() -> None:
    env = make_env("reacher_pixels")
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and info["success"] is False
    for t in range(50):
        obs, reward, terminated, truncated, info = env.step(np.zeros(2))
        assert not terminated and truncated == (t == 49)
    assert reward < 0 and info["distance"] > 0.02 and not info["success"]


def test_env_success_when_a_joint_pd_law_brings_the_tip_to_the_target() -> None:
    """Inverse kinematics of the fixed target (0, 0.12): cos q2 = (x^2+y^2 - 2 l^2) / (2 l^2), elbow up."""
    env = ReacherPixelsEnv(ReacherPixelsConfig())
    q2 = np.arccos((0.12**2 - 2 * 0.01) / 0.02)
    q1 = np.arctan2(0.12, 0.0) - np.arctan2(0.1 * np.sin(q2), 0.1 + 0.1 * np.cos(q2))
    env.reset(seed=0)
    limit = env.config.reacher.max_torque
    for _ in range(50):  # tau = 0.06 N m/rad error - 0.012 N m s/rad qd, in units of the arm's torque limit
        tau = 0.06 * (np.array([q1, q2]) - env.world.q) - 0.012 * env.world.qd
        _, _, _, _, info = env.step(np.clip(tau / limit, -1, 1))
    assert info["success"] and info["distance"] < 0.02


def test_solar_reacher_arm_is_pddm_arm_with_five_times_the_torque() -> None:
    """SOLAR's random exploration needs the stronger arm to pass near the goal (module docstring)."""
    assert ReacherPixelsConfig().reacher == replace(ReacherConfig(), max_torque=0.1, episode_steps=50)
    assert ReacherPixelsConfig(reacher={"damping": 0.02}).reacher.max_torque == 0.1  # a mapping changes only its fields


def test_env_refuses_a_bad_action() -> None:
    env = ReacherPixelsEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(np.array([np.nan, 0.0]))


def test_the_arm_config_can_come_from_a_training_configs_mapping() -> None:
    # SOLAR's env_kwargs are YAML: {reacher: {max_torque: 0.05}} sets the arm, the 50-step episode kept
    config = ReacherPixelsConfig(reacher={"max_torque": 0.05})
    assert config.reacher == ReacherConfig(max_torque=0.05, episode_steps=50)
    assert ReacherPixelsEnv(config).config.reacher.max_torque == 0.05
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['max_torqe'\]"):
        ReacherPixelsConfig(reacher={"max_torqe": 0.1})
    with pytest.raises(ValueError, match="ReacherPixelsConfig.reacher must be"):
        ReacherPixelsConfig(reacher=0.1)


def test_the_squared_distance_reward_is_minus_100_d_squared_whatever_the_velocity() -> None:
    # SOLAR's public reacher rewards -|tip - target|^2 (m); ReachTask's velocity term would make reward^2 non-quadratic
    env = ReacherPixelsEnv(ReacherPixelsConfig(reward="squared_distance"))
    reach = ReacherPixelsEnv(ReacherPixelsConfig())
    env.reset(seed=4), reach.reset(seed=4)
    for a in ([1.0, -1.0], [1.0, 1.0], [-0.5, 0.2]):
        _, reward, _, _, info = env.step(np.array(a))
        _, reach_reward, _, _, reach_info = reach.step(np.array(a))
        assert reward == pytest.approx(-100 * info["distance"] ** 2, rel=1e-12)
        assert reach_info["distance"] == info["distance"]
        assert reach_reward < -10 * reach_info["distance"]  # the moving arm pays ReachTask's velocity term
    with pytest.raises(ValueError, match="reward must be one of"):
        ReacherPixelsConfig(reward="squared")
