"""``anima retarget SOURCE -o OUT.json``: animal keypoints -> robot reference motion."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "retarget animal keypoints (dog mocap CSV or Anima keypoint JSON) to a robot reference motion"


def _frames(text: str) -> slice:
    try:
        a, b = text.split(":")
        return slice(int(a) if a else None, int(b) if b else None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--frames: expected 'a:b' with integers, got '{text}'") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="keypoints: .csv (27-marker dog mocap, y up, 60 Hz) or .json (Anima format)")
    parser.add_argument("-o", "--output", required=True, help="output reference-motion JSON")
    parser.add_argument("--robot", default="laikago", help="retarget config name (config/retarget/<robot>.yaml) or path")
    parser.add_argument("--frames", type=_frames, default=slice(None), help="frame range a:b of the source")
    parser.add_argument("--fps", type=float, default=None, help="source frame rate for CSV without times (default 60)")
    parser.add_argument("--loop", choices=("Wrap", "Clamp"), default="Wrap", help="LoopMode of the output")
    parser.add_argument("--no-keypoints", action="store_true", help="do not store the source keypoints in the output")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from anima.models.motion.format import save_motion
    from anima.models.retarget.config import load_config
    from anima.models.retarget.keypoints import read_dog_csv, read_keypoints
    from anima.models.retarget.retarget import Retargeter

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
    err = result.toe_error_m
    summary = {
        "output": args.output, "frames": result.motion.num_frames, "frame_duration_s": result.motion.frame_duration,
        "toe_error_m_median": float(np.median(err)), "toe_error_m_max": float(err.max()),
        "toe_error_m_per_frame_max": [round(float(e), 5) for e in err.max(axis=1)],
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(f"wrote {args.output}: {summary['frames']} frames, toe error median "
              f"{summary['toe_error_m_median'] * 1000:.2f} mm, max {summary['toe_error_m_max'] * 1000:.2f} mm")
    return 0
