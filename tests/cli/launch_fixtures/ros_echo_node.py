"""A real rclpy node for one launcher test: prints what rcl made of its command line, then exits 0.

Prints one JSON line: fully qualified name, every parameter except rclpy's built-in ones
(declared from the overrides that ``-p`` and ``--params-file`` gave) with its Python type, and how
``joint_states`` resolves.
"""

from __future__ import annotations

import json
import sys

import rclpy
from rclpy.node import Node


def main() -> int:
    rclpy.init(args=sys.argv)
    node = Node("unnamed", automatically_declare_parameters_from_overrides=True)
    try:
        params = {name: [p.value, type(p.value).__name__] for name, p in node._parameters.items()
                  if name not in ("use_sim_time", "start_type_description_service")}
        print("ECHO " + json.dumps({
            "fqn": node.get_fully_qualified_name(),
            "params": params,
            "joint_states": node.resolve_topic_name("joint_states"),
        }, sort_keys=True), flush=True)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
