"""Status messages on /diagnostics: levels, named values, lookup by name (no DDS)."""

from __future__ import annotations

import pytest
from diagnostic_msgs.msg import DiagnosticStatus

from anima.ros_nodes._common import to_time_msg
from anima.ros_nodes._diagnostics import (ERROR, OK, WARN, diagnostic_array, diagnostic_status, find_status, format_value,
                                          level_of, status_values)


def test_status_carries_level_name_hardware_id_and_named_values() -> None:
    status = diagnostic_status("pddm_planner: planner", "shadowhand", WARN, "state stale",
                               {"stale": True, "last_plan_ms": 14.25, "overruns": 3, "task": "ccw"})
    assert level_of(status) == WARN == 1 and status.level == DiagnosticStatus.WARN
    assert (status.name, status.hardware_id, status.message) == ("pddm_planner: planner", "shadowhand", "state stale")
    assert status_values(status) == {"stale": "true", "last_plan_ms": "14.25", "overruns": "3", "task": "ccw"}


def test_array_is_stamped_and_statuses_are_found_by_name() -> None:
    a = diagnostic_status("ball_state_estimator: ball_0", "cam", OK, "ball_0 tracking", {})
    b = diagnostic_status("ball_state_estimator: ball_1", "cam", ERROR, "ball_1 lost", {})
    msg = diagnostic_array(to_time_msg(2.5), [a, b])
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (2, 500_000_000)
    assert level_of(find_status(msg, "ball_state_estimator: ball_1")) == ERROR
    assert find_status(msg, "pddm_planner: planner") is None


def test_float_values_keep_six_significant_digits_and_bad_levels_are_refused() -> None:
    assert format_value(0.000123456789) == "0.000123457" and format_value(False) == "false"
    with pytest.raises(ValueError, match="diagnostic level"):
        diagnostic_status("x", "y", 7, "", {})
