"""``anima retarget SOURCE -o OUT.json``: animal keypoints -> robot reference motion."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

HELP = ("retarget animal keypoints (dog mocap CSV or the original *_joint_pos.txt, Anima keypoint JSON) "
        "or keyframes (YAML) to a reference motion")


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send fd 1 to stderr meanwhile, so PyBullet's C-level prints cannot corrupt ``--json`` output."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _check_writable(output: str) -> None:
    """ValueError naming ``output`` if it cannot be written (checked before the work starts)."""
    path = Path(output)
    if path.is_dir():
        raise ValueError(f"-o {output}: is a directory, expected a .json file path")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"-o {output}: folder {folder} does not exist")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ValueError(f"-o {output}: cannot write in {folder} ({exc.strerror})") from exc


def _frames(text: str) -> slice:
    try:
        a, b = text.split(":")
        return slice(int(a) if a else None, int(b) if b else None)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--frames: expected 'a:b' with integers, got '{text}'") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="keypoints: .csv or the original *_joint_pos.txt (27-marker dog mocap, "
                        "comma-separated, y up, 60 Hz), .json (Anima format); or keyframes: .yaml "
                        "(anima.models.retarget.keyframes)")
    parser.add_argument("-o", "--output", required=True, help="output reference-motion JSON")
    parser.add_argument("--robot", default="laikago",
                        help="retarget config name (config/retarget/<robot>.yaml) or YAML path")
    parser.add_argument("--frames", type=_frames, default=slice(None),
                        help="frame range a:b of the source (as the original's clip ranges, e.g. 162:201)")
    parser.add_argument("--fps", type=float, default=None, help="source frame rate for CSV without times (default 60)")
    parser.add_argument("--loop", choices=("Wrap", "Clamp"), default="Wrap", help="LoopMode of the output")
    parser.add_argument("--no-keypoints", action="store_true", help="do not store the source keypoints in the output")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    from anima.models.motion.format import save_motion
    from anima.models.retarget.config import load_config
    from anima.models.retarget.keypoints import read_keypoints
    from anima.models.retarget.retarget import Retargeter

    if str(args.source).lower().endswith((".yaml", ".yml")):
        return _keyframes(args)
    try:
        _check_writable(args.output)
        kp = read_keypoints(args.source, fps=args.fps)
        with _stdout_to_stderr():
            rt = Retargeter(load_config(args.robot))
            result = rt.retarget(kp, loop_mode=args.loop, keep_keypoints=not args.no_keypoints, frames=args.frames)
        save_motion(result.motion, args.output)
    except ValueError as exc:
        print(f"anima retarget: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"anima retarget: -o {args.output}: cannot write ({exc.strerror})", file=sys.stderr)
        return 2
    _report(args, result.motion, result.toe_error_m)
    return 0


def _keyframes(args: argparse.Namespace) -> int:
    from anima.models.motion.format import save_motion
    from anima.models.retarget.config import load_config
    from anima.models.retarget.keyframes import load_keyframes, motion_from_keyframes
    from anima.models.retarget.retarget import Retargeter

    try:
        _check_writable(args.output)
        rt = Retargeter(load_config(args.robot))
        keys, frame_duration, loop_mode = load_keyframes(rt, args.source)
        motion, err = motion_from_keyframes(rt, keys, frame_duration, loop_mode)
        save_motion(motion, args.output)
    except ValueError as exc:
        print(f"anima retarget: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"anima retarget: -o {args.output}: cannot write ({exc.strerror})", file=sys.stderr)
        return 2
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
