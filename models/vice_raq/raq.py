"""Reinforcement learning with Active Queries (Singh et al., RSS 2019, Sec. V-B) and the goal set.

Every ``query_frequency`` epochs the learner shows the operator the state it believes most in: the
one with the highest classifier reward among the last ``query_frequency`` × epoch steps. A "goal
reached" answer adds that image to the classifier's positives; a "not reached" answer can add it to
its negatives (``use_negative_answers``; the public code left this as a TODO). The operator is
asynchronous (:mod:`anima.models.vice_raq.operator`): one query is pending at a time, a new one
replaces it, and training continues while it waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["GoalSet", "QueryLedger", "select_query"]


def select_query(rewards: np.ndarray, indices: np.ndarray) -> int:
    """The index (from ``indices``) whose classifier reward is highest; the first one on ties.

    ``rewards``: the rewards of all stored transitions; ``indices``: the recent window's indices.
    """
    if len(indices) == 0:
        raise ValueError("no recent states to query")
    window = rewards[indices]
    if not np.isfinite(window).any():
        raise ValueError("every recent state has a non-finite classifier reward")
    return int(indices[int(np.nanargmax(np.where(np.isfinite(window), window, -np.inf)))])


class GoalSet:
    """The classifier's positives (goal examples + states answered "reached") and extra negatives
    (states answered "not reached"), as uint8 image stacks ``(n, H, W, 3)``."""

    def __init__(self, examples: np.ndarray) -> None:
        examples = np.asarray(examples)
        if examples.ndim != 4 or examples.shape[-1] != 3 or examples.dtype != np.uint8:
            raise ValueError(f"goal examples must be (n, H, W, 3) uint8, got {examples.shape} {examples.dtype}")
        self.examples = examples
        self.queried_positives = np.zeros((0, *examples.shape[1:]), np.uint8)
        self.queried_negatives = np.zeros((0, *examples.shape[1:]), np.uint8)

    @property
    def positives(self) -> np.ndarray:
        return np.concatenate([self.examples, self.queried_positives]) if len(self.queried_positives) else self.examples

    def add(self, image: np.ndarray, label: bool) -> None:
        image = np.asarray(image, np.uint8)[None]
        if image.shape[1:] != self.examples.shape[1:]:
            raise ValueError(f"query image must be {self.examples.shape[1:]}, got {image.shape[1:]}")
        if label:
            self.queried_positives = np.concatenate([self.queried_positives, image])
        else:
            self.queried_negatives = np.concatenate([self.queried_negatives, image])

    def state(self) -> dict[str, np.ndarray]:
        return {"goal_examples": self.examples, "queried_positives": self.queried_positives,
                "queried_negatives": self.queried_negatives}

    @classmethod
    def from_state(cls, data: dict[str, np.ndarray]) -> "GoalSet":
        goals = cls(data["goal_examples"])
        shape = goals.examples.shape[1:]
        goals.queried_positives = np.asarray(data["queried_positives"], np.uint8).reshape(-1, *shape)
        goals.queried_negatives = np.asarray(data["queried_negatives"], np.uint8).reshape(-1, *shape)
        return goals


@dataclass
class QueryLedger:
    """What was asked and answered. ``pending``: query id -> (image, ground truth) of queries the
    operator may still answer; an answer to an id not pending (replaced, or unknown) is ignored."""

    asked: int = 0
    answered: int = 0
    skipped: int = 0
    positives: int = 0
    negatives: int = 0
    correct: int = 0  # answers that match the ground truth (an oracle with an error rate, or a person, errs)
    pending: dict[int, tuple[np.ndarray, bool]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {"asked": self.asked, "answered": self.answered, "skipped": self.skipped, "positives": self.positives,
                "negatives": self.negatives, "correct": self.correct}
