"""``anima goals ...``: goal examples for VICE-RAQ (pictures of success).

``anima goals collect --task push -n 80 [-o DIR] [--seed S]``: generate ``n`` success images from
ground truth in simulation (``anima.models.vice_raq.goals``) into ``DIR`` (default
``goals/<task>``): ``goal_NNN.png`` + ``goals.yaml``. ``anima goals check DIR``: read a folder as
training would and report every unreadable or mismatched image by file name. On a robot, goal
examples come from the rqt panel's *capture goal* button instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "goal examples for VICE-RAQ: generate them from ground truth (collect) or check a folder (check)"
TASKS = ("push", "bookshelf", "drape")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="goals_command", metavar="ACTION", required=True)
    c = sub.add_parser("collect", help="generate success images of a Sawyer scene from ground truth")
    c.add_argument("--task", choices=TASKS, default="push", help="Sawyer scene (default push)")
    c.add_argument("-n", "--count", type=int, default=80, help="number of goal images (default 80)")
    c.add_argument("-o", "--output", type=Path, help="output folder (default goals/<task>)")
    c.add_argument("--seed", type=int, default=0, help="seed of the scene starts and arm poses (default 0)")
    c.add_argument("--image-size", type=int, default=48, help="image side in pixels (default 48, VICE-RAQ's)")
    c.set_defaults(_goals=_collect)
    k = sub.add_parser("check", help="read a goal folder and report unreadable or mismatched images by name")
    k.add_argument("folder", type=Path)
    k.add_argument("--image-size", type=int, default=48, help="expected image side in pixels (default 48)")
    k.set_defaults(_goals=_check)


def _collect(args: argparse.Namespace) -> int:
    from anima.models.vice_raq.goals import collect_goal_images, write_goal_folder

    if args.count < 1:
        print(f"anima goals collect: -n must be >= 1, got {args.count}", file=sys.stderr)
        return 2
    if not 16 <= args.image_size <= 128 or args.image_size % 4:
        print(f"anima goals collect: --image-size must be a multiple of 4 in 16..128, got {args.image_size}", file=sys.stderr)
        return 2
    out = args.output or Path("goals") / args.task
    if out.exists() and not out.is_dir():
        print(f"anima goals collect: {out} exists and is not a folder", file=sys.stderr)
        return 2
    images = collect_goal_images(args.task, args.count, seed=args.seed, image_size_px=args.image_size)
    paths = write_goal_folder(images, out, args.task, args.seed)
    print(f"{len(paths)} {args.task} goal images ({args.image_size}x{args.image_size}, success checked on ground truth) in {out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from anima.models.vice_raq.goals import load_goal_folder

    try:
        images, names = load_goal_folder(args.folder, args.image_size)
    except ValueError as err:
        print(f"anima goals check: {err}", file=sys.stderr)
        return 2
    print(f"{args.folder}: {len(names)} goal images, {images.shape[1]}x{images.shape[2]} RGB")
    return 0


def run(args: argparse.Namespace) -> int:
    return int(args._goals(args) or 0)
