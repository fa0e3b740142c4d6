"""``anima adapt``: adapt an adaptive imitation policy to a target domain by AWR over its latent z.

Examples::

    anima adapt --policy runs/adaptive/checkpoint.pt --domain out_weak_motors --episodes 50 --json
    anima adapt --policy shipped --robust-policy shipped --domain config/adaptation/in_heavy_weak.yaml
    anima adapt --policy P --domain D --episodes 50 --ros                # each episode through the launched stack
    anima adapt --policy P --episodes 50 --ros --operator               # on a robot: a person resets between episodes

The procedure (``anima.models.adaptation.run``) is the same in process and over ROS. It writes
``adaptation.json`` (curve, distribution, best z) and ``adapted_z.yaml`` (the best z as an
``imitation_policy`` parameter file) to ``--out`` after every episode, and ``adaptation.png``.
``--json`` prints one object: ``return_unadapted``, ``return_adapted``, ``return_robust`` (null with
``return_robust_reason`` without a robust policy), ``episodes_used``, ``adapted_z``, ...
Exit codes: 0 done, 2 bad input (a policy without z, a bad domain file), 130 aborted (best z saved).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HELP = "adapt an adaptive imitation policy's latent z to a target domain (AWR), in process or over ROS"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, help="adaptive policy file (anima train imitation --adaptive) or 'shipped'")
    parser.add_argument("--domain", default="nominal", help="target domain: a name in config/adaptation/ or a YAML file "
                        "(default: the nominal robot); over ROS the simulated robot gets it, a real robot ignores it")
    parser.add_argument("--episodes", type=int, default=50, help="search budget in episodes (default 50)")
    parser.add_argument("--robust-policy", help="robust baseline policy (--robust) or 'shipped', for return_robust")
    parser.add_argument("--seed", type=int, default=0, help="seed of the search and the episodes (default 0)")
    parser.add_argument("--out", type=Path, help="output folder (default runs/adapt_<domain>_<UTC time>)")
    parser.add_argument("--config", type=Path, help="search settings (default config/adaptation_search.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a search setting, e.g. awr.temperature=1.0 or episode_s=10 (repeatable)")
    parser.add_argument("--ros", action="store_true", help="run each episode through the launched ROS stack")
    parser.add_argument("--operator", action="store_true", help="with --ros: wait for a person to reset the robot "
                        "and confirm before each episode (q aborts, saving the best z)")
    parser.add_argument("--real-time-factor", type=float, default=1.0, help="with --ros: sim speed (default 1 = real time)")
    parser.add_argument("--json", action="store_true", help="print only one JSON object")


SHIPPED = {"adaptive": "{motion}_adaptive.pt", "robust": "{motion}_robust.pt"}


def resolve(policy: str, kind: str, motion: str = "dog_pace") -> Path:
    """'shipped' -> models/imitation/data/<motion>_<kind>.pt (an error naming it when absent); else a path."""
    from anima.models.imitation.evaluate import SHIPPED_DIR

    if policy != "shipped":
        path = Path(policy)
    else:
        path = SHIPPED_DIR / SHIPPED[kind].format(motion=motion)
        if not path.is_file():
            raise ValueError(f"no shipped {kind} policy yet ({path}); pass a file from "
                             f"`anima train imitation --{kind}`")
    if not path.is_file():
        raise ValueError(f"{policy}: no such policy file")
    return path


def _domain(name: str) -> Any:
    from anima.models.adaptation.domain import TargetDomain, load_domain

    return TargetDomain() if name == "nominal" else load_domain(name)


def _setup(args: argparse.Namespace) -> tuple[Any, Any, Any, Path | None, str | None]:
    from anima.controllers.config_loader import parse_override
    from anima.models.adaptation.run import load_adapt_config
    from anima.models.adaptation.sim_episodes import load_adaptive_policy
    from anima.models.imitation.policy import ImitationPolicy

    config = load_adapt_config(args.config, dict(parse_override(item) for item in args.set))
    policy = load_adaptive_policy(resolve(args.policy, "adaptive"))
    domain = _domain(args.domain)
    robust_path, reason = None, None
    if args.robust_policy:
        robust_path = resolve(args.robust_policy, "robust", str(policy.spec.get("motion")))
        robust = ImitationPolicy.load(robust_path)
        if robust.latent_dim:
            raise ValueError(f"{robust_path}: --robust-policy takes a policy without z (anima train imitation --robust)")
    else:
        reason = "no robust policy given (--robust-policy FILE|shipped)"
    if args.operator and not args.ros:
        raise ValueError("--operator needs --ros (a person resets the robot between episodes of the launched stack)")
    return config, policy, domain, robust_path, reason


def run(args: argparse.Namespace) -> int:
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if args.json else (lambda msg: print(msg, flush=True))
    try:
        config, policy, domain, robust_path, reason = _setup(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"anima adapt: {err}", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / f"adapt_{domain.name}_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}"
    meta = {"policy": str(resolve(args.policy, "adaptive")), "robust_policy": None if robust_path is None else str(robust_path),
            "domain": domain.name, "ros": args.ros, "operator": args.operator}
    quiet = _stdout_to_stderr() if args.json else contextlib.nullcontext()
    with quiet:
        code, state = _adapt(args, config, policy, domain, robust_path, out, meta, log)
    if state is None:
        return code
    _plot(state, out / "adaptation.png")
    summary = _summary(state, out, reason)
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        for key in ("return_unadapted", "return_adapted", "return_robust", "episodes_used", "adapted_z", "out"):
            print(f"{key:18s} {summary[key]}")
    return 0


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send file descriptor 1 to stderr (PyBullet's C library prints to it), so --json's stdout is one object."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _adapt(args: argparse.Namespace, config: Any, policy: Any, domain: Any, robust_path: Path | None, out: Path,
           meta: dict[str, Any], log: Any) -> tuple[int, dict[str, Any] | None]:
    from anima.models.adaptation.run import AdaptationAborted, adapt

    try:
        runner = _runner(args, config, policy, domain, robust_path)
    except (ValueError, RuntimeError) as err:
        print(f"anima adapt: {err}", file=sys.stderr)
        return 2, None
    try:
        return 0, adapt(runner, policy.latent_dim, config, args.episodes, args.seed, out, robust=robust_path is not None,
                        log=log, meta=meta)
    except AdaptationAborted as err:
        print(f"anima adapt: {err}", file=sys.stderr)
        return 130, None
    except ValueError as err:
        print(f"anima adapt: {err}", file=sys.stderr)
        return 2, None
    finally:
        runner.close()


def _runner(args: argparse.Namespace, config: Any, policy: Any, domain: Any, robust_path: Path | None) -> Any:
    if args.ros:
        from anima.ros_adapt import RosEpisodes

        return RosEpisodes(resolve(args.policy, "adaptive"), args.domain, config.episode_s, robust_path,
                           operator=args.operator, real_time_factor=args.real_time_factor, log=lambda m: print(m, file=sys.stderr, flush=True))
    from anima.models.adaptation.sim_episodes import SimEpisodes
    from anima.models.imitation.policy import ImitationPolicy

    robust = ImitationPolicy.load(robust_path) if robust_path else None
    return SimEpisodes(policy, domain, config.episode_s, robust)


def _summary(state: dict[str, Any], out: Path, reason: str | None) -> dict[str, Any]:
    search = state["search"]
    summary = {"return_unadapted": state.get("return_unadapted"), "return_adapted": state.get("return_adapted"),
               "return_robust": state.get("return_robust"), "episodes_used": state["episodes_used"],
               "adapted_z": search["best_z"], "best_search_return": search["best_return"],
               "search_mean": search["mean"], "domain": state["meta"]["domain"], "ros": state["meta"]["ros"],
               "wall_s": state["wall_s"], "out": str(out)}
    if summary["return_robust"] is None:
        summary["return_robust_reason"] = reason
    gt = [e.get("ground_truth_return") for e in state["episodes"] if e.get("ground_truth_return") is not None]
    if gt:  # over ROS in simulation: the ground-truth score beside the on-robot one, never used by the search
        summary["ground_truth"] = {phase: _mean_of(state, phase, "ground_truth_return")
                                   for phase in ("unadapted", "search", "adapted", "robust")}
    return summary


def _mean_of(state: dict[str, Any], phase: str, key: str) -> float | None:
    values = [e[key] for e in state["episodes"] if e["phase"] == phase and e.get(key) is not None]
    return sum(values) / len(values) if values else None


def _plot(state: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anima.models.checkpoint import atomic_write

    returns = [e["return"] for e in state["episodes"] if e["phase"] == "search"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(returns) + 1), returns, "o-", ms=3, label="search episode")
    best = [max(returns[: k + 1]) for k in range(len(returns))]
    ax.plot(range(1, len(returns) + 1), best, "-", label="best so far")
    for key, style in (("return_unadapted", "--"), ("return_adapted", "-."), ("return_robust", ":")):
        if state.get(key) is not None:
            ax.axhline(state[key], ls=style, color="gray", label=key.replace("return_", ""))
    ax.set_xlabel("episode")
    ax.set_ylabel("return per step")
    ax.set_title(f"AWR latent adaptation: {state['meta'].get('domain')}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
