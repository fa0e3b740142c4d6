"""Damped-least-squares IK and the cartesian command core: convergence, unreachable targets, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anima import share_dir
from anima.controllers.cartesian_controller import (
    CartesianConfig,
    CartesianController,
    quat_to_matrix,
    rotation_error,
    solve_ik,
)
from anima.controllers.robot_config import load_robot_config
from anima.controllers.serial_chain import SerialChain

DOWN = np.array([math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0])  # grasp centre pointing down (sawyer_world)


@pytest.fixture(scope="module")
def chain() -> SerialChain:
    return SerialChain.from_urdf(share_dir() / "urdf" / "sawyer.urdf", "base_link", "ee")


@pytest.fixture
def home() -> np.ndarray:
    return load_robot_config("sawyer").standing_pose.copy()


def test_rotation_error_of_a_known_rotation() -> None:
    # R_target = Rz(0.3) R: the error is the rotation vector 0.3 about z, in the base frame.
    R = quat_to_matrix([0.1, 0.2, 0.3, 0.9])
    c, s = math.cos(0.3), math.sin(0.3)
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    np.testing.assert_allclose(rotation_error(Rz @ R, R), [0.0, 0.0, 0.3], atol=1e-9)
    # a half turn about x: angle pi along x
    np.testing.assert_allclose(np.abs(rotation_error(np.diag([1.0, -1.0, -1.0]), np.eye(3))), [math.pi, 0, 0], atol=1e-6)


@pytest.mark.parametrize("target", [(0.6, 0.0, 0.2), (0.5, 0.2, 0.05), (0.75, -0.25, 0.02), (0.4, -0.1, 0.4)])
def test_ik_converges_to_reachable_targets_within_limits(chain, home, target) -> None:
    cfg = CartesianConfig()
    result = solve_ik(chain, np.array(target), quat_to_matrix(DOWN), home, cfg, home)
    assert result.success
    T = chain.forward(result.q)
    assert np.linalg.norm(T[:3, 3] - target) <= cfg.position_tolerance_m
    assert np.linalg.norm(rotation_error(quat_to_matrix(DOWN), T[:3, :3])) <= cfg.orientation_tolerance_rad
    assert (result.q >= chain.lower).all() and (result.q <= chain.upper).all()


def test_ik_reports_an_out_of_reach_target(chain, home) -> None:
    # 1.5 m from the shoulder: the arm is ~1.1 m long, so the residual must stay > 0.3 m.
    result = solve_ik(chain, np.array([1.5, 0.0, 0.2]), quat_to_matrix(DOWN), home, CartesianConfig(), home)
    assert not result.success
    assert result.position_error_m > 0.3


def test_nullspace_keeps_the_posture_near_rest(chain, home) -> None:
    # Same reachable target; with the posture term the solution stays closer to the rest pose.
    target = np.array([0.55, 0.1, 0.15])
    with_ns = solve_ik(chain, target, quat_to_matrix(DOWN), home, CartesianConfig(nullspace_gain=0.1), home)
    seed = home + np.array([0.0, 0.0, 0.6, 0.0, 0.0, 0.0, 0.0])
    from_far = solve_ik(chain, target, quat_to_matrix(DOWN), seed, CartesianConfig(nullspace_gain=0.1,
                                                                                     max_iterations=400), home)
    no_ns = solve_ik(chain, target, quat_to_matrix(DOWN), seed, CartesianConfig(nullspace_gain=0.0), home)
    assert with_ns.success and from_far.success and no_ns.success
    assert np.linalg.norm(from_far.q - home) < np.linalg.norm(no_ns.q - home)


@pytest.fixture
def controller(chain, home) -> CartesianController:
    cfg = CartesianConfig(workspace_min_m=(0.2, -0.6, 0.01), workspace_max_m=(1.0, 0.6, 0.6))
    ctl = CartesianController(chain, cfg, home)
    ctl.reset(home)
    return ctl


def test_pose_target_is_approached_at_the_speed_limit(controller, chain) -> None:
    start, _ = controller.target_pose  # home: (0.55, 0, 0.25)
    update = controller.set_pose_target([0.6, -0.1, 0.1], DOWN)
    assert update.accepted
    np.testing.assert_allclose(chain.forward(update.q_target)[:3, 3], [0.6, -0.1, 0.1], atol=1e-3)
    controller.step(0.0)
    controller.step(0.1)  # 0.3 m/s x 0.1 s = 3 cm along the 0.187 m straight line
    p, _ = controller.target_pose
    line = np.array([0.6, -0.1, 0.1]) - start
    np.testing.assert_allclose(p - start, 0.03 * line / np.linalg.norm(line), atol=1e-9)
    np.testing.assert_allclose(chain.forward(controller.q_target)[:3, 3], p, atol=1e-3)
    for k in range(2, 12):  # 1.1 s in all: there (0.62 s needed)
        controller.step(0.1 * k)
    np.testing.assert_array_equal(controller.q_target, update.q_target)
    np.testing.assert_allclose(controller.target_pose[0], [0.6, -0.1, 0.1])


@pytest.mark.parametrize("position, quat, reason", [
    ([np.nan, 0.0, 0.2], DOWN, "non-finite"),
    ([0.6, 0.0, 0.2], [0.0, 0.0, 0.0, 2.0], "unit length"),
    ([1.5, 0.0, 0.2], DOWN, "outside the workspace"),
    ([0.6, 0.0], DOWN, "3 values"),
])
def test_bad_or_unreachable_targets_are_rejected_and_the_last_kept(controller, position, quat, reason) -> None:
    good = controller.set_pose_target([0.6, -0.1, 0.1], DOWN)
    controller.step(0.0)
    controller.step(1.0)  # arrived
    update = controller.set_pose_target(position, quat)
    assert not update.accepted and reason in update.reason
    controller.step(2.0)
    np.testing.assert_array_equal(controller.q_target, good.q_target)
    np.testing.assert_array_equal(update.q_target, good.q_target)


def test_unreachable_inside_the_box_is_rejected_by_ik(chain, home) -> None:
    ctl = CartesianController(chain, CartesianConfig(), home)  # no workspace box: IK must notice
    ctl.reset(home)
    before = ctl.q_target
    update = ctl.set_pose_target([1.4, 0.0, 0.3], DOWN)
    assert not update.accepted and update.reason.startswith("unreachable: IK residual")
    np.testing.assert_array_equal(ctl.q_target, before)


def test_velocity_moves_the_target_by_v_dt_and_stops_when_stale(controller) -> None:
    p0, _ = controller.target_pose
    controller.step(0.0)
    assert controller.set_velocity([0.0, 0.1, 0.0], [0.0, 0.0, 0.0], 0.0).accepted
    for k in range(1, 11):  # 10 steps of 0.02 s at 0.1 m/s: 0.02 m along +y
        controller.step(0.02 * k)
    p1, _ = controller.target_pose
    np.testing.assert_allclose(p1 - p0, [0.0, 0.02, 0.0], atol=1e-9)
    for k in range(11, 31):  # the command is older than velocity_timeout_s (0.2 s) after t = 0.2 s
        controller.step(0.02 * k)
    p2, _ = controller.target_pose
    np.testing.assert_allclose(p2, p1, atol=1e-12)  # stopped: no further motion


def test_velocity_is_limited_and_non_finite_refused(controller) -> None:
    assert not controller.set_velocity([np.nan, 0, 0], [0, 0, 0], 0.0).accepted
    controller.step(0.0)
    controller.set_velocity([3.0, 0.0, 0.0], [0.0, 0.0, 0.0], 0.0)  # 10x the 0.3 m/s limit
    p0, _ = controller.target_pose
    controller.step(0.1)
    p1, _ = controller.target_pose
    assert p1[0] - p0[0] == pytest.approx(0.03, abs=1e-9)


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="damping"):
        CartesianConfig(damping=-1.0)
    with pytest.raises(ValueError, match="workspace_min_m"):
        CartesianConfig(workspace_min_m=(0, 0, 0), workspace_max_m=(-1, 1, 1))
