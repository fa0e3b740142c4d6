"""``anima bench goal_query``: how fast a goal query reaches the operator's panel and the answer the learner.

A learner process (``anima.benches._goal_query_learner``: the real RosOperator) asks ``--queries``
queries one after another; the panel widget (``QueryPanelWidget``, Qt offscreen, its own DDS
participant) in this process shows each, and a click on *Goal reached* answers it. Measured, from
wall clocks on this machine: ``query_to_panel_ms`` (the learner opened the query, whose id is its
wall time in ns, until the widget drew the image) and ``click_to_learner_ms`` (the click until the
learner accepted the label). Targets (issue 19): 100 ms each. Reference in the same run:
``service_roundtrip_ms``, a bare std_srvs/Trigger call from the panel's participant to the learner
(``goal_query/skip`` with nothing pending: refused at once), the floor of any answer's trip.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

import numpy as np

HELP = "goal query -> rqt panel and click -> learner latency over DDS (learner process, offscreen widget)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queries", type=int, default=20, help="queries asked and answered (default 20)")


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, float)
    return {"p50": float(np.median(a)), "p99": float(np.percentile(a, 99)), "max": float(a.max())}


def _wait(app: Any, condition, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.0005)


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node
    from std_srvs.srv import Trigger

    from anima.benches._goal_query_learner import LearnerProcess
    from anima.ros_nodes._goal_query_client import GoalQueryClient
    from anima.ros_nodes._goal_query_server import spin_in_thread
    from anima.ros_nodes._qt import QtWidgets
    from anima.ros_nodes._query_panel import QueryPanelWidget


    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["anima-bench"])
    learner = LearnerProcess(dict(os.environ))
    ctx = Context()
    rclpy.init(context=ctx)
    node = Node("goal_query_panel_bench", context=ctx)
    stop = threading.Event()
    widget = QueryPanelWidget(GoalQueryClient(node))
    skip = node.create_client(Trigger, "goal_query/skip")
    thread = spin_in_thread(node, stop)
    try:
        widget.show()
        _wait(app, widget.capture_button.isEnabled, "the learner's status (discovery)")
        to_panel, to_learner, roundtrip = [], [], []
        for k in range(args.queries):
            t0 = time.perf_counter()
            future = skip.call_async(Trigger.Request())  # nothing pending: refused at once
            _wait(app, future.done, "the skip round trip")
            roundtrip.append((time.perf_counter() - t0) * 1e3)
            query_id = learner.ask(probability=0.5)
            _wait(app, lambda: widget.displayed_id == query_id and widget.reached_button.isEnabled(), "the query")
            widget.reached_button.click()
            answer = learner.wait("answer", k + 1)
            if answer["id"] != query_id or answer["label"] is not True:
                raise RuntimeError(f"the learner got {answer} for query {query_id}")
            to_panel.append((widget.displayed_wall_s[query_id] - query_id * 1e-9) * 1e3)
            to_learner.append((answer["wall_s"] - widget.clicked_wall_s[query_id]) * 1e3)
    finally:
        widget._timer.stop()
        widget.close()
        learner.close()
        stop.set()
        thread.join(timeout=5.0)
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
    result = {"queries": args.queries, "target_ms": 100.0,
              **{f"query_to_panel_ms_{k}": v for k, v in _stats(to_panel).items()},
              **{f"click_to_learner_ms_{k}": v for k, v in _stats(to_learner).items()},
              **{f"service_roundtrip_ms_{k}": v for k, v in _stats(roundtrip).items()}}
    print(f"query -> panel p50 {result['query_to_panel_ms_p50']:.2f} ms (max {result['query_to_panel_ms_max']:.2f}); "
          f"click -> learner p50 {result['click_to_learner_ms_p50']:.2f} ms (max {result['click_to_learner_ms_max']:.2f}); "
          f"bare service round trip p50 {result['service_roundtrip_ms_p50']:.2f} ms; target 100 ms")
    return result
