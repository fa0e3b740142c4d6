"""``anima train pddm``: PDDM online model-based training (argument parsing and run-dir handling).

Examples::

    anima train pddm --task reacher                      # config/pddm/reacher.yaml, runs/pddm_reacher_<time>
    anima train pddm --task baoding --iterations 20 --run-dir runs/baoding
    anima train pddm --resume runs/baoding --iterations 40
    anima train pddm --task reacher --set planner.num_samples=300 --set seed=3
    anima train pddm --resume runs/baoding --evaluate 10    # no training: success rates on ccw, cw, goto
    anima train pddm --resume runs/baoding --evaluate 10 --model runs/baoding/models/iter_020.pt --as-node
    anima train pddm --resume runs/baoding --evaluate 10 --set planner.beta=0.4   # evaluate with another planner setting
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

HELP = "PDDM: ensemble dynamics models + filtered MPPI, trained online (Nagabandi et al., CoRL 2019)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default="reacher", help="environment/task: reacher (small, fast) or baoding")
    parser.add_argument("--config", type=Path, help="training YAML (default: <share>/config/pddm/<task>.yaml)")
    parser.add_argument("--run-dir", type=Path, help="output folder (default: runs/pddm_<task>_<UTC time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--iterations", type=int, help="total iterations (overrides the config)")
    parser.add_argument("--seed", type=int, help="random seed (overrides the config)")
    parser.add_argument("--evaluate", type=int, default=0, metavar="EPISODES", help="after training (with --resume and no --iterations: instead of training), evaluate the model on every task of the env (baoding: ccw, cw, goto) and write evaluation.json")
    parser.add_argument("--model", type=Path, help="with --evaluate: the checkpoint to evaluate (default: RUN_DIR/model.pt)")
    parser.add_argument("--as-node", action="store_true", help="with --evaluate (Baoding): plan as the pddm_planner node does over ROS (its planner settings from the core config config/pddm/planner/baoding.yaml, its rollout backend, its planning latency, the filtered ball state of the tracker; models.pddm.trainer.AS_NODE); --set planner.* still applies on top")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. planner.num_samples=300 (repeatable)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from anima.controllers.config_loader import parse_override

    out: dict[str, Any] = dict(parse_override(item) for item in args.set)
    if args.iterations is not None:
        out["iterations"] = args.iterations
    if args.seed is not None:
        out["seed"] = args.seed
    return out


def run(args: argparse.Namespace) -> int:
    from anima.controllers.paths import share_dir
    from anima.models.pddm.config import PDDMTrainConfig
    from anima.models.pddm.trainer import PDDMTrainer, evaluate_run

    try:
        overrides = _overrides(args)
        if args.resume is not None:
            trainer = PDDMTrainer.resume(args.resume, **overrides)
        else:
            path = args.config or share_dir() / "config" / "pddm" / f"{args.task}.yaml"
            if not Path(path).is_file():
                raise FileNotFoundError(f"no training config {path} (tasks with configs: {sorted(p.stem for p in (share_dir() / 'config' / 'pddm').glob('*.yaml') if p.stem != 'pddm_planner')})")
            config = PDDMTrainConfig.from_yaml(path)
            if args.config is None and config.task != args.task:
                raise ValueError(f"{path}: task is {config.task!r}, --task asked for {args.task!r}")
            config = config.replace(**overrides) if overrides else config
            run_dir = args.run_dir or Path("runs") / f"pddm_{config.task}_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}"
            trainer = PDDMTrainer(config, run_dir)
    except (ValueError, FileNotFoundError) as err:
        print(f"anima train pddm: {err}")
        return 2
    if (args.model or args.as_node) and args.evaluate <= 0:
        print("anima train pddm: --model and --as-node need --evaluate EPISODES")
        return 2
    print(f"run directory: {trainer.run_dir}")
    evaluate_only = args.resume is not None and args.evaluate > 0 and args.iterations is None
    history = trainer.history if evaluate_only else trainer.run()
    last = history[-1] if history else {}
    if args.evaluate > 0:
        picked = {group: {k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith(group + ".")} for group in ("planner", "env_kwargs")}
        try:
            evaluate_run(trainer.run_dir, args.evaluate, model_path=args.model, as_node=args.as_node, config=trainer.config,
                         planner_overrides=picked["planner"], env_overrides=picked["env_kwargs"])
        except (ValueError, FileNotFoundError) as err:  # a refused or corrupt model file: one line naming it
            print(f"anima train pddm: {err}")
            return 2
    print(f"done: {len(history)} iterations, success {last.get('success_rate', float('nan')):.2f}, {trainer.hours_of_data():.3f} h of data; model {trainer.run_dir / 'model.pt'}")
    return 0
