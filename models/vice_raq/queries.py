"""The learner's side of RAQ's queries: ask the operator, take in answers and captured goal examples.

The operator (:class:`~anima.models.vice_raq.operator.Operator`) never blocks: :meth:`QueryClient.ask`
hands it the image and returns, and :meth:`QueryClient.poll` (called after every episode, so training
never waits) applies whatever answers arrived. Only the latest query is pending: an answer naming an
older query id (one the operator already replaced) is counted as stale and ignored.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from anima.models.vice_raq.raq import GoalSet, QueryLedger, select_query
from anima.models.vice_raq.replay import ReplayBuffer

__all__ = ["QueryClient", "make_operator"]


def make_operator(kind: str, delay_s: float = 0.0, error_rate: float = 0.0, seed: int = 0, image_size_px: int = 48) -> Any:
    """``oracle``: the in-process :class:`OracleOperator`; ``ros``: the ROS ``goal_query`` services
    (``anima.ros_nodes._goal_query_server.RosOperator``, imported only here so the learning code never
    imports rclpy otherwise); ``none``: no operator."""
    if kind == "none":
        return None
    if kind == "oracle":
        from anima.models.vice_raq.operator import OracleOperator

        return OracleOperator(delay_s=delay_s, error_rate=error_rate, seed=seed)
    if kind == "ros":
        from anima.ros_nodes._goal_query_server import RosOperator

        return RosOperator(image_size_px=image_size_px)
    raise ValueError(f"operator must be 'oracle', 'ros' or 'none', got {kind!r}")


def fit_image(image: np.ndarray, size: int) -> np.ndarray | None:
    """A captured camera frame as a (size, size, 3) uint8 image (area-resized); None if it is not an RGB image."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        return None
    if image.shape[:2] != (size, size):
        import cv2

        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


class QueryClient:
    """Queries to one operator, the ledger of what was asked and answered, and the goal set they feed."""

    def __init__(self, operator: Any, goals: GoalSet, ledger: QueryLedger, max_queries: int,
                 log: Callable[[str], None] = print) -> None:
        self.operator, self.goals, self.ledger, self.max_queries, self.log = operator, goals, ledger, max_queries, log
        self.stale = 0
        self.captured = 0
        self.refused_captures = 0

    def poll(self) -> None:
        """Apply the answers and goal captures that arrived since the last call (never blocks)."""
        if self.operator is None:
            return
        for answer in self.operator.answers():
            entry = self.ledger.pending.pop(answer.query_id, None)
            if entry is None:
                self.stale += 1
                continue
            image, truth = entry
            if answer.label is None:
                self.ledger.skipped += 1
                continue
            self.ledger.answered += 1
            self.ledger.correct += int(bool(answer.label) == truth)
            if answer.label:
                self.ledger.positives += 1
            else:
                self.ledger.negatives += 1
            self.goals.add(image, bool(answer.label))
        size = self.goals.examples.shape[1]
        for frame in self.operator.goal_captures():
            image = fit_image(frame, size)
            if image is None:
                self.refused_captures += 1
                self.log(f"goal capture refused: expected an (H, W, 3) uint8 RGB image, got {np.shape(frame)} {np.asarray(frame).dtype}")
                continue
            self.goals.examples = np.concatenate([self.goals.examples, image[None]])
            self.captured += 1

    @property
    def budget_left(self) -> int:
        return self.max_queries - self.ledger.asked

    def ask_best(self, replay: ReplayBuffer, window: int, probability_of: Callable[[np.ndarray], float]) -> int | None:
        """Ask about the recent state with the highest classifier reward; returns its buffer index (None: no budget)."""
        if self.operator is None or self.budget_left <= 0 or len(replay) == 0:
            return None
        index = select_query(replay.rewards, replay.recent(window))
        image, truth = replay.next_obs[index].copy(), bool(replay.success[index])
        self._pending_probability = float(probability_of(image))
        query_id = self.operator.ask(image, self._pending_probability, truth)
        self.ledger.pending = {int(query_id): (image, truth)}  # a new query replaces the pending one
        self.ledger.asked += 1
        return index

    def reask_pending(self) -> None:
        """Show a fresh operator the query pending when the run was checkpointed (not counted again)."""
        if self.operator is None or not self.ledger.pending:
            return
        (image, truth), = self.ledger.pending.values()
        query_id = self.operator.ask(image, self._pending_probability, truth)
        self.ledger.pending = {int(query_id): (image, truth)}

    _pending_probability = 0.5

    def close(self) -> None:
        if self.operator is not None:
            self.operator.close()
