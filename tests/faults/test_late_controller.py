"""Start-up race: the controller starts late (issue 20, item 6).

The processes of ``launch/laikago_sim.launch.xml`` (monitor on), resolved by the project's launch
parser, are started one by one; ``pd_controller`` only after the bridge has been waiting for it
for 10 s (its second "still waiting" line). The bridge must hold the world until the first
command (the robot neither slumps nor moves) and ``pose_hold`` must start its stand-up from the
measured pose once the controller answers, so the robot is not thrown when control begins.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from anima.launcher import parse_launch_file

_spec = importlib.util.spec_from_file_location("_control_harness", Path(__file__).with_name("_control_harness.py"))
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]


def test_controller_ten_seconds_late_robot_neither_slumps_nor_is_thrown(ros_env, tmp_path) -> None:
    report = tmp_path / "report.json"
    specs = parse_launch_file(harness.REPO / "launch" / "laikago_sim.launch.xml",
                              {"monitor": "true", "duration_s": "6.0", "report_path": str(report)}, ros_env)
    by_name = {s.name: s for s in specs}
    procs = {name: harness.Proc(spec.argv, dict(spec.env)) for name, spec in by_name.items() if name != "pd_controller"}
    try:
        bridge = procs["sim_bridge"]
        bridge.wait_line("holding the world", timeout=120.0)
        bridge.wait_line("(10 s)", timeout=60.0)  # the bridge has waited 10 s for a controller
        procs["pd_controller"] = harness.Proc(by_name["pd_controller"].argv, dict(by_name["pd_controller"].env))
        bridge.wait_line("stepping the world", timeout=60.0)
        procs["pose_hold"].wait_line("the controller answers", timeout=60.0)
        code = procs["stack_monitor"].wait_exit(timeout=240.0)
    finally:
        codes = {name: p.stop() for name, p in procs.items() if name != "stack_monitor"}
    out = "\n".join(f"[{n}] {line}" for n, p in procs.items() for line in p.lines)
    assert code == 0, out[-4000:]
    assert all(c == 0 for c in codes.values()), (codes, out[-4000:])
    r = json.loads(report.read_text())
    print(f"\nlate controller: base z over the run {r['base_height_m_min_all']} .. {r['base_height_m_max_all']} m, "
          f"standing {r['base_height_m_min']} .. {r['base_height_m_max']} m")
    assert r["stood"], r
    # the robot starts in the crouch (base z 0.355 m) and stands at 0.45 m: no slump below the
    # crouch while waiting, no throw above the stance when control begins
    assert r["base_height_m_min_all"] >= 0.33, r
    assert r["base_height_m_max_all"] <= 0.50, r
    assert r["non_foot_contacts_after_settle"] == []
