"""Evaluating a VICE-RAQ policy on ground-truth success (``anima eval vice_raq``) and its report files.

An episode succeeds when the scene's success predicate holds at its last step (the object is at the
goal when the episode ends, not merely passed through it). Episodes use fixed seeds (``EVAL_SEED``
+ k), so every run and every policy is scored on the same starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["EVAL_SEED", "evaluate_policy", "plot_progress", "run_episode", "upscale"]

EVAL_SEED = 1_000_000
Act = Callable[[np.ndarray], np.ndarray]  # one image (H, W, 3) uint8 -> action (A,)


def run_episode(env: Any, act: Act, seed: int, frames: list | None = None) -> dict[str, Any]:
    """One episode with ``act``; its final success, whether it ever succeeded, and the final distance metric."""
    obs, info = env.reset(seed=seed)
    ever = bool(info["is_success"])
    if frames is not None:
        frames.append(obs)
    done = False
    while not done:
        obs, _r, terminated, truncated, info = env.step(act(obs))
        ever = ever or bool(info["is_success"])
        done = terminated or truncated
        if frames is not None:
            frames.append(obs)
    metric = next((float(v) for k, v in info.items() if k.endswith("_m") or k.endswith("_rad")), float("nan"))
    return {"success": bool(info["is_success"]), "ever_success": ever, "final_metric": metric}


def evaluate_policy(env: Any, act: Act, episodes: int, seed: int = EVAL_SEED, frames: list | None = None) -> dict[str, Any]:
    """``success_rate`` (final step), ``ever_success_rate`` and the mean final distance over ``episodes`` episodes."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    results = [run_episode(env, act, seed + k, frames if k == 0 else None) for k in range(episodes)]
    return {"success_rate": float(np.mean([r["success"] for r in results])),
            "ever_success_rate": float(np.mean([r["ever_success"] for r in results])),
            "final_metric_mean": float(np.mean([r["final_metric"] for r in results])), "episodes": episodes}


def upscale(frames: Sequence[np.ndarray], factor: int = 4) -> list[np.ndarray]:
    """Nearest-neighbour upscaling (crisp pixels) of the policy's 48×48 view for videos."""
    return [np.repeat(np.repeat(f, factor, axis=0), factor, axis=1) for f in frames]


def plot_progress(history: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Success (evaluation and training episodes), classifier accuracy and queries against env steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    steps = np.array([h["env_steps"] for h in history], float)
    fig, (top, mid, bottom) = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    ev = [(h["env_steps"], h["eval_success_rate"]) for h in history if h.get("eval_success_rate") is not None]
    if ev:
        top.plot(*zip(*ev), "o-", label="evaluation success (final step)")
    top.plot(steps, [h["train_success_rate"] for h in history], ".", alpha=0.6, label="training episodes' success")
    top.set_ylim(-0.05, 1.05)
    top.set_ylabel("success rate")
    top.legend(loc="upper left")
    for key, label in (("classifier_accuracy", "accuracy vs ground truth (last epoch)"),
                       ("classifier_tpr_validation", "TPR on held-out goal images"),
                       ("classifier_goal_auc", "P(goal image reward > recent state's)")):
        vals = [(h["env_steps"], h[key]) for h in history if h.get(key) is not None]
        if vals:
            mid.plot(*zip(*vals), label=label)
    mid.set_ylim(-0.05, 1.05)
    mid.set_ylabel("classifier")
    mid.legend(loc="lower right")
    bottom.plot(steps, [h["queries_asked"] for h in history], label="queries asked")
    bottom.plot(steps, [h["queries_answered"] for h in history], label="answered")
    bottom.plot(steps, [h["positives"] for h in history], label="positives (goal examples + 'reached')")
    bottom.set_xlabel("environment steps")
    bottom.legend(loc="upper left")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
