"""Traffic never leaves loopback (issue 20, item 2): a peer on another host that names us in
``ROS_STATIC_PEERS`` gets nothing from ``anima launch`` and gives it nothing.

Two network namespaces joined by a veth pair stand for two hosts (netns_scenario.py). The positive
control runs the same scenario with Fast DDS's builtin transports (the discovery range alone) and
proves the remote peer does connect then: it receives ``joint_states``, its ``joint_targets``
arrive and its ``emergency_stop`` call succeeds. With the loopback profile that ``anima launch``
sets by itself, nothing crosses either way, while the local stack keeps talking over loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from anima.ros_env import PROFILE_VARS, apply_network_rule, loopback_profile

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.ros


def _can_make_namespaces() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces (scripts/test.sh runs the suite as root in CI)"
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"needs '{tool}'"
    probe = subprocess.run(["unshare", "-n", "-m", "-u", "true"], capture_output=True)
    return None if probe.returncode == 0 else f"cannot create namespaces here: {probe.stderr.decode().strip()}"


def _scenario(mode: str, window_s: float, env: dict[str, str], tmp_path: Path) -> dict:
    out = tmp_path / f"{mode}.json"
    cmd = ["unshare", "-n", sys.executable, str(HERE / "netns_scenario.py"), mode, str(window_s), str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=window_s + 240)
    assert done.returncode == 0 and out.is_file(), f"scenario {mode} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(out.read_text())


def test_the_rule_sets_the_loopback_profile_unless_the_user_chose() -> None:
    env = apply_network_rule({})
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert all(env[v] == str(loopback_profile()) for v in PROFILE_VARS) and loopback_profile().is_file()
    assert "127.0.0.1" in loopback_profile().read_text()
    assert apply_network_rule({"FASTRTPS_DEFAULT_PROFILES_FILE": "/robot.xml"})["FASTRTPS_DEFAULT_PROFILES_FILE"] == "/robot.xml"
    assert not any(v in apply_network_rule({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"}) for v in PROFILE_VARS)


def test_remote_peer_receives_and_sends_nothing(ros_env: dict[str, str], tmp_path: Path) -> None:
    why = _can_make_namespaces()
    if why:
        pytest.skip(why)
    control = _scenario("control", 30.0, ros_env, tmp_path)
    remote = control["remote"]
    assert remote is not None, control
    # Positive control: without the profile the remote peer gets in (the test could fail).
    assert remote["joint_states"] > 0, f"control: remote peer received no joint_states:\n{json.dumps(control, indent=1)}"
    assert remote["estop_success"] is True, control
    assert control["local"]["joint_targets"] > 0, control
    # Protected: as long again as the control needed to connect, three times over, and at least 10 s.
    window = max(10.0, 3.0 * remote["connected_after_s"])
    protected = _scenario("protected", window, ros_env, tmp_path)
    remote = protected["remote"]
    assert remote is not None, protected
    assert remote["joint_targets_sent"] > 50, protected  # the remote peer did try, the whole window
    assert remote["joint_states"] == 0, f"remote peer received joint_states:\n{json.dumps(protected, indent=1)}"
    assert remote["estop_success"] is None, "the remote peer's emergency_stop call reached pd_controller"
    assert protected["local"]["joint_targets"] == 0, "the remote peer's joint_targets arrived"
    # The local stack kept working over loopback under the profile the whole time.
    assert protected["local"]["joint_commands"] > protected["local_before"]["joint_commands"] > 0, protected
