"""``anima bench baoding_world``: real-time factor of the Baoding scene with and without stereo rendering.

Three runs of the same scene (ShadowHand holding its rest pose through ``JointCommandPath`` at
10 Hz targets, PD at the config's control rate, 500 Hz physics), each ``--sim-seconds`` long:

* ``rtf_physics_only`` (reference): physics steps with a constant held torque, no PD in Python;
* ``rtf_no_render``: the control loop an environment runs (issue target >= 5x);
* ``rtf_render_30hz``: the same plus a 280x180 stereo pair rendered at 30 Hz (target >= 1x).

Also ``render_ms_per_pair`` and whether the balls stayed in the palm.
"""

from __future__ import annotations

import argparse
import time


HELP = "real-time factor of BaodingWorld without and with 30 Hz stereo rendering"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim-seconds", type=float, default=10.0, help="simulated seconds per run")
    parser.add_argument("--camera-rate-hz", type=float, default=30.0, help="stereo rendering rate")


def _run(sim_seconds: float, camera_rate_hz: float | None, control: bool) -> tuple[float, float, bool]:
    """(real-time factor, mean ms per stereo pair, balls kept) of one run."""
    import pybullet
    from pybullet_utils.bullet_client import BulletClient

    from anima.controllers.command_path import JointCommandPath
    from anima.controllers.robot_config import load_robot_config
    from anima.sim_bridge.baoding_world import BaodingWorld, load_baoding_config

    client = BulletClient(connection_mode=pybullet.DIRECT)
    robot = load_robot_config("shadowhand")
    world = BaodingWorld(client, load_baoding_config())
    path = JointCommandPath(robot)
    path.reset(world.read_joints().position)
    chunk = 1.0 / camera_rate_hz if camera_rate_hz else 0.1
    n_chunks = int(round(sim_seconds / chunk))
    render_s, renders = 0.0, 0
    t0 = time.perf_counter()
    for k in range(n_chunks):
        if control:
            new_target = k % max(1, int(round(0.1 / chunk))) == 0  # 10 Hz targets
            world.run_targets(path, robot.standing_pose if new_target else None, chunk)
        else:
            world.step(int(round(chunk / world.physics_dt)))
        if camera_rate_hz:
            r0 = time.perf_counter()
            world.render_stereo()
            render_s += time.perf_counter() - r0
            renders += 1
    wall = time.perf_counter() - t0
    kept = not world.balls_dropped().any()
    sim = world.time_s
    client.disconnect()
    return sim / wall, 1000.0 * render_s / max(renders, 1), kept


def run(args: argparse.Namespace) -> dict:
    rtf_ref, _, _ = _run(args.sim_seconds, None, control=False)
    rtf_plain, _, kept = _run(args.sim_seconds, None, control=True)
    rtf_render, render_ms, kept_r = _run(args.sim_seconds, args.camera_rate_hz, control=True)
    return {
        "rtf_physics_only": round(rtf_ref, 2),
        "rtf_no_render": round(rtf_plain, 2),
        "rtf_render_30hz": round(rtf_render, 2),
        "render_ms_per_pair": round(render_ms, 2),
        "camera_rate_hz": args.camera_rate_hz,
        "sim_seconds": args.sim_seconds,
        "physics_hz": 500,
        "balls_kept": bool(kept and kept_r),
        "target_rtf_no_render": 5.0,
        "target_rtf_render": 1.0,
    }
