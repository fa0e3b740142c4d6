"""Diagnostics written next to PDDM checkpoints: multi-step model error, learning curve, rollout video."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from anima.models.checkpoint import atomic_write
from anima.models.dynamics_ensemble import DynamicsEnsemble
from anima.models.pddm.data import Rollout


def model_error_per_step(model: DynamicsEnsemble, rollouts: Sequence[Rollout], horizon: int, max_starts: int = 512) -> np.ndarray:
    """Open-loop error of the ensemble-mean prediction after h = 1..H steps, (H,).

    Error = mean over dimensions of |predicted - true| / std of the state (the model's state
    normalizer), averaged over start points of the given rollouts whose windows fit.
    """
    starts, acts, truth = [], [], []
    for r in rollouts:
        for i in range(len(r.actions) - horizon + 1):
            starts.append(r.states[i])
            acts.append(r.actions[i : i + horizon])
            truth.append(r.states[i + 1 : i + 1 + horizon])
    if not starts:
        return np.full(horizon, np.nan)
    idx = np.linspace(0, len(starts) - 1, min(max_starts, len(starts))).astype(int)
    s = np.broadcast_to(np.asarray(starts)[idx], (model.ensemble_size, len(idx), model.state_dim)).astype(np.float32)
    a, y = np.asarray(acts)[idx], np.asarray(truth)[idx]
    std = model.normalizers.state.std
    errors = []
    for h in range(horizon):
        s = model.predict(s, a[:, h])
        errors.append(float(np.mean(np.abs(s.mean(axis=0) - y[:, h]) / std)))
    return np.asarray(errors)


def plot_learning_curve(history: Sequence[dict], path: str | Path, random_baseline: dict | None = None) -> None:
    """Success rate and mean reward against hours of data (matplotlib, Agg backend).

    ``random_baseline`` (hours, success, reward of the random-action seed rollouts) is drawn as a
    separate marker; its rewards come from the seed rollouts' own length.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [h["hours_of_data"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(hours, [h["success_rate"] for h in history], "o-", label="MPPI with the latest model")
    ax1.set(xlabel="hours of data", ylabel="success rate", ylim=(-0.05, 1.05), title="PDDM success")
    ax2.plot(hours, [h["reward_mean"] for h in history], "o-", color="tab:orange", label="MPPI with the latest model")
    ax2.set(xlabel="hours of data", ylabel="mean episode reward", title="PDDM reward")
    if random_baseline:
        ax1.plot([random_baseline["hours_of_data"]], [random_baseline["success_rate"]], "kx", ms=9, label="random actions")
        ax2.plot([random_baseline["hours_of_data"]], [random_baseline["reward_mean"]], "kx", ms=9, label="random actions")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        if random_baseline:
            ax.legend(loc="best")
    fig.tight_layout()
    with atomic_write(path, "wb") as f:  # temporary file + os.replace
        fig.savefig(f, dpi=100, format="png")
    plt.close(fig)


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: float) -> bool:
    """RGB frames (H, W, 3) uint8 -> mp4 (OpenCV ``mp4v``); returns False when nothing was written."""
    import cv2

    if not frames:
        return False
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
    if not writer.isOpened():
        return False
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return Path(path).is_file() and Path(path).stat().st_size > 0
