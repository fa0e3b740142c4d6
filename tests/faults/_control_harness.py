"""Harness of the control-safety fault tests (issue 20, items 4-7, 13, 14).

* :class:`Proc`: a child process whose merged output is read line by line, so a test waits on
  the node's own log lines (events), never on a fixed sleep.
* :class:`Peer`: an rclpy node in the test process, spun in a background thread, that records
  what it subscribes to and can wait on a condition over the records.
* :func:`node_pid`: the pid of a launched node (``__node:=<name>`` in its command line).

Imported by the tests with ``importlib`` (pytest runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

REPO = Path(__file__).resolve().parents[2]


class Proc:
    """A child process with its output collected line by line (``wait_line`` waits on a line)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     bufsize=1)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def count(self, text: str) -> int:
        with self._cond:
            return sum(text in line for line in self.lines)

    def wait_line(self, text: str, timeout: float, since: int = 0) -> str:
        """The first line from index ``since`` containing ``text``; fails if the process ends first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[since:]:
                    if text in line:
                        return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"process ended (code {self.proc.returncode}) before {text!r}:\n"
                                         + "\n".join(self.lines[-60:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line with {text!r} within {timeout} s:\n" + "\n".join(self.lines[-60:]))
                self._cond.wait(min(left, 0.5))

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def wait_exit(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5.0)
        return code

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.wait_exit(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.wait_exit(5.0)


class Peer:
    """An rclpy node in the test process (own context, own domain), spun in a thread."""

    def __init__(self, domain_id: int, name: str = "fault_peer") -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node(name, context=self.ctx)
        self.cond = threading.Condition()
        self._executor = SingleThreadedExecutor(context=self.ctx)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.ctx.ok():
            try:
                self._executor.spin_once(timeout_sec=0.05)
            except Exception:  # context shut down while spinning
                return

    def record(self, msg_type, topic: str, qos, store: list, convert: Callable = lambda m: m) -> None:
        """Append ``convert(msg)`` of every message on ``topic`` to ``store`` (under ``cond``)."""

        def on_msg(msg) -> None:
            with self.cond:
                store.append(convert(msg))
                self.cond.notify_all()

        self.node.create_subscription(msg_type, topic, on_msg, qos)

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                assert left > 0, f"timed out after {timeout} s waiting for {what}"
                self.cond.wait(min(left, 0.2))

    def close(self) -> None:
        rclpy.try_shutdown(context=self.ctx)
        self._thread.join(timeout=5.0)
        self.node.destroy_node()


def node_pid(domain: str, name: str) -> int:
    """Pid of the process of this ROS domain whose command line names node ``name``."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"ROS_DOMAIN_ID={domain}".encode() in environ and f"__node:={name}".encode() in cmdline:
            return int(pid)
    raise AssertionError(f"no process of node {name} in domain {domain}")


def leftover_nodes(domain: str) -> list[str]:
    """Command lines of processes of this ROS domain that still run a node."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"ROS_DOMAIN_ID={domain}".encode() in environ and b"__node:=" in cmdline:
            left.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return left
