"""``anima launch FILE [name:=value ...]``: run an XML launch file (the subset in ARCHITECTURE.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "run an XML launch file: anima launch FILE [name:=value ...] [--timeout S] [--print]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="launch file path, or a file name under $(find-pkg-share anima)/launch; "
                                     "'anima launch anima NAME' also works, as with ros2 launch")
    parser.add_argument("launch_args", nargs=argparse.REMAINDER, metavar="name:=value ...",
                        help="launch arguments; the options below may also come after them")
    _add_options(parser, None)


def _add_options(parser: argparse.ArgumentParser, suppress: object | None) -> None:
    """The options, also accepted after FILE (argparse alone cannot intermix them with REMAINDER)."""
    def default(value: object) -> object:
        return value if suppress is None else suppress

    parser.add_argument("--timeout", type=float, default=default(None), metavar="S",
                        help="stop everything after S wall seconds (exit 0 if all nodes were healthy)")
    parser.add_argument("--grace", type=float, default=default(5.0), metavar="S",
                        help="seconds between SIGINT and SIGKILL when stopping (default 5)")
    parser.add_argument("--print", dest="dry_run", action="store_true", default=default(False),
                        help="print the resolved command lines and environment overrides; start nothing")


def _locate(file: str, launch_args: list[str]) -> tuple[Path, list[str]]:
    """Resolve FILE (path, share-dir name, or 'anima NAME'); return it and the remaining args."""
    from anima import share_dir

    if file == "anima" and launch_args and ":=" not in launch_args[0]:
        return share_dir() / "launch" / launch_args[0], launch_args[1:]
    path = Path(file)
    if not path.exists() and not path.is_absolute() and len(path.parts) == 1:
        candidate = share_dir() / "launch" / file
        if candidate.exists():
            return candidate, launch_args
    return path, launch_args


def _reparse(args: argparse.Namespace) -> None:
    """Move options that came after FILE out of ``args.launch_args`` into ``args``."""
    late = argparse.ArgumentParser(prog="anima launch", add_help=False)
    late.add_argument("launch_args", nargs="*")
    _add_options(late, argparse.SUPPRESS)
    for key, value in vars(late.parse_intermixed_args(args.launch_args)).items():
        setattr(args, key, value)


def run(args: argparse.Namespace) -> int:
    _reparse(args)
    if args.timeout is not None and args.timeout < 0 or args.grace < 0:
        print("anima launch: error: --timeout and --grace must be >= 0", file=sys.stderr)
        return 2
    claim = None if args.dry_run else _claim_domain()
    try:
        return _run(args)
    finally:
        if claim is not None:
            claim.release()


def _run(args: argparse.Namespace) -> int:
    from anima.launcher import LaunchError, parse_launch_args, parse_launch_file, run_launch

    try:
        path, rest = _locate(args.file, list(args.launch_args))
        specs = parse_launch_file(path, parse_launch_args(rest))
    except (LaunchError, ValueError, FileNotFoundError) as exc:
        print(f"anima launch: error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        for spec in specs:
            print(spec.describe())
        return 0
    if not specs:
        print(f"anima launch: {path} starts no processes", file=sys.stderr)
        return 0
    result = run_launch(specs, timeout_s=args.timeout, grace_s=args.grace)
    return result.exit_code


def _claim_domain():  # -> DomainClaim | None
    """This run's own ROS_DOMAIN_ID (unless the environment sets one), printed on stderr."""
    import os

    from anima.ros_env import apply_network_rule, ensure_domain_id

    claim = ensure_domain_id(os.environ)
    apply_network_rule(os.environ)
    how = "claimed for this run; set ROS_DOMAIN_ID to choose" if claim else "from the environment"
    print(f"anima launch: ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']} ({how})", file=sys.stderr, flush=True)
    return claim
