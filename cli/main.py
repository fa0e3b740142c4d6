"""The ``anima`` command line: ``anima <command> ...``; commands are the modules of ``anima.commands``
(module ``query_panel`` is command ``query-panel``)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

from anima import __version__, commands


def _command_modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(commands.__path__):
        if not info.name.startswith("_"):
            found[info.name] = importlib.import_module(f"{commands.__name__}.{info.name}")
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anima", description="Anima robot skill stack")
    parser.add_argument("--version", action="version", version=f"anima {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in sorted(_command_modules().items()):
        cmd = sub.add_parser(name.replace("_", "-"), help=getattr(module, "HELP", ""), description=getattr(module, "HELP", ""))
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
