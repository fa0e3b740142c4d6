"""Replay buffer of image transitions with the ground truth kept beside them (never shown to the learner).

Stores ``(s, a, s′)`` as uint8 images, the env's success of ``s′`` (for the ground-truth reward of the
upper-bound run, for the oracle, and for the classifier's accuracy against ground truth) and a cache
of the classifier reward of ``s′``. The classifier changes only in its training phase at the start of
each epoch, so the trainer refreshes the cache then (:meth:`refresh_rewards`) and SAC reads rewards
from it: the same numbers as recomputing them for every batch, at a third of the update's cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from anima.models.checkpoint import CheckpointError, save_npz

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """A ring buffer of ``capacity`` transitions; images ``(H, W, 3)`` uint8, actions ``(A,)`` float32."""

    def __init__(self, capacity: int, image_shape: tuple[int, int, int], action_dim: int) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity, self.image_shape, self.action_dim = capacity, tuple(image_shape), action_dim
        self.obs = np.zeros((capacity, *image_shape), np.uint8)
        self.next_obs = np.zeros((capacity, *image_shape), np.uint8)
        self.actions = np.zeros((capacity, action_dim), np.float32)
        self.success = np.zeros(capacity, bool)
        self.rewards = np.zeros(capacity, np.float32)
        self.size = 0
        self.total = 0  # transitions ever added (the ring position is total % capacity)

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray, success: bool, reward: float) -> None:
        i = self.total % self.capacity
        self.obs[i], self.actions[i], self.next_obs[i] = obs, action, next_obs
        self.success[i], self.rewards[i] = success, reward
        self.total += 1
        self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` indices drawn uniformly (with replacement) from the stored transitions."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return rng.integers(0, self.size, n)

    def recent(self, n: int) -> np.ndarray:
        """Indices of the last ``min(n, size)`` transitions added, oldest first."""
        n = min(n, self.size)
        return (np.arange(self.total - n, self.total) % self.capacity).astype(np.int64)

    def refresh_rewards(self, reward_fn: Callable[[np.ndarray], np.ndarray], chunk: int = 1024) -> None:
        """Recompute the cached reward of every stored ``s′`` with ``reward_fn(images) -> (n,)``."""
        for start in range(0, self.size, chunk):
            end = min(start + chunk, self.size)
            self.rewards[start:end] = reward_fn(self.next_obs[start:end])

    def save(self, path: str | Path) -> None:
        n = self.size
        save_npz(path, {"obs": self.obs[:n], "next_obs": self.next_obs[:n], "actions": self.actions[:n],
                        "success": self.success[:n], "rewards": self.rewards[:n], "total": np.array(self.total)})

    @classmethod
    def load(cls, path: str | Path, capacity: int, image_shape: tuple[int, int, int], action_dim: int) -> "ReplayBuffer":
        """A buffer from :meth:`save`'s file; CheckpointError naming it when unreadable or of the wrong shape."""
        buf = cls(capacity, image_shape, action_dim)
        try:
            with np.load(path, allow_pickle=False) as data:
                obs, n = data["obs"], len(data["obs"])
                if obs.shape[1:] != buf.image_shape or data["actions"].shape[1:] != (action_dim,) or n > capacity:
                    raise CheckpointError(f"{path}: replay holds {obs.shape} images / {data['actions'].shape} actions, "
                                          f"expected (<= {capacity}, {image_shape}) / (n, {action_dim})")
                buf.obs[:n], buf.next_obs[:n], buf.actions[:n] = obs, data["next_obs"], data["actions"]
                buf.success[:n], buf.rewards[:n] = data["success"], data["rewards"]
                buf.size, buf.total = n, int(data["total"])
        except (OSError, KeyError, ValueError) as exc:
            if isinstance(exc, CheckpointError):
                raise
            raise CheckpointError(f"{path}: cannot read the replay buffer: {type(exc).__name__}: {exc}") from None
        return buf
