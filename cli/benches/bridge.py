"""``anima bench bridge``: real-time factor, CPU and command latency of the simulated Laikago stack.

Three measurements in one run (~45 s):
1. ``rtf_bare``: a bare ``LaikagoWorld`` stepped in this process with PD torques (the reference).
2. ``rtf_bridge`` and ``cpu_s_per_sim_s``: the launched stack (bridge, pd_controller,
   state_estimator, pose_hold; plus the monitor, reported separately and excluded from the
   total) running unpaced (``real_time_factor:=0``), every rate as specified (1 kHz physics,
   500 Hz joint states, IMU, PD and odometry).
3. ``command_latency_ms_p50/p99`` and ``pd_rate_hz_achieved``: the stack paced at real time;
   latency from the bridge publishing ``joint_states`` to it receiving the command computed
   from that sample (matched by stamp).

``--compare-spin N`` instead measures only the paced latency, N runs with each node spin loop
(``spin_light``, the hand-made loop on rclpy internals, and ``spin_events``, rclpy's EventsExecutor),
interleaved so that both see the same machine load, and reports each run and the medians.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

HELP = "real-time factor, CPU per node and command latency of the simulated Laikago stack"
PD_RATE_HZ_TARGET = 500.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim-seconds", type=float, default=10.0, help="sim seconds per launched run")
    parser.add_argument("--bare-seconds", type=float, default=5.0, help="sim seconds of bare World stepping")
    parser.add_argument("--compare-spin", type=int, default=0, metavar="N",
                        help="only the paced latency: N runs with each spin loop (light, events), interleaved")


def bare_rtf(sim_seconds: float) -> float:
    """Sim seconds per wall second of LaikagoWorld stepping with PD torques computed each step."""
    import pybullet
    from pybullet_utils.bullet_client import BulletClient

    from anima.controllers.robot_config import load_robot_config
    from anima.sim_bridge.laikago_world import LaikagoWorld, load_laikago_world_config

    robot = load_robot_config("laikago")
    client = BulletClient(connection_mode=pybullet.DIRECT)
    world = LaikagoWorld(client, load_laikago_world_config(None))
    stand = np.asarray(robot.standing_pose)
    kp, kd = np.asarray(robot.kp), np.asarray(robot.kd)
    world.reset(joint_positions=stand, rng=np.random.default_rng(0))
    steps = int(sim_seconds / world.physics_dt)
    t0 = time.perf_counter()
    for _ in range(steps):
        j = world.read_joints()
        world.apply_torques(kp * (stand - j.position) - kd * j.velocity)
        world.step(1)
    wall = time.perf_counter() - t0
    client.disconnect()
    return steps * world.physics_dt / wall


def compare_spin(runs: int, sim_seconds: float) -> dict:
    """Paced command latency per node spin loop, ``runs`` runs each, alternating loops run by run."""
    from anima.ros_nodes._common import SPIN_ENV
    from anima.stack_run import run_stack

    loops = ("light", "events")
    out: dict = {"runs": {name: [] for name in loops}}
    common = {"duration_s": str(sim_seconds), "estop_at_s": "-1.0", "real_time_factor": "1.0"}
    before = os.environ.get(SPIN_ENV)
    try:
        for _ in range(runs):
            for name in loops:
                os.environ[SPIN_ENV] = name
                paced = run_stack("laikago_sim.launch.xml", common, timeout_s=120)
                latency = paced.latency_ms()
                out["runs"][name].append({"p50": latency[0], "p99": latency[1], "n": latency[2]} if latency else None)
    finally:
        os.environ.pop(SPIN_ENV, None) if before is None else os.environ.__setitem__(SPIN_ENV, before)
    for name in loops:
        done = [r for r in out["runs"][name] if r]
        out[f"command_latency_ms_p50_{name}_median"] = float(np.median([r["p50"] for r in done])) if done else None
        out[f"command_latency_ms_p99_{name}_median"] = float(np.median([r["p99"] for r in done])) if done else None
    out["load_average_1min_end"] = os.getloadavg()[0]
    return out


def run(args: argparse.Namespace) -> dict:
    from anima.stack_run import run_stack

    if args.compare_spin > 0:
        return compare_spin(args.compare_spin, args.sim_seconds)
    out: dict = {"pd_rate_hz_target": PD_RATE_HZ_TARGET}
    out["rtf_bare"] = round(bare_rtf(args.bare_seconds), 3)
    common = {"duration_s": str(args.sim_seconds), "estop_at_s": "-1.0"}
    fast = run_stack("laikago_sim.launch.xml", {**common, "real_time_factor": "0.0", "check_commands": "false"}, timeout_s=120)
    out["rtf_bridge"] = fast.report.get("real_time_factor")
    cpu = fast.cpu_s_per_sim_s()
    monitor = cpu.pop("stack_monitor", None)
    cpu.pop("total", None)
    cpu["total"] = round(sum(cpu.values()), 4)
    out["cpu_s_per_sim_s"] = cpu
    out["cpu_s_per_sim_s_monitor"] = monitor
    out["stood_unpaced"] = fast.report.get("stood")
    paced = run_stack("laikago_sim.launch.xml", {**common, "real_time_factor": "1.0"}, timeout_s=120)
    latency = paced.latency_ms()
    if latency:
        out["command_latency_ms_p50"], out["command_latency_ms_p99"], out["command_latency_samples"] = latency
    out["pd_rate_hz_achieved"] = paced.report.get("rates_hz", {}).get("joint_commands")
    out["rtf_paced"] = paced.report.get("real_time_factor")
    out["estimator_velocity_rmse_mps"] = paced.report.get("estimator_velocity_rmse_mps")
    out["launch_exit_codes"] = [fast.exit_code, paced.exit_code]
    out["launch_failures"] = fast.failures + paced.failures
    return out
