"""Fault-injection harness: a node as its own process (output read line by line, so a test waits on
the node's own log lines), and an rclpy peer in the test process that publishes the faults and
records what the node sends back. Everything runs in the test's ROS_DOMAIN_ID (``ros_env``)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pytest
import rclpy
from rclpy.node import Node


class NodeProc:
    """A node process whose merged stdout/stderr is collected line by line."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def has(self, text: str, since: int = 0) -> bool:
        with self._cond:
            return any(text in line for line in self.lines[since:])

    def mark(self) -> int:
        with self._cond:
            return len(self.lines)

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5.0)
        return self.proc.returncode


class Peer:
    """The other side of a node: publishes, subscribes (messages kept per topic), serves."""

    def __init__(self, domain_id: int) -> None:
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("fault_peer", context=self.ctx)
        self.received: dict[str, list] = defaultdict(list)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)

    def publisher(self, msg_type, topic: str, qos):
        return self.node.create_publisher(msg_type, topic, qos)

    def subscribe(self, msg_type, topic: str, qos) -> None:
        self.node.create_subscription(msg_type, topic, self.received[topic].append, qos)

    def spin(self, seconds: float = 0.02) -> None:
        end = time.monotonic() + seconds
        while True:
            self.executor.spin_once(timeout_sec=max(0.0, min(0.01, end - time.monotonic())))
            if time.monotonic() >= end:
                return

    def until(self, condition: Callable[[], bool], what: str, node: NodeProc | None = None, timeout: float = 90.0,
              each: Callable[[], None] | None = None) -> None:
        """Spin (calling ``each`` every turn, e.g. to publish) until ``condition``; fail naming ``what``,
        or at once if ``node`` died. The default timeout is generous: on a loaded shared machine a node
        that imports torch can take tens of seconds to start."""
        deadline = time.monotonic() + timeout
        while not condition():
            if node is not None and not node.alive():
                pytest.fail(f"node died while waiting for {what}:\n{node.output()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}" + (f":\n{node.output()[-3000:]}" if node else ""))
            if each is not None:
                each()
            self.spin(0.02)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


@pytest.fixture
def peer(ros_env):
    p = Peer(int(ros_env["ROS_DOMAIN_ID"]))
    yield p
    p.close()


@pytest.fixture
def start_node(ros_env, venv_bin):
    """``start_node("state_estimator", "-p", "x:=1")`` -> NodeProc; every node is stopped at the end,
    and one that did not exit cleanly (code 0) fails the test."""
    started: list[NodeProc] = []

    def start(executable: str, *ros_args: str) -> NodeProc:
        argv = [str(venv_bin / executable)] + (["--ros-args", *ros_args] if ros_args else [])
        node = NodeProc(argv, ros_env)
        started.append(node)
        return node

    yield start
    codes = {n.proc.args[0]: n.stop() for n in started}
    bad = {k: v for k, v in codes.items() if v != 0}
    assert not bad, f"nodes did not exit cleanly: {bad}\n" + "\n".join(n.output()[-2000:] for n in started)
