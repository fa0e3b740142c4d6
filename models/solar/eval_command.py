"""``anima eval solar``: a SOLAR policy file on its task's image env, scored by the env's success.

Runs the policy as the ``solar_planner`` node does: each frame is encoded to the latent mean and
``u_t = K_t z_t + k_t`` (no exploration noise) is applied at step t of the episode. Prints
``success_rate`` (goal tolerance met at the last step), ``episodes_trained`` (from the policy's
provenance: the episodes its training used), the mean final distance where the env reports one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from anima.models.solar.config import TASKS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", choices=TASKS, default="reacher", help="task (default reacher)")
    p.add_argument("--policy", type=Path, help="policy file (policy.pt of a run); default: the shipped policy of --task")
    p.add_argument("--episodes", type=int, default=20, help="episodes (default 20)")
    p.add_argument("--seed", type=int, default=12345, help="seed of the episode draws (default 12345, as training's evaluation)")
    p.add_argument("--json", action="store_true", help="print only one JSON object")


def evaluate(task: str, policy_path: Path | None, episodes: int, seed: int) -> dict[str, Any]:
    """Success of ``policy_path`` (or the shipped policy) on ``task``; ValueError naming a bad input."""
    from anima.models.solar.config import SolarTrainConfig
    from anima.models.solar.networks import flush_denormals
    from anima.models.solar.policy import SolarPolicy, policy_env_kwargs, shipped_policy_path
    from anima.models.solar.trainer import collect, make_task_env

    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    path = policy_path or shipped_policy_path(task)
    if policy_path is None and not path.is_file():
        raise ValueError(f"no shipped SOLAR policy for {task!r} ({path}); train one and pass --policy RUN_DIR/policy.pt")
    policy = SolarPolicy.load(path, expect_task=task)
    flush_denormals()
    env, _ = make_task_env(SolarTrainConfig(task=task, env_kwargs=policy_env_kwargs(policy)))
    actor = policy.actor()
    batch = collect(env, lambda t, image, rng: actor(t, image), episodes, policy.horizon, np.random.default_rng(seed))
    return {"task": task, "policy": str(path), "episodes": episodes, "success_rate": float(batch["success"].mean()),
            "final_distance_mean": float(np.nanmean(batch["distance"])) if np.isfinite(batch["distance"]).any() else None,
            "episodes_trained": policy.provenance.get("episodes_trained"), "seed": seed}


def run(args: argparse.Namespace) -> int:
    try:
        result = evaluate(args.task, args.policy, args.episodes, args.seed)
    except ValueError as err:
        print(f"anima eval solar: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key in ("success_rate", "episodes_trained", "final_distance_mean", "episodes", "policy"):
            print(f"{key:20s} {result[key]}")
    return 0
