"""``anima eval imitation --as-node``: evaluate a policy under the ``imitation_policy`` node's conditions.

In process, on the training env's world and command path (1 kHz physics, the env's filter,
interpolation, clip and PD), but the policy is driven exactly as the node drives it: by
:class:`~anima.models.imitation.policy_runner.ImitationRunner`, which builds its own observation
from the sensor readings the env took (delayed joints, noisy IMU), aligns the reference with the
IMU's heading rather than the true one, runs the clip's phase on its own clock from a full 0.25 s
warm-up, and never uses reference state init. The env only scores: its reference starts at the same
motion time, and the metrics are those of :func:`anima.models.imitation.evaluate.evaluate_policy`.
Over ROS, the same node runs in ``launch/laikago_imitation_sim.launch.xml``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from anima.controllers.leg_kinematics import laikago_urdf_to_motor
from anima.models.imitation.observation import DEFAULT_MOTOR_POSE, OBS_DIM
from anima.models.imitation.policy import ImitationPolicy
from anima.models.imitation.evaluate import run_episode
from anima.models.imitation.policy_runner import ImitationRunner, RunnerConfig

__all__ = ["evaluate_as_node"]


def _recording(fn: Callable[[], Any]) -> Callable[[], Any]:
    """A sensor read that keeps its last result: the runner sees the very sample the env took."""
    def read() -> Any:
        read.last = fn()
        return read.last
    return read


def _episode(env: Any, policy: ImitationPolicy, steps: int, seed: int, warmup_s: float) -> dict[str, Any]:
    runner = ImitationRunner(policy, env.tracker.motion, RunnerConfig(env.control_dt, warmup_s=warmup_s),
                             frame=env.default_frame)

    def act(n: int, _obs: np.ndarray) -> np.ndarray:
        imu, joints = env.world.imu.last, env.world.read_joints.last
        targets = runner.step(n * env.control_dt, joints.position, imu.orientation_xyzw, imu.angular_velocity)
        return laikago_urdf_to_motor(targets) - DEFAULT_MOTOR_POSE

    return run_episode(env, act, steps, seed, {"ref_state_init": False, "motion_time": -warmup_s})


def evaluate_as_node(policy_path: str | Path, motion: str, episodes: int, seconds: float = 20.0, seed: int = 12345,
                     log: Callable[[str], None] = print, warmup_s: float = 0.25) -> dict[str, Any]:
    """``episodes`` episodes of ``seconds`` at the paper's physics, the policy driven as the node drives it."""
    from anima.sim_bridge.envs.laikago_imitation import LaikagoImitationEnv

    if not (isinstance(episodes, int) and episodes >= 1) or not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"episodes must be >= 1 and seconds > 0, got {episodes!r}, {seconds!r}")
    env = LaikagoImitationEnv(motion=motion, profile="paper", episode_steps=1)
    try:
        policy = ImitationPolicy.load(policy_path, motion=env.motion_name, obs_dim=OBS_DIM, action_dim=12)
        env.world.imu, env.world.read_joints = _recording(env.world.imu), _recording(env.world.read_joints)
        steps = int(round(seconds / env.control_dt))
        env.episode_steps = steps
        results = []
        for k in range(episodes):
            results.append(_episode(env, policy, steps, seed + k, warmup_s))
            r = results[-1]
            log(f"episode {k + 1}/{episodes} (as node): {r['steps']} steps, return/step {r['return'] / steps:.3f}"
                f"{' fell' if r['fell'] else ''}")
    finally:
        env.close()
    all_steps = sum(r["steps"] for r in results)
    drifts = [d for r in results for d in r["drifts"]]
    speeds = [r["speed_ratio"] for r in results if r["speed_ratio"] is not None]
    return {
        "policy": str(policy_path), "motion": env.motion_name, "profile": "paper", "conditions": "node",
        "episodes": episodes, "seconds": seconds, "control_dt_s": env.control_dt, "seed": seed,
        "normalized_return": float(np.mean([r["return"] / steps for r in results])),
        "pose_error_rad_rms": math.sqrt(sum(r["pose_sq"] for r in results) / all_steps),
        "root_drift_m_per_cycle": float(np.mean(drifts)) if drifts else None,
        "survival_rate": float(np.mean([(not r["fell"]) and r["steps"] >= steps for r in results])),
        "speed_ratio": float(np.mean(speeds)) if speeds else None,
    }
