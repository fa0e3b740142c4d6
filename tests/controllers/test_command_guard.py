"""CommandGuard: arrival-time watchdog with damping, future stamps, torque clamps, cheap rejection."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.command_guard import CommandGuard, CommandGuardConfig, GuardMode, RejectionLog
from anima.controllers.robot_config import load_robot_config

NAMES = ("a", "b")


def make_guard(**kwargs: float) -> CommandGuard:
    """Joints a, b: torque limits 5 and 10 N·m, damping 2 and 3 N·m·s/rad, timeout 0.05 s."""
    return CommandGuard(CommandGuardConfig(NAMES, np.array([5.0, 10.0]), np.array([2.0, 3.0]), **kwargs))


def never() -> np.ndarray:
    raise AssertionError("velocity read outside the watchdog")


def test_waits_with_zero_torque_until_the_first_valid_command() -> None:
    g = make_guard()
    assert not g.started and g.mode is GuardMode.WAITING
    np.testing.assert_array_equal(g.torque(0.0, never), [0.0, 0.0])
    assert g.offer(NAMES, [1.0, -2.0], stamp_s=0.0, now_s=0.0) == ""
    assert g.started and g.mode is GuardMode.COMMANDED
    np.testing.assert_array_equal(g.torque(0.0, never), [1.0, -2.0])


def test_names_in_any_order_are_mapped_to_joint_order() -> None:
    g = make_guard()
    assert g.offer(("b", "a"), [1.0, -2.0], 0.0, 0.0) == ""
    np.testing.assert_array_equal(g.torque(0.0, never), [-2.0, 1.0])


def test_times_out_by_arrival_time_not_by_stamp_then_damps() -> None:
    # Stamp 1000 s ahead is rejected; an old-stamped command arriving now counts from now.
    g = make_guard()
    assert g.offer(NAMES, [1.0, 1.0], stamp_s=0.0, now_s=10.0) == ""  # stamp 10 s in the past
    np.testing.assert_array_equal(g.torque(10.04, never), [1.0, 1.0])  # 0.04 s after arrival: still held
    qd = np.array([0.5, -1.0])
    # 0.06 s after arrival: watchdog, tau = -kd qd = (-2 * 0.5, -3 * -1.0) = (-1, 3)
    np.testing.assert_allclose(g.torque(10.06, lambda: qd), [-1.0, 3.0])
    assert g.mode is GuardMode.WATCHDOG and g.status().watchdog_timeouts == 1
    assert g.offer(NAMES, [0.5, 0.5], 10.1, 10.1) == ""  # a fresh command ends the watchdog
    np.testing.assert_array_equal(g.torque(10.1, never), [0.5, 0.5])


def test_future_stamps_rejected_and_counted_within_tolerance_accepted() -> None:
    g = make_guard(future_tolerance_s=0.005)
    reason = g.offer(NAMES, [1.0, 1.0], stamp_s=1000.0, now_s=1.0)
    assert "ahead of the clock" in reason and "999" in reason
    assert g.status().rejected_future_stamp == 1 and not g.started
    assert g.offer(NAMES, [1.0, 1.0], stamp_s=1.004, now_s=1.0) == ""  # within 5 ms
    # the future-stamped command never keeps the robot commanded: it times out from arrival
    g.offer(NAMES, [9.0, 9.0], stamp_s=2000.0, now_s=1.01)
    np.testing.assert_allclose(g.torque(1.2, lambda: np.zeros(2)), [0.0, 0.0])
    assert g.mode is GuardMode.WATCHDOG


def test_torques_clamped_to_the_limit_and_counted() -> None:
    g = make_guard()
    assert g.offer(NAMES, [1e6, -3.0], 0.0, 0.0) == ""
    np.testing.assert_array_equal(g.torque(0.0, never), [5.0, -3.0])
    assert g.last_clamped == ("a",)
    g.offer(NAMES, [-1e6, -1e6], 0.0, 0.0)
    np.testing.assert_array_equal(g.torque(0.0, never), [-5.0, -10.0])
    g.offer(NAMES, [1.0, 1.0], 0.0, 0.0)
    assert g.last_clamped == ()
    s = g.status()
    assert (s.clamped_commands, s.clamped_joints, s.accepted) == (2, 3, 3)


def test_damping_is_clamped_too() -> None:
    g = make_guard()
    g.offer(NAMES, [0.0, 0.0], 0.0, 0.0)
    np.testing.assert_allclose(g.torque(1.0, lambda: np.array([100.0, -1.0])), [-5.0, 3.0])  # -2*100 -> -5


@pytest.mark.parametrize(
    ("names", "effort", "counter", "words"),
    [
        (("a", "x"), [1.0, 1.0], "rejected_names", "unknown ['x']"),
        (("a",), [1.0], "rejected_names", "missing ['b']"),
        (("a", "a"), [1.0, 1.0], "rejected_names", "duplicates"),
        (NAMES, [1.0], "rejected_values", "expected 2 values"),
        (NAMES, [float("nan"), 1.0], "rejected_values", "non-finite"),
        (NAMES, [float("inf"), 1.0], "rejected_values", "non-finite"),
    ],
)
def test_bad_commands_rejected_with_reason_last_command_kept(names, effort, counter, words) -> None:
    g = make_guard()
    g.offer(NAMES, [1.0, 2.0], 0.0, 0.0)
    reason = g.offer(names, effort, 0.0, 0.0)
    assert words in reason
    assert getattr(g.status(), counter) == 1 and g.status().rejected == 1
    np.testing.assert_array_equal(g.torque(0.0, never), [1.0, 2.0])


def test_bad_name_orders_are_cached_and_the_cache_is_bounded() -> None:
    g = make_guard()
    for i in range(200):
        assert "unknown" in g.offer(("a", f"x{i}"), [0.0, 0.0], 0.0, 0.0)
    assert len(g._bad_names) <= 64
    assert g.status().rejected_names == 200
    assert "unknown" in g.offer(("a", "x199"), [0.0, 0.0], 0.0, 0.0)  # from the cache, same reason


def test_from_robot_reorders_limits_and_refuses_unknown_joints() -> None:
    robot = load_robot_config("laikago")
    names = tuple(reversed(robot.joint_names))
    cfg = CommandGuardConfig.from_robot(robot, names)
    np.testing.assert_array_equal(cfg.damping_kd, robot.damping_kd[::-1])
    np.testing.assert_array_equal(cfg.torque_limit, robot.torque_limit[::-1])
    with pytest.raises(ValueError, match="no limits for joints"):
        CommandGuardConfig.from_robot(robot, names + ("tail_joint",))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="torque_limit"):
        CommandGuardConfig(NAMES, np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="timeout_s"):
        CommandGuardConfig(NAMES, np.ones(2), np.ones(2), timeout_s=0.0)
    with pytest.raises(ValueError, match="damping_kd"):
        CommandGuardConfig(NAMES, np.ones(2), np.ones(3))


def test_rejection_log_reports_at_most_once_per_period_with_counts() -> None:
    log = RejectionLog("joint_commands rejected", period_s=1.0)
    lines = [log.note(f"r{i}", now=0.001 * i) for i in range(3000)]  # 3 s of a 1 kHz flood
    shown = [x for x in lines if x is not None]
    assert len(shown) == 3  # at 0, 1 and 2 s
    assert shown[0].startswith("joint_commands rejected (1 since the last report, 1 in all): r0")
    assert "(1000 since the last report, 1001 in all): r1000" in shown[1]
    assert log.total == 3000
