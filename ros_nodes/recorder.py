"""recorder: records topics over DDS into a rosbag2 MCAP file (``anima record``, ``record:=true``).

It discovers topics by name, subscribes to each by its type name (generic subscriptions that take
the serialized CDR bytes, never deserialising them) and writes every message with its receive time
through ``anima.ros_nodes._bag_io`` (rosbags' rosbag2 writer, message definitions embedded). The
file appears under its name when the node stops (written to a hidden temporary folder, then
``os.replace``). A bag path that cannot be written is refused at start (exit 2); topics that were
asked for but never appeared are reported when the node stops.

QoS, as rosbag2 chooses it: reliable when every publisher of the topic offers reliable, else
best-effort; transient-local when every publisher is; keep-last ``queue_depth`` deep, so a burst
waits in the reader's history rather than being dropped.

Parameters: ``bag_path`` (str, required, ``*.mcap``), ``topics`` (str, comma/space separated
names; "" or "all" = every topic), ``discovery_period_s`` (float, 0.5 wall s), ``queue_depth`` (int,
1000), ``batch_period_s`` (float, 0.05 wall s: after a wake-up the loop waits this long before
draining, so each wake-up takes many messages).
"""

from __future__ import annotations

import sys
import time

from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from anima.ros_nodes._bag_io import BagWriter, message_class, parse_topics  # noqa: F401 (parse_topics re-exported)
from anima.ros_nodes._common import declare_params, run_node, shutdown_requested


def _qos_dict(q) -> dict:
    def t(d) -> dict:
        ns = d.nanoseconds
        return {"sec": ns // 1_000_000_000, "nsec": ns % 1_000_000_000}

    return {
        "history": q.history.name.lower(), "depth": q.depth, "reliability": q.reliability.name.lower(),
        "durability": q.durability.name.lower(), "deadline": t(q.deadline), "lifespan": t(q.lifespan),
        "liveliness": q.liveliness.name.lower(), "liveliness_lease_duration": t(q.liveliness_lease_duration),
        "avoid_ros_namespace_conventions": False,
    }


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("recorder")
        p = declare_params(self, {"bag_path": "", "topics": "", "discovery_period_s": 0.5,
                                  "queue_depth": 1000, "batch_period_s": 0.05})
        if not p["bag_path"]:
            raise ValueError("parameter 'bag_path' is required (a *.mcap file)")
        if p["queue_depth"] < 1 or p["discovery_period_s"] <= 0 or p["batch_period_s"] < 0:
            raise ValueError("queue_depth must be >= 1, discovery_period_s > 0, batch_period_s >= 0")
        self._p = p
        self._wanted = parse_topics(p["topics"])
        self.bag = BagWriter(p["bag_path"])  # refuses an unusable path before anything runs
        self._subs: dict[str, object] = {}
        self._skipped: dict[str, str] = {}
        self._wait_set = None
        what = ", ".join(self._wanted) if self._wanted else "every topic"
        self.get_logger().info(f"recording {what} into {self.bag.path}")

    def discover(self) -> None:
        """Subscribe to every wanted topic that has a publisher now."""
        for topic, types in self.get_topic_names_and_types():
            if topic in self._subs or topic in self._skipped or (self._wanted and topic not in self._wanted):
                continue
            infos = self.get_publishers_info_by_topic(topic)
            if not infos:
                continue
            type_name = types[0]
            if len(types) > 1 or not self.bag.knows_type(type_name):
                self._skipped[topic] = f"type {types} cannot be recorded"
                self.get_logger().warn(f"not recording {topic}: {self._skipped[topic]}")
                continue
            self._subscribe(topic, type_name, [i.qos_profile for i in infos])

    def _subscribe(self, topic: str, type_name: str, offered: list) -> None:
        reliable = all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
        latched = all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=self._p["queue_depth"],
            reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )
        self.bag.add_topic(topic, type_name, [_qos_dict(q) for q in offered])
        sub = self.create_subscription(message_class(type_name), topic, lambda _m: None, qos, raw=True)
        self._subs[topic] = sub
        self._wait_set = None
        self.get_logger().info(f"recording {topic} [{type_name}] {qos.reliability.name.lower()}")

    def drain(self) -> int:
        """Write every message already received; returns how many."""
        n = 0
        for topic, sub in self._subs.items():
            handle, msg_type = sub.handle, sub.msg_type
            while True:
                taken = handle.take_message(msg_type, True)
                if taken is None:
                    break
                data, info = taken
                self.bag.write(topic, info["received_timestamp"], data)
                n += 1
        return n

    def wait(self, timeout_s: float) -> None:
        if not self._subs:
            time.sleep(timeout_s)
            return
        if self._wait_set is None:
            self._wait_set = _rclpy.WaitSet(len(self._subs), 0, 0, 0, 0, 0, self.context.handle)
        ws = self._wait_set
        ws.clear_entities()
        for sub in self._subs.values():
            ws.add_subscription(sub.handle)
        ws.wait(int(timeout_s * 1e9))

    def report(self) -> list[str]:
        """What was recorded, and what was asked for but never appeared (printed at the end)."""
        lines = [f"recorded {sum(self.bag.counts.values())} messages on {len(self.bag.counts)} topics into {self.bag.path}"]
        lines += [f"  {t}: {n}" for t, n in sorted(self.bag.counts.items())]
        missing = [t for t in self._wanted if t not in self._subs]
        for t in missing:
            lines.append(f"topic {t} was never published: not recorded"
                         + (f" ({self._skipped[t]})" if t in self._skipped else ""))
        return lines

    def close(self) -> None:
        self.drain()
        path = self.bag.close()
        for line in self.report():
            print(line, flush=True)
        if not path.is_file():
            print(f"[recorder] bag {path} was not written", file=sys.stderr)


def spin_recorder(node: RecorderNode, duration_s: float = 0.0) -> None:
    """Discover, wait, batch, drain, until shutdown (or ``duration_s`` wall seconds when > 0)."""
    p = node._p
    end = time.monotonic() + duration_s if duration_s > 0 else None
    next_discovery = 0.0
    while not shutdown_requested() and node.context.ok() and (end is None or time.monotonic() < end):
        now = time.monotonic()
        if now >= next_discovery:
            node.discover()
            next_discovery = now + p["discovery_period_s"]
        node.wait(min(0.1, p["discovery_period_s"]))
        if p["batch_period_s"] > 0:
            time.sleep(p["batch_period_s"])
        node.drain()


def main(args: list[str] | None = None) -> int:
    return run_node(RecorderNode, args, spin=spin_recorder)


if __name__ == "__main__":
    raise SystemExit(main())
