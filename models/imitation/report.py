"""Learning-curve plot and rollout video of an imitation run (files written atomically)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["plot_learning_curve", "record_rollout_video"]


def plot_learning_curve(history: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Reward per step and episode length against training samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    samples = np.array([h["samples"] for h in history], dtype=float)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    top.plot(samples, [h["reward_per_step"] for h in history], label="reward per step (batch)")
    norm = [(s, h["normalized_return_mean"]) for s, h in zip(samples, history) if h["normalized_return_mean"] is not None]
    if norm:
        top.plot(*zip(*norm), ".", ms=3, label="normalised return of finished episodes")
    top.set_ylim(0.0, 1.0)
    top.set_ylabel("reward per step (0-1)")
    top.legend(loc="lower right")
    lengths = [(s, h["episode_length_mean"]) for s, h in zip(samples, history) if h["episode_length_mean"] is not None]
    if lengths:
        bottom.plot(*zip(*lengths), label="mean episode length")
    bottom.plot(samples, [h["max_episode_steps"] for h in history], "--", label="curriculum limit")
    bottom.set_xlabel("training samples")
    bottom.set_ylabel("env steps")
    bottom.legend(loc="upper left")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)


def record_rollout_video(env_kwargs: dict[str, Any], policy_data: dict[str, Any], path: str | Path, steps: int,
                         seed: int = 0) -> bool:
    """Run the deterministic policy from a reference-state start and write an mp4 beside the run."""
    from anima.models.imitation.policy import ImitationPolicy
    from anima.models.pddm.report import write_video
    from anima.sim_bridge.envs import make_env

    kwargs = {**env_kwargs, "episode_steps": steps, "render_mode": "rgb_array"}
    env = make_env("laikago_imitation", **kwargs)
    policy = ImitationPolicy(policy_data)
    try:
        obs, _ = env.reset(seed=seed, options={"ref_state_init": True})
        frames = [env.render()]
        for _ in range(steps):
            obs, _, terminated, truncated, _ = env.step(policy.act(obs).astype(np.float32))
            frames.append(env.render())
            if terminated or truncated:
                break
        path = Path(path)
        tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
        ok = write_video(frames, tmp, 1.0 / env.unwrapped.control_dt)
        if ok:
            os.replace(tmp, path)
        return ok
    finally:
        env.close()
