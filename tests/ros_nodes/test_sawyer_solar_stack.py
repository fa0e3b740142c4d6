"""ROS integration: solar_planner moves the simulated Sawyer's hand by its actions (real DDS).

``anima launch launch/sawyer_solar_sim.launch.xml task:=push model_path:=<file>`` (the Sawyer stack:
bridge, pd_controller, cartesian_controller; + solar_planner) runs in this test's own ROS_DOMAIN_ID.
The policy is built by the test (``conftest.solar_policy_file``): ``u_t = (1, 0, 0, 1)`` for 10 steps,
i.e. +2 cm along x per 0.1 s step with the fingers open, as ``SawyerEnv.step`` reads an action; the
test starts the episode (``auto_start:=false``, ``solar/start_episode``) once it hears the hand, so the
start pose is measured before the first step. The test watches ``ee_pose`` (forward kinematics of the measured
joints) and the planner's ``/diagnostics``: after the episode the hand is 2 cm further along x for
every step that acted (all 10, or 9 when the machine lost a frame).

The shipped reach model (``models/solar/data/sawyer_reach.pt``; skipped, saying so, while none is
shipped) runs one episode of ``task:=reach model_path:=shipped``: the hand ends near the goal.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from std_srvs.srv import Trigger

from anima.models.solar.policy import shipped_policy_path
from anima.ros_nodes._common import SENSOR_QOS
from anima.ros_nodes._diagnostics import DIAGNOSTICS_TOPIC, find_status, status_values

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]
STEPS, MAX_STEP_M = 10, 0.02  # config/sawyer_solar_sim.yaml: SawyerEnvConfig.max_step_m


def _run_episode(ros_env, venv_bin, task: str, model: str) -> tuple[list[tuple[float, np.ndarray]], dict[str, str], str]:
    """One launched episode of ``task`` with ``model``: the hand poses (sim time, xyz) through 1 s after its end,
    the planner's last controller status, and the launch's output."""
    launch = subprocess.Popen(
        [str(venv_bin / "anima"), "launch", str(REPO / "launch" / "sawyer_solar_sim.launch.xml"), f"task:={task}",
         f"model_path:={model}", "auto_start:=false", "--timeout", "300"], env=ros_env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    node = Node("sawyer_watcher", context=ctx)
    poses: list[tuple[float, np.ndarray]] = []
    status: dict[str, str] = {}

    def on_pose(msg: PoseStamped) -> None:
        p = msg.pose.position
        poses.append((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, np.array([p.x, p.y, p.z])))

    def on_diag(msg: DiagnosticArray) -> None:
        s = find_status(msg, "solar_planner: controller")
        if s is not None:
            status.update(status_values(s))

    node.create_subscription(PoseStamped, "ee_pose", on_pose, SENSOR_QOS)
    node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, on_diag, 10)
    start_client = node.create_client(Trigger, "solar/start_episode")
    executor = rclpy.executors.SingleThreadedExecutor(context=ctx)
    executor.add_node(node)

    def spin_until(cond, what: str, wall_s: float = 240.0) -> None:
        end = time.monotonic() + wall_s
        while not cond():
            assert launch.poll() is None, f"the launch ended waiting for {what}:\n{launch.stdout.read()[-4000:]}"
            assert time.monotonic() < end, f"timed out waiting for {what} (status {status})"
            executor.spin_once(timeout_sec=0.05)

    try:
        # the episode starts on this test's call, once it hears the hand: a first pose heard after an episode
        # started at the first camera frame (DDS discovery under load) would miss the steps already taken
        spin_until(lambda: bool(poses) and start_client.service_is_ready(), "ee_pose and solar/start_episode")
        n_before = len(poses)
        spin_until(lambda: len(poses) > n_before, "a fresh ee_pose")
        future = start_client.call_async(Trigger.Request())
        spin_until(future.done, "the answer of solar/start_episode")
        assert future.result().success, future.result().message
        start = poses[-1]
        spin_until(lambda: status.get("phase") == "done", "the episode to end")
        t_done = poses[-1][0]
        spin_until(lambda: poses[-1][0] > t_done + 1.0, "1 s of sim time after the episode")  # the hand settles
    finally:
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        launch.terminate()
        log, _ = launch.communicate(timeout=60)
    return [start] + [p for p in poses if p[0] > start[0]], status, log


def test_the_planners_actions_move_the_hand_by_their_deltas(ros_env, venv_bin, tmp_path, solar_policy_file) -> None:
    k = np.tile([1.0, 0.0, 0.0, 1.0], (STEPS, 1))
    model = solar_policy_file(tmp_path / "push.pt", "sawyer_push", k, control_dt_s=0.1)
    poses, status, log = _run_episode(ros_env, venv_bin, "push", str(model))
    moved = poses[-1][1] - poses[0][1]
    acted = int(status["steps_acted"])  # a step whose frame was lost (best effort under load) moves nothing
    print(f"Sawyer over ROS, SOLAR planner: hand moved {np.round(moved * 100, 2).tolist()} cm "
          f"(commanded [{acted * MAX_STEP_M * 100:.0f}, 0, 0] in {acted} of {STEPS} steps)")
    assert acted >= STEPS - 1, status
    np.testing.assert_allclose(moved, [acted * MAX_STEP_M, 0.0, 0.0], atol=0.01, err_msg=f"{status}\n{log[-3000:]}")
    assert status["task"] == "sawyer_push" and status["frames_refused"] == "0", status


SHIPPED_REACH = shipped_policy_path("sawyer_reach")
REACH_GOAL = np.array([0.65, 0.12, 0.12])  # sim_bridge/sawyer_scenes.py: ReachScene.goal (tolerance 3 cm)


@pytest.mark.skipif(not SHIPPED_REACH.is_file(), reason=f"no shipped SOLAR Sawyer reach model yet ({SHIPPED_REACH.relative_to(REPO)})")
def test_the_shipped_reach_model_brings_the_hand_to_the_goal(ros_env, venv_bin) -> None:
    poses, status, log = _run_episode(ros_env, venv_bin, "reach", "shipped")
    start, end = (float(np.linalg.norm(p - REACH_GOAL)) for p in (poses[0][1], poses[-1][1]))
    print(f"Sawyer reach over ROS, shipped SOLAR model: {start * 100:.1f} -> {end * 100:.2f} cm from the goal "
          f"({status.get('steps_acted')} steps acted)")
    assert status["task"] == "sawyer_reach" and status["frames_refused"] == "0", status
    # in process the shipped model ends 2.8 cm from the goal from the 20-cm start (its provenance YAML); over ROS a
    # frame lost under load is a step not taken, so the bound leaves room for that
    assert end < 0.25 * start and end < 0.05, f"{start:.3f} -> {end:.3f} m\n{log[-3000:]}"
