"""Rollout storage for PDDM: whole trajectories, so multi-step model error can be measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anima.models.checkpoint import CheckpointError, save_npz


@dataclass
class Rollout:
    """states (T+1, S) float32, actions (T, A) float32, rewards (T,), success flag; the env's final
    ``rotation_rad`` and whether the episode ended in a drop (``dropped``), where the env reports them
    (Baoding; kept in memory for evaluation, not saved)."""

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    success: bool = False
    rotation_rad: float | None = None
    dropped: bool | None = None

    def __post_init__(self) -> None:
        if len(self.states) != len(self.actions) + 1:
            raise ValueError(f"Rollout: states must have one row more than actions, got {len(self.states)} and {len(self.actions)}")


@dataclass
class RolloutBuffer:
    """A list of rollouts with transition views for model fitting."""

    rollouts: list[Rollout] = field(default_factory=list)

    def add(self, rollout: Rollout) -> None:
        self.rollouts.append(rollout)

    def __len__(self) -> int:
        return len(self.rollouts)

    @property
    def num_transitions(self) -> int:
        return sum(len(r.actions) for r in self.rollouts)

    def transitions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(states, actions, next_states) stacked over all rollouts."""
        s = np.concatenate([r.states[:-1] for r in self.rollouts])
        a = np.concatenate([r.actions for r in self.rollouts])
        s2 = np.concatenate([r.states[1:] for r in self.rollouts])
        return s, a, s2

    def save(self, path: str | Path) -> None:
        """Write all rollouts to one ``.npz`` at ``path``, atomically (temporary file + ``os.replace``)."""
        arrays: dict[str, np.ndarray] = {"count": np.array(len(self.rollouts))}
        for i, r in enumerate(self.rollouts):
            arrays[f"s{i}"], arrays[f"a{i}"], arrays[f"r{i}"] = r.states, r.actions, r.rewards
            arrays[f"ok{i}"] = np.array(r.success)
        save_npz(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> "RolloutBuffer":
        """Read a buffer written by :meth:`save` (no pickles); CheckpointError naming the file if it is
        missing, truncated or not such a buffer."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                n = int(z["count"])
                return cls([Rollout(z[f"s{i}"], z[f"a{i}"], z[f"r{i}"], bool(z[f"ok{i}"])) for i in range(n)])
        except FileNotFoundError:
            raise CheckpointError(f"{path}: no such rollout data file") from None
        except Exception as exc:  # noqa: BLE001 - zip, zlib, key and shape errors: one line naming the file
            text = " ".join(str(exc).split())[:200]
            raise CheckpointError(f"{path}: cannot read rollout data (corrupt or truncated?): {type(exc).__name__}: {text}") from None
