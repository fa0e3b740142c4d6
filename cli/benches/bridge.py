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
4. ``path_conversion_us``: the message work one sample costs on that path (bridge writes
   ``joint_states``, pd_controller reads it and writes ``joint_commands``, the bridge reads that),
   in this process, as the nodes do it (serialized form, ``ros_nodes/_cdr.py``) against the
   reference, rclpy message objects and rclpy's (de)serialization; CPU time, medians of 5 repeats.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

HELP = "real-time factor, CPU per node and command latency of the simulated Laikago stack"
PD_RATE_HZ_TARGET = 500.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim-seconds", type=float, default=10.0, help="sim seconds per launched run")
    parser.add_argument("--bare-seconds", type=float, default=5.0, help="sim seconds of bare World stepping")


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


def path_conversion_us(repeats: int = 5, samples: int = 2000) -> dict[str, float]:
    """Microseconds of message work per sample on the command path: ``cdr`` (the nodes) and
    ``rclpy_messages`` (the reference: build messages, serialize, deserialize with rclpy)."""
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import JointState

    from anima.controllers.robot_config import load_robot_config
    from anima.ros_nodes._cdr import JointStateReader, JointStateWriter
    from anima.ros_nodes._common import to_time_msg
    from anima.ros_nodes._conversions import joint_state_msg

    names = load_robot_config("laikago").joint_names
    q = np.linspace(-1.0, 1.0, len(names))
    state_w, cmd_w = JointStateWriter(names, JointStateWriter.FIELDS), JointStateWriter(names, ("effort",))
    state_r, cmd_r = JointStateReader(), JointStateReader()

    def cdr(i: int) -> None:
        state = state_r.read(state_w.write(i, 0, q, q, q))
        cmd = cmd_r.read(cmd_w.write(state.sec, state.nanosec, state.position))
        np.asarray(cmd.effort, dtype=float)

    def messages(i: int) -> None:
        stamp = to_time_msg(float(i))
        state = deserialize_message(serialize_message(joint_state_msg(stamp, names, q, q, q)), JointState)
        cmd = deserialize_message(serialize_message(joint_state_msg(state.header.stamp, names, effort=state.position)),
                                  JointState)
        np.asarray(cmd.effort, dtype=float)

    out = {}
    for name, fn in (("cdr", cdr), ("rclpy_messages", messages)):
        runs = []
        for _ in range(repeats):
            t0 = time.process_time()  # CPU time of this process: robust to a loaded machine
            for i in range(samples):
                fn(i)
            runs.append((time.process_time() - t0) / samples * 1e6)
        out[name] = round(float(np.median(runs)), 1)
    return out


def run(args: argparse.Namespace) -> dict:
    from anima.stack_run import run_stack

    out: dict = {"pd_rate_hz_target": PD_RATE_HZ_TARGET}
    out["path_conversion_us"] = path_conversion_us()
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
