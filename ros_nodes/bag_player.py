"""bag_player: republishes a rosbag2 MCAP file with its timing (``anima bag play``).

Each topic is published with its recorded type and the QoS its publishers offered (reliable only
if all of them were, transient-local only if all of them were), the serialized bytes exactly as
recorded. Message ``i`` goes out ``(log_time_i - log_time_0) / rate`` wall seconds after the first,
so a recorded camera stream (and its ``/clock``) drives ``ball_tracker`` as the live one did.

Parameters: ``bag_path`` (str, required), ``rate`` (float, 1.0: playback speed),
``topics`` (str, comma/space separated; "" or "all" = every topic), ``wait_for_subscribers_s``
(float, 0: before the first message, wait up to this many wall seconds until every topic has a
subscriber), ``queue_depth`` (int, 100).
"""

from __future__ import annotations

import time

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from anima.ros_nodes._bag_io import bag_info, message_class, parse_topics, read_messages
from anima.ros_nodes._common import declare_params, run_node, shutdown_requested

_MATCH_SETTLE_S = 0.3
_ACK_TIMEOUT_S = 5.0
_POLL_S = 0.01


class BagPlayerNode(Node):
    def __init__(self) -> None:
        super().__init__("bag_player")
        p = declare_params(self, {"bag_path": "", "rate": 1.0, "topics": "", "wait_for_subscribers_s": 0.0,
                                  "queue_depth": 100})
        if not p["bag_path"]:
            raise ValueError("parameter 'bag_path' is required (a *.mcap file)")
        if p["rate"] <= 0:
            raise ValueError(f"rate must be > 0, got {p['rate']}")
        self._p = p
        self.info = bag_info(p["bag_path"])  # BagError (a ValueError) names the file and the problem
        wanted = set(parse_topics(p["topics"]))
        self._topics = {t.topic for t in self.info.topics if not wanted or t.topic in wanted}
        missing = wanted - {t.topic for t in self.info.topics}
        if missing:
            raise ValueError(f"bag '{p['bag_path']}' has no topic {', '.join(sorted(missing))}")
        self._pubs = {}
        for t in self.info.topics:
            if t.topic in self._topics:
                self._pubs[t.topic] = self.create_publisher(message_class(t.msgtype), t.topic, self._qos(t.offered_qos))
        self.published = 0
        self.get_logger().info(f"playing {len(self._pubs)} topics of {self.info.path} "
                               f"({self.info.duration_s:.2f} s) at rate {p['rate']:g}")

    def _qos(self, offered: tuple[dict, ...]) -> QoSProfile:
        reliable = bool(offered) and all(q["reliability"] == "reliable" for q in offered)
        latched = bool(offered) and all(q["durability"] == "transient_local" for q in offered)
        return QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=self._p["queue_depth"],
            reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )

    def wait_for_subscribers(self) -> None:
        deadline = time.monotonic() + self._p["wait_for_subscribers_s"]
        while time.monotonic() < deadline and not shutdown_requested():
            if all(pub.get_subscription_count() > 0 for pub in self._pubs.values()):
                # The writer counts a reader as soon as it matched it; the reader may match the writer a
                # moment later, and a volatile reader drops what came before (seen: the first message
                # lost 1 run in 8). Give the other side that moment before the first message.
                time.sleep(_MATCH_SETTLE_S)
                return
            time.sleep(_POLL_S)
        lonely = [t for t, pub in self._pubs.items() if pub.get_subscription_count() == 0]
        if lonely and self._p["wait_for_subscribers_s"] > 0:
            self.get_logger().warn(f"no subscriber yet on {', '.join(sorted(lonely))}; playing anyway")

    def play(self) -> None:
        """Publish every message at its recorded time offset (scaled by ``rate``)."""
        rate = self._p["rate"]
        t0_wall = t0_log = None
        for m in read_messages(self._p["bag_path"], self._topics):
            if shutdown_requested():
                return
            if t0_log is None:
                t0_wall, t0_log = time.monotonic(), m.log_time_ns
            due = t0_wall + (m.log_time_ns - t0_log) * 1e-9 / rate
            while (left := due - time.monotonic()) > 0:
                if shutdown_requested():
                    return
                time.sleep(min(left, 0.05))
            self._pubs[m.topic].publish(m.data)
            self.published += 1
        # reliable readers acknowledge what they received; leaving before that can lose the last messages
        for pub in self._pubs.values():
            pub.wait_for_all_acked(Duration(seconds=_ACK_TIMEOUT_S))

    def close(self) -> None:
        total = sum(t.count for t in self.info.topics if t.topic in self._topics)
        print(f"played {self.published} of {total} messages from {self.info.path}", flush=True)


def _spin(node: BagPlayerNode) -> None:
    node.wait_for_subscribers()
    node.play()


def main(args: list[str] | None = None) -> int:
    return run_node(BagPlayerNode, args, spin=_spin)


if __name__ == "__main__":
    raise SystemExit(main())
