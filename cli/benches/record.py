"""``anima bench record``: the recorder's cost and losses on the simulated Laikago stack.

Two launched runs of ``laikago_sim.launch.xml`` at real time in one benchmark:
1. the reference: the stack without recording (CPU per node per sim second);
2. the same with ``record:=true``: ``recorder_cpu_s_per_sim_s`` (the recorder process's CPU
   seconds per simulated second over the monitored window) and ``messages_lost``: gaps in the
   stamps of the fixed-rate topics (``joint_states``, ``imu/data``, ``joint_commands`` every
   2 ms, ``/clock`` every 4 ms of sim time) between the first and last recorded message, read
   back from the bag.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

HELP = "CPU per sim second and lost messages of recording the simulated Laikago stack"
FIXED_RATE_NS = {"/joint_states": 2_000_000, "/imu/data": 2_000_000, "/joint_commands": 2_000_000, "/clock": 4_000_000}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim-seconds", type=float, default=10.0, help="sim seconds per launched run")


def lost_messages(bag: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Per fixed-rate topic: messages missing between the first and last stamp, and messages recorded."""
    from anima.ros_nodes._bag_io import decode_messages

    stamps: dict[str, list[int]] = {t: [] for t in FIXED_RATE_NS}
    for topic, _log_ns, msg in decode_messages(bag, set(FIXED_RATE_NS)):
        s = msg.clock if topic == "/clock" else msg.header.stamp
        stamps[topic].append(s.sec * 1_000_000_000 + s.nanosec)
    lost, counts = {}, {}
    for topic, period in FIXED_RATE_NS.items():
        v = np.unique(np.asarray(stamps[topic], dtype=np.int64))
        counts[topic] = len(stamps[topic])
        lost[topic] = int((v[-1] - v[0]) // period + 1 - len(v)) if len(v) else 0
    return lost, counts


def run(args: argparse.Namespace) -> dict:
    from anima.stack_run import run_stack

    common = {"duration_s": str(args.sim_seconds), "real_time_factor": "1.0"}
    timeout = args.sim_seconds * 6 + 60
    out: dict = {"sim_seconds": args.sim_seconds}
    ref = run_stack("laikago_sim.launch.xml", common, timeout_s=timeout)
    ref_cpu = ref.cpu_s_per_sim_s()
    ref_cpu.pop("stack_monitor", None)
    ref_cpu.pop("total", None)
    out["stack_cpu_s_per_sim_s_unrecorded"] = round(sum(ref_cpu.values()), 4)
    with tempfile.TemporaryDirectory(prefix="anima-bench-record-") as tmp:
        bag = Path(tmp) / "bench.mcap"
        rec = run_stack("laikago_sim.launch.xml", {**common, "record": "true", "bag": str(bag)}, timeout_s=timeout)
        cpu = rec.cpu_s_per_sim_s()
        cpu.pop("stack_monitor", None)
        cpu.pop("total", None)
        out["recorder_cpu_s_per_sim_s"] = cpu.pop("recorder", None)
        out["stack_cpu_s_per_sim_s_recorded"] = round(sum(cpu.values()), 4)
        if bag.is_file():
            lost, counts = lost_messages(bag)
            out["messages_lost"] = sum(lost.values())
            out["messages_lost_per_topic"] = lost
            out["messages_recorded_fixed_rate"] = counts
            out["bag_mb_per_sim_s"] = round(bag.stat().st_size / 1e6 / args.sim_seconds, 3)
        else:
            out["messages_lost"] = None
    out["rtf"] = [ref.report.get("real_time_factor"), rec.report.get("real_time_factor")]
    out["stood"] = [ref.report.get("stood"), rec.report.get("stood")]
    out["launch_exit_codes"] = [ref.exit_code, rec.exit_code]
    out["launch_failures"] = ref.failures + rec.failures
    return out
