"""``anima train solar``: SOLAR from images (argument parsing, run directories, several seeds).

Examples::

    anima train solar --task reacher                          # config/solar/reacher.yaml, runs/solar_reacher_<time>
    anima train solar --task reacher --seeds 3 --run-dir /work/runs/solar_reacher   # seed_0..2 + seeds.json
    anima train solar --resume runs/solar_reacher/seed_0 --iterations 10
    anima train solar --task reacher --set lqr.kl_step=1.0 --set pretrain_epochs=20
    anima train solar --task reacher --pretrained runs/solar_reacher/seed_0 --set lqr.kl_step=0.5   # reuse its VAE
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

HELP = "SOLAR: structured VAE + BLDS latent dynamics + LQR-FLM from images (Zhang, Vikram et al., ICML 2019)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="reacher", help="reacher | sawyer_reach | sawyer_push | sawyer_stack")
    parser.add_argument("--config", type=Path, help="training YAML (default: <share>/config/solar/<task>.yaml)")
    parser.add_argument("--run-dir", type=Path, help="output folder (default: runs/solar_<task>_<UTC time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--pretrained", type=Path, metavar="RUN_DIR",
                        help="start from RUN_DIR's pretrained VAE and random episodes (same task, horizon, VAE settings, pretrain_epochs, seed); "
                             "the LQR-FLM iterations start afresh")
    parser.add_argument("--iterations", type=int, help="total LQR-FLM iterations (overrides the config)")
    parser.add_argument("--seed", type=int, help="random seed (overrides the config; with --seeds, the first seed)")
    parser.add_argument("--seeds", type=int, default=1, metavar="K", help="train K VAE seeds (seed, seed+1, ...) in RUN_DIR/seed_<s> and report their spread")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. lqr.kl_step=1.0 (repeatable)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from anima.controllers.config_loader import parse_override

    out: dict[str, Any] = dict(parse_override(item) for item in args.set)
    if args.iterations is not None:
        out["iterations"] = args.iterations
    return out


def _load_config(args: argparse.Namespace, overrides: dict[str, Any]) -> Any:
    from anima.models.solar.config import SolarTrainConfig, task_config_path

    path = task_config_path(args.task, args.config)
    config = SolarTrainConfig.from_yaml(path)
    if args.config is None and config.task != args.task:
        raise ValueError(f"{path}: task is {config.task!r}, --task asked for {args.task!r}")
    if args.seed is not None:
        overrides = {**overrides, "seed": args.seed}
    return config.replace(**overrides) if overrides else config


def seed_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and spread of the seeds' final success (mean-policy evaluation) and episodes; with per-iteration
    evaluation, also of each seed's best mean policy (``best_policy.pt``) and the episodes it had trained on."""
    import numpy as np

    rates = np.array([r["success_rate"] for r in results], dtype=float)
    out = {"seeds": [r["seed"] for r in results], "success_rate": rates.tolist(), "success_rate_median": float(np.median(rates)),
           "success_rate_min": float(rates.min()), "success_rate_max": float(rates.max()),
           "episodes_trained": [r["episodes_trained"] for r in results]}
    if all("best" in r for r in results):
        best = np.array([r["best"]["eval_success_rate"] for r in results], dtype=float)
        out.update({"best_success_rate": best.tolist(), "best_success_rate_median": float(np.median(best)),
                    "best_success_rate_min": float(best.min()), "best_success_rate_max": float(best.max()),
                    "best_episodes_trained": [r["best"]["episodes_trained"] for r in results]})
    return out


def run(args: argparse.Namespace) -> int:
    from anima.models.checkpoint import write_json_atomic
    from anima.models.solar.trainer import SolarTrainer

    if args.seeds < 1:
        print("anima train solar: --seeds must be >= 1")
        return 2
    try:
        overrides = _overrides(args)
        if args.resume is not None:
            trainers = [SolarTrainer.resume(args.resume, **overrides)]
        else:
            config = _load_config(args, overrides)
            run_dir = args.run_dir or Path("runs") / f"solar_{config.task}_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}"
            if args.pretrained is not None and args.seeds != 1:
                raise ValueError("--pretrained takes one run's VAE: use it without --seeds")
            if args.seeds == 1:
                trainers = [SolarTrainer(config, run_dir)]
                if args.pretrained is not None:
                    trainers[0].start_from_pretrained(args.pretrained)
            else:
                trainers = [SolarTrainer(config.replace(seed=config.seed + i), run_dir / f"seed_{config.seed + i}") for i in range(args.seeds)]
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"anima train solar: {err}")
        return 2
    results = []
    for trainer in trainers:
        print(f"run directory: {trainer.run_dir}")
        trainer.run()
        results.append(trainer.last_evaluation or trainer.evaluate(20))
    if len(results) > 1:
        summary = seed_summary(results)
        write_json_atomic(trainers[0].run_dir.parent / "seeds.json", summary, indent=1)
        print(f"seeds {summary['seeds']}: success median {summary['success_rate_median']:.2f} "
              f"(min {summary['success_rate_min']:.2f}, max {summary['success_rate_max']:.2f})")
    print(f"done: success {results[-1]['success_rate']:.2f} after {results[-1]['episodes_trained']} episodes; policy {trainers[-1].run_dir / 'policy.pt'}")
    best = results[-1].get("best")
    if best:
        print(f"best mean policy: success {best['eval_success_rate']:.2f} after {best['episodes_trained']} episodes "
              f"(iteration {best['iteration']}); policy {trainers[-1].run_dir / 'best_policy.pt'}")
    return 0
