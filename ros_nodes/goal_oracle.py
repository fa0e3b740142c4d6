"""goal_oracle: answers a VICE-RAQ learner's goal queries from simulation ground truth (CI, sim studies).

It is an answering client like the rqt panel (:class:`GoalQueryClient`: it confirms the query it
"shows" on ``goal_query/viewing`` and answers only while the learner echoes that confirmation), and
it takes the truth from ``sim/ground_truth/goal_query`` (diagnostic_msgs/DiagnosticArray, stamp =
query id, key ``success``; the learner publishes it in simulation). Once a pending query has waited
``delay_s`` on the node clock it calls ``goal_query/answer`` with the truth, flipped with probability
``error_rate`` (seeded). A query whose truth never arrives is not answered (warned once per query).

Topics: subscribes ``goal_query/image``, ``goal_query/status``, ``sim/ground_truth/goal_query``;
publishes ``goal_query/viewing`` and ``/diagnostics`` (1 Hz: "goal_oracle: answers" with
``answered``, ``flipped``, ``refused``, ``waiting_for_truth``). Calls ``goal_query/answer``.

Parameters: ``delay_s`` (float, 0.5: seconds a query waits before the answer), ``error_rate``
(float, 0.0: probability of a wrong label), ``seed`` (int, 0), ``learner_namespace`` (str, "": the
learner's namespace; "" = this node's own), ``rate_hz`` (float, 20: how often it looks).
"""

from __future__ import annotations

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

from anima.models.vice_raq.operator import noisy_label
from anima.ros_nodes._common import declare_params, run_node
from anima.ros_nodes._diagnostics import DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC, OK, diagnostic_array, diagnostic_status
from anima.ros_nodes._goal_query import GROUND_TRUTH_TOPIC, QUERY_QOS, parse_ground_truth
from anima.ros_nodes._goal_query_client import GoalQueryClient, resolve


class GoalOracleNode(Node):
    def __init__(self) -> None:
        super().__init__("goal_oracle")
        p = declare_params(self, {"delay_s": 0.5, "error_rate": 0.0, "seed": 0, "learner_namespace": "",
                                  "rate_hz": 20.0})
        if not (p["delay_s"] >= 0 and 0 <= p["error_rate"] <= 1 and p["rate_hz"] > 0):
            raise ValueError(f"goal_oracle: delay_s must be >= 0, error_rate in [0, 1] and rate_hz > 0, got "
                             f"{p['delay_s']}, {p['error_rate']}, {p['rate_hz']}")
        self.delay_s, self.error_rate = float(p["delay_s"]), float(p["error_rate"])
        self.rng = np.random.default_rng(int(p["seed"]))
        ns = str(p["learner_namespace"])
        self.client = GoalQueryClient(self, ns)
        self._truth: dict[int, bool] = {}
        self._first_seen: dict[int, float] = {}
        self._answered: set[int] = set()
        self._warned: set[int] = set()
        self._last_outcome_s = 0.0
        self.counts = {"answered": 0, "flipped": 0, "refused": 0}
        self.create_subscription(DiagnosticArray, resolve(ns, GROUND_TRUTH_TOPIC), self._on_truth, QUERY_QOS)
        self.create_timer(1.0 / p["rate_hz"], self._on_timer)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS)
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f"answering goal queries after {self.delay_s:g} s with error rate {self.error_rate:g} "
                               f"(seed {p['seed']})")

    def _on_truth(self, msg: DiagnosticArray) -> None:
        parsed = parse_ground_truth(msg)
        if parsed is not None:
            self._truth[parsed[0]] = parsed[1]

    def _on_timer(self) -> None:
        view = self.client.view()
        for outcome in view.history:
            if outcome.done_wall_s <= self._last_outcome_s:
                continue
            self._last_outcome_s = outcome.done_wall_s
            if not outcome.accepted:  # e.g. replaced meanwhile; answered again if it is still pending
                self._answered.discard(outcome.query_id)
                self.counts["refused"] += 1
                self.get_logger().warn(outcome.message)
        query_id = view.query_id
        if query_id is None or not view.pending or query_id in self._answered:
            return
        now = self.get_clock().now().nanoseconds * 1e-9
        if now - self._first_seen.setdefault(query_id, now) < self.delay_s or not view.can_answer:
            return
        truth = self._truth.get(query_id)
        if truth is None:
            if query_id not in self._warned:
                self._warned.add(query_id)
                self.get_logger().warn(f"query {query_id}: no ground truth on {GROUND_TRUTH_TOPIC} yet; waiting")
            return
        label, flipped = noisy_label(truth, self.error_rate, self.rng)
        if self.client.answer(label, query_id):
            self._answered.add(query_id)
            self.counts["answered"] += 1
            self.counts["flipped"] += int(flipped)

    def _publish_diagnostics(self) -> None:
        values = {**self.counts, "waiting_for_truth": len(self._warned - self._answered)}
        status = diagnostic_status(f"{self.get_name()}: answers", "sim", OK, f"{self.counts['answered']} answered", values)
        self._diag_pub.publish(diagnostic_array(self.get_clock().now().to_msg(), [status]))


def main(args: list[str] | None = None) -> int:
    return run_node(GoalOracleNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
