"""A hung controller (alive, but silent: frozen by SIGSTOP) in a monitored run (issue 20, item 14).

``anima launch laikago_sim.launch.xml monitor:=true``: once the robot stands, ``pd_controller``
is stopped with SIGSTOP. Its process lives on, so the launcher cannot see it; what shows is that
``joint_commands`` stop. The bridge's watchdog must apply damping (the robot sinks slowly instead
of dropping), and the monitor must end the run with a failure that names the silent stream.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from nav_msgs.msg import Odometry

from anima.ros_nodes._common import SENSOR_QOS, from_time_msg
from anima.ros_nodes._conversions import odometry_arrays

_spec = importlib.util.spec_from_file_location("_control_harness", Path(__file__).with_name("_control_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]

# Measured in process (LaikagoWorld standing, then 1 s without control): zero torque drops the
# body at up to 2.5 m/s onto the chassis; damping (-2 qd) lets it sink at up to 1.0 m/s.
MAX_SINK_SPEED_DAMPED_MPS = 1.6


def test_frozen_controller_damped_and_run_fails_naming_it(ros_env, venv_bin, tmp_path) -> None:
    report = tmp_path / "report.json"
    launch = harness.Proc([str(venv_bin / "anima"), "launch", str(harness.REPO / "launch" / "laikago_sim.launch.xml"),
                           "monitor:=true", "duration_s:=60.0", f"report_path:={report}", "--timeout", "240"], ros_env)
    peer = harness.Peer(int(ros_env["ROS_DOMAIN_ID"]))
    truth: list[tuple[float, float, float]] = []  # (sim t, base z, vertical velocity)
    peer.record(Odometry, "sim/ground_truth/odom", SENSOR_QOS, truth,
                lambda m: (from_time_msg(m.header.stamp), *(lambda a: (a[0][2], a[2][2]))(odometry_arrays(m))))
    pid = None
    try:
        peer.wait_for(lambda: bool(truth) and truth[-1][0] >= 3.0, 180.0, "3 s of sim time")
        assert 0.30 <= truth[-1][1] <= 0.60, f"robot not standing before the fault: z = {truth[-1][1]}"
        pid = harness.node_pid(ros_env["ROS_DOMAIN_ID"], "pd_controller")
        os.kill(pid, signal.SIGSTOP)
        with peer.cond:
            t_stop = truth[-1][0]
        code = launch.wait_exit(timeout=180.0)
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)  # the launcher has SIGKILLed it by now; never leave it stopped
        peer.close()
        if launch.proc.poll() is None:
            launch.stop()
    out = launch.output()
    assert code != 0, f"a run with a hung controller ended successfully:\n{out[-3000:]}"
    r = json.loads(report.read_text())
    assert "joint_commands silent" in r.get("failure", ""), r
    assert "[sim_bridge]" in out and "damping (-damping_kd * qd)" in out, out[-3000:]
    after = np.array([(z, vz) for t, z, vz in truth if t > t_stop])
    assert after.size, "no ground truth after the controller froze"
    print(f"\nhung controller: run ended {r['sim_time_s'] - t_stop:.2f} s of sim time after SIGSTOP; "
          f"sink speed max {-after[:, 1].min():.2f} m/s, base z {after[0, 0]:.3f} -> {after[-1, 0]:.3f} m")
    assert -after[:, 1].min() < MAX_SINK_SPEED_DAMPED_MPS, "the robot dropped: no damping after the commands stopped"
    assert not harness.leftover_nodes(ros_env["ROS_DOMAIN_ID"])


def test_frozen_simulator_ends_the_run_with_a_failure(ros_env, venv_bin, tmp_path) -> None:
    # A hung simulator stops sim time itself, so the monitor catches it on the wall clock
    # (stall_wall_s, 10 s): the run must not sit there until its time limit.
    report = tmp_path / "report.json"
    launch = harness.Proc([str(venv_bin / "anima"), "launch", str(harness.REPO / "launch" / "laikago_sim.launch.xml"),
                           "monitor:=true", "duration_s:=60.0", f"report_path:={report}", "--timeout", "240"], ros_env)
    peer = harness.Peer(int(ros_env["ROS_DOMAIN_ID"]))
    truth: list[float] = []
    peer.record(Odometry, "sim/ground_truth/odom", SENSOR_QOS, truth, lambda m: from_time_msg(m.header.stamp))
    pid = None
    try:
        peer.wait_for(lambda: bool(truth) and truth[-1] >= 1.0, 180.0, "1 s of sim time")  # the monitor hears it too
        pid = harness.node_pid(ros_env["ROS_DOMAIN_ID"], "sim_bridge")
        os.kill(pid, signal.SIGSTOP)
        code = launch.wait_exit(timeout=120.0)
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        peer.close()
        if launch.proc.poll() is None:
            launch.stop()
    out = launch.output()
    assert code != 0, f"a run with a hung simulator ended successfully:\n{out[-3000:]}"
    r = json.loads(report.read_text())
    assert "the simulator is hung or gone" in r.get("failure", ""), r
    assert not harness.leftover_nodes(ros_env["ROS_DOMAIN_ID"])
