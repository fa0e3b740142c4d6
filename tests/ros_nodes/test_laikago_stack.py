"""ROS integration: the simulated Laikago stack, real processes over real DDS (loopback only).

``anima launch launch/laikago_sim.launch.xml`` with the monitor: the robot rises from its crouch
and stays up (base height in a band, no non-foot contact), the estimator's velocity error stays
bounded, the e-stop turns the commands into pure damping (the robot sags), and every process
exits cleanly (launch exit code 0, no process of this run left behind).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]


def _launch(ros_env: dict[str, str], venv_bin: Path, tmp_path: Path, *args: str) -> tuple[dict, str]:
    report = tmp_path / "report.json"
    cmd = [
        str(venv_bin / "anima"), "launch", str(REPO / "launch" / "laikago_sim.launch.xml"),
        "monitor:=true", f"report_path:={report}", *args, "--timeout", "150",
    ]
    out = subprocess.run(cmd, env=ros_env, capture_output=True, text=True, timeout=200)
    log = out.stdout + out.stderr
    assert out.returncode == 0, f"anima launch exited {out.returncode}:\n{log[-4000:]}"
    assert report.is_file(), f"no monitor report:\n{log[-4000:]}"
    _assert_no_leftover_nodes(ros_env["ROS_DOMAIN_ID"])
    return json.loads(report.read_text()), log


def _assert_no_leftover_nodes(domain: str) -> None:
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"ROS_DOMAIN_ID={domain}".encode() in environ and b"__node:=" in cmdline:
            left.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    assert not left, f"processes of this run still alive: {left}"


def test_stands_estimates_and_estops(ros_env, venv_bin, tmp_path) -> None:
    # 12 s of sim time: rise over 1.5 s, settle by 2.5 s, stand until the e-stop at 10 s.
    r, log = _launch(ros_env, venv_bin, tmp_path, "duration_s:=12.0", "estop_at_s:=10.0")
    assert r["sim_time_s"] >= 12.0
    assert r["stood"], f"robot did not stand: {r}"
    assert 0.30 <= r["base_height_m_min"] <= r["base_height_m_max"] <= 0.60
    assert r["non_foot_contacts_after_settle"] == []
    assert r["estimator_velocity_samples"] > 100
    assert r["estimator_velocity_rmse_mps"] < 0.1, r
    assert r["estop_accepted"] is True
    assert r["estop_damping_samples"] > 100
    assert r["estop_damping_residual_nm_max"] < 1e-3, "commands after the e-stop are not pure damping"
    assert r["base_height_m_after_estop_min"] < r["base_height_m_min"] - 0.03, "robot did not sag after the e-stop"
    assert r["rates_hz"]["joint_commands"] > 400  # one command per 500 Hz joint_states sample
    assert "command latency ms" in log


def test_crouch_stand_cycle_tracks_velocity(ros_env, venv_bin, tmp_path) -> None:
    r, _log = _launch(ros_env, venv_bin, tmp_path, "duration_s:=9.0", "crouch_cycle:=true", "cycle_period_s:=3.0")
    assert r["stood"], f"robot fell during the crouch-stand cycle: {r}"
    assert r["estimator_velocity_rmse_mps"] < 0.1, r
