"""The learner's side of the query protocol (``QueryClient``) with the real in-process oracle:
answers join the goal set, a skip and a stale answer change nothing, captured goal frames are
resized or refused, and the budget is kept."""

from __future__ import annotations

import numpy as np

from anima.models.vice_raq.operator import OracleOperator
from anima.models.vice_raq.queries import QueryClient, fit_image
from anima.models.vice_raq.raq import GoalSet, QueryLedger
from anima.models.vice_raq.replay import ReplayBuffer


class CapturingOracle(OracleOperator):
    """The oracle plus goal frames 'captured' by an operator (as the panel's capture button gives them)."""

    def __init__(self, frames: list[np.ndarray], **kwargs) -> None:
        super().__init__(**kwargs)
        self.frames = frames

    def goal_captures(self) -> list[np.ndarray]:
        frames, self.frames = self.frames, []
        return frames


def _replay(successes: list[bool], rewards: list[float]) -> ReplayBuffer:
    buf = ReplayBuffer(16, (8, 8, 3), 4)
    for k, (ok, r) in enumerate(zip(successes, rewards)):
        buf.add(np.zeros((8, 8, 3), np.uint8), np.zeros(4, np.float32), np.full((8, 8, 3), k, np.uint8), ok, r)
    return buf


def test_the_best_recent_state_is_asked_and_a_positive_answer_joins_the_goals() -> None:
    goals = GoalSet(np.zeros((2, 8, 8, 3), np.uint8))
    client = QueryClient(OracleOperator(), goals, QueryLedger(), max_queries=5, log=lambda _m: None)
    replay = _replay([False, True, False], [0.1, 2.0, 0.5])
    assert client.ask_best(replay, 3, lambda _img: 0.9) == 1
    client.poll()
    assert client.ledger.counts() == {"asked": 1, "answered": 1, "skipped": 0, "positives": 1, "negatives": 0, "correct": 1}
    assert len(goals.positives) == 3 and goals.positives[-1, 0, 0, 0] == 1  # the queried image itself


def test_a_replaced_query_answer_is_stale_and_only_the_latest_counts() -> None:
    clock = [0.0]
    oracle = OracleOperator(delay_s=1.0, clock=lambda: clock[0])
    goals = GoalSet(np.zeros((1, 8, 8, 3), np.uint8))
    client = QueryClient(oracle, goals, QueryLedger(), max_queries=5, log=lambda _m: None)
    replay = _replay([True, False], [1.0, 0.0])
    client.ask_best(replay, 2, lambda _img: 0.7)       # asks about index 0 (a success)
    first = next(iter(client.ledger.pending))
    replay.rewards[:2] = [0.0, 3.0]
    client.ask_best(replay, 2, lambda _img: 0.7)       # replaces it with index 1 (not a success)
    assert first not in client.ledger.pending and len(client.ledger.pending) == 1
    clock[0] = 2.0
    client.poll()
    assert client.ledger.negatives == 1 and client.ledger.positives == 0 and len(goals.positives) == 1


def test_skips_and_the_query_budget() -> None:
    goals = GoalSet(np.zeros((1, 8, 8, 3), np.uint8))
    client = QueryClient(OracleOperator(), goals, QueryLedger(), max_queries=1, log=lambda _m: None)
    replay = _replay([True], [1.0])
    client.ask_best(replay, 1, lambda _img: 0.5)
    client.operator.book.skip(None)                      # the operator skips it before the oracle answers
    client.poll()
    assert client.ledger.skipped == 1 and client.ledger.answered == 0 and len(goals.positives) == 1
    assert client.ask_best(replay, 1, lambda _img: 0.5) is None and client.ledger.asked == 1  # budget spent


def test_captured_goal_frames_are_resized_and_bad_frames_refused() -> None:
    logs: list[str] = []
    frames = [np.full((96, 96, 3), 200, np.uint8), np.zeros((96, 96), np.uint8), np.zeros((8, 8, 3), np.float32)]
    goals = GoalSet(np.zeros((1, 8, 8, 3), np.uint8))
    client = QueryClient(CapturingOracle(frames), goals, QueryLedger(), max_queries=0, log=logs.append)
    client.poll()
    assert len(goals.examples) == 2 and goals.examples[-1].shape == (8, 8, 3) and goals.examples[-1, 0, 0, 0] == 200
    assert client.captured == 1 and client.refused_captures == 2
    assert "(96, 96) uint8" in logs[0] and "(8, 8, 3) float32" in logs[1]
    assert fit_image(np.zeros((8, 8, 4), np.uint8), 8) is None
