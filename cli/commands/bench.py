"""``anima bench NAME [--json]``: run one benchmark of ``anima.benches`` and print its results."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys

from anima import benches

HELP = "run a benchmark and print one JSON object (see BENCHMARKS.md)"


def _names() -> list[str]:
    return sorted(i.name for i in pkgutil.iter_modules(benches.__path__) if not i.name.startswith("_"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name in _names():
        module = importlib.import_module(f"{benches.__name__}.{name}")
        p = sub.add_parser(name, help=getattr(module, "HELP", ""))
        p.add_argument("--json", action="store_true", help="print only the JSON object")
        if hasattr(module, "add_arguments"):
            module.add_arguments(p)
        p.set_defaults(_bench=module.run)


def _measure(args: argparse.Namespace) -> dict:
    """Run the benchmark with the process's stdout (fd 1) sent to stderr, so C libraries that
    print (PyBullet's build banner) cannot corrupt the one JSON object on stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        return args._bench(args)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run(args: argparse.Namespace) -> int:
    from anima.ros_env import apply_network_rule, ensure_domain_id

    # The network rule for every benchmark that starts rclpy, in process or as launched nodes.
    claim = ensure_domain_id(os.environ)
    apply_network_rule(os.environ)
    how = "claimed for this run; set ROS_DOMAIN_ID to choose" if claim else "from the environment"
    print(f"anima bench: ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']} ({how})", file=sys.stderr, flush=True)
    try:
        result = _measure(args)
    finally:
        if claim is not None:
            claim.release()
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key, value in sorted(result.items()):
            print(f"{key:32s} {value}")
    return 0
