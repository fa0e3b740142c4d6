"""``anima demo baoding``: run the simulated ShadowHand + Baoding stack and say whether the balls turned.

The stack (bridge, PD controller, stereo tracker, ball estimator, PDDM planner with the shipped
model) runs for ``duration`` sim seconds with ``record:=true``; the report is computed afterwards
from the bag, so it reads what went over DDS:

- total rotation of the ball pair (the angle of ball_1 - ball_0 in the world's horizontal plane,
  unwrapped; counter-clockwise positive, as the Baoding env counts it), and the rotation before the
  first drop;
- drops (``sim/ground_truth/balls_dropped``) and when they happened (sim time);
- the planner's planning time (``last_plan_ms`` of its "pddm_planner: planner" status on
  ``/diagnostics``) and the rates of the stack's streams in sim time.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE_TOPICS = ("/joint_states", "/stereo/left/camera_info", "/balls/detections", "/balls/state", "/joint_targets")
RECORDED = ("/clock", "/sim/ground_truth/balls", "/sim/ground_truth/balls_dropped",
            "/diagnostics") + RATE_TOPICS
TURN_SUCCESS_RAD = np.pi  # the README's measure over ROS: half a turn before a drop


@dataclass
class DemoRun:
    exit_code: int
    report: dict
    output: str
    failures: list[str]


def pair_rotation_rad(positions: np.ndarray) -> np.ndarray:
    """(N, 2, 3) ball positions -> (N,) cumulative rotation of ball_1 - ball_0 about +z (rad)."""
    d = positions[:, 1, :2] - positions[:, 0, :2]
    angle = np.arctan2(d[:, 1], d[:, 0])
    step = np.angle(np.exp(1j * np.diff(angle)))
    return np.concatenate([[0.0], np.cumsum(step)])


def _sim_time_of(log_ns: np.ndarray, clock_log: np.ndarray, clock_sim: np.ndarray) -> np.ndarray:
    return np.interp(log_ns, clock_log, clock_sim) if len(clock_log) else np.full(len(log_ns), np.nan)


def analyse_bag(path: Path, task: str) -> dict:
    """The demo report from a recorded run (see the module docstring)."""
    from anima.ros_nodes._bag_io import decode_messages, read_messages

    series: dict[str, list] = {t: [] for t in RECORDED}
    for topic, log_ns, msg in decode_messages(path, set(RECORDED) - set(RATE_TOPICS)):
        series[topic].append((log_ns, msg))
    for m in read_messages(path, set(RATE_TOPICS)):  # rates need counts only
        series[m.topic].append((m.log_time_ns, None))
    clock_log = np.array([t for t, _ in series["/clock"]], dtype=np.float64)
    clock_sim = np.array([m.clock.sec + m.clock.nanosec * 1e-9 for _, m in series["/clock"]])
    r: dict = {"task": task, "sim_time_s": round(float(clock_sim[-1] - clock_sim[0]), 2) if len(clock_sim) else 0.0}
    balls = series["/sim/ground_truth/balls"]
    stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in balls])
    pos = np.array([[[t.translation.x, t.translation.y, t.translation.z] for t in m.transforms[:2]] for _, m in balls])
    drops = [(t, m.data) for t, m in series["/sim/ground_truth/balls_dropped"] if m.data]
    drop_sim = float(_sim_time_of(np.array([drops[0][0]], float), clock_log, clock_sim)[0]) if drops else None
    r["dropped"] = sorted({n for _, d in drops for n in d.split(",") if n})
    r["first_drop_sim_s"] = None if drop_sim is None else round(drop_sim, 2)
    if len(pos) > 1:
        rot = pair_rotation_rad(pos)
        before = rot[stamps <= drop_sim] if drop_sim is not None else rot
        r["rotation_deg"] = round(float(np.degrees(rot[-1])), 1)
        r["rotation_before_drop_deg"] = round(float(np.degrees(before[-1] if len(before) else 0.0)), 1)
        sign = {"ccw": 1.0, "cw": -1.0}.get(task)
        reached = float(np.max(sign * before)) if sign is not None and len(before) else 0.0
        r["turned_half_turn_before_drop"] = None if sign is None else reached >= TURN_SUCCESS_RAD
    r["plan_ms"] = _plan_ms(series["/diagnostics"])
    span = r["sim_time_s"]
    r["rates_hz"] = {t.lstrip("/"): round(len(series[t]) / span, 1) if span > 0 else None for t in RATE_TOPICS}
    return r


def _plan_ms(diagnostics: list) -> dict | None:
    """Percentiles of the planner's ``last_plan_ms`` over the run (0 = no plan yet: skipped)."""
    values = []
    for _, arr in diagnostics:
        for s in arr.status:
            if s.name == "pddm_planner: planner":
                ms = {kv.key: kv.value for kv in s.values}.get("last_plan_ms")
                if ms is not None and float(ms) > 0:
                    values.append(float(ms))
    if not values:
        return None
    v = np.asarray(values)
    return {"p50": round(float(np.percentile(v, 50)), 1), "p95": round(float(np.percentile(v, 95)), 1), "n": int(v.size)}


