"""stack_run: the report plumbing shared by `anima demo` and `anima bench bridge`."""

from __future__ import annotations

import pytest

from anima.stack_run import StackRun, _cpu_at


def test_cpu_at_interpolates_and_clamps() -> None:
    samples = [(10.0, 1.0), (12.0, 2.0), (14.0, 2.0)]
    assert _cpu_at(samples, 11.0) == pytest.approx(1.5)  # halfway between the first two samples
    assert _cpu_at(samples, 5.0) == pytest.approx(1.0)  # before the first sample: clamped
    assert _cpu_at(samples, 20.0) == pytest.approx(2.0)  # after the last: clamped


def test_cpu_per_sim_second_excludes_start_up() -> None:
    # 4 s of sim at 2x real time = 2 s of wall before the monitor's last sample at t = 10 s;
    # the bridge used 1.0 CPU s in that window (from 3.0 at t = 8 to 4.0 at t = 10) -> 0.25 per sim s.
    run = StackRun(0, {"real_time_factor": 2.0, "sim_time_s": 4.0}, "",
                   cpu_s={"sim_bridge": [(1.0, 2.0), (8.0, 3.0), (10.0, 4.0)]}, end_wall=10.0)
    cpu = run.cpu_s_per_sim_s()
    assert cpu["sim_bridge"] == pytest.approx(0.25)
    assert cpu["total"] == pytest.approx(0.25)


def test_latency_line_is_parsed_from_the_bridge_output() -> None:
    out = "[sim_bridge] command latency ms: p50 0.666 p99 5.115 (n=5102)\n"
    assert StackRun(0, {}, out).latency_ms() == (0.666, 5.115, 5102)
    assert StackRun(0, {}, "no such line").latency_ms() is None


def test_command_guard_line_is_parsed_from_the_bridge_output() -> None:
    out = ("[sim_bridge] command guard: accepted 5102, rejected 7 (future stamp 1, names 2, values 4), "
           "torque clamped 3 commands (12 joints), watchdog timeouts 1\n")
    g = StackRun(0, {}, out).command_guard()
    assert g == {"accepted": 5102, "rejected": 7, "rejected_future_stamp": 1, "rejected_names": 2,
                 "rejected_values": 4, "torque_clamped_commands": 3, "torque_clamped_joints": 12,
                 "watchdog_timeouts": 1}
    assert StackRun(0, {}, "no such line").command_guard() is None


def test_node_output_is_the_nodes_own_last_lines() -> None:
    out = "[a] one\n[b] other\n[a] two\n[a] three\nno prefix\n[ab] not a\n"
    run = StackRun(1, {}, out, failures=["a: did not stop within 5 s of SIGINT and was killed"])
    assert run.node_output("a") == ["one", "two", "three"]
    assert run.node_output("a", last=2) == ["two", "three"]
    assert run.node_output("c") == []
