"""Evaluate an imitation policy in process (``anima eval imitation``).

Episodes of ``seconds`` (20 s) start as a deployed robot does: standing, the reference holding the
standing pose through the warm-up, then the clip; the policy acts deterministically (its mean
action). Reported (the issue's metrics):

* ``normalized_return``: the episode's return divided by the steps of a full episode (so a fall
  counts its missing steps as zero reward), mean over episodes; 0-1.
* ``pose_error_rad_rms``: RMS over joints and steps of q_ref − q_sim (rad).
* ``root_drift_m_per_cycle``: mean horizontal distance between the robot's root and the
  reference's at each cycle end, i.e. the drift over one cycle (cycle sync then re-anchors it).
* ``survival_rate``: fraction of episodes that last ``seconds`` without a fall.
* ``speed_ratio``: the robot's horizontal root displacement over its episode divided by the
  clip's over the same motion time (from the clip's own cycle offsets), mean over episodes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from anima.models.imitation.observation import OBS_DIM
from anima.models.imitation.policy import ImitationPolicy

__all__ = ["evaluate_policy", "resolve_policy_path"]

SHIPPED_DIR = Path(__file__).resolve().parent / "data"


def resolve_policy_path(policy: str, motion: str) -> Path:
    """``shipped`` -> the package's policy for ``motion``; anything else is a file path."""
    if policy != "shipped":
        return Path(policy)
    path = SHIPPED_DIR / f"{Path(motion).stem}.pt"
    if not path.is_file():
        raise ValueError(f"no shipped policy for motion {Path(motion).stem!r} (looked for {path})")
    return path


def run_episode(env: Any, act: Callable[[int, np.ndarray], np.ndarray], steps: int, seed: int,
                reset_options: dict[str, Any]) -> dict[str, Any]:
    """One scored episode: ``act(n, obs)`` gives the env action of step ``n`` (0-based).

    Shared by the in-process evaluation and the as-node one, so both score alike.
    """
    obs, info = env.reset(seed=seed, options=reset_options)
    t0, start = info["motion_time"], env.world.root_state()[0]
    total, pose_sq, drifts, fell, n = 0.0, 0.0, [], False, 0
    for n in range(1, steps + 1):
        obs, reward, terminated, truncated, info = env.step(act(n - 1, obs))
        total += reward
        pose_sq += info["pose_error_rad_rms"] ** 2
        if info.get("cycle_drift_m") is not None:
            drifts.append(info["cycle_drift_m"])
        if terminated or truncated:
            fell = bool(info["fell"])
            break
    end = env.world.root_state()[0]
    clip = env.tracker.player.sample(np.array([max(t0, 0.0), max(info["motion_time"], 0.0)])).root_position
    ref_dist = float(np.linalg.norm(clip[1, :2] - clip[0, :2]))
    sim_dist = float(np.linalg.norm(end[:2] - start[:2]))
    return {"return": total, "steps": n, "fell": fell, "pose_sq": pose_sq, "drifts": drifts,
            "speed_ratio": sim_dist / ref_dist if ref_dist > 1e-6 else None}


def _episode(env: Any, policy: ImitationPolicy, steps: int, seed: int) -> dict[str, Any]:
    return run_episode(env, lambda _n, obs: policy.act(obs).astype(np.float32), steps, seed,
                       {"ref_state_init": False})


def evaluate_policy(policy_path: str | Path, motion: str, episodes: int, seconds: float = 20.0, seed: int = 12345,
                    profile: str = "paper", log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run ``episodes`` episodes of ``seconds`` with the policy file on ``motion``; returns the metrics."""
    from anima.sim_bridge.envs.laikago_imitation import LaikagoImitationEnv

    if not (isinstance(episodes, int) and episodes >= 1) or not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"episodes must be >= 1 and seconds > 0, got {episodes!r}, {seconds!r}")
    env = LaikagoImitationEnv(motion=motion, profile=profile, episode_steps=1)
    try:
        policy = ImitationPolicy.load(policy_path, motion=env.motion_name, obs_dim=OBS_DIM, action_dim=12)
        steps = int(round(seconds / env.control_dt))
        env.episode_steps = steps
        results = []
        for k in range(episodes):
            results.append(_episode(env, policy, steps, seed + k))
            r = results[-1]
            log(f"episode {k + 1}/{episodes}: {r['steps']} steps, return/step {r['return'] / steps:.3f}"
                f"{' fell' if r['fell'] else ''}")
    finally:
        env.close()
    all_steps = sum(r["steps"] for r in results)
    drifts = [d for r in results for d in r["drifts"]]
    speeds = [r["speed_ratio"] for r in results if r["speed_ratio"] is not None]
    return {
        "policy": str(policy_path), "motion": env.motion_name, "profile": profile, "episodes": episodes,
        "seconds": seconds, "control_dt_s": env.control_dt, "seed": seed,
        "normalized_return": float(np.mean([r["return"] / steps for r in results])),
        "pose_error_rad_rms": math.sqrt(sum(r["pose_sq"] for r in results) / all_steps),
        "root_drift_m_per_cycle": float(np.mean(drifts)) if drifts else None,
        "survival_rate": float(np.mean([(not r["fell"]) and r["steps"] >= steps for r in results])),
        "speed_ratio": float(np.mean(speeds)) if speeds else None,
    }
