"""run_node's shutdown: a node that does not stop after SIGINT says where it is stuck."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.ros]

# A node whose loop ignores the stop flag: stuck in a sleep that the signal does not end (PEP 475).
STUCK_NODE = """
import time
from rclpy.node import Node
from anima.ros_nodes._common import run_node

def stuck_loop(node):
    print("spinning", flush=True)
    time.sleep(30)

run_node(lambda: Node("stuck"), [], spin=stuck_loop)
"""


def test_a_node_stuck_after_sigint_prints_its_stacks(ros_env: dict) -> None:
    from anima.ros_nodes._common import STOP_TRACE_AFTER_S

    proc = subprocess.Popen([sys.executable, "-P", "-c", STUCK_NODE], env=ros_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "spinning"
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        time.sleep(STOP_TRACE_AFTER_S + 1.5)
        assert proc.poll() is None  # still stuck: the dump does not end the process
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert time.monotonic() - start >= STOP_TRACE_AFTER_S
    assert "most recent call first" in err and "in stuck_loop" in err, err



# A node whose rcl teardown stalls (as pose_hold's once did under load, RELIABILITY.md): destroy_node hangs.
STALLED_TEARDOWN_NODE = """
import sys, time
from rclpy.node import Node
from anima.ros_nodes._common import run_node, shutdown_requested

class Stalled(Node):
    def destroy_node(self):
        if sys.argv[2] == "gil":
            sum(range(10**12))  # one C call that never lets the GIL go (minutes)
        time.sleep(60)

def loop(node):
    print("spinning", flush=True)
    while not shutdown_requested():
        time.sleep(0.01)
    raise SystemExit(int(sys.argv[1]))

run_node(lambda: Stalled("stalled"), [], spin=loop)
"""


@pytest.mark.parametrize("code", [0, 3])
def test_a_stalled_rcl_teardown_ends_within_its_limit_with_the_nodes_exit_code(ros_env: dict, code: int) -> None:
    from anima.ros_nodes._common import TEARDOWN_LIMIT_S

    proc = subprocess.Popen([sys.executable, "-P", "-c", STALLED_TEARDOWN_NODE, str(code), "sleep"], env=ros_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "spinning"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)  # the stalled destroy_node alone would take 60 s
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert f"[teardown] stalled: rcl/DDS teardown still running after {TEARDOWN_LIMIT_S:g} s; exiting with code {code}" in err
    assert "in destroy_node" in err  # where it stalled


def test_a_teardown_stalled_holding_the_gil_is_ended_by_the_hard_limit(ros_env: dict) -> None:
    """The Python watchdog cannot run then; faulthandler's C thread dumps the stacks and exits 1."""
    proc = subprocess.Popen([sys.executable, "-P", "-c", STALLED_TEARDOWN_NODE, "0", "gil"], env=ros_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "spinning"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)  # the stalled sum alone would take minutes
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "Timeout (0:00:03.500000)!" in err and "in destroy_node" in err, err
    assert "[teardown]" not in err  # the Python watchdog never got the GIL
