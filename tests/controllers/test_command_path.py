"""JointCommandPath: filter -> interpolation -> change limit -> PD -> torque limit, and its modes."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.command_path import CommandMode, JointCommandPath
from anima.controllers.filters import butterworth_lowpass_coefficients
from anima.controllers.robot_config import config_from_mapping, load_robot_config

PERIOD = 1.0 / 30.0
B0 = butterworth_lowpass_coefficients(2, 4.0, 30.0)[0][0]  # ≈ 0.108447 (see test_filters)


def make_path(**overrides: object) -> JointCommandPath:
    """Two joints a, b with round numbers: kp 10, kd 1, limits ±1 rad, torque ±5, damping 2."""
    data = {
        "robot": "toy", "joint_names": ["a", "b"], "kp_nm_per_rad": 10.0, "kd_nms_per_rad": 1.0,
        "position_lower_rad": -1.0, "position_upper_rad": 1.0, "torque_limit_nm": 5.0,
        "max_change_per_step_rad": 0.2, "action_filter_order": 2, "action_filter_cutoff_hz": 4.0,
        "target_rate_hz": 30.0, "control_rate_hz": 500.0, "command_timeout_s": 0.25,
        "damping_kd_nms_per_rad": 2.0, "standing_pose_rad": 0.0, "crouch_pose_rad": 0.0,
    }
    data.update(overrides)
    return JointCommandPath(config_from_mapping(data))


def test_waiting_holds_first_measured_position() -> None:
    path = make_path()
    assert path.mode is CommandMode.WAITING
    np.testing.assert_allclose(path.compute([0.1, 0.2], [0.0, 0.0], 0.0), [0.0, 0.0])
    # Hold stays at the FIRST measurement: 10*(0.1-0.15) + 1*(0-0.5) = -1.0 ; joint b: 0.
    np.testing.assert_allclose(path.compute([0.15, 0.2], [0.5, 0.0], 0.002), [-1.0, 0.0])


def test_interpolation_is_linear_over_one_target_period() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    assert path.set_targets(["a", "b"], [0.1, -0.1], t=1.0).accepted
    # Filter history is 0, so the first filtered target is b0*x; start is the held 0.
    end = B0 * np.array([0.1, -0.1])
    for frac in (0.0, 0.25, 0.5, 1.0, 2.0):
        tau = path.compute(np.zeros(2), np.zeros(2), 1.0 + frac * PERIOD)
        alpha = min(frac, 1.0)
        np.testing.assert_allclose(path.desired_positions, alpha * end, atol=1e-12)
        np.testing.assert_allclose(tau, 10.0 * alpha * end, atol=1e-12)  # kp * (desired - 0)


def test_next_target_starts_from_current_desired() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    path.set_targets(None, [0.1, 0.1], t=0.0)
    path.compute(np.zeros(2), np.zeros(2), 0.5 * PERIOD)
    mid = path.desired_positions.copy()
    path.set_targets(None, [0.1, 0.1], t=0.5 * PERIOD)  # arrives early: segment starts at `mid`
    path.compute(np.zeros(2), np.zeros(2), 0.5 * PERIOD)
    np.testing.assert_allclose(path.desired_positions, mid, atol=1e-12)


def test_change_limit_clips_desired_around_measured_position() -> None:
    path = make_path(max_change_per_step_rad=0.01)
    path.reset(np.zeros(2))
    path.set_targets(None, [0.5, -0.5], t=0.0)  # filtered end ±0.054 > 0.01
    tau = path.compute(np.zeros(2), np.zeros(2), PERIOD)
    np.testing.assert_allclose(path.desired_positions, [0.01, -0.01])
    np.testing.assert_allclose(tau, [0.1, -0.1])  # 10 * ±0.01
    assert path.status().change_limited_steps == 1


def test_joint_limits_clamp_and_report() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    upd = path.set_targets(["b", "a"], [-1.3, 0.5], t=0.0)  # b 0.3 rad beyond its -1 limit: near, clamped
    assert upd.accepted and upd.clamped == ("b",)
    np.testing.assert_allclose(path.target_positions, [0.5, -1.0])
    assert path.status().joints_clamped == 1


@pytest.mark.parametrize("absurd", [1e9, -1e9, 1.51, -1.6])
def test_targets_far_beyond_the_limits_rejected_near_ones_clamped(absurd: float) -> None:
    # limits ±1 rad, default margin 0.5 rad: beyond ±1.5 is refused, the last safe target kept
    path = make_path()
    path.reset(np.zeros(2))
    assert path.set_targets(None, [0.2, 0.3], 0.0).accepted
    upd = path.set_targets(["a", "b"], [absurd, 0.0], PERIOD)
    assert not upd.accepted
    assert "more than 0.5 rad beyond the joint limits: a=" in upd.reason and "limits [-1, 1]" in upd.reason
    np.testing.assert_allclose(path.target_positions, [0.2, 0.3])
    assert path.set_targets(["a"], [np.sign(absurd) * 1.5], 2 * PERIOD).clamped == ("a",)  # at the margin: clamped


def test_target_limit_margin_is_configurable_and_validated() -> None:
    path = make_path(target_limit_margin_rad=0.05)
    path.reset(np.zeros(2))
    assert not path.set_targets(None, [1.06, 0.0], 0.0).accepted
    assert path.set_targets(None, [1.04, 0.0], 0.0).clamped == ("a",)
    assert make_path(target_limit_margin_rad=float("inf")).set_targets(None, [1e9, 0.0], 0.0).accepted
    for bad in (-0.1, "x", True, float("nan")):
        with pytest.raises(ValueError, match="target_limit_margin_rad"):
            make_path(target_limit_margin_rad=bad)


def test_torque_limit() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    # kd*(0 - qd): qd = -10 -> +10 N·m -> clamped to the 5 N·m limit; qd = 3 -> -3 stays.
    tau = path.compute(np.zeros(2), [-10.0, 3.0], 0.0)
    np.testing.assert_allclose(tau, [5.0, -3.0])


def test_subset_in_any_order_keeps_other_targets() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    assert path.set_targets(["b", "a"], [0.3, -0.2], 0.0).accepted
    np.testing.assert_allclose(path.target_positions, [-0.2, 0.3])
    assert path.set_targets(["b"], [0.5], PERIOD).accepted
    np.testing.assert_allclose(path.target_positions, [-0.2, 0.5])


@pytest.mark.parametrize(
    "names, positions, reason",
    [
        (["a", "c"], [0.1, 0.1], "unknown joint names ['c']"),
        (["a", "b"], [0.1], "length mismatch: 2 names but 1 positions"),
        (["a", "a"], [0.1, 0.2], "duplicate joint names ['a']"),
        (["a", "b"], [np.nan, 0.1], "non-finite positions for joints ['a']"),
        (["a", "b"], [0.1, np.inf], "non-finite positions for joints ['b']"),
    ],
)
def test_bad_targets_rejected_and_last_target_kept(names: list, positions: list, reason: str) -> None:
    path = make_path()
    path.reset(np.zeros(2))
    path.set_targets(None, [0.2, 0.3], 0.0)
    path.compute(np.zeros(2), np.zeros(2), 2 * PERIOD)
    before = path.desired_positions.copy()
    upd = path.set_targets(names, positions, 2 * PERIOD)
    assert not upd.accepted and upd.reason == reason
    np.testing.assert_allclose(path.target_positions, [0.2, 0.3])
    path.compute(np.zeros(2), np.zeros(2), 3 * PERIOD)
    np.testing.assert_allclose(path.desired_positions, before)  # still the same segment end
    assert path.status().targets_rejected == 1 and path.status().last_reject_reason == reason


def test_partial_first_target_needs_a_measurement() -> None:
    path = make_path()
    upd = path.set_targets(["a"], [0.1], 0.0)
    assert not upd.accepted and "['b'] have no previous target" in upd.reason
    path.compute([0.0, 0.4], np.zeros(2), 0.0)  # now b is known (held at 0.4)
    assert path.set_targets(["a"], [0.1], 0.0).accepted
    np.testing.assert_allclose(path.target_positions, [0.1, 0.4])


def test_timeout_gives_damping_then_recovers_from_measured_position() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    path.set_targets(None, [0.5, 0.5], 0.0)
    path.compute(np.zeros(2), np.zeros(2), 0.25)  # exactly at the timeout: still tracking
    assert path.mode is CommandMode.TRACKING
    tau = path.compute([0.3, 0.3], [1.0, -0.5], 0.2501)
    assert path.mode is CommandMode.TIMEOUT
    np.testing.assert_allclose(tau, [-2.0, 1.0])  # -damping_kd * qd
    assert path.status().timeouts == 1
    assert path.set_targets(None, [0.3, 0.3], 0.3).accepted
    assert path.mode is CommandMode.TRACKING
    # Restarted from the measured 0.3 with filter history 0.3: constant target -> desired 0.3.
    np.testing.assert_allclose(path.compute([0.3, 0.3], np.zeros(2), 0.31), [0.0, 0.0], atol=1e-12)


def _timed_out_at_0_3(path: JointCommandPath) -> None:
    """Tracking 0.5 from 0, then no target for longer than the timeout, the joints sagged to 0.3."""
    path.reset(np.zeros(2))
    path.set_targets(None, [0.5, 0.5], 0.0)
    path.compute([0.3, 0.3], np.zeros(2), 0.2501)
    assert path.mode is CommandMode.TIMEOUT


def test_resume_after_timeout_ramps_from_the_measured_pose() -> None:
    # Resume at t0 = 0.3 with target 0.6, measured 0.3: the filter restarts at 0.3, so the first
    # segment ends at 0.3 + B0 * (0.6 - 0.3) (a filter at rest at x0 answers a step with x0 + b0 * step).
    # With resume_ramp_s = 2 periods, one period in u = 0.5 and the smooth step is 0.5: desired =
    # 0.3 + 0.5 * B0 * 0.3, torque kp * (desired - q) = 10 * 0.5 * 0.3 * B0 = 1.5 * B0; after the
    # ramp the desired is the segment's end again: 10 * 0.3 * B0 = 3 * B0.
    path = make_path(resume_ramp_s=2 * PERIOD)
    _timed_out_at_0_3(path)
    assert path.set_targets(None, [0.6, 0.6], 0.3).accepted
    np.testing.assert_allclose(path.compute([0.3, 0.3], np.zeros(2), 0.3), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(path.compute([0.3, 0.3], np.zeros(2), 0.3 + PERIOD), [1.5 * B0] * 2, atol=1e-12)
    np.testing.assert_allclose(path.compute([0.3, 0.3], np.zeros(2), 0.3 + 2 * PERIOD), [3 * B0] * 2, atol=1e-12)


def test_resume_without_ramp_tracks_at_once() -> None:
    # The negative case: resume_ramp_s 0 gives the full segment after one period (3 * B0, above).
    path = make_path(resume_ramp_s=0.0)
    _timed_out_at_0_3(path)
    assert path.set_targets(None, [0.6, 0.6], 0.3).accepted
    np.testing.assert_allclose(path.compute([0.3, 0.3], np.zeros(2), 0.3 + PERIOD), [3 * B0] * 2, atol=1e-12)


def test_first_target_after_waiting_is_not_ramped() -> None:
    # Training envs start from WAITING (reset(q0) then targets): that start keeps the env's dynamics.
    path = make_path(resume_ramp_s=10.0)
    path.reset(np.zeros(2))
    path.set_targets(None, [0.1, 0.1], 0.0)
    np.testing.assert_allclose(path.compute(np.zeros(2), np.zeros(2), PERIOD), [10 * 0.1 * B0] * 2, atol=1e-12)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "slow"])
def test_resume_ramp_must_be_a_number_at_least_zero(bad: object) -> None:
    with pytest.raises(ValueError, match="resume_ramp_s"):
        make_path(resume_ramp_s=bad)


def test_estop_damps_until_reset_and_refuses_targets() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    path.set_targets(None, [0.5, 0.5], 0.0)
    path.emergency_stop()
    assert path.mode is CommandMode.ESTOP
    np.testing.assert_allclose(path.compute(np.zeros(2), [0.5, 0.0], 0.01), [-1.0, 0.0])
    upd = path.set_targets(None, [0.1, 0.1], 0.02)
    assert not upd.accepted and "emergency stop" in upd.reason
    np.testing.assert_allclose(path.compute(np.zeros(2), [0.5, 0.0], 0.03), [-1.0, 0.0])
    path.reset()
    assert path.mode is CommandMode.WAITING
    np.testing.assert_allclose(path.compute([0.2, 0.2], np.zeros(2), 0.04), [0.0, 0.0])  # holds
    assert path.status().estops == 1


def test_nonfinite_state_gives_damping_never_nan() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    path.set_targets(None, [0.1, 0.1], 0.0)
    tau = path.compute([np.nan, 0.0], [1.0, np.nan], PERIOD)
    # a: q NaN -> damping -2*1 = -2 ; b: qd NaN -> no damping possible -> 0
    np.testing.assert_allclose(tau, [-2.0, 0.0])
    assert np.isfinite(tau).all() and path.status().nonfinite_state_steps == 1


def test_time_jump_backwards_reanchors_without_jump_or_timeout() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    path.set_targets(None, [0.5, 0.5], 10.0)
    path.compute(np.zeros(2), np.zeros(2), 10.0 + 0.5 * PERIOD)
    before = path.desired_positions.copy()
    path.compute(np.zeros(2), np.zeros(2), 0.0)  # clock reset (e.g. sim restart)
    assert path.mode is CommandMode.TRACKING
    np.testing.assert_allclose(path.desired_positions, before, atol=1e-12)
    path.compute(np.zeros(2), np.zeros(2), 0.2)  # 0.2 s after the jump: no timeout yet
    assert path.mode is CommandMode.TRACKING and path.status().time_jumps_back == 1


def test_laikago_standing_targets_give_zero_torque_at_standing_pose() -> None:
    cfg = load_robot_config("laikago")
    path = JointCommandPath(cfg)
    q = cfg.standing_pose.copy()
    path.reset(q)
    for k in range(30):  # 1 s of 30 Hz targets, 500 Hz control
        path.set_targets(cfg.joint_names, cfg.standing_pose, k * PERIOD)
        for i in range(16):
            tau = path.compute(q, np.zeros(12), k * PERIOD + i / 500.0)
            np.testing.assert_allclose(tau, 0.0, atol=1e-9)


def test_closed_loop_joint_tracks_step_target() -> None:
    """A unit-inertia-like joint (I = 0.05 kg m^2) under the Laikago hip gains reaches the target."""
    cfg = load_robot_config("laikago")
    path = JointCommandPath(cfg)
    q, qd, inertia, dt = cfg.standing_pose.copy(), np.zeros(12), 0.05, 1.0 / 500.0
    path.reset(q)
    goal = cfg.crouch_pose
    t = 0.0
    for step in range(1000):  # 2 s
        if step % 16 == 0:
            path.set_targets(None, goal, t)
        tau = path.compute(q, qd, t)
        qd = qd + tau / inertia * dt  # semi-implicit Euler
        q = q + qd * dt
        t += dt
    np.testing.assert_allclose(q, goal, atol=5e-3)


def test_filter_and_change_limit_can_be_disabled() -> None:
    # Order 0 = no action filter; .inf = no change limit: the segment ends exactly at the target.
    path = make_path(action_filter_order=0, max_change_per_step_rad=float("inf"))
    path.reset(np.zeros(2))
    path.set_targets(None, [0.5, -0.5], 0.0)
    tau = path.compute(np.zeros(2), np.zeros(2), PERIOD)
    np.testing.assert_allclose(path.desired_positions, [0.5, -0.5])
    np.testing.assert_allclose(tau, [5.0, -5.0])  # 10 * ±0.5, exactly at the 5 N·m limit


def test_driver_command_matches_the_torque_the_node_would_apply() -> None:
    # Two identical paths: one computes torques, the other driver commands; the driver's PD law on
    # the command gives the same torque (kp 10, kd 1, no torque limit reached).
    a, b = make_path(), make_path()
    for p in (a, b):
        p.reset(np.zeros(2))
        p.set_targets(None, [0.3, -0.2], 0.0)
    q, qd = np.array([0.01, -0.02]), np.array([0.1, -0.3])
    for k in range(1, 10):
        t = k * PERIOD / 4
        tau = a.compute(q, qd, t)
        cmd = b.command(q, qd, t)
        np.testing.assert_allclose(cmd.kp, [10.0, 10.0])
        np.testing.assert_allclose(cmd.kd, [1.0, 1.0])
        np.testing.assert_array_equal(cmd.velocity, 0.0)
        np.testing.assert_array_equal(cmd.effort, 0.0)
        np.testing.assert_allclose(cmd.position, b.desired_positions)
        np.testing.assert_allclose(cmd.kp * (cmd.position - q) + cmd.kd * (cmd.velocity - qd) + cmd.effort, tau,
                                   atol=1e-12)


def test_driver_command_while_damping_has_zero_stiffness() -> None:
    path = make_path()
    path.reset(np.zeros(2))
    path.set_targets(None, [0.3, -0.2], 0.0)
    path.emergency_stop()
    cmd = path.command([0.1, 0.2], [0.5, 0.0], 0.01)
    np.testing.assert_array_equal(cmd.kp, [0.0, 0.0])
    np.testing.assert_array_equal(cmd.kd, [2.0, 2.0])  # damping_kd
    np.testing.assert_array_equal(cmd.position, [0.1, 0.2])  # where the joint is: harmless if kp were applied


def test_driver_command_position_error_bounded_by_torque_limit_over_kp() -> None:
    # kp 10, torque limit 5: the position term alone stays within the limit, |position - q| <= 0.5
    path = make_path(max_change_per_step_rad=float("inf"), action_filter_order=0)
    path.reset(np.zeros(2))
    path.set_targets(None, [1.0, -1.0], 0.0)
    cmd = path.command(np.zeros(2), np.zeros(2), 2 * PERIOD)  # interpolation done, before the timeout
    np.testing.assert_allclose(cmd.position, [0.5, -0.5])
