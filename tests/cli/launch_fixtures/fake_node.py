"""A stand-in node for the launcher tests: stdlib only, configurable by flags.

Everything from ``--ros-args`` on is ignored (the launcher always appends it). By default the
node prints ``ready``, sleeps until SIGINT, prints ``bye`` and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time


def main() -> int:
    argv = sys.argv[1:]
    own = argv[: argv.index("--ros-args")] if "--ros-args" in argv else argv
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--exit-after", type=float, default=None, help="exit by itself after S seconds")
    parser.add_argument("--code", type=int, default=0, help="exit code when exiting by itself")
    parser.add_argument("--stop-code", type=int, default=0, help="exit code after SIGINT")
    parser.add_argument("--lines", type=int, default=0, help="print this many numbered lines first")
    parser.add_argument("--touch", default=None, help="create this file once ready (SIGINT handler set)")
    parser.add_argument("--after-file", default=None, help="start the --exit-after clock once this file exists")
    parser.add_argument("--echo", action="store_true", help="print argv and ANIMA_*/ROS_* env as JSON")
    opts = parser.parse_args(own)
    if opts.echo:
        env = {k: v for k, v in os.environ.items() if k.startswith(("ANIMA_", "ROS_", "PYTHONUNBUFFERED"))}
        print(json.dumps({"argv": sys.argv[1:], "env": env}))
    for i in range(opts.lines):
        print(f"line {i}")
    stopping: list[bool] = []
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    print("ready", flush=True)
    if opts.touch:
        open(opts.touch, "w").close()
    deadline = None
    while not stopping:
        if deadline is None and opts.exit_after is not None:
            if opts.after_file is None or os.path.exists(opts.after_file):
                deadline = time.monotonic() + opts.exit_after
        if deadline is not None and time.monotonic() >= deadline:
            print(f"exiting with {opts.code}", flush=True)
            return opts.code
        time.sleep(0.01)
    print("bye", flush=True)
    return opts.stop_code


if __name__ == "__main__":
    sys.exit(main())
