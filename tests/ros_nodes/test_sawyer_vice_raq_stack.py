"""ROS integration: ``anima launch launch/sawyer_vice_raq_sim.launch.xml operator:=oracle`` trains a tiny
VICE-RAQ run whose goal queries are answered over DDS by the goal_oracle node.

The whole stack runs (bridge, pd_controller, cartesian_controller, vice_raq_learner, goal_oracle) in
this test's ROS_DOMAIN_ID; the launch ends by itself when training ends (on_exit=shutdown). The run
directory shows the labels reached the learner: queries answered, every one equal to the ground
truth (error rate 0), and the learner's log names each labelled query. Meanwhile the test presses
"capture goal" (``goal_examples/capture``): the bridge's 48x48 camera frame joins the learner's goal
examples. A few minutes on a loaded 2-core machine; the run's numbers are not asserted beyond that.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_srvs.srv import Trigger

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]
TINY = ("epoch_steps=200;episode_steps=50;goal_examples=12;validation_goal_examples=6;eval_every=2;eval_episodes=2;"
        "video_every=0;sac.initial_exploration_steps=300;sac.batch_size=16;sac.updates_per_step=0.1;"
        "classifier.batch_positives=16;classifier.batch_negatives=16;classifier.train_steps_per_epoch=30")


def capture_goal(domain_id: int, launch: subprocess.Popen) -> str:
    """Call goal_examples/capture until the learner took a camera frame; its response message."""
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    node = Node("capture_button", context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    try:
        client = node.create_client(Trigger, "goal_examples/capture")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and launch.poll() is None:
            if client.wait_for_service(timeout_sec=1.0):
                future = client.call_async(Trigger.Request())
                rclpy.spin_until_future_complete(node, future, executor=executor, timeout_sec=30.0)
                if future.done() and future.result().success:
                    return future.result().message
            time.sleep(0.5)  # the learner is up but no camera frame yet: ask again
        raise AssertionError("goal_examples/capture never succeeded")
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)


def test_goal_oracle_answers_the_learners_queries_over_ros(ros_env: dict[str, str], tmp_path: Path) -> None:
    run = tmp_path / "run"
    anima = Path(sys.executable).parent / "anima"
    out = tmp_path / "launch.log"  # a file, not a pipe: nobody reads while the test presses capture
    with out.open("w") as sink:
        launch = subprocess.Popen([str(anima), "launch", str(REPO / "launch" / "sawyer_vice_raq_sim.launch.xml"),
                                   "operator:=oracle", "oracle_delay_s:=0.0", "n_epochs:=2", f"settings:={TINY}",
                                   f"run_dir:={run}", "--timeout", "900"],
                                  env=ros_env, stdout=sink, stderr=subprocess.STDOUT, text=True)
        try:
            captured = capture_goal(int(ros_env["ROS_DOMAIN_ID"]), launch)
            launch.wait(timeout=1000)
        finally:
            if launch.poll() is None:
                launch.kill()
    log = out.read_text()
    assert "captured goal example 1 (48x48 rgb8 from camera/image_raw)" in captured
    assert launch.returncode == 0, log[-6000:]
    assert "vice_raq_learner exited by itself with code 0" in log, log[-6000:]
    last = json.loads((run / "progress.json").read_text())["history"][-1]
    assert last["epoch"] == 2 and last["queries_asked"] == 2
    assert last["queries_answered"] >= 1 and last["answers_correct"] == last["queries_answered"], last
    labelled = [line for line in log.splitlines() if "[vice_raq_learner]" in line and "labelled" in line]
    assert len(labelled) >= last["queries_answered"], log[-6000:]
    assert "13 goal examples" in log, log[-6000:]  # the 12 generated ones and the captured frame
    assert (run / "policy.pt").is_file()
