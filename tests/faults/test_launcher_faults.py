"""Processes under fault (issue 20, items 3, 15, 16): the launcher killed by SIGKILL, a double
Ctrl-C, two stacks on one machine.

* Item 15: nodes die with ``anima launch`` even when it is SIGKILLed (``PR_SET_PDEATHSIG``); the
  control shows that without it the same children outlive their launcher.
* Item 16: every node type ends with exit code 0 on two SIGINTs 50 ms apart.
* Item 3: two concurrent ``anima launch`` runs claim and print different ``ROS_DOMAIN_ID``s and
  do not hear each other; the control shows that in one domain they would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from anima import share_dir
from anima.launcher import ProcessSpec, parse_launch_file

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
ANIMA = str(Path(sys.executable).parent / "anima")
pytestmark = pytest.mark.ros


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _wait_gone(pids: list[int], timeout_s: float = 15.0) -> list[int]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


class _Lines:
    """Reads a process's output on a thread; ``wait_for(regex)`` blocks until a line matches."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for raw in iter(stream.readline, ""):
            with self._cv:
                self.lines.append(raw.rstrip("\n"))
                self._cv.notify_all()

    def wait_for(self, pattern: str, count: int = 1, timeout_s: float = 90.0) -> list[re.Match]:
        rx = re.compile(pattern)
        with self._cv:
            ok = self._cv.wait_for(lambda: len([m for ln in self.lines if (m := rx.search(ln))]) >= count, timeout_s)
            found = [m for ln in self.lines if (m := rx.search(ln))]
        assert ok, f"no {count} line(s) matching {pattern!r} in {timeout_s} s:\n" + "\n".join(self.lines[-60:])
        return found


