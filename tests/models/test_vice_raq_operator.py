"""The one-pending-query protocol (QueryBook) and the in-process oracle operator."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from anima.models.vice_raq.operator import Answer, Operator, OracleOperator, QueryBook


class FakeClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def image(value: int = 0) -> np.ndarray:
    return np.full((48, 48, 3), value, np.uint8)


def test_query_id_is_the_clock_in_nanoseconds_and_strictly_increasing() -> None:
    clock = FakeClock(12.5)
    book = QueryBook(clock=clock)
    first = book.open(image(), 0.7)
    second = book.open(image(), 0.7)  # same clock reading: the id is bumped, never repeated
    assert first.query_id == 12_500_000_000
    assert second.query_id == 12_500_000_001


def test_answer_labels_the_pending_query_and_names_it() -> None:
    book = QueryBook(clock=FakeClock())
    query = book.open(image(5), 0.9, success_truth=True)
    ok, message = book.answer(query.query_id, True)
    assert ok and str(query.query_id) in message and "goal reached" in message
    assert book.take_answers() == [Answer(query.query_id, True)]
    assert book.take_answers() == []  # answers are handed over once
    status = book.status()
    assert status["pending"] is None and status["answered"] == 1 and status["positives"] == 1


def test_stale_answer_to_a_replaced_query_is_refused() -> None:
    book = QueryBook(clock=FakeClock())
    old = book.open(image(1), 0.4)
    new = book.open(image(2), 0.8)
    ok, message = book.answer(old.query_id, True)
    assert not ok and "stale" in message and str(old.query_id) in message and str(new.query_id) in message
    assert book.take_answers() == []
    assert book.status()["pending"] == new.query_id  # the refusal left the new query pending
    ok, _ = book.answer(new.query_id, False)
    assert ok and book.take_answers() == [Answer(new.query_id, False)]


def test_answer_with_nothing_pending_is_refused_with_a_clear_message() -> None:
    book = QueryBook(clock=FakeClock())
    ok, message = book.answer(None, True)
    assert not ok and "no query is pending" in message
    query = book.open(image(), 0.5)
    assert book.answer(query.query_id, True)[0]
    ok, message = book.answer(query.query_id, True)  # a double click
    assert not ok and "already answered" in message and str(query.query_id) in message


def test_unknown_id_is_refused() -> None:
    book = QueryBook(clock=FakeClock())
    query = book.open(image(), 0.5)
    ok, message = book.answer(query.query_id + 12345, True)
    assert not ok and "unknown" in message and book.status()["pending"] == query.query_id


def test_skip_drops_the_pending_query_without_a_label() -> None:
    book = QueryBook(clock=FakeClock())
    query = book.open(image(), 0.5)
    ok, message = book.skip()
    assert ok and str(query.query_id) in message and "skipped" in message
    assert book.take_answers() == [Answer(query.query_id, None)]
    status = book.status()
    assert (status["skipped"], status["answered"], status["pending"]) == (1, 0, None)
    assert not book.skip()[0]  # nothing left to skip


def test_status_reports_probability_and_waiting_time() -> None:
    clock = FakeClock(10.0)
    book = QueryBook(clock=clock)
    book.open(image(), 0.25)
    clock.t = 13.5
    status = book.status()
    assert status["probability"] == 0.25 and status["waiting_s"] == pytest.approx(3.5) and status["asked"] == 1


def test_bad_query_image_and_probability_are_refused() -> None:
    book = QueryBook()
    with pytest.raises(ValueError, match="uint8"):
        book.open(np.zeros((48, 48, 3), np.float32), 0.5)
    with pytest.raises(ValueError, match=r"\(48, 48\)"):
        book.open(np.zeros((48, 48), np.uint8), 0.5)
    with pytest.raises(ValueError, match="probability"):
        book.open(image(), 1.5)


def test_concurrent_answers_settle_a_query_exactly_once() -> None:
    book = QueryBook()
    query = book.open(image(), 0.5)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(book.answer(query.query_id, True)[0])) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1 and book.take_answers() == [Answer(query.query_id, True)]


def test_oracle_answers_ground_truth_after_the_delay_in_steps() -> None:
    steps = FakeClock(0.0)
    oracle = OracleOperator(delay_s=3, clock=steps)
    assert isinstance(oracle, Operator)
    query_id = oracle.ask(image(), 0.9, success_truth=False)
    steps.t = 2
    assert oracle.answers() == []  # delay not yet elapsed
    steps.t = 3
    assert oracle.answers() == [Answer(query_id, False)]
    assert oracle.status()["negatives"] == 1 and oracle.goal_captures() == []


def test_oracle_skips_a_query_without_ground_truth() -> None:
    oracle = OracleOperator()
    query_id = oracle.ask(image(), 0.9)
    assert oracle.answers() == [Answer(query_id, None)]


def test_oracle_error_rate_flips_that_fraction_of_labels_reproducibly() -> None:
    def run(seed: int) -> list[bool | None]:
        oracle = OracleOperator(error_rate=0.2, seed=seed)
        labels = []
        for _ in range(2000):
            oracle.ask(image(), 0.5, success_truth=True)
            labels.extend(a.label for a in oracle.answers())
        return labels

    labels = run(3)
    # 2000 Bernoulli(0.2) flips: mean 400, sd sqrt(2000*0.2*0.8) ~ 17.9; +-5 sd
    assert 310 < labels.count(False) < 490
    assert labels == run(3) and labels != run(4)


def test_oracle_replaced_query_is_never_answered() -> None:
    steps = FakeClock(0.0)
    oracle = OracleOperator(delay_s=5, clock=steps)
    oracle.ask(image(), 0.5, success_truth=True)
    steps.t = 4
    second = oracle.ask(image(), 0.6, success_truth=False)  # replaces the first; delay restarts
    steps.t = 8
    assert oracle.answers() == []
    steps.t = 9
    assert oracle.answers() == [Answer(second, False)]
