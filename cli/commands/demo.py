"""``anima demo laikago|baoding``: run a simulated stack headless for a bounded time and report.

``anima demo baoding``: see :mod:`anima.demo_baoding` (ball rotation, drops, planning time, rates).

Starts ``launch/laikago_sim.launch.xml`` (bridge, PD controller, state estimator, pose_hold and
the stack monitor) as real processes over DDS on loopback, lets the robot rise from its crouch and
stand (or cycle crouch-stand), presses the e-stop near the end if asked, and prints whether it
stood, the estimator's velocity error against ground truth, the rates and the command latency.

``--skill pace`` (or trot, ... any clip with a policy) runs ``launch/laikago_imitation_sim.launch.xml``
instead: the imitation policy node in place of pose_hold. The report adds how far the robot went
against the reference clip's distance over the same time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "run a simulated stack (laikago, baoding) headless for a bounded time and print a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("robot", choices=["laikago", "baoding"], help="which simulated stack")
    parser.add_argument("--duration", type=float, default=15.0, help="sim seconds to run (default 15)")
    parser.add_argument("--task", choices=["ccw", "cw", "goto"], default="ccw", help="baoding: the planner's task")
    parser.add_argument("--video", metavar="PATH.mp4", help="also write an mp4 of the run (fixed view, 30 fps)")
    parser.add_argument("--crouch", action="store_true", help="crouch-stand cycle instead of holding the stance")
    parser.add_argument("--estop-at", type=float, default=-1.0, help="sim time to press the e-stop (default: never)")
    parser.add_argument("--skill", default="stand",
                        help="stand (pose_hold) or a motion to imitate with its policy: pace, trot, ... (anima motion list)")
    parser.add_argument("--policy", default="shipped", help="with --skill: 'shipped' or a policy file")
    parser.add_argument("--real-time-factor", type=float, default=1.0, help="1 = real time, 0 = as fast as possible")
    parser.add_argument("--verbose", action="store_true", help="show the nodes' output")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")


def run(args: argparse.Namespace) -> int:
    from anima.stack_run import run_stack

    if args.duration <= 0:
        raise SystemExit(f"--duration must be > 0, got {args.duration}")
    if args.robot == "baoding":
        return _run_baoding(args)
    launch_args = {
        "duration_s": str(args.duration),
        "estop_at_s": str(args.estop_at),
        "real_time_factor": str(args.real_time_factor),
    }
    launch_file, reference = "laikago_sim.launch.xml", None
    if args.skill == "stand":
        launch_args["crouch_cycle"] = "true" if args.crouch else "false"
    else:
        reference = _skill_reference(args.skill, args.policy)
        launch_file = "laikago_imitation_sim.launch.xml"
        launch_args.update(motion=args.skill, policy=args.policy)
    if args.video:
        launch_args["video"] = str(Path(args.video).absolute())
    rtf = args.real_time_factor if args.real_time_factor > 0 else 1.0
    run_ = run_stack(launch_file, launch_args, timeout_s=args.duration / rtf * 3 + 60, echo=args.verbose)
    report = dict(run_.report)
    if reference is not None:
        report.update(_skill_report(args.skill, reference, report))
    latency = run_.latency_ms()
    if latency:
        report["command_latency_ms_p50"], report["command_latency_ms_p99"], _n = latency
    guard = run_.command_guard()
    if guard:
        report["command_guard"] = guard
    report["launch_exit_code"] = run_.exit_code
    report["launch_failures"] = run_.failures
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        _print_report(report)
        if not args.verbose:  # what a failed node said last (with --verbose it was shown as it ran)
            for failure in run_.failures:
                name = failure.split(":", 1)[0]
                print(f"  last output of {name}:")
                print("\n".join(f"    {line}" for line in run_.node_output(name)) or "    (none)")
    ok = run_.exit_code == 0 and report.get("stood") is True
    if reference is not None:
        ok = ok and (report.get("distance_ratio") or 0.0) >= 0.5
    return 0 if ok else 1


def _skill_reference(skill: str, policy: str) -> float:
    """The clip's forward speed (m/s, root x-y displacement over one cycle); SystemExit with a
    one-line message when the motion or its policy is missing or made for something else."""
    import numpy as np

    from anima.models.imitation.policy_runner import load_policy, resolve_motion
    from anima.models.motion.format import load_motion

    try:
        path = resolve_motion(skill)
        load_policy(policy, path.stem)
    except ValueError as err:
        raise SystemExit(f"anima demo laikago --skill {skill}: {err}") from None
    clip = load_motion(path)
    xy = clip.root_position()[:, :2]
    return float(np.linalg.norm(xy[-1] - xy[0]) / clip.duration)


def _skill_report(skill: str, speed: float, report: dict) -> dict:
    """Distance the robot went after settling against the reference's distance over that time."""
    disp, span = report.get("base_displacement_xy_m"), report.get("base_displacement_duration_s")
    out: dict = {"skill": skill, "reference_speed_mps": round(speed, 4)}
    if disp is None or not span:
        return out
    distance = float((disp[0] ** 2 + disp[1] ** 2) ** 0.5)
    out.update(distance_m=round(distance, 4), reference_distance_m=round(speed * span, 4),
               distance_ratio=round(distance / (speed * span), 3) if speed > 0 else None)
    return out


