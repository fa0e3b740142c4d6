"""``anima bench retarget``: retargeting throughput (frames/s) on a procedural dog trot.

``frames_per_s`` is Laikago's configured method, the original retargeting step by step (PyBullet
``calculateInverseKinematics2`` frame by frame, as the original ran at ~1,400 frames/s on a 2-core
machine, FACTS.md). ``anima_*`` keys: Anima's stance-locking method with its batched numpy IK,
in 8-frame warm-started chunks and strictly frame by frame (chunk of 1).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

HELP = "retargeting throughput (frames/s) of a procedural dog trot to Laikago"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=1200, help="source frames (60 Hz)")
    parser.add_argument("--repeats", type=int, default=5, help="best of this many runs")


def _best(fn: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import replace

    import numpy as np

    from anima.models.motion.library import LAIKAGO_SIZED_DOG
    from anima.models.retarget.config import load_config
    from anima.models.retarget.generator import GaitParams, generate_gait
    from anima.models.retarget.retarget import Retargeter

    frames = getattr(args, "frames", 1200)
    repeats = getattr(args, "repeats", 5)
    params = GaitParams("trot", speed_m_s=0.8, stride_m=0.4, cycles=max(1, round(frames / 30)))
    cfg = load_config("laikago")
    kp = generate_gait(params, LAIKAGO_SIZED_DOG).slice(0, frames)
    rt = Retargeter(cfg)
    result = rt.retarget(kp)
    full = _best(lambda: rt.retarget(kp), repeats)
    # Anima's method on the default (larger) dog at its 0.825 scale.
    anima_cfg = replace(cfg, original=None, scale=0.825)
    kp_anima = generate_gait(params).slice(0, frames)
    chunked = Retargeter(anima_cfg)
    anima_full = _best(lambda: chunked.retarget(kp_anima), repeats)
    seq = Retargeter(replace(anima_cfg, ik=replace(cfg.ik, chunk_frames=1)))
    origin, rot, targets, _ = seq.root_and_targets(kp_anima)
    ik_seq = _best(lambda: seq.solve(origin, rot, targets), repeats)
    ik_chunk = _best(lambda: chunked.solve(origin, rot, targets), repeats)
    return {
        "frames": kp.num_frames,
        "frames_per_s": kp.num_frames / full,
        "toe_error_m_median": float(np.median(result.toe_error_m)),
        "toe_error_m_max": float(result.toe_error_m.max()),
        "anima_frames_per_s": kp.num_frames / anima_full,
        "anima_ik_frames_per_s": kp.num_frames / ik_chunk,
        "anima_sequential_ik_frames_per_s": kp.num_frames / ik_seq,
        "reference_original_pybullet_frames_per_s": 1400.0,
    }