def run_demo(duration_s: float, task: str, real_time_factor: float, video: str | None, echo: bool) -> DemoRun:
    """Launch the Baoding stack for ``duration_s`` sim seconds, recorded; analyse the bag."""
    import os

    from anima import share_dir
    from anima.launcher import parse_launch_file, run_launch
    from anima.stack_run import _Tee

    with tempfile.TemporaryDirectory(prefix="anima-demo-") as tmp:
        bag = Path(tmp) / "demo.mcap"
        args = {"duration_s": str(duration_s), "task": task, "real_time_factor": str(real_time_factor),
                "record": "true", "bag": str(bag), "record_topics": ",".join(RECORDED)}
        if video:
            args["video"] = str(Path(video).absolute())
        env = dict(os.environ)
        env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        specs = parse_launch_file(share_dir() / "launch" / "shadowhand_baoding_sim.launch.xml", args, env)
        tee = _Tee(echo)
        rtf = real_time_factor if real_time_factor > 0 else 1.0
        result = run_launch(specs, timeout_s=duration_s / rtf * 4 + 90, stdout=tee)
        report = analyse_bag(bag, task) if bag.is_file() else {}
    failures = [f"{n.name}: {n.reason}" for n in result.nodes if n.failed]
    return DemoRun(result.exit_code, report, tee.buffer_.getvalue(), failures)


def print_report(r: dict) -> None:
    if not r.get("sim_time_s"):
        print("no recording of the run: the stack did not run (use --verbose to see the nodes' output)")
        print(f"anima launch exit code: {r.get('launch_exit_code')}")
        return
    print(f"ShadowHand Baoding simulated stack, task {r['task']}: {r['sim_time_s']:.1f} s of sim time")
    print(f"  ball rotation (ccw +)  : {r.get('rotation_deg')} deg in total, "
          f"{r.get('rotation_before_drop_deg')} deg before the first drop")
    if r.get("turned_half_turn_before_drop") is not None:
        print(f"  half a turn, no drop   : {'yes' if r['turned_half_turn_before_drop'] else 'NO'}")
    print(f"  drops                  : {', '.join(r['dropped']) or 'none'}"
          + (f" (first at {r['first_drop_sim_s']} s)" if r.get("first_drop_sim_s") is not None else ""))
    plan = r.get("plan_ms")
    print("  planning time (ms)     : " + (f"p50 {plan['p50']}  p95 {plan['p95']} ({plan['n']} plans)" if plan else "no plans reported"))
    print("  rates (Hz, sim time)   : " + ", ".join(f"{k} {v}" for k, v in r.get("rates_hz", {}).items()))
    print(f"  anima launch exit code : {r['launch_exit_code']}"
          + (f" (failed: {'; '.join(r['launch_failures'])})" if r.get("launch_failures") else ""))