# ----------------------------------------------------------------------- item 15
def test_sigkilled_launcher_leaves_no_node(ros_env: dict[str, str]) -> None:
    launch = subprocess.Popen([ANIMA, "launch", str(FIXTURES / "two_nodes.launch.xml")], env=ros_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = _Lines(launch.stdout)
    pids: list[int] = []
    try:
        pids = [int(m.group(1)) for m in out.wait_for(r"^\[launch\] started \w+ \(pid (\d+)\)", count=2)]
        out.wait_for(r"^\[pd_controller\] .*\[INFO\]")
        out.wait_for(r"^\[state_estimator\] .*\[INFO\]")
        assert all(_alive(p) for p in pids)
        launch.kill()  # SIGKILL: the launcher can stop nothing itself
        launch.wait(timeout=10)
        survivors = _wait_gone(pids)
        assert not survivors, f"nodes outlived their SIGKILLed launcher: {survivors}"
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


_CONTROL = """
import sys, time
from anima.launcher import ProcessSpec, run_launch
from anima.launcher import runner
runner._die_with_launcher = lambda _pid: None   # the control: children started without PR_SET_PDEATHSIG
run_launch([ProcessSpec(name=f"s{i}", executable="/bin/sleep", arguments=("60",)) for i in range(2)])
"""


def test_control_without_pdeathsig_children_outlive_the_launcher() -> None:
    launch = subprocess.Popen([sys.executable, "-c", _CONTROL], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = _Lines(launch.stdout)
    pids = [int(m.group(1)) for m in out.wait_for(r"^\[launch\] started \w+ \(pid (\d+)\)", count=2, timeout_s=30)]
    try:
        launch.kill()
        launch.wait(timeout=10)
        assert _wait_gone(pids, timeout_s=1.0) == pids, "control: the children died without PR_SET_PDEATHSIG"
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


# ----------------------------------------------------------------------- item 16
def _node_specs(tmp_path: Path) -> dict[str, ProcessSpec]:
    """One spec per node executable, as the simulated launch files start it (recorder writes into tmp_path)."""
    env = dict(os.environ)
    launch = share_dir() / "launch"
    specs = parse_launch_file(launch / "laikago_sim.launch.xml", {"monitor": "true", "record": "true", "foxglove": "true",
                                                                  "bag": str(tmp_path / "run.mcap")}, env)
    specs += parse_launch_file(launch / "shadowhand_baoding_sim.launch.xml", {}, env)
    specs += parse_launch_file(launch / "sawyer_sim.launch.xml", {}, env)
    specs += parse_launch_file(launch / "reacher_solar_sim.launch.xml", {"model_path": str(_solar_policy(tmp_path))}, env)
    found: dict[str, ProcessSpec] = {}
    for spec in specs:
        found.setdefault(Path(spec.executable).name, spec)
    return found


def _solar_policy(tmp_path: Path) -> Path:
    """A SOLAR reacher policy file (initial encoder, zero gains) for solar_planner to load."""
    import numpy as np

    from anima.models.solar.networks import Encoder
    from anima.models.solar.policy import SolarPolicy, make_spec

    spec = make_spec("reacher", 10, 5, 0.05, "joint_torque", [-1.0, -1.0], [1.0, 1.0], torque_limit_nm=0.1)
    path = tmp_path / "solar_reacher.pt"
    SolarPolicy(spec, Encoder(10, 64), np.zeros((5, 2, 10)), np.zeros((5, 2)), np.tile(np.eye(2), (5, 1, 1))).save(path)
    return path


NODE_TYPES = ["sim_bridge", "pd_controller", "state_estimator", "pose_hold", "stack_monitor", "ball_tracker",
              "ball_state_estimator", "pddm_planner", "cartesian_controller", "recorder", "foxglove_bridge",
              "solar_planner"]


@pytest.mark.parametrize("executable", NODE_TYPES)
def test_two_sigints_50ms_apart_end_the_node_cleanly(executable: str, ros_env: dict[str, str], tmp_path: Path) -> None:
    spec = _node_specs(tmp_path)[executable]
    proc = subprocess.Popen(spec.argv, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = _Lines(proc.stdout)
    try:
        out.wait_for(r"\[INFO\]")  # constructed and spinning
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)  # the second Ctrl-C of a terminal's process group, 50 ms later
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.1)
    assert code == 0, f"{executable} exited with {code} after two SIGINTs:\n" + "\n".join(out.lines[-40:])


# ----------------------------------------------------------------------- item 3
def _two_runs(env: dict[str, str], tmp_path: Path, tag: str) -> tuple[list[dict], list[str]]:
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}  # python3 = this venv's
    procs, outs = [], []
    for label in ("run_a", "run_b"):
        out = tmp_path / f"{tag}_{label}.json"
        outs.append(out)
        procs.append(subprocess.Popen([ANIMA, "launch", str(FIXTURES / "crosstalk.launch.xml"), f"label:={label}",
                                       f"out:={out}", "--timeout", "90"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=150) for p in procs]
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode == 0, stdout[-2000:] + stderr[-2000:]
    return [json.loads(o.read_text()) for o in outs], [stderr for _stdout, stderr in results]


def test_two_concurrent_launches_get_their_own_domains_and_do_not_cross(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROS_DOMAIN_ID"}
    heard, stderr = _two_runs(env, tmp_path, "own")
    domains = [re.search(r"ROS_DOMAIN_ID=(\d+) \(claimed for this run", s) for s in stderr]
    assert all(domains), stderr
    assert domains[0].group(1) != domains[1].group(1)
    assert heard[0].get("run_a", 0) >= 30 and heard[1].get("run_b", 0) >= 30, heard  # each heard itself for 5 s
    assert set(heard[0]) == {"run_a"} and set(heard[1]) == {"run_b"}, f"runs crossed: {heard}"


def test_control_two_launches_in_one_domain_do_cross(tmp_path: Path) -> None:
    from anima.ros_env import claim_domain_id

    with claim_domain_id() as claim:
        env = {**os.environ, "ROS_DOMAIN_ID": str(claim.domain_id)}
        heard, stderr = _two_runs(env, tmp_path, "shared")
    assert all(f"ROS_DOMAIN_ID={claim.domain_id} (from the environment)" in s for s in stderr), stderr
    assert "run_b" in heard[0] and "run_a" in heard[1], f"control: runs in one domain did not hear each other: {heard}"
