"""Copy a trained SOLAR policy into the package data with its provenance YAML.

``python -m anima.models.solar.ship RUN_DIR --task reacher --command "anima train solar ..."`` writes
``models/solar/data/<task>.pt`` and ``<task>.provenance.yaml`` (command, seed, episodes and samples,
wall time, the run's evaluation and history), both atomically.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from anima.models.checkpoint import write_text_atomic
from anima.models.solar.policy import DATA_DIR, SolarPolicy


def ship(run_dir: str | Path, task: str, command: str, dest: Path = DATA_DIR, notes: str = "",
         policy_file: str = "policy.pt", evaluate_episodes: int = 0, eval_seed: int = 20261205) -> dict[str, Any]:
    """Ship ``run_dir/policy_file`` as ``<task>.pt``; with ``evaluate_episodes``, the provenance's evaluation is of the
    shipped file itself on seeds other than training's (12345, which picked ``best_policy.pt``)."""
    run_dir = Path(run_dir)
    policy = SolarPolicy.load(run_dir / policy_file, expect_task=task)
    evaluation = json.loads((run_dir / "evaluation.json").read_text()) if (run_dir / "evaluation.json").is_file() else None
    if evaluate_episodes:
        from anima.models.solar.eval_command import evaluate

        evaluation = evaluate(task, run_dir / policy_file, evaluate_episodes, eval_seed)
    history = json.loads((run_dir / "history.json").read_text()) if (run_dir / "history.json").is_file() else []
    prov = {"task": task, "command": command, "seed": policy.provenance.get("seed"),
            "episodes_trained": policy.provenance.get("episodes_trained"), "samples": policy.provenance.get("samples"),
            "wall_time_s": policy.provenance.get("wall_time_s"), "iteration": policy.provenance.get("iteration"),
            "evaluation": evaluation, "success_by_episodes": [[h["episodes_trained"], round(h["success_rate"], 3)] for h in history],
            "mean_policy_success_by_episodes": [[h["episodes_trained"], round(h["eval_success_rate"], 3)] for h in history
                                                if "eval_success_rate" in h],
            "config": yaml.safe_load((run_dir / "config.yaml").read_text()), "notes": notes,
            "policy_file": policy_file}
    policy.provenance = {**policy.provenance, "run_dir": str(run_dir)}
    dest.mkdir(parents=True, exist_ok=True)
    policy.save(dest / f"{task}.pt")
    write_text_atomic(dest / f"{task}.provenance.yaml", yaml.safe_dump(prov, sort_keys=False))
    return prov


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--task", required=True)
    p.add_argument("--command", required=True, help="the training command, recorded as provenance")
    p.add_argument("--notes", default="")
    p.add_argument("--policy-file", default="policy.pt", help="the run's policy file to ship (policy.pt or best_policy.pt)")
    p.add_argument("--evaluate", type=int, default=0, metavar="N", help="evaluate the shipped file on N episodes (seeds unlike training's)")
    args = p.parse_args()
    prov = ship(args.run_dir, args.task, args.command, notes=args.notes, policy_file=args.policy_file, evaluate_episodes=args.evaluate)
    print(yaml.safe_dump(prov, sort_keys=False))


if __name__ == "__main__":
    main()
