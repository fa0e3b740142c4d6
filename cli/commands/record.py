"""``anima record [TOPIC ...] -o run.mcap``: record topics over DDS into a rosbag2 MCAP file.

Runs the ``recorder`` node in this process (the same node ``record:=true`` starts in a launch file)
until Ctrl-C or ``--duration`` wall seconds; the file appears under its name when recording stops.
Topics asked for that never appeared are reported at the end.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

HELP = "record topics into a rosbag2 MCAP file: anima record [TOPIC ...] -o run.mcap"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topics", nargs="*", help="topics to record (default: every topic)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.mcap", help="bag file to write")
    parser.add_argument("--duration", type=float, default=0.0, metavar="S",
                        help="stop after S wall seconds (default: run until Ctrl-C)")


def ros_environment() -> None:
    """This process's ROS environment as ``anima launch`` gives its nodes (the network rule)."""
    from anima.launcher.description import child_env

    os.environ.update(child_env(os.environ))


def run(args: argparse.Namespace) -> int:
    from anima.ros_nodes._bag_io import BagError, check_bag_target

    if args.duration < 0:
        print(f"anima record: error: --duration must be >= 0, got {args.duration}", file=sys.stderr)
        return 2
    try:
        check_bag_target(args.output)
    except BagError as err:
        print(f"anima record: error: {err}", file=sys.stderr)
        return 2
    ros_environment()
    from anima.ros_nodes._common import run_node
    from anima.ros_nodes.recorder import RecorderNode, spin_recorder

    ros_args = ["anima-record", "--ros-args", "-p", f"bag_path:={os.path.abspath(args.output)}",
                "-p", f"topics:={','.join(args.topics) or 'all'}"]
    return run_node(RecorderNode, ros_args, spin=functools.partial(spin_recorder, duration_s=args.duration))
