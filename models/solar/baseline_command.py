"""``anima train solar_baseline``: SOLAR's image-SAC baseline at equal samples (``models/solar/baseline.py``).

The environment is SOLAR's for the task: the ``env_kwargs`` of the training YAML (default
``<share>/config/solar/<task>.yaml``, the one ``anima train solar --task T`` reads), so both learn the same
arm, reward and frames.

Example::

    anima train solar_baseline --task reacher --episodes 1300 --seed 0 --run-dir /work/runs/solar_sac/seed_0
    anima train solar_baseline --resume /work/runs/solar_sac/seed_0            # after an interruption
    anima train solar_baseline --resume /work/runs/solar_sac/seed_0 --episodes 2000  # a larger budget
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HELP = "SOLAR's baseline: image-based SAC (stable-baselines3, CNN) on a SOLAR task, success against episodes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="reacher", help="reacher | sawyer_reach | sawyer_push | sawyer_stack")
    parser.add_argument("--episodes", type=int, default=None, help="episode budget (default 380, SOLAR's reacher run; "
                                                                   "with --resume, the run's own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, help="SOLAR training YAML whose env_kwargs give the task env "
                                                    "(default: <share>/config/solar/<task>.yaml)")
    parser.add_argument("--run-dir", type=Path, help="output folder (default: runs/solar_sac_<task>_<UTC time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint")
    parser.add_argument("--json", action="store_true", help="print only the evaluation as JSON")


def _env_kwargs(task: str, path: Path | None) -> dict:
    from anima.models.solar.config import SolarTrainConfig, task_config_path

    path = task_config_path(task, path)
    config = SolarTrainConfig.from_yaml(path)
    if config.task != task:
        raise ValueError(f"--config {path} is for task {config.task!r}, not {task!r}")
    return dict(config.env_kwargs)


def run(args: argparse.Namespace) -> int:
    from anima.models.checkpoint import CheckpointError
    from anima.models.solar.baseline import SacBaselineConfig, resume_sac_baseline, train_sac_baseline
    from anima.models.solar.config import TASKS

    log = (lambda _m: None) if args.json else print
    if args.resume is not None:
        try:
            result = resume_sac_baseline(args.resume, args.episodes, log=log)
        except (CheckpointError, ValueError) as err:
            print(f"anima train solar_baseline: --resume {args.resume}: {err}")
            return 2
        print(json.dumps(result) if args.json else f"run directory: {args.resume}")
        return 0
    if args.task not in TASKS:
        print(f"anima train solar_baseline: --task must be one of {', '.join(TASKS)}, got {args.task!r}")
        return 2
    try:
        config = SacBaselineConfig(task=args.task, episodes=380 if args.episodes is None else args.episodes, seed=args.seed,
                                   env_kwargs=_env_kwargs(args.task, args.config))
    except (ValueError, FileNotFoundError) as err:
        print(f"anima train solar_baseline: {err}")
        return 2
    run_dir = args.run_dir or Path("runs") / f"solar_sac_{args.task}_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}"
    result = train_sac_baseline(config, run_dir, log=log)
    print(json.dumps(result) if args.json else f"run directory: {run_dir}")
    return 0
