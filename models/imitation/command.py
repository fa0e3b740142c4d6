"""``anima train imitation``: PPO motion imitation for the Laikago (argument parsing, run directories).

Examples::

    anima train imitation --motion dog_pace --run-dir /work/runs/imitation_pace
    anima train imitation --resume /work/runs/imitation_pace               # continue where it stopped
    anima train imitation --motion dog_pace --workers 2                    # two local worker processes
    anima train imitation --motion dog_pace --workers 8 --ray auto         # Ray actors (cluster or local)
    anima train imitation --motion dog_pace --profile training --set ppo.learning_rate=3e-5
    anima train imitation --motion dog_pace --adaptive                     # π(a|s,z) + encoder E(z|μ), randomized dynamics
    anima train imitation --motion dog_pace --robust                       # randomized dynamics, no z (baseline)
    anima train imitation --motion dog_pace --adaptive --set latent.beta=1e-2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

HELP = "PPO motion imitation for the Laikago (Peng et al., RSS 2020); rollouts on local processes or Ray"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--motion", default="dog_pace", help="shipped clip name (anima motion list) or a JSON path")
    parser.add_argument("--run-dir", type=Path, help="output folder (default: runs/imitation_<motion>_<UTC time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--samples", type=int, help="train until this many samples in total (default: the config's 3e7)")
    parser.add_argument("--iterations", type=int, help="stop after this many more iterations (4,096 samples each)")
    parser.add_argument("--workers", type=int, help="rollout workers (default 1; local processes unless --ray)")
    parser.add_argument("--ray", metavar="auto|ADDRESS", help="run the workers as Ray actors: 'auto' joins a running "
                        "cluster or starts a local one on loopback; ADDRESS joins that cluster")
    parser.add_argument("--profile", choices=("paper", "training"), help="physics: paper (1 kHz, default) or training (500 Hz)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--adaptive", action="store_true", help="train across randomized dynamics with a latent code z "
                      "(8-D) from the encoder E(z|mu) and its KL bottleneck (latent.beta); for anima adapt")
    kind.add_argument("--robust", action="store_true", help="train across randomized dynamics without z (the robust baseline)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, e.g. ppo.learning_rate=3e-5 or env_kwargs.randomize=true (repeatable)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    env_kwargs: dict[str, Any] = {}
    for item in args.set:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        key, value = (s.strip() for s in item.split("=", 1))
        if key.startswith("env_kwargs."):
            env_kwargs[key.split(".", 1)[1]] = yaml.safe_load(value)
        else:
            out[key] = yaml.safe_load(value)
    for name in ("workers", "ray", "profile", "seed"):
        if getattr(args, name) is not None:
            out[name] = getattr(args, name)
    if getattr(args, "adaptive", False) or getattr(args, "robust", False):
        env_kwargs.setdefault("randomize", True)
    if getattr(args, "adaptive", False):
        out.setdefault("latent.dim", 8)
    if env_kwargs:
        out["env_kwargs"] = env_kwargs
    return out


def run(args: argparse.Namespace) -> int:
    from anima.models.imitation.config import ImitationTrainConfig
    from anima.models.imitation.trainer import ImitationTrainer

    try:
        overrides = _overrides(args)
        if args.resume is not None:
            if "env_kwargs" in overrides:
                overrides["env_kwargs"] = {**ImitationTrainConfig.from_yaml(args.resume / "config.yaml").env_kwargs,
                                           **overrides["env_kwargs"]}
            trainer = ImitationTrainer.resume(args.resume, **overrides)
        else:
            config = ImitationTrainConfig(motion=args.motion).replace(**overrides)
            stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
            run_dir = args.run_dir or Path("runs") / f"imitation_{Path(config.motion).stem}_{stamp}"
            if (Path(run_dir) / "checkpoint.pt").exists():
                raise ValueError(f"{run_dir} already holds a run; continue it with --resume {run_dir}")
            trainer = ImitationTrainer(config, run_dir)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"anima train imitation: {err}")
        return 2
    print(f"run directory: {trainer.run_dir} (resume: anima train imitation --resume {trainer.run_dir})", flush=True)
    try:
        history = trainer.run(args.samples, args.iterations)
    except KeyboardInterrupt:
        print(f"stopped; the last checkpoint is {trainer.run_dir / 'checkpoint.pt'}")
        return 130
    last = history[-1] if history else {}
    print(f"done: {trainer.samples:,} samples in {trainer.iterations} iterations, "
          f"reward per step {last.get('reward_per_step', float('nan')):.3f}; checkpoint {trainer.run_dir / 'checkpoint.pt'}")
    return 0
