"""``anima bench sawyer_world``: physics real-time factor, camera frames per second, drape cost.

All in one process (one core), each against bare stepping measured in the same run. Time is
this process's CPU time (``time.process_time``), i.e. per core: on a shared, loaded machine wall
time mostly measures the other processes (``cpu_share`` = CPU / wall time of the whole run).

* ``rtf_bare``: reference, ``stepSimulation`` alone in the push scene (no Python per step);
* ``rtf_physics``: the slowest of push, stack, mug and bookshelf, stepped by ``SawyerWorld.step``
  (held torque + gravity compensation on every 500 Hz step; issue target >= 10x);
* ``rtf_control``: the slowest of those scenes under the control loop the environments and the
  bridge run (PD law at 500 Hz, joint targets at 50 Hz);
* ``camera_fps_64_per_core`` (target >= 300) and ``camera_fps_48_per_core``: third-person
  renders per second in the push scene;
* ``rtf_drape``: the deformable drape scene under the control loop (target >= 0.5x), with
  ``rtf_drape_bare`` (``stepSimulation`` alone there) and its physics step.
"""

from __future__ import annotations

import argparse
import time

HELP = "Sawyer world: physics real-time factor, 64x64 camera fps, drape real-time factor"
RIGID = ("push", "stack", "mug", "bookshelf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim-seconds", type=float, default=5.0, help="simulated seconds per physics run")
    parser.add_argument("--frames", type=int, default=300, help="camera frames per size")


def _world(scene: str, size: int = 64):
    import pybullet
    from pybullet_utils.bullet_client import BulletClient

    from anima.sim_bridge.sawyer_world import SawyerWorld, load_sawyer_config

    return SawyerWorld(BulletClient(connection_mode=pybullet.DIRECT), load_sawyer_config(scene=scene, camera_size_px=size))


def _rtf_bare(world, sim_seconds: float) -> float:
    n = int(round(sim_seconds / world.physics_dt))
    step = world.client.stepSimulation
    t0 = time.process_time()
    for _ in range(n):
        step()
    return n * world.physics_dt / (time.process_time() - t0)


def _rtf_world(world, sim_seconds: float) -> float:
    n = int(round(sim_seconds / world.physics_dt))
    t0 = time.process_time()
    world.step(n)
    return n * world.physics_dt / (time.process_time() - t0)


def _rtf_control(world, sim_seconds: float) -> float:
    from anima.controllers.command_path import JointCommandPath
    from anima.controllers.robot_config import load_robot_config

    robot = load_robot_config("sawyer")
    path = JointCommandPath(robot)
    path.reset(world.read_joints().position)
    period = 1.0 / robot.target_rate_hz
    t0 = time.process_time()
    sim0 = world.time_s
    for _ in range(int(round(sim_seconds / period))):
        world.run_targets(path, robot.standing_pose, period)
    return (world.time_s - sim0) / (time.process_time() - t0)


def _fps(world, frames: int) -> float:
    world.render()
    t0 = time.process_time()
    for _ in range(frames):
        world.render()
    return frames / (time.process_time() - t0)


def run(args: argparse.Namespace) -> dict:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    worlds = {scene: _world(scene) for scene in RIGID}
    bare = _rtf_bare(worlds["push"], args.sim_seconds)
    physics = {s: _rtf_world(w, args.sim_seconds) for s, w in worlds.items()}
    control = {s: _rtf_control(w, args.sim_seconds) for s, w in worlds.items()}
    fps64 = _fps(worlds["push"], args.frames)
    fps48 = _fps(_world("push", 48), args.frames)
    drape = _world("drape")
    drape_seconds = min(args.sim_seconds, 2.0)
    rtf_drape = _rtf_control(drape, drape_seconds)
    drape_bare = _rtf_bare(drape, drape_seconds)
    return {
        "rtf_bare": round(bare, 2),
        "rtf_physics": round(min(physics.values()), 2),
        "rtf_physics_by_scene": {s: round(v, 2) for s, v in physics.items()},
        "rtf_control": round(min(control.values()), 2),
        "rtf_control_by_scene": {s: round(v, 2) for s, v in control.items()},
        "camera_fps_64_per_core": round(fps64, 1),
        "camera_fps_48_per_core": round(fps48, 1),
        "rtf_drape": round(rtf_drape, 2),
        "rtf_drape_bare": round(drape_bare, 2),
        "drape_physics_dt_s": drape.physics_dt,
        "sim_seconds": args.sim_seconds,
        "cpu_share": round((time.process_time() - cpu0) / (time.perf_counter() - wall0), 2),
        "targets": {"rtf_physics": 10.0, "camera_fps_64_per_core": 300.0, "rtf_drape": 0.5},
    }
