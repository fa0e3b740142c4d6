"""Run a launch file with its monitor and collect what the demo and the benchmark report.

Shared by ``anima demo`` and ``anima bench bridge``: starts the stack through the launcher (real
processes, real DDS), captures the prefixed output, samples each node's CPU time from ``/proc``
and returns the monitor's JSON report together with the bridge's command-latency line.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from anima import share_dir
from anima.ros_env import apply_network_rule, ensure_domain_id

_LATENCY = re.compile(r"command latency ms: p50 ([0-9.]+) p99 ([0-9.]+) \(n=(\d+)\)")
_GUARD = re.compile(r"command guard: accepted (\d+), rejected (\d+) \(future stamp (\d+), names (\d+), values (\d+)\), "
                    r"torque clamped (\d+) commands \((\d+) joints\), watchdog timeouts (\d+)")
_GUARD_KEYS = ("accepted", "rejected", "rejected_future_stamp", "rejected_names", "rejected_values",
               "torque_clamped_commands", "torque_clamped_joints", "watchdog_timeouts")


@dataclass
class StackRun:
    exit_code: int
    report: dict
    output: str
    cpu_s: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # node -> [(wall, cpu_s)]
    end_wall: float = 0.0
    failures: list[str] = field(default_factory=list)  # "node: reason" for each node that failed

    def latency_ms(self) -> tuple[float, float, int] | None:
        m = _LATENCY.search(self.output)
        return (float(m.group(1)), float(m.group(2)), int(m.group(3))) if m else None

    def command_guard(self) -> dict[str, int] | None:
        """The bridge's command-guard counters (its ``command guard: ...`` line at exit), or None."""
        m = _GUARD.search(self.output)
        return dict(zip(_GUARD_KEYS, map(int, m.groups()))) if m else None

    def node_output(self, name: str, last: int = 30) -> list[str]:
        """The last ``last`` lines node ``name`` printed (``anima launch`` prefixes them ``[name] ``)."""
        prefix = f"[{name}] "
        return [line[len(prefix):] for line in self.output.splitlines() if line.startswith(prefix)][-last:]

    def cpu_s_per_sim_s(self) -> dict[str, float]:
        """CPU seconds per simulated second per node over the monitored window (startup excluded)."""
        rtf, span = self.report.get("real_time_factor"), self.report.get("sim_time_s")
        if not rtf or not span:
            return {}
        start = self.end_wall - span / rtf
        out = {name: (_cpu_at(s, self.end_wall) - _cpu_at(s, start)) / span for name, s in self.cpu_s.items() if s}
        out = {k: round(v, 4) for k, v in out.items()}
        out["total"] = round(sum(out.values()), 4)
        return out


def _cpu_at(samples: list[tuple[float, float]], wall: float) -> float:
    """CPU time at ``wall`` by linear interpolation between samples (clamped at the ends)."""
    prev = samples[0]
    for cur in samples:
        if cur[0] >= wall:
            if cur[0] == prev[0]:
                return cur[1]
            u = (wall - prev[0]) / (cur[0] - prev[0])
            return prev[1] + u * (cur[1] - prev[1])
        prev = cur
    return samples[-1][1]


class _CpuSampler(threading.Thread):
    """Samples utime+stime of this process's child processes, keyed by their ROS node name."""

    def __init__(self, period_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self._period = period_s
        self._halt = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self._halt.wait(self._period):
            now = time.perf_counter()
            for pid, name, cpu in _children(os.getpid(), self._tick):
                self.samples.setdefault(name, []).append((now, cpu))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _children(ppid: int, tick: int) -> list[tuple[int, str, float]]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) != ppid:
                continue
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        name = next((c.decode()[len("__node:=") :] for c in cmd if c.startswith(b"__node:=")), None)
        if name:
            out.append((int(entry), name, (int(fields[11]) + int(fields[12])) / tick))
    return out


class _Tee(io.TextIOBase):
    def __init__(self, echo: bool) -> None:
        self.buffer_ = io.StringIO()
        self._echo = echo
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.buffer_.write(text)
            if self._echo:
                sys.stdout.write(text)
                sys.stdout.flush()
        return len(text)


def run_stack(launch_file: str, args: dict[str, str], timeout_s: float, echo: bool = False) -> StackRun:
    """Launch ``launch/<launch_file>`` with ``monitor:=true`` and return its report and output."""
    from anima.launcher import parse_launch_file, run_launch

    with tempfile.TemporaryDirectory(prefix="anima-run-") as tmp:
        report_path = Path(tmp) / "report.json"
        launch_args = {**args, "monitor": "true", "report_path": str(report_path)}
        env = apply_network_rule(dict(os.environ))
        claim = ensure_domain_id(env)
        how = "claimed for this run; set ROS_DOMAIN_ID to choose" if claim else "from the environment"
        print(f"anima: ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']} ({how})", file=sys.stderr, flush=True)
        specs = parse_launch_file(share_dir() / "launch" / launch_file, launch_args, env)
        tee = _Tee(echo)
        sampler = _CpuSampler()
        sampler.start()
        result = run_launch(specs, timeout_s=timeout_s, stdout=tee)
        end = time.perf_counter()
        sampler.stop()
        report = json.loads(report_path.read_text()) if report_path.is_file() else {}
        if claim is not None:
            claim.release()
    failures = [f"{n.name}: {n.reason}" for n in result.nodes if n.failed]
    run = StackRun(result.exit_code, report, tee.buffer_.getvalue(), sampler.samples, failures=failures)
    run.end_wall = _monitor_end(sampler.samples, end)
    return run


def _monitor_end(samples: dict[str, list[tuple[float, float]]], fallback: float) -> float:
    """Wall time the monitor last ran (it ends the run), else the launch's end."""
    mon = samples.get("stack_monitor")
    return mon[-1][0] if mon else fallback
