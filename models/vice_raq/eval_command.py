"""``anima eval vice_raq``: a VICE-RAQ policy on the simulated scene, scored by ground-truth success.

Prints ``success_rate`` (the success predicate at each episode's last step), ``queries_used`` and
``goal_examples_used`` (from the policy file's provenance: what its training consumed), and more.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from anima.models.vice_raq.config import TASKS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", choices=TASKS, default="push", help="Sawyer scene (default push)")
    p.add_argument("--policy", type=Path, help="policy file (policy.pt of a run); default: the shipped policy of --task")
    p.add_argument("--episodes", type=int, default=20, help="episodes (default 20)")
    p.add_argument("--seed", type=int, default=None, help="seed of the first episode (default: the training evaluation's 1000000)")
    p.add_argument("--json", action="store_true", help="print only one JSON object")


def evaluate(task: str, policy_path: Path | None, episodes: int, seed: int | None) -> dict[str, Any]:
    """The evaluation of ``policy_path`` (or the shipped policy) on ``task``; ValueError naming a bad input."""
    from anima.models.vice_raq.evaluate import EVAL_SEED, evaluate_policy
    from anima.models.vice_raq.policy import load_policy, shipped_policy_path
    from anima.sim_bridge.envs import make_env

    path = policy_path or shipped_policy_path(task)
    if policy_path is None and not path.is_file():
        raise ValueError(f"no shipped VICE-RAQ policy for {task!r} ({path}); train one and pass --policy RUN_DIR/policy.pt")
    policy = load_policy(path)
    if policy.spec.task != task:
        raise ValueError(f"{path}: policy was trained on {policy.spec.task!r}, --task asked for {task!r}")
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    env = make_env(f"sawyer_{task}", observation="image", image_size_px=policy.spec.image_size_px)
    try:
        result = evaluate_policy(env, policy.act, episodes, EVAL_SEED if seed is None else seed)
    finally:
        env.close()
    prov = policy.provenance
    return {"task": task, "policy": str(path), **result, "queries_used": prov.get("queries_used"),
            "goal_examples_used": prov.get("goal_examples_used"), "env_steps": prov.get("env_steps"),
            "reward": prov.get("reward"), "discor": prov.get("discor")}


def _quiet_stdout_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """:func:`evaluate` with fd 1 sent to stderr, so PyBullet's C-level banner cannot corrupt the JSON on stdout."""
    import os

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        return evaluate(args.task, args.policy, args.episodes, args.seed)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run(args: argparse.Namespace) -> int:
    try:
        result = _quiet_stdout_evaluate(args)
    except ValueError as err:  # CheckpointError is one
        print(f"anima eval vice_raq: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key in ("success_rate", "ever_success_rate", "final_metric_mean", "queries_used", "goal_examples_used", "episodes"):
            print(f"{key:20s} {result[key]}")
    return 0
