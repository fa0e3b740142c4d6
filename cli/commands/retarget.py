"""``anima retarget SOURCE -o OUT.json``: animal keypoints -> robot reference motion."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = "retarget animal keypoints (dog mocap CSV, Anima keypoint JSON) or keyframes (YAML) to a reference motion"


def _frames(text: str) -> slice:
    try:
        a, b = text.split(":")
        return slice(int(a) if a else None, int(b) if b else None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--frames: expected 'a:b' with integers, got '{text}'") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="keypoints: .csv (27-marker dog mocap, y up, 60 Hz), .json (Anima format); "
                        "or keyframes: .yaml (anima.models.retarget.keyframes)")
    parser.add_argument("-o", "--output", required=True, help="output reference-motion JSON")
    parser.add_argument("--robot", default="laikago",
                        help="retarget config name (config/retarget/<robot>.yaml) or YAML path")
    parser.add_argument("--frames", type=_frames, default=slice(None), help="frame range a:b of the source")
    parser.add_argument("--fps", type=float, default=None, help="source frame rate for CSV without times (default 60)")
    parser.add_argument("--loop", choices=("Wrap", "Clamp"), default="Wrap", help="LoopMode of the output")
    parser.add_argument("--no-keypoints", action="store_true", help="do not store the source keypoints in the output")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    from anima.models.motion.format import save_motion
    from anima.models.retarget.config import load_config
    from anima.models.retarget.keypoints import read_dog_csv, read_keypoints
    from anima.models.retarget.retarget import Retargeter

    if str(args.source).lower().endswith((".yaml", ".yml")):
        return _keyframes(args)
    try:
        if args.fps is not None and str(args.source).lower().endswith(".csv"):
            kp = read_dog_csv(args.source, fps=args.fps)
        else:
            kp = read_keypoints(args.source)
        rt = Retargeter(load_config(args.robot))
        result = rt.retarget(kp, loop_mode=args.loop, keep_keypoints=not args.no_keypoints, frames=args.frames)
    except ValueError as exc:
        print(f"anima retarget: {exc}", file=sys.stderr)
        return 2
    save_motion(result.motion, args.output)
    _report(args, result.motion, result.toe_error_m)
    return 0


def _keyframes(args: argparse.Namespace) -> int:
    from anima.models.motion.format import save_motion
    from anima.models.retarget.config import load_config
    from anima.models.retarget.keyframes import load_keyframes, motion_from_keyframes
    from anima.models.retarget.retarget import Retargeter

    try:
        rt = Retargeter(load_config(args.robot))
        keys, frame_duration, loop_mode = load_keyframes(rt, args.source)
        motion, err = motion_from_keyframes(rt, keys, frame_duration, loop_mode)
    except ValueError as exc:
        print(f"anima retarget: {exc}", file=sys.stderr)
        return 2
    save_motion(motion, args.output)
    _report(args, motion, err)
    return 0


def _report(args: argparse.Namespace, motion: Any, err: Any) -> None:
    import numpy as np

    summary = {
        "output": args.output, "frames": motion.num_frames, "frame_duration_s": motion.frame_duration,
        "toe_error_m_median": float(np.median(err)), "toe_error_m_max": float(err.max()),
        "toe_error_m_per_frame_max": [round(float(e), 5) for e in err.max(axis=1)],
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(f"wrote {args.output}: {summary['frames']} frames, toe error median "
              f"{summary['toe_error_m_median'] * 1000:.2f} mm, max {summary['toe_error_m_max'] * 1000:.2f} mm")
