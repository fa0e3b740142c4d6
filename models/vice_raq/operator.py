"""Who answers RAQ goal queries: the one-pending-query protocol and the in-process oracle (ROS-free).

RAQ (Singh et al., RSS 2019, Sec. V-B) asks an operator now and then whether the most promising
recent state is a success. The learner never waits for the answer: :meth:`Operator.ask` returns a
query id at once, training continues, and :meth:`Operator.answers` hands over whatever was answered
since the last call. One query is pending at a time; asking again replaces it, and an answer to the
replaced (stale) query is refused, so a label can never land on an image the operator did not see.

- :class:`QueryBook`: that state machine, thread-safe, with an injectable clock. Query ids are
  nanoseconds of that clock (strictly increasing) and equal the ``goal_query/image`` header stamp
  (``sec * 1e9 + nanosec``) that :class:`anima.ros_nodes._goal_query_server.RosOperator` publishes.
- :class:`Operator`: the protocol the trainer talks to.
- :class:`OracleOperator`: answers from the simulator's ground truth after ``delay_s`` (seconds of
  wall time, or environment steps with a step clock) and flips a label with ``error_rate`` (seeded),
  for CI and simulation studies.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import numpy as np

__all__ = ["Answer", "Operator", "OracleOperator", "Query", "QueryBook", "check_query_image", "noisy_label"]

_REMEMBERED_IDS = 4096  # ids kept to tell "stale" from "unknown" in refusals


@dataclass(frozen=True)
class Query:
    """One goal query. ``query_id``: nanoseconds, the ``goal_query/image`` header stamp;
    ``image``: (H, W, 3) uint8 RGB; ``probability``: the classifier's p(goal | image);
    ``success_truth``: ground truth in simulation (for the oracle), never shown to a person."""

    query_id: int
    image: np.ndarray
    probability: float
    success_truth: bool | None = None


@dataclass(frozen=True)
class Answer:
    """``label``: True goal reached, False not reached, None skipped."""

    query_id: int
    label: bool | None


def check_query_image(image: np.ndarray) -> np.ndarray:
    """The image as a contiguous (H, W, 3) uint8 array; ValueError saying what it got otherwise."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"query image must be (H, W, 3) uint8 RGB, got shape {array.shape} dtype {array.dtype}")
    return np.ascontiguousarray(array)


def noisy_label(truth: bool, error_rate: float, rng: np.random.Generator) -> tuple[bool, bool]:
    """An oracle's answer: ``truth``, flipped with probability ``error_rate``; returns (label, flipped).
    One draw from ``rng`` per call, so a seeded oracle is reproducible."""
    flipped = bool(rng.random() < error_rate)
    return bool(truth) != flipped, flipped


def _verdict(label: bool | None) -> str:
    return {True: "goal reached", False: "not reached", None: "skipped"}[label]


