"""``anima train ALGORITHM ...``: train a skill; one sub-command per learning method.

Each algorithm lives in its own module (listed in ``ALGORITHMS``) that defines ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; adding a method is one line here. Modules are
imported when the parser is built, so they must import their heavy dependencies inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib

HELP = "train a skill (imitation, pddm, vice_raq, ...) and write checkpoints, TensorBoard logs, plots and videos"

ALGORITHMS: dict[str, str] = {
    "imitation": "anima.models.imitation.command",
    "pddm": "anima.models.pddm.command",
    "solar": "anima.models.solar.command",
    "solar_baseline": "anima.models.solar.baseline_command",
    "vice_raq": "anima.models.vice_raq.command",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="algorithm", metavar="ALGORITHM", required=True)
    for name, module_name in sorted(ALGORITHMS.items()):
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_train=module.run)


def run(args: argparse.Namespace) -> int:
    return int(args._train(args) or 0)
