"""A learner process hosting RosOperator (the real goal_query server), driven by stdin: used by
``anima bench goal_query`` and tests/ros_nodes/test_query_panel_e2e.py
(``python -m anima.benches._goal_query_learner [NAMESPACE]``).

Commands (one per line): ``ask R G B PROB [true|false]`` opens a query whose 48x48 image is a
checkerboard of colour (R, G, B) and blue, and prints ``{"event": "asked", "id": ...}``; ``quit``.
Every accepted answer or skip is printed as ``{"event": "answer", "id", "label", "wall_s"}``
(``wall_s``: when the learner accepted it). Prints ``{"event": "ready"}`` first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np

from anima.ros_nodes._goal_query_server import RosOperator


def checkerboard(colour: tuple[int, int, int], block: int = 8, size: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    mask = ((yy // block + xx // block) % 2 == 0)[..., None]
    return np.where(mask, np.array(colour, np.uint8), np.array((0, 0, 255), np.uint8)).astype(np.uint8)


def emit(**event: object) -> None:
    print(json.dumps(event), flush=True)


def main() -> None:
    namespace = sys.argv[1] if len(sys.argv) > 1 else ""
    op = RosOperator(namespace=namespace, args=["goal_query_learner"])
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for answer in op.answers():
                emit(event="answer", id=answer.query_id, label=answer.label, wall_s=op.answer_wall_s[answer.query_id])
            time.sleep(0.002)

    threading.Thread(target=watch, daemon=True).start()
    emit(event="ready")
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["ask"]:
            truth = None if len(words) < 6 else words[5] == "true"
            colour = (int(words[1]), int(words[2]), int(words[3]))
            emit(event="asked", id=op.ask(checkerboard(colour), float(words[4]), truth))
        elif words[:1] == ["quit"]:
            break
    stop.set()
    op.close()


class LearnerProcess:
    """This module's ``main`` as a child process; its JSON events are collected by a reader thread."""

    def __init__(self, env: dict[str, str], namespace: str = "", timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen([sys.executable, "-m", "anima.benches._goal_query_learner", namespace], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self.events: list[dict] = []
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.wait("ready")

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("{"):
                self.events.append(json.loads(line))

    def wait(self, kind: str, count: int = 1) -> dict:
        """The ``count``-th event of ``kind``; RuntimeError with the output's tail if the process died or timed out."""
        deadline = time.monotonic() + self.timeout_s
        while len([e for e in self.events if e["event"] == kind]) < count:
            if self.proc.poll() is not None:
                raise RuntimeError("learner died:\n" + "\n".join(self.lines[-30:]))
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for '{kind}':\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.002)
        return [e for e in self.events if e["event"] == kind][count - 1]

    def ask(self, colour: tuple[int, int, int] = (255, 0, 0), probability: float = 0.5) -> int:
        n = len([e for e in self.events if e["event"] == "asked"])
        self.proc.stdin.write(f"ask {colour[0]} {colour[1]} {colour[2]} {probability}\n")
        self.proc.stdin.flush()
        return int(self.wait("asked", n + 1)["id"])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


if __name__ == "__main__":
    main()
