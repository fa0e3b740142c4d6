"""``anima train solar_baseline``: SOLAR's image-SAC baseline at equal samples (``models/solar/baseline.py``).

Example::

    anima train solar_baseline --task reacher --episodes 380 --seed 0 --run-dir /work/runs/solar_sac/seed_0
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HELP = "SOLAR's baseline: image-based SAC (stable-baselines3, CNN) on a SOLAR task, success against episodes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="reacher", help="reacher | sawyer_reach | sawyer_push | sawyer_stack")
    parser.add_argument("--episodes", type=int, default=380, help="episode budget (SOLAR's reacher run: 380)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", type=Path, help="output folder (default: runs/solar_sac_<task>_<UTC time>)")
    parser.add_argument("--json", action="store_true", help="print only the evaluation as JSON")


def run(args: argparse.Namespace) -> int:
    from anima.models.solar.baseline import SacBaselineConfig, train_sac_baseline
    from anima.models.solar.config import TASKS

    if args.task not in TASKS:
        print(f"anima train solar_baseline: --task must be one of {', '.join(TASKS)}, got {args.task!r}")
        return 2
    try:
        config = SacBaselineConfig(task=args.task, episodes=args.episodes, seed=args.seed)
    except ValueError as err:
        print(f"anima train solar_baseline: {err}")
        return 2
    run_dir = args.run_dir or Path("runs") / f"solar_sac_{args.task}_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}"
    result = train_sac_baseline(config, run_dir, log=(lambda _m: None) if args.json else print)
    print(json.dumps(result) if args.json else f"run directory: {run_dir}")
    return 0
