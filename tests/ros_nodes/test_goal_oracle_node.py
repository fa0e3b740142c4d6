"""goal_oracle as a process over DDS, answering a real RosOperator (in this process) from ground truth:
the truth after the delay, every label flipped at error rate 1, a query without ground truth left
unanswered (its warning proves the query arrived), bad parameters refused by name."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from anima.models.vice_raq.operator import Answer
from anima.ros_nodes._goal_query_server import RosOperator

pytestmark = [pytest.mark.ros]
TIMEOUT_S = 60.0


class Oracle:
    def __init__(self, venv_bin: Path, env: dict[str, str], *params: str) -> None:
        args = [str(venv_bin / "goal_oracle"), "--ros-args", *[a for p in params for a in ("-p", p)]]
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def start_oracle(venv_bin: Path, ros_env: dict[str, str]) -> Iterator:
    made: list[Oracle] = []

    def start(*params: str) -> Oracle:
        made.append(Oracle(venv_bin, ros_env, *params))
        return made[-1]

    yield start
    for oracle in made:
        oracle.close()


@pytest.fixture
def learner(ros_env: dict[str, str]) -> Iterator[RosOperator]:
    op = RosOperator(domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    yield op
    op.close()


def next_answer(learner: RosOperator, oracle: Oracle) -> Answer:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        answers = learner.answers()
        if answers:
            assert len(answers) == 1
            return answers[0]
        assert oracle.proc.poll() is None, "goal_oracle died:\n" + "\n".join(oracle.lines[-30:])
        assert time.monotonic() < deadline, "no answer from goal_oracle:\n" + "\n".join(oracle.lines[-30:])
        time.sleep(0.005)


def image() -> np.ndarray:
    return np.zeros((48, 48, 3), np.uint8)


def test_oracle_answers_the_ground_truth_after_the_delay(start_oracle, learner: RosOperator) -> None:
    oracle = start_oracle("delay_s:=0.4")
    for truth in (True, False, True):
        asked = time.time()
        query_id = learner.ask(image(), 0.5, success_truth=truth)
        assert next_answer(learner, oracle) == Answer(query_id, truth)
        assert learner.answer_wall_s[query_id] - asked >= 0.4 * 0.95  # never before the delay (a lower bound)


def test_error_rate_one_flips_every_label(start_oracle, learner: RosOperator) -> None:
    oracle = start_oracle("delay_s:=0.0", "error_rate:=1.0", "seed:=3")
    for truth in (True, False):
        query_id = learner.ask(image(), 0.5, success_truth=truth)
        assert next_answer(learner, oracle) == Answer(query_id, not truth)


def test_query_without_ground_truth_is_not_answered(start_oracle, learner: RosOperator) -> None:
    oracle = start_oracle("delay_s:=0.0")
    unknown = learner.ask(image(), 0.5)  # a real robot's query: no ground truth published
    deadline = time.monotonic() + TIMEOUT_S
    while not any(f"query {unknown}: no ground truth" in line for line in oracle.lines):
        assert time.monotonic() < deadline, "the oracle never saw the query:\n" + "\n".join(oracle.lines[-30:])
        time.sleep(0.01)
    assert learner.answers() == [] and learner.book.status()["pending"] == unknown
    known = learner.ask(image(), 0.5, success_truth=True)  # replaces it; this one is answered
    assert next_answer(learner, oracle) == Answer(known, True)


def test_bad_parameters_are_refused_by_name(start_oracle) -> None:
    oracle = start_oracle("error_rate:=1.5")
    assert oracle.proc.wait(timeout=TIMEOUT_S) == 2
    oracle.reader.join(timeout=10)  # the output is complete once the pipe closed
    assert any("error_rate in [0, 1]" in line and "1.5" in line for line in oracle.lines), oracle.lines
