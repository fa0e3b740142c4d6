"""``anima train vice_raq``: VICE-RAQ on a simulated Sawyer scene (argument parsing and run-dir handling).

Examples::

    anima train vice_raq --task push --operator oracle                 # runs/vice_raq_push_<UTC time>
    anima train vice_raq --task push --operator ros                    # answers from the rqt panel / goal_oracle
    anima train vice_raq --task push --operator none                   # VICE without queries
    anima train vice_raq --task push --reward ground_truth             # SAC on the env's success (upper bound)
    anima train vice_raq --task push --discor --set classifier.label_noise=0.2
    anima train vice_raq --task push --goals goals/push --set raq.query_frequency=10
    anima train vice_raq --resume runs/vice_raq_push_x --epochs 60
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from anima.models.vice_raq.config import OPERATORS, REWARDS, TASKS

HELP = "VICE-RAQ: goal-classifier reward, VICE negatives, active operator queries, SAC (+DisCor) from pixels (Singh et al., RSS 2019)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=TASKS, default="push", help="Sawyer scene (default push)")
    parser.add_argument("--operator", choices=OPERATORS, help="who answers queries: oracle (in process, ground truth), "
                        "ros (goal_query services: rqt panel or goal_oracle node), none (no queries); default oracle")
    parser.add_argument("--reward", choices=REWARDS, help="vice (default), classifier (plain goal classifier) or "
                        "ground_truth (the env's success: the upper bound)")
    parser.add_argument("--discor", action="store_true", help="DisCor's weighted critic backups")
    parser.add_argument("--goals", type=Path, metavar="DIR", help="goal-example folder (anima goals collect); default: generated from ground truth")
    parser.add_argument("--config", type=Path, help="training YAML (a ViceRaqConfig mapping); default: the built-in FACTS values")
    parser.add_argument("--run-dir", type=Path, help="output folder (default: runs/vice_raq_<task>_<UTC time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    parser.add_argument("--epochs", type=int, help="total epochs of 1,000 env steps (overrides the config)")
    parser.add_argument("--seed", type=int, help="random seed (overrides the config)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. sac.updates_per_step=0.5, raq.use_negative_answers=true (repeatable)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from anima.controllers.config_loader import parse_override

    out: dict[str, Any] = dict(parse_override(item) for item in args.set)
    for key, value in (("n_epochs", args.epochs), ("seed", args.seed), ("operator", args.operator), ("reward", args.reward)):
        if value is not None:
            out[key] = value
    if args.discor:
        out["discor.enabled"] = True
    if args.goals is not None:
        out["goal_dir"] = str(args.goals)
    return out


def _ros_network(config: Any) -> Any:
    """``--operator ros``: the network rule (loopback, unless the user set the variables) and a
    ROS_DOMAIN_ID (claimed when unset, and printed so the panel can join it); returns the claim."""
    import os
    import sys

    from anima.ros_env import apply_network_rule, ensure_domain_id

    claim = ensure_domain_id(os.environ)
    apply_network_rule(os.environ)
    how = "claimed for this run; run the panel with the same ROS_DOMAIN_ID" if claim else "from the environment"
    print(f"anima train vice_raq: ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']} ({how}); queries on goal_query/*",
          file=sys.stderr, flush=True)
    return claim


def run(args: argparse.Namespace) -> int:
    from anima.models.vice_raq.config import ViceRaqConfig
    from anima.models.vice_raq.trainer import ViceRaqTrainer

    try:
        overrides = _overrides(args)
        if args.resume is not None:
            trainer = ViceRaqTrainer.resume(args.resume, **overrides)
        else:
            config = ViceRaqConfig.from_yaml(args.config) if args.config else ViceRaqConfig()
            config = config.replace(**{"task": args.task, **overrides})
            run_dir = args.run_dir or Path("runs") / f"vice_raq_{config.task}_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}"
            trainer = ViceRaqTrainer(config, run_dir)
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"anima train vice_raq: {err}")
        return 2
    print(f"run directory: {trainer.run_dir}")
    claim = _ros_network(trainer.config) if trainer.config.uses_queries and trainer.config.operator == "ros" else None
    try:
        history = trainer.run()
    finally:
        if claim is not None:
            claim.release()
    last = history[-1] if history else {}
    print(f"done: {trainer.epoch} epochs, {trainer.env_steps} env steps, queries {trainer.ledger.asked}, "
          f"goal examples {len(trainer.goals.examples)}, last evaluation {last.get('eval_success_rate')}; "
          f"policy {trainer.run_dir / 'policy.pt'}")
    return 0
