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


def test_spin_loop_is_chosen_by_anima_spin(monkeypatch) -> None:
    from anima.ros_nodes._common import SPIN_ENV, default_spin, spin_events, spin_light

    monkeypatch.delenv(SPIN_ENV, raising=False)
    assert default_spin() is spin_light
    monkeypatch.setenv(SPIN_ENV, "events")
    assert default_spin() is spin_events
    monkeypatch.setenv(SPIN_ENV, "fast")
    with pytest.raises(ValueError, match="ANIMA_SPIN='fast': expected one of \\['events', 'light'\\]"):
        default_spin()


@pytest.mark.parametrize("loop", ["light", "events"])
def test_pd_controller_answers_and_stops_cleanly_with_either_spin_loop(ros_env: dict, venv_bin, loop: str) -> None:
    # The same node under both loops: a joint_states sample gets its command back, SIGINT ends it with 0.
    import numpy as np
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import JointState

    from anima.controllers.robot_config import load_robot_config
    from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS, SPIN_ENV, to_time_msg
    from anima.ros_nodes._conversions import joint_state_msg

    robot = load_robot_config("laikago")
    proc = subprocess.Popen([str(venv_bin / "pd_controller")], env={**ros_env, SPIN_ENV: loop},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    node = Node("fake_robot", context=ctx)
    got = []
    pub = node.create_publisher(JointState, "joint_states", SENSOR_QOS)
    node.create_subscription(JointState, "joint_commands", got.append, COMMAND_QOS)
    executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    try:
        deadline, t = time.monotonic() + 30.0, 0.0
        while not got:
            assert proc.poll() is None and time.monotonic() < deadline, "no joint_commands"
            t += 0.002
            pub.publish(joint_state_msg(to_time_msg(t), robot.joint_names, robot.standing_pose, np.zeros(12)))
            executor.spin_once(timeout_sec=0.05)
        assert len(got[-1].effort) == 12
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