def _run_baoding(args: argparse.Namespace) -> int:
    from anima.demo_baoding import print_report, run_demo

    run_ = run_demo(args.duration, args.task, args.real_time_factor, args.video, echo=args.verbose)
    report = {**run_.report, "launch_exit_code": run_.exit_code, "launch_failures": run_.failures}
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print_report(report)
        _print_failures(run_.failures, run_.output, args.verbose)
    return 0 if run_.exit_code == 0 and report.get("sim_time_s") else 1


def _print_failures(failures: list[str], output: str, verbose: bool) -> None:
    """What a failed node said last (with --verbose it was shown as it ran)."""
    if verbose:
        return
    for failure in failures:
        name = failure.split(":", 1)[0]
        prefix = f"[{name}] "
        lines = [line[len(prefix):] for line in output.splitlines() if line.startswith(prefix)][-30:]
        print(f"  last output of {name}:")
        print("\n".join(f"    {line}" for line in lines) or "    (none)")


def _print_report(r: dict) -> None:
    if not r.get("sim_time_s"):
        print("no report from stack_monitor: the stack did not run (use --verbose to see the nodes' output)")
        print(f"anima launch exit code: {r.get('launch_exit_code')}")
        return
    print(f"Laikago simulated stack: {r['sim_time_s']:.1f} s of sim time at {r.get('real_time_factor')}x real time")
    print(f"  stood up and stayed up : {'yes' if r.get('stood') else 'NO'} "
          f"(base height {r.get('base_height_m_min')}..{r.get('base_height_m_max')} m after settling; "
          f"non-foot contacts: {r.get('non_foot_contacts_after_settle') or 'none'})")
    if "skill" in r:
        print(f"  skill {r['skill']:17s}: went {r.get('distance_m')} m in {r.get('base_displacement_duration_s')} s, "
              f"reference {r.get('reference_distance_m')} m (ratio {r.get('distance_ratio')}; at least 0.5 expected)")
    print(f"  estimator velocity RMSE: {r.get('estimator_velocity_rmse_mps')} m/s vs ground truth "
          f"({r.get('estimator_velocity_samples')} samples)")
    rates = r.get("rates_hz", {})
    print("  rates (Hz, sim time)   : " + ", ".join(f"{k} {v}" for k, v in rates.items()))
    if "command_latency_ms_p50" in r:
        print(f"  command latency (ms)   : p50 {r['command_latency_ms_p50']}  p99 {r['command_latency_ms_p99']}")
    if "command_guard" in r:
        g = r["command_guard"]
        print(f"  bridge command guard   : {g['accepted']} accepted, {g['rejected']} rejected, "
              f"{g['torque_clamped_commands']} torque-clamped, {g['watchdog_timeouts']} watchdog timeouts")
    if "failure" in r:
        print(f"  FAILURE                : {r['failure']}")
    if "estop_accepted" in r:
        print(f"  e-stop                 : accepted {r['estop_accepted']}, damping residual max "
              f"{r.get('estop_damping_residual_nm_max')} N·m, base height after {r.get('base_height_m_after_estop_min')} m")
    print(f"  anima launch exit code : {r['launch_exit_code']}"
          + (f" (failed: {'; '.join(r['launch_failures'])})" if r.get("launch_failures") else ""))
