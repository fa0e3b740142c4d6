"""``anima eval SKILL ...``: evaluate a trained skill and print (or write) its metrics.

``anima eval imitation --policy P --motion M --episodes N [--json] [--as-node]``: the imitation
policy ``P`` (a file, or ``shipped``) on motion ``M`` (``anima.models.imitation.evaluate``), in
process; ``--as-node`` evaluates it under the ``imitation_policy`` node's conditions through the
evaluator named in ``AS_NODE_EVALUATOR`` (provided with that node).

``anima eval vice_raq --task push [--policy P] [--episodes N] [--json]``: a VICE-RAQ policy (default:
the shipped one) scored by ground-truth success (``anima.models.vice_raq.eval_command``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

HELP = "evaluate a trained skill (imitation, vice_raq, solar) and print its metrics"

# module:function taking (policy_path, motion, episodes, seconds, seed, log) -> dict; lives with the node.
AS_NODE_EVALUATOR = "anima.models.imitation.as_node:evaluate_as_node"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="skill", metavar="SKILL", required=True)
    p = sub.add_parser("imitation", help="Laikago motion imitation policy: return, pose error, drift, survival, speed")
    p.add_argument("--policy", required=True, help="policy or checkpoint file (.pt), or 'shipped'")
    p.add_argument("--motion", default="dog_pace", help="shipped clip name or JSON path (default dog_pace)")
    p.add_argument("--episodes", type=int, default=10, help="episodes (default 10)")
    p.add_argument("--seconds", type=float, default=20.0, help="episode length in simulated seconds (default 20)")
    p.add_argument("--seed", type=int, default=12345, help="seed of the first episode (default 12345)")
    p.add_argument("--profile", choices=("paper", "training"), default="paper",
                   help="physics profile (default paper: 1 kHz)")
    p.add_argument("--as-node", action="store_true", help="evaluate under the imitation_policy node's conditions")
    p.add_argument("--json", action="store_true", help="print only one JSON object")
    p.add_argument("-o", "--output", type=Path, help="also write the JSON to this file")
    p.set_defaults(_eval=run_imitation)
    v = sub.add_parser("vice_raq", help="Sawyer VICE-RAQ policy: success_rate, queries_used, goal_examples_used")
    from anima.models.vice_raq import eval_command

    eval_command.add_arguments(v)
    v.set_defaults(_eval=eval_command.run)
    from anima.models.solar import eval_command as solar_eval

    so = sub.add_parser("solar", help="SOLAR policy from images: success_rate, episodes_trained")
    solar_eval.add_arguments(so)
    so.set_defaults(_eval=solar_eval.run)


def _as_node_evaluator():
    module, func = AS_NODE_EVALUATOR.split(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError):
        return None


def run(args: argparse.Namespace) -> int:
    return int(args._eval(args) or 0)


def run_imitation(args: argparse.Namespace) -> int:
    from anima.models.imitation.evaluate import evaluate_policy, resolve_policy_path

    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    try:
        path = resolve_policy_path(args.policy, args.motion)
        if args.as_node:
            evaluator = _as_node_evaluator()
            if evaluator is None:
                raise ValueError(f"--as-node needs {AS_NODE_EVALUATOR} (the imitation_policy node's evaluator), "
                                 "which this installation lacks")
            result = evaluator(path, args.motion, args.episodes, args.seconds, args.seed, log)
        else:
            result = evaluate_policy(path, args.motion, args.episodes, args.seconds, args.seed, args.profile, log)
    except ValueError as err:
        print(f"anima eval imitation: {err}", file=sys.stderr)
        return 2
    text = json.dumps(result, sort_keys=True)
    if args.output:
        tmp = args.output.with_name(f".{args.output.name}.tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(args.output)
    if args.json:
        print(text)
    else:
        for key in ("normalized_return", "pose_error_rad_rms", "root_drift_m_per_cycle", "survival_rate", "speed_ratio"):
            print(f"{key:24s} {result[key]}")
    return 0
