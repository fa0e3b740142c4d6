"""The real-robot control contract (issue 20, item 7): ``launch/laikago_real.launch.xml`` run by
``anima launch`` against a stand-in driver (``_standin_driver.py``, written from the launch file's
header) that starts the robot in the crouch and applies commands after an injected latency.

- ``pd:=driver``: the stand-in closes the PD loop from the position targets and gains it is sent;
  the robot rises to the stance.
- ``pd:=node`` with a driver a few ms away: the stack times the round trip, leaves damping and
  the robot rises.
- ``pd:=node`` with 1.5 s injected: the stack warns, refuses to leave damping (every command is
  exactly ``-damping_kd * qd`` of the sample it answers) and the robot stays where it lay.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from anima.controllers.robot_config import load_robot_config

_spec = importlib.util.spec_from_file_location("_control_harness", Path(__file__).with_name("_control_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = [pytest.mark.ros, pytest.mark.slow]
ROBOT = load_robot_config("laikago")
# The node-mode gate in these runs (the launch file's default is 10 ms) must hold on a loaded
# 2-core CI machine, where the Python processes' queues fill: a 100 Hz stand-in has a 10 ms round
# trip at best, and with nothing injected a p99 of 230-610 ms was measured at load average 20 (the
# gate opens once the 500-round-trip window has aged out such spikes). The refusal case injects
# three times the limit.
LIMIT_MS = 500.0


def run(ros_env, venv_bin, tmp_path, mode: str, latency_ms: float, duration_s: float,
        until_standing: float = 0.0) -> tuple[dict, str]:
    report = tmp_path / "driver.json"
    launch = harness.Proc([str(venv_bin / "anima"), "launch", str(harness.REPO / "launch" / "laikago_real.launch.xml"),
                           f"pd:={mode}", f"max_round_trip_ms:={LIMIT_MS}", "--timeout", "200"], ros_env)
    driver = harness.Proc([sys.executable, str(Path(__file__).with_name("_standin_driver.py")), "--mode", mode,
                           "--latency-ms", str(latency_ms), "--duration-s", str(duration_s),
                           "--until-standing", str(until_standing), "--report", str(report)],
                          ros_env)
    try:
        driver.wait_line("report written", timeout=240.0)
        driver.wait_exit(timeout=30.0)
    finally:
        driver.stop()
        code = launch.stop(timeout=30.0)
    out = launch.output()
    assert code == 0, f"anima launch exited {code}:\n{out[-4000:]}"
    return json.loads(report.read_text()), out + "\n" + driver.output()


def test_driver_mode_sends_targets_and_gains_and_the_driver_closes_the_loop(ros_env, venv_bin, tmp_path) -> None:
    r, out = run(ros_env, venv_bin, tmp_path, "driver", latency_ms=20.0, duration_s=90.0, until_standing=0.02)
    assert r["driver_form"] > 100 and r["effort_form"] == 0, r
    np.testing.assert_array_equal(r["kp"], ROBOT.kp)  # standing: tracking gains, not damping
    np.testing.assert_array_equal(r["kd"], ROBOT.kd)
    # 20 ms of command latency does not matter when the loop closes in the driver: it stands
    np.testing.assert_allclose(r["q_final"], ROBOT.standing_pose, atol=0.05)


def test_node_mode_with_a_fast_driver_leaves_damping_and_stands(ros_env, venv_bin, tmp_path) -> None:
    r, out = run(ros_env, venv_bin, tmp_path, "node", latency_ms=0.0, duration_s=90.0, until_standing=0.02)
    assert "leaving damping" in out, out[-3000:]
    print("\n" + next(x for x in out.splitlines() if "leaving damping" in x))
    assert r["effort_form"] > 100 and r["driver_form"] == 0, r
    np.testing.assert_allclose(r["q_final"], ROBOT.standing_pose, atol=0.05)


def test_node_mode_with_a_slow_driver_warns_and_refuses_to_leave_damping(ros_env, venv_bin, tmp_path) -> None:
    r, out = run(ros_env, venv_bin, tmp_path, "node", latency_ms=3 * LIMIT_MS, duration_s=8.0)
    assert r["effort_form"] > 100, f"commands did not reach the driver: {r}"
    assert "exceeds 5 ms" in out and "refusing to leave damping" in out, out[-3000:]
    assert "leaving damping" not in out.replace("refusing to leave damping", "")
    print("\n" + [x for x in out.splitlines() if "refusing to leave damping" in x][-1])
    # every command the driver could check was pure damping of the sample it answers
    assert r["pure_damping"] >= 0.9 * r["effort_form"], r
    assert r["max_move_rad"] < 0.05, f"the robot moved under a refused effort loop: {r}"
