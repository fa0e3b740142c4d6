"""``anima.launcher.run_launch`` and ``anima launch``: start, prefix output, stop, judge, clean up.

Fake nodes are ``launch_fixtures/fake_node.py`` (stdlib Python) and tiny ``sh`` scripts; no ROS.
Grace periods are short (0.5 s) to keep the module quick. No assertion is about timing.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from anima.launcher import LaunchResult, ProcessSpec, run_launch

FIX = Path(__file__).resolve().parent / "launch_fixtures"
FAKE = str(FIX / "fake_node.py")
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def fake(name: str, *flags: str) -> ProcessSpec:
    """A fake node run by this interpreter (``--ros-args`` appended, as the parser does)."""
    return ProcessSpec(name=name, executable=sys.executable, arguments=("-P", FAKE, *flags), env=ENV,
                       ros_arguments=("--ros-args", "-r", f"__node:={name}"))


def shell(name: str, script: str) -> ProcessSpec:
    return ProcessSpec(name=name, executable="/bin/sh", arguments=("-c", script), env=ENV)


def run(specs: list[ProcessSpec], timeout_s: float | None = 20.0, grace_s: float = 0.5) -> tuple[LaunchResult, str]:
    out = io.StringIO()
    result = run_launch(specs, timeout_s=timeout_s, grace_s=grace_s, stdout=out)
    return result, out.getvalue()


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (PID 1 here may not reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def test_output_is_prefixed_and_a_clean_exit_ends_the_run(tmp_path: Path) -> None:
    # 'talker' prints 3 lines, waits until 'listener' is ready, then exits 0 by itself: that ends
    # the run cleanly, and 'listener' (still running) is stopped with SIGINT and exits 0 ('bye').
    ready = str(tmp_path / "ready")
    result, out = run([fake("listener", "--touch", ready),
                       fake("talker", "--lines", "3", "--exit-after", "0", "--after-file", ready)])
    lines = out.splitlines()
    for expected in ("[talker] line 0", "[talker] line 2", "[talker] exiting with 0", "[listener] ready",
                     "[listener] bye"):
        assert expected in lines, out
    assert result.exit_code == 0 and result.failed == () and result.stop_reason == "node_exit"
    assert result.exit_codes == {"listener": 0, "talker": 0}
    talker = next(n for n in result.nodes if n.name == "talker")
    assert talker.exited_on_own and not talker.failed


def test_timeout_with_healthy_nodes_exits_zero() -> None:
    result, out = run([fake("a"), fake("b")], timeout_s=1.5)
    assert result.exit_code == 0 and result.stop_reason == "timeout", out
    assert {n.name: (n.exited_on_own, n.killed, n.failed) for n in result.nodes} == {
        "a": (False, False, False), "b": (False, False, False)}
    assert "[launch] time limit reached" in out


def test_a_node_exiting_non_zero_stops_the_others_and_fails(tmp_path: Path) -> None:
    ready = str(tmp_path / "ready")
    result, out = run([fake("steady", "--touch", ready),
                       fake("crasher", "--exit-after", "0.1", "--code", "3", "--after-file", ready)])
    assert result.exit_code == 1 and result.failed == ("crasher",) and result.stop_reason == "node_exit"
    assert result.exit_codes == {"steady": 0, "crasher": 3}
    assert "[steady] bye" in out  # the healthy node was asked to stop and did
    (summary,) = [line for line in out.splitlines() if "FAILED" in line]
    assert "crasher" in summary and "exit code 3" in summary and "steady" not in summary


def test_a_bad_exit_code_after_sigint_is_a_failure(tmp_path: Path) -> None:
    # 'trigger' ends the run (exit 0) once 'grumpy' is ready; grumpy answers SIGINT with code 5.
    ready = str(tmp_path / "ready")
    result, _ = run([fake("grumpy", "--stop-code", "5", "--touch", ready),
                     fake("trigger", "--exit-after", "0", "--after-file", ready)])
    assert result.exit_code == 1 and result.failed == ("grumpy",)
    assert result.exit_codes == {"grumpy": 5, "trigger": 0}


def test_sigint_ignoring_node_is_killed_after_grace(tmp_path: Path) -> None:
    # SIG_IGN set by the shell's trap is inherited across exec, so 'sleep' ignores SIGINT; the
    # trigger ends the run once the trap is set.
    ready = tmp_path / "ready"
    stubborn = shell("stubborn", f"trap '' INT; touch {ready}; exec sleep 60")
    result, out = run([stubborn, fake("trigger", "--exit-after", "0", "--after-file", str(ready))])
    stubborn = next(n for n in result.nodes if n.name == "stubborn")
    assert stubborn.killed and stubborn.failed and stubborn.returncode == -signal.SIGKILL
    assert result.exit_code == 1 and result.failed == ("stubborn",)
    assert "stubborn did not stop after SIGINT; sending SIGKILL" in out
    assert not alive(stubborn.pid or 0)


def test_grandchildren_do_not_survive(tmp_path: Path) -> None:
    # A non-interactive sh starts background jobs with SIGINT ignored: 'sleep' survives the SIGINT
    # that ends its parent, so only the group-wide SIGKILL after the grace period removes it.
    # 'trigger' ends the run once the pid file is in place (written then renamed: never partial).
    pidfile = tmp_path / "grandchild.pid"
    script = f"sleep 60 & echo spawned; echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait"
    result, out = run([shell("spawner", script), fake("trigger", "--exit-after", "0", "--after-file", str(pidfile))])
    grandchild = int(pidfile.read_text())
    assert "[spawner] spawned" in out
    assert not alive(grandchild)
    assert result.exit_code == 0, out  # the node itself stopped on SIGINT; its leftover child was cleaned up


def test_chatty_node_does_not_deadlock() -> None:
    # 20000 lines (~200 kB) is far more than a 64 kB pipe buffer: the reader threads must drain it.
    result, out = run([fake("chatty", "--lines", "20000", "--exit-after", "0")])
    assert result.exit_code == 0
    assert sum(line.startswith("[chatty] line ") for line in out.splitlines()) == 20000
    assert "[chatty] line 19999" in out


def test_executable_that_cannot_start_fails_and_stops_the_rest(tmp_path: Path) -> None:
    not_executable = tmp_path / "plain.txt"
    not_executable.write_text("hello")
    first = shell("first", "exec sleep 60")  # dies by SIGINT at any moment: -SIGINT, a clean stop
    result, out = run([first, ProcessSpec(name="broken", executable=str(not_executable), env=ENV)])
    assert result.exit_code == 1 and result.stop_reason == "start_error" and result.failed == ("broken",)
    assert result.exit_codes == {"first": -signal.SIGINT, "broken": None}
    assert "cannot start broken" in out


def test_hand_built_spec_without_env_gets_the_launcher_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROS_AUTOMATIC_DISCOVERY_RANGE", raising=False)
    monkeypatch.setenv("ANIMA_TEST_MARK", "inherited")
    spec = ProcessSpec(name="echo", executable=sys.executable, arguments=("-P", FAKE, "--echo", "--exit-after", "0"))
    result, out = run([spec])
    (line,) = [x for x in out.splitlines() if x.startswith("[echo] {")]
    env = json.loads(line[len("[echo] "):])["env"]
    assert result.exit_code == 0
    wanted = {"ANIMA_TEST_MARK": "inherited", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "PYTHONUNBUFFERED": "1"}
    assert {k: env.get(k) for k in wanted} == wanted


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="grace_s"):
        run_launch([], grace_s=-1.0)
    assert run_launch([], timeout_s=0.0, stdout=io.StringIO()).stop_reason == "empty"


# ---- the CLI end to end ------------------------------------------------------------------------

def _cli(*args: str) -> list[str]:
    return [sys.executable, "-P", "-m", "anima", "launch", *args]


def _cli_env() -> dict[str, str]:
    return {**ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_cli_finds_files_in_the_share_dir() -> None:
    from anima import share_dir
    from anima.commands.launch import _locate

    # 'anima launch anima NAME args' like 'ros2 launch anima NAME args'.
    assert _locate("anima", ["x.launch.xml", "a:=b"]) == (share_dir() / "launch" / "x.launch.xml", ["a:=b"])
    assert _locate("/abs/y.launch.xml", ["a:=b"]) == (Path("/abs/y.launch.xml"), ["a:=b"])


def test_cli_sigint_stops_everything_and_exits_zero() -> None:
    proc = subprocess.Popen(_cli(str(FIX / "runner_two.launch.xml"), "--grace", "2"), env=_cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # wait until the node is up before interrupting the launcher
        seen.append(line)
        if line.startswith("[steady] ready"):
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    out = "".join(seen) + rest
    assert proc.returncode == 0, out
    assert "[launch] signal received" in out and "[steady] bye" in out


def test_cli_node_failure_gives_non_zero_exit() -> None:
    done = subprocess.run(_cli(str(FIX / "runner_two.launch.xml"), "fail:=true", "--grace", "2", "--timeout", "20"),
                          env=_cli_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED: quitter (exited by itself with exit code 3)" in done.stdout


def test_cli_errors_exit_2_and_start_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.launch.xml"
    bad.write_text('<launch>\n  <node exec="python3" name="n"/>\n  <timer period="1"/>\n</launch>\n')
    done = subprocess.run(_cli(str(bad)), env=_cli_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"{bad}:3: <timer>: tag <timer> is outside" in done.stderr
    assert "started" not in done.stdout


def test_cli_print_is_a_dry_run() -> None:
    done = subprocess.run(_cli(str(FIX / "runner_two.launch.xml"), "--print", "fail:=1"), env=_cli_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "# steady" in done.stdout and "# quitter" in done.stdout
    assert "--exit-after 0.2 --code 3 --ros-args -r __node:=quitter" in done.stdout
    assert "[launch] started" not in done.stdout


@pytest.mark.ros
def test_real_rcl_parses_the_generated_command_line(ros_env: dict[str, str]) -> None:
    # rcl types -p values with YAML: 500 -> int, 3.5 -> float, true -> bool, text -> str; the
    # later -p gain:=3.5 overrides the params file's 2.5; the remap and namespaces apply.
    from anima.launcher import parse_launch_file

    env = {**ros_env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{ros_env.get('PATH', '')}"}
    specs = parse_launch_file(FIX / "ros_check.launch.xml", {"robot": "dog"}, env)
    result, out = run(specs, timeout_s=60.0)
    echoed = [line.split("ECHO ", 1)[1] for line in out.splitlines() if line.startswith("[echo] ECHO ")]
    assert result.exit_code == 0 and len(echoed) == 1, out
    assert json.loads(echoed[0]) == {
        "fqn": "/dog/legs/echo",
        "params": {"rate_hz": [500, "int"], "gain": [3.5, "float"], "enabled": [True, "bool"],
                   "label": ["dog stand", "str"]},
        "joint_states": "/sim/joint_states",
    }
