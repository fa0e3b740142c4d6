"""``anima bag info FILE`` and ``anima bag play FILE``: summarise or republish a rosbag2 MCAP file.

``play`` runs the ``bag_player`` node in this process: every message is published with its
recorded timing (``--rate`` scales it), type and offered QoS, so a recorded camera stream drives
``ball_tracker`` again. A file that is not a complete MCAP bag is refused with one line.
"""

from __future__ import annotations

import argparse
import os
import sys

HELP = "summarise (info) or republish with its timing (play) a rosbag2 MCAP file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="topics, types, message counts and time span of a bag")
    info.add_argument("file", help="bag file (*.mcap)")
    play = sub.add_parser("play", help="republish a bag's messages with their recorded timing")
    play.add_argument("file", help="bag file (*.mcap)")
    play.add_argument("--rate", type=float, default=1.0, help="playback speed (default 1)")
    play.add_argument("--topics", nargs="+", default=[], metavar="TOPIC", help="only these topics")
    play.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="S",
                      help="before playing, wait up to S seconds until every topic has a subscriber")


def run(args: argparse.Namespace) -> int:
    from anima.ros_nodes._bag_io import BagError, bag_info, format_info

    try:
        info = bag_info(args.file)
    except BagError as err:
        print(f"anima bag {args.action}: error: {err}", file=sys.stderr)
        return 2
    if args.action == "info":
        print(format_info(info))
        return 0
    if args.rate <= 0 or args.wait_for_subscribers < 0:
        print("anima bag play: error: --rate must be > 0 and --wait-for-subscribers >= 0", file=sys.stderr)
        return 2
    from anima.commands.record import ros_environment

    ros_environment()
    from anima.ros_nodes import bag_player

    ros_args = ["anima-bag-play", "--ros-args", "-p", f"bag_path:={os.path.abspath(args.file)}",
                "-p", f"rate:={args.rate}", "-p", f"topics:={','.join(args.topics) or 'all'}",
                "-p", f"wait_for_subscribers_s:={args.wait_for_subscribers}"]
    return bag_player.main(ros_args)
