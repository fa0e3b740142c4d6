"""pddm_planner under faults (issue 20, item 10): a non-finite ball state, a planner that raises, a
planner slower than its period. In every case the hand keeps receiving targets (the last safe ones,
or the previous plan's next action), so pd_controller never times out into damping and drops the balls.

The non-finite state runs the node as its own process. The injected faults (an exception, a slow
plan) need the node's core replaced, so those tests run the real node in this process, spun by an
executor thread, and talk to it over DDS from a separate rclpy context, as another process would.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState, MultiDOFJointState

from anima.controllers.robot_config import load_robot_config
from anima.models.dynamics_ensemble import DynamicsEnsemble, EnsembleConfig
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS
from anima.ros_nodes._conversions import joint_state_msg
from anima.ros_nodes._diagnostics import DIAGNOSTICS_TOPIC, find_status, status_values
from anima.ros_nodes._conversions import ball_state_msg

pytestmark = [pytest.mark.ros]
HAND = load_robot_config("shadowhand")
BALLS = np.array([[0.03, 0.01, 0.21], [0.075, 0.005, 0.21]])
PLANNER_STATUS = "pddm_planner: planner"  # the planner's status on /diagnostics


def _model(path: Path) -> Path:
    model = DynamicsEnsemble(36, 24, EnsembleConfig(hidden_sizes=(16, 16)), joint_names=HAND.joint_names)
    model.save(path, extra={"env_kwargs": {"task": "ccw", "action_scale": 0.5}})
    return path


class Hand:
    """The peer as the hand and the ball estimator: publishes state, records targets and status."""

    def __init__(self, peer) -> None:
        self.peer = peer
        self.balls = BALLS.copy()
        self.js = peer.publisher(JointState, "joint_states", SENSOR_QOS)
        self.ball_pub = peer.publisher(MultiDOFJointState, "balls/state", SENSOR_QOS)
        peer.subscribe(JointState, "joint_targets", COMMAND_QOS)
        peer.subscribe(DiagnosticArray, DIAGNOSTICS_TOPIC, SENSOR_QOS)

    def publish(self) -> None:
        stamp = self.peer.node.get_clock().now().to_msg()
        self.js.publish(joint_state_msg(stamp, HAND.joint_names, HAND.standing_pose, np.zeros(24)))
        self.ball_pub.publish(ball_state_msg(stamp, "world", self.balls, np.zeros((2, 3))))

    @property
    def targets(self) -> list[np.ndarray]:
        return [np.asarray(m.position) for m in self.peer.received["joint_targets"]]

    def status(self) -> dict[str, str]:
        """Values of the planner's latest /diagnostics status ({} before the first)."""
        found = [find_status(m, PLANNER_STATUS) for m in self.peer.received[DIAGNOSTICS_TOPIC]]
        found = [f for f in found if f is not None]
        return status_values(found[-1]) if found else {}

    def run(self, node, condition, what: str, timeout: float = 30.0) -> None:
        self.peer.until(condition, what, node, timeout=timeout, each=self.publish)

    def planning(self) -> bool:
        s = self.status()
        return bool(s) and s["stale"] == "false" and s["settling"] == "false" and float(s["last_plan_ms"]) > 0.0  # fresh, task started, a plan timed


def test_non_finite_ball_state_holds_the_last_targets_and_flags_stale(peer, start_node, tmp_path) -> None:
    node = start_node("pddm_planner", "-p", f"model_path:={_model(tmp_path / 'm.pt')}", "-p", "num_samples:=32",
                      "-p", "settle_time_s:=0.0")
    hand = Hand(peer)
    hand.run(node, hand.planning, "the planner planning on good state")
    hand.balls[1, 0] = np.nan
    mark = node.mark()
    hand.run(node, lambda: node.has("cannot plan on this state", mark), "the planner to refuse the NaN ball state")
    n = len(hand.targets)
    hand.run(node, lambda: len(hand.targets) >= n + 5 and hand.status().get("stale") == "true", "held targets, flagged stale")
    held = hand.targets[n:]
    assert all(np.array_equal(t, held[0]) for t in held), "targets changed while the ball state was NaN"
    assert np.isfinite(held[0]).all()
    hand.balls = BALLS.copy()
    hand.run(node, hand.planning, "planning again once the ball state is finite")


@pytest.fixture
def inproc_planner(ros_env, tmp_path):
    """The real PddmPlannerNode in this process (default context, the test's domain), spun in a thread."""
    from anima.ros_nodes.pddm_planner import PddmPlannerNode

    def start(*params: str) -> PddmPlannerNode:
        args = ["pddm_planner", "--ros-args", "-p", f"model_path:={_model(tmp_path / 'm.pt')}", "-p", "settle_time_s:=0.0"]
        for p in params:
            args += ["-p", p]
        rclpy.init(args=args, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
        node = PddmPlannerNode()
        executor = rclpy.executors.SingleThreadedExecutor()
        executor.add_node(node)
        thread = threading.Thread(target=executor.spin, daemon=True)
        thread.start()
        started.append((node, executor, thread))
        return node

    started: list = []
    yield start
    for node, executor, thread in started:
        node.close()
        executor.shutdown()
        thread.join(timeout=5.0)
        node.destroy_node()
    rclpy.try_shutdown()


def test_planner_exception_is_reported_and_holds_then_recovers(peer, inproc_planner) -> None:
    node = inproc_planner("num_samples:=32")
    hand = Hand(peer)
    hand.run(None, hand.planning, "the planner planning on good state")
    real_plan = node.core.plan

    def broken(*_args, **_kwargs):
        raise RuntimeError("injected planner fault")

    node.core.plan = broken
    hand.run(None, lambda: int(hand.status().get("plan_failures", 0)) >= 3, "planning failures counted in the planner's diagnostics")
    n = len(hand.targets)
    hand.run(None, lambda: len(hand.targets) >= n + 3, "targets while the planner fails")
    held = hand.targets[n:]
    assert all(np.array_equal(t, held[0]) for t in held), "targets changed while planning failed"
    assert node._thread.is_alive(), "the planning thread died"
    assert node.last_error == "RuntimeError: injected planner fault"
    node.core.plan = real_plan
    n = len(hand.targets)
    hand.run(None, lambda: len(hand.targets) >= n + 2, "targets after the fault is gone")  # a failing plan may be in flight
    failures, plans = node.plan_failures, node.core.step_index
    hand.run(None, lambda: node.core.step_index >= plans + 3, "the planner to plan again")
    assert node.plan_failures == failures  # no new failures once the fault is gone
    assert node._thread.is_alive()


def test_planner_slower_than_its_period_counts_overruns_and_keeps_publishing(peer, inproc_planner) -> None:
    # Every plan is made to take 0.15 s against a 0.05 s period (20 Hz), whatever the CPU's speed:
    # each tick while a plan runs publishes the previous plan's next action and counts an overrun.
    node = inproc_planner("num_samples:=32", "rate_hz:=20.0")
    real_plan = node.core.plan

    def slow(*args, **kwargs):
        time.sleep(0.15)
        return real_plan(*args, **kwargs)

    node.core.plan = slow
    hand = Hand(peer)
    hand.run(None, lambda: int(hand.status().get("overruns", 0)) >= 5, "overruns counted in the planner's diagnostics")
    n, overruns = len(hand.targets), int(hand.status()["overruns"])
    hand.run(None, lambda: len(hand.targets) >= n + 10, "targets while every plan overruns")
    assert int(hand.status()["overruns"]) > overruns
    assert np.all(np.isfinite(np.array(hand.targets[n:])))
    assert hand.status()["plan_failures"] == "0"