class QueryBook:
    """The one-pending-query state machine shared by every operator.

    ``clock``: seconds (float), ``time.time`` by default so ids are wall-clock ROS stamps; inject a
    fake clock in tests. Ids are ``int(clock() * 1e9)``, bumped to stay strictly increasing.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: Query | None = None
        self._opened_at = 0.0
        self._last_id = 0
        self._asked_ids: deque[int] = deque(maxlen=_REMEMBERED_IDS)
        self._answered_ids: deque[int] = deque(maxlen=_REMEMBERED_IDS)
        self._new_answers: list[Answer] = []
        self._history: deque[Answer] = deque(maxlen=32)
        self._counts = {"asked": 0, "answered": 0, "positives": 0, "negatives": 0, "skipped": 0, "replaced": 0}

    def open(self, image: np.ndarray, probability: float, success_truth: bool | None = None) -> Query:
        """Make a new pending query (the previous pending one, if any, becomes stale)."""
        image = check_query_image(image).copy()
        probability = float(probability)
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"query probability must be in [0, 1], got {probability!r}")
        with self._lock:
            now = self._clock()
            query_id = max(int(now * 1e9), self._last_id + 1)
            self._last_id = query_id
            if self._pending is not None:
                self._counts["replaced"] += 1
            self._pending = Query(query_id, image, probability, None if success_truth is None else bool(success_truth))
            self._opened_at = now
            self._asked_ids.append(query_id)
            self._counts["asked"] += 1
            return self._pending

    def pending(self) -> Query | None:
        with self._lock:
            return self._pending

    def _refusal(self, query_id: int | None) -> str | None:
        """Why an answer to ``query_id`` (None: the pending one) cannot be taken; None when it can."""
        if self._pending is None:
            if query_id is not None and query_id in self._answered_ids:
                return f"query {query_id} was already answered and no query is pending"
            return "no query is pending" + ("" if query_id is None else f" (answer was for query {query_id})")
        if query_id is None or query_id == self._pending.query_id:
            return None
        if query_id in self._asked_ids:
            return f"query {query_id} is stale: query {self._pending.query_id} replaced it"
        return f"query {query_id} is unknown; the pending query is {self._pending.query_id}"

    def _settle(self, label: bool | None) -> tuple[bool, str]:
        query = self._pending
        assert query is not None
        self._pending = None
        self._answered_ids.append(query.query_id)
        key = "skipped" if label is None else ("positives" if label else "negatives")
        self._counts[key] += 1
        if label is not None:
            self._counts["answered"] += 1
        answer = Answer(query.query_id, label)
        self._new_answers.append(answer)
        self._history.append(answer)
        return True, f"query {query.query_id} {'skipped' if label is None else 'labelled ' + _verdict(label)}"

    def answer(self, query_id: int | None, label: bool) -> tuple[bool, str]:
        """Label the pending query; ``query_id`` None means "the pending one". Returns
        ``(accepted, message naming the query)``; refuses when nothing is pending or the id is stale/unknown."""
        with self._lock:
            refusal = self._refusal(query_id)
            if refusal is not None:
                return False, f"answer refused: {refusal}"
            return self._settle(bool(label))

    def skip(self, query_id: int | None = None) -> tuple[bool, str]:
        """Drop the pending query without a label (``query_id`` as in :meth:`answer`)."""
        with self._lock:
            refusal = self._refusal(query_id)
            if refusal is not None:
                return False, f"skip refused: {refusal}"
            return self._settle(None)

    def take_answers(self) -> list[Answer]:
        """Answers and skips since the last call, oldest first."""
        with self._lock:
            answers, self._new_answers = self._new_answers, []
            return answers

    def history(self) -> list[Answer]:
        """The last (up to 32) answers and skips, oldest first."""
        with self._lock:
            return list(self._history)

    def status(self) -> dict:
        """pending (id or None), asked, answered, positives, negatives, skipped, replaced,
        probability (of the pending image, or None), waiting_s (0 when nothing is pending)."""
        with self._lock:
            query = self._pending
            return {"pending": None if query is None else query.query_id, **self._counts,
                    "probability": None if query is None else query.probability,
                    "waiting_s": 0.0 if query is None else max(0.0, self._clock() - self._opened_at)}


@runtime_checkable
class Operator(Protocol):
    """What the trainer needs from whoever answers queries. No method blocks."""

    def ask(self, image: np.ndarray, probability: float, success_truth: bool | None = None) -> int: ...

    def answers(self) -> list[Answer]: ...

    def goal_captures(self) -> list[np.ndarray]: ...

    def status(self) -> dict: ...

    def close(self) -> None: ...


class OracleOperator:
    """Answers from ground truth, in process: a pending query is answered once it has waited
    ``delay_s`` units of ``clock`` (wall seconds by default; pass a step counter to count env steps),
    with its label flipped with probability ``error_rate`` (``seed``). A query without ground truth is
    skipped. Answers appear on the :meth:`answers` call that finds the delay elapsed."""

    def __init__(self, delay_s: float = 0.0, error_rate: float = 0.0, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not delay_s >= 0.0:
            raise ValueError(f"oracle delay_s must be >= 0, got {delay_s!r}")
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"oracle error_rate must be in [0, 1], got {error_rate!r}")
        self.delay_s, self.error_rate = float(delay_s), float(error_rate)
        self._clock = clock
        self._rng = np.random.default_rng(seed)
        self._book = QueryBook(clock=time.time)
        self._asked_at = 0.0
        self.errors = 0  # labels flipped so far

    @property
    def book(self) -> QueryBook:
        return self._book

    def ask(self, image: np.ndarray, probability: float, success_truth: bool | None = None) -> int:
        query = self._book.open(image, probability, success_truth)
        self._asked_at = self._clock()
        return query.query_id

    def _maybe_answer(self) -> None:
        query = self._book.pending()
        if query is None or self._clock() - self._asked_at < self.delay_s:
            return
        if query.success_truth is None:
            self._book.skip(query.query_id)
            return
        label, flipped = noisy_label(query.success_truth, self.error_rate, self._rng)
        self.errors += int(flipped)
        self._book.answer(query.query_id, label)

    def answers(self) -> list[Answer]:
        self._maybe_answer()
        return self._book.take_answers()

    def goal_captures(self) -> list[np.ndarray]:
        return []  # an oracle captures no goal examples; they come from `anima goals collect`

    def status(self) -> dict:
        return {**self._book.status(), "operator": "oracle", "errors": self.errors}

    def close(self) -> None:
        pass
