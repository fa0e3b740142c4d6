"""Test helper: an independent counter of what was published. Subscribes (best-effort, deep
queue, serialized bytes) to the topics named on the command line, prints "ready", and on SIGINT
writes {topic: [sha256 of each message]} as JSON to the file given first."""

from __future__ import annotations

import hashlib
import json
import signal
import sys

import rclpy
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

from anima.ros_nodes.recorder import message_class


def main() -> None:
    out_path, specs = sys.argv[1], sys.argv[2:]
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    node = rclpy.create_node("raw_listener")
    got: dict[str, list[str]] = {}
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5000, reliability=ReliabilityPolicy.BEST_EFFORT)
    for spec in specs:
        topic, type_name = spec.split("=")
        got[topic] = []
        node.create_subscription(message_class(type_name), topic,
                                 lambda data, t=topic: got[t].append(hashlib.sha256(data).hexdigest()), qos, raw=True)
    print("ready", flush=True)
    while not stop:
        rclpy.spin_once(node, timeout_sec=0.1)
    with open(out_path, "w") as f:
        json.dump(got, f)
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
