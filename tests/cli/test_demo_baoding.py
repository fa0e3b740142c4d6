"""``anima demo baoding``'s report, computed from a bag: hand-made runs with known rotation,
drops, planning times and rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from geometry_msgs.msg import Transform
from rclpy.serialization import serialize_message
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState, MultiDOFJointState
from std_msgs.msg import String

from anima.demo_baoding import analyse_bag, pair_rotation_rad
from anima.ros_nodes._bag_io import BagWriter
from anima.ros_nodes._diagnostics import OK, diagnostic_array, diagnostic_status


def test_pair_rotation_unwraps_past_half_a_turn() -> None:
    # ball_1 - ball_0 turns ccw by 3/4 turn in 30 steps of 9 deg: crosses the +-pi wrap once
    angles = np.radians(np.arange(31) * 9.0) + np.pi / 2
    pos = np.zeros((31, 2, 3))
    pos[:, 1, 0], pos[:, 1, 1] = 0.02 * np.cos(angles), 0.02 * np.sin(angles)
    assert pair_rotation_rad(pos)[-1] == pytest.approx(np.radians(270.0))
    assert pair_rotation_rad(pos[::-1])[-1] == pytest.approx(np.radians(-270.0))  # clockwise is negative


def _stamped(msg, t: float):
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), int(round((t - int(t)) * 1e9))
    return msg


def _write_run(path: Path) -> None:
    """4 s of sim time logged 1:1 from wall t0: balls turn ccw 90 deg/s; ball_1 drops at 2.5 s."""
    w = BagWriter(path)
    for topic, kind in [("/clock", "rosgraph_msgs/msg/Clock"), ("/sim/ground_truth/balls", "sensor_msgs/msg/MultiDOFJointState"),
                        ("/sim/ground_truth/balls_dropped", "std_msgs/msg/String"),
                        ("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray"), ("/joint_states", "sensor_msgs/msg/JointState")]:
        w.add_topic(topic, kind)
    t0 = 1_000_000_000_000
    for k in range(401):  # 100 Hz
        t = k * 0.01
        log = t0 + k * 10_000_000
        clock = Clock()
        clock.clock.sec, clock.clock.nanosec = int(t), int(round((t - int(t)) * 1e9))
        w.write("/clock", log, serialize_message(clock))
        a = np.radians(90.0 * t)
        balls = _stamped(MultiDOFJointState(joint_names=["ball_0", "ball_1"], transforms=[Transform(), Transform()]), t)
        balls.transforms[1].translation.x, balls.transforms[1].translation.y = 0.02 * np.cos(a), 0.02 * np.sin(a)
        w.write("/sim/ground_truth/balls", log, serialize_message(balls))
        w.write("/sim/ground_truth/balls_dropped", log, serialize_message(String(data="ball_1" if t >= 2.5 else "")))
        w.write("/joint_states", log, serialize_message(_stamped(JointState(name=["j"], position=[t]), t)))
        if k % 10 == 0:  # a plan every 0.1 s taking 10, 20, ..., 50 ms in turn
            status = diagnostic_status("pddm_planner: planner", "shadowhand", OK, "planning task ccw",
                                       {"last_plan_ms": 10.0 * (1 + (k // 10) % 5), "overruns": 0})
            w.write("/diagnostics", log, serialize_message(diagnostic_array(clock.clock, [status])))
    w.close()


def test_report_from_a_recorded_run(tmp_path: Path) -> None:
    bag = tmp_path / "run.mcap"
    _write_run(bag)
    r = analyse_bag(bag, "ccw")
    assert r["sim_time_s"] == 4.0
    assert r["rotation_deg"] == pytest.approx(360.0, abs=0.2)           # 4 s x 90 deg/s
    assert r["rotation_before_drop_deg"] == pytest.approx(225.0, abs=0.2)  # 2.5 s x 90 deg/s
    assert r["turned_half_turn_before_drop"] is True                       # 225 >= 180
    assert r["dropped"] == ["ball_1"] and r["first_drop_sim_s"] == pytest.approx(2.5, abs=0.01)
    assert r["plan_ms"] == {"p50": 30.0, "p95": 50.0, "n": 41}
    assert r["rates_hz"]["joint_states"] == pytest.approx(100.2, abs=0.1)  # 401 samples over 4 s
    assert r["rates_hz"]["balls/state"] == 0.0


def test_clockwise_task_counts_the_other_way(tmp_path: Path) -> None:
    bag = tmp_path / "run.mcap"
    _write_run(bag)
    assert analyse_bag(bag, "cw")["turned_half_turn_before_drop"] is False
