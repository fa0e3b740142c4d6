"""``anima motion list|check|preview|build``: inspect and build Laikago reference motions."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "reference motions: list shipped clips, check quality, preview video, rebuild the library"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="print the paths of the shipped motions, one per line")
    check = sub.add_parser("check", help="toe error, foot slip per foot (every stance phase, flagged or not), "
                           "penetration, joint limits, velocity spikes")
    check.add_argument("file", help="motion JSON file or shipped motion name")
    check.add_argument("--robot", default="laikago", help="retarget config name or YAML path")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    preview = sub.add_parser("preview", help="render an mp4 of the robot playing the motion, plus a joint PNG")
    preview.add_argument("file", help="motion JSON file or shipped motion name")
    preview.add_argument("-o", "--output", required=True, help="output .mp4 (the PNG goes next to it)")
    preview.add_argument("--robot", default="laikago")
    preview.add_argument("--width", type=int, default=320)
    preview.add_argument("--height", type=int, default=240)
    preview.add_argument("--fps", type=float, default=15.0, help="video frame rate (frames are subsampled)")
    build = sub.add_parser("build", help="regenerate the shipped library (procedural + keyframed clips)")
    build.add_argument("--out", default=None, help="output folder (default: the package's data folder)")
    build.add_argument("--robot", default="laikago")


def _check(args: argparse.Namespace) -> int:
    from anima.models.motion.check import CheckThresholds, check_motion
    from anima.models.motion.format import load_motion
    from anima.models.motion.library import find_motion
    from anima.models.retarget.config import load_config

    cfg = load_config(args.robot)
    path = find_motion(args.file)
    thresholds = CheckThresholds(foot_contact_height_m=cfg.foot_contact_height_m)
    result = check_motion(load_motion(path), cfg.kinematics(), thresholds, cfg.leg_names)
    result["file"] = str(path)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in sorted(result.items()):
            print(f"{key:28s} {value}")
    return 0 if result["passed"] else 1


def _preview(args: argparse.Namespace) -> int:
    import pybullet
    from pybullet_utils import bullet_client

    from anima.models.motion.format import load_motion
    from anima.models.motion.library import find_motion
    from anima.models.motion.preview import PreviewConfig, plot_joints, render_video
    from anima.models.retarget.config import load_config

    cfg = load_config(args.robot)
    motion = load_motion(find_motion(args.file))
    kin = cfg.kinematics()
    client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
    try:
        n = render_video(motion, args.output, client, str(cfg.urdf_path()), kin.joint_names,
                         PreviewConfig(width_px=args.width, height_px=args.height, video_fps=args.fps))
    finally:
        client.disconnect()
    png = str(args.output).rsplit(".", 1)[0] + "_joints.png"
    plot_joints(motion, png, kin.joint_names, kin.lower[:3], kin.upper[:3])
    print(f"wrote {args.output} ({n} frames) and {png}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "list":
            from anima.models.motion.library import shipped_motions

            for path in shipped_motions():
                print(path)
            return 0
        if args.action == "check":
            return _check(args)
        if args.action == "preview":
            return _preview(args)
        from pathlib import Path

        from anima.models.motion.library import DATA_DIR, build_library
        from anima.models.retarget.config import load_config
        from anima.models.retarget.retarget import Retargeter

        build_library(Retargeter(load_config(args.robot)), Path(args.out) if args.out else DATA_DIR)
        return 0
    except ValueError as exc:
        print(f"anima motion {args.action}: {exc}", file=sys.stderr)
        return 2
