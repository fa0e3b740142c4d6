"""``anima query-panel [--namespace NS]``: the operator's goal-query panel as a standalone window.

The same widget as the rqt plugin ``anima/GoalQueryPanel`` (``ros_nodes/_query_panel.py``), for
machines without rqt. It answers the VICE-RAQ learner in ``--namespace`` (default: the panel's own,
i.e. the root unless ``--ros-args -r __ns:=...`` says otherwise). Needs a display (or
``QT_QPA_PLATFORM=offscreen``); the network rule (loopback only unless the user set ROS variables)
applies as for every Anima process.
"""

from __future__ import annotations

import argparse
import os

HELP = "answer a VICE-RAQ learner's goal queries in a window (the rqt panel, standalone)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namespace", default="", help="the learner's ROS namespace, e.g. /arm_a (default: root)")
    parser.add_argument("--ros-args", nargs=argparse.REMAINDER, default=None, dest="ros_args",
                        help="ROS arguments for the panel's node (remaps, parameters)")


def run(args: argparse.Namespace) -> int:
    from anima.ros_env import apply_network_rule

    apply_network_rule(os.environ)
    try:
        from anima.ros_nodes._query_panel import run_standalone
    except ImportError as err:
        print(f"anima query-panel: Qt is not available ({err}); install PyQt5 (requirements.txt) or use rqt")
        return 2
    return run_standalone(args.namespace, args.ros_args)
