"""Shared node plumbing: QoS profiles, time conversion, the Jazzy ``main`` pattern.

QoS is chosen per stream (STYLE.md). Streams (sensor data, estimates, ground truth) are
*published* reliable keep-last, so every subscriber matches: a default (reliable) subscriber such
as rviz, nav2 or a recorder never matches a best-effort publisher. Our own *subscribers* of
streams are best-effort keep-last (a late sample is worthless); a best-effort subscriber matches a
reliable publisher and gets best-effort delivery, with no retransmission. Commands and targets are
reliable keep-last with a small depth both ways; latched data is transient-local depth 1.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Callable

import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

STREAM_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=5,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
"""Publishers of sensor streams, estimates, ground truth: any subscriber matches."""
HIGH_RATE_STREAM_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=250,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
"""Publishers of small high-rate streams (the bridge's 500 Hz ``joint_states`` and ``imu/data``, pd_controller's
``joint_commands``): as
``STREAM_QOS`` with a writer history of 0.5 s, from which a reliable reader (the recorder, a logger)
that was starved of CPU for a moment gets lost datagrams repaired. With depth 5 (10 ms) a recorder
on a loaded machine lost runs of 14 and 26 consecutive joint_states. Memory: 250 small messages."""
SENSOR_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=5,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
"""Subscriptions to sensor streams: best effort, matches reliable and best-effort publishers."""
COMMAND_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=2,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
CLOCK_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=125,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
"""``/clock`` publisher: reliable, so rclpy's best-effort time source and reliable tools both match;
0.5 s of writer history at 250 Hz, so a reliable recorder gets a starved moment repaired."""


def to_time_msg(seconds: float) -> Time:
    """Seconds (sim or wall) -> builtin_interfaces/Time, rounded to the nanosecond."""
    ns = int(round(seconds * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def from_time_msg(stamp: Time) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def stamp_key(stamp: Time) -> int:
    """An exact integer key for a stamp (nanoseconds), for matching messages across topics."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


_STOP = threading.Event()


def shutdown_requested() -> bool:
    """True once SIGINT or SIGTERM arrived: loops finish their turn and return."""
    return _STOP.is_set()


# A node still alive this long after SIGINT/SIGTERM prints every thread's stack to stderr, so a
# shutdown that hangs (``anima launch`` kills a node 5 s after SIGINT) says where it hung.
STOP_TRACE_AFTER_S = 4.0
# The rcl/DDS part of a node's teardown (``destroy_node``, ``try_shutdown``) may take this long; past it the
# process prints what stalled and exits with the node's exit code, before ``anima launch`` (or ``ros2 launch``)
# escalates 5 s after SIGINT. Seen under load: ``pose_hold`` stuck for the whole grace inside rcl's node
# destruction (RELIABILITY.md). The node's own ``close`` (a recorder writing its bag) is not bounded.
TEARDOWN_LIMIT_S = 2.5
# A stall inside one C call that holds the GIL starves that Python watchdog; faulthandler's own C thread then dumps
# every stack and exits with code 1 this much later, still before the launcher's 5 s.
TEARDOWN_HARD_LIMIT_S = 3.5


def _on_signal(_signum: int, _frame: object) -> None:
    """SIGINT/SIGTERM: ask the loops to stop. Idempotent: a second signal (a terminal's Ctrl-C can
    reach the process group twice) only sets the flag again."""
    if not _STOP.is_set():
        faulthandler.dump_traceback_later(STOP_TRACE_AFTER_S, exit=False)
    _STOP.set()


def _ignore_stop_signals() -> None:
    """From here on, SIGINT/SIGTERM are ignored: the node has shut down and only exits.

    Python's finalization resets a signal whose handler is a Python function to SIG_DFL, so a second
    SIGINT 50 ms after the first, landing while the interpreter finalizes (torch and rclpy take a
    while), killed the node with exit code 130, which ``ros2 launch`` reports as "process has died".
    SIG_IGN is left alone by finalization.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def run_node(
    factory: Callable[[], Node],
    args: list[str] | None = None,
    spin: Callable[[Node], None] | None = None,
) -> int:
    """The Jazzy ``main`` pattern: init, spin, destroy, try_shutdown; Ctrl-C is a clean exit.

    ``spin`` defaults to ``spin_events``; nodes that own their loop (the simulator) pass theirs. The factory may
    raise ``ValueError`` for bad parameters; that is reported on one line and the process exits 2
    so ``anima launch`` names the node that failed. A node ends a run by raising ``SystemExit``.

    Ctrl-C (SIGINT) and SIGTERM only set a flag that the loops check after each wake-up; the
    node then leaves its loop and tears down in order. rclpy's own handler would shut the
    context down asynchronously, racing a loop that is taking a message (seen as a rare
    segfault at shutdown). Shutdown is idempotent: any number of signals, at any time from here
    on, end the node once, with exit code 0 (tests/faults/test_launcher_faults.py).
    """
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    code = 0
    try:
        node = factory()
        (spin or spin_events)(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, FileNotFoundError) as err:
        print(f"[fatal] {err}", file=sys.stderr)
        code = 2
    except SystemExit as done:
        code = int(done.code or 0)
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            try:
                if close is not None:
                    close()
            except Exception as err:  # a failing cleanup must not hide how the node ended
                print(f"[cleanup] {type(err).__name__}: {err}", file=sys.stderr)
                code = code or 1
        code = _bounded_teardown(node, code)
        _ignore_stop_signals()
    return code


def _bounded_teardown(node: Node | None, code: int) -> int:
    """``destroy_node`` and ``try_shutdown`` within :data:`TEARDOWN_LIMIT_S`, else exit now with ``code``."""
    watchdog = threading.Timer(TEARDOWN_LIMIT_S, _teardown_overrun, args=(node.get_name() if node else "node", code))
    watchdog.daemon = True
    watchdog.start()
    faulthandler.dump_traceback_later(TEARDOWN_HARD_LIMIT_S, exit=True)  # replaces the stop-signal dump meanwhile
    try:
        if node is not None:
            node.destroy_node()
    except Exception as err:  # a failing cleanup must not hide how the node ended
        print(f"[cleanup] {type(err).__name__}: {err}", file=sys.stderr)
        code = code or 1
    finally:
        try:
            rclpy.try_shutdown()
        finally:
            watchdog.cancel()
            faulthandler.cancel_dump_traceback_later()
            if _STOP.is_set():  # a finalization that hangs (torch, rclpy) still says where
                faulthandler.dump_traceback_later(STOP_TRACE_AFTER_S, exit=False)
    return code


def _teardown_overrun(name: str, code: int) -> None:
    """The watchdog's end: say where the teardown stalled, then leave without waiting for it (the OS frees the
    node's sockets and memory; its peers see it gone when its DDS lease ends)."""
    print(f"[teardown] {name}: rcl/DDS teardown still running after {TEARDOWN_LIMIT_S:g} s; exiting with code {code} "
          "without waiting for it. Where it stalled:", file=sys.stderr, flush=True)
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class SubscriptionPoller:
    """Takes one subscription's messages without an executor, for a node that owns a hot loop.

    ``rclpy``'s executor rebuilds its wait set on every ``spin_once`` (about 0.15 ms here even
    when nothing is ready); a simulator loop at 1 kHz cannot afford that. This keeps one wait set
    for one subscription, as ``rclpy.wait_for_message`` does, and hands each message to the
    subscription's own callback, so messages take the same path whether an executor or the
    poller takes them.
    """

    def __init__(self, node: Node, subscription) -> None:
        from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy

        self._sub = subscription
        self._wait_set = _rclpy.WaitSet(1, 0, 0, 0, 0, 0, node.context.handle)

    def take_all(self) -> int:
        """Deliver every message already received to the callback; returns how many."""
        n = 0
        handle, msg_type, raw, callback = self._sub.handle, self._sub.msg_type, self._sub.raw, self._sub.callback
        while True:
            taken = handle.take_message(msg_type, raw)
            if taken is None:
                return n
            callback(taken[0])
            n += 1

    def wait(self, timeout_s: float) -> bool:
        """Block until a message is ready or ``timeout_s`` passed; True when a message is ready."""
        ws = self._wait_set
        ws.clear_entities()
        ws.add_subscription(self._sub.handle)
        ws.wait(max(0, int(timeout_s * 1e9)))
        return bool(ws.get_ready_entities("subscription"))

    def destroy(self) -> None:
        self._wait_set.clear_entities()
        self._wait_set.destroy_when_not_in_use()


def declare_params(node: Node, spec: dict[str, object]) -> dict[str, object]:
    """Declare parameters with defaults; float parameters also accept integers (``rate:=500``).

    rcl types ``-p x:=0`` as an integer, and a strictly typed double parameter would refuse it;
    floats are therefore declared with dynamic typing and converted here, anything non-numeric
    for a float parameter is a ValueError naming the parameter.
    """
    from rcl_interfaces.msg import ParameterDescriptor

    out: dict[str, object] = {}
    for name, default in spec.items():
        if isinstance(default, float):
            value = node.declare_parameter(name, default, ParameterDescriptor(dynamic_typing=True)).value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"parameter '{name}' must be a number, got {value!r}")
            out[name] = float(value)
        else:
            out[name] = node.declare_parameter(name, default).value
    return out


def spin_events(node: Node, max_wait_s: float = 0.1) -> None:
    """Spin one node with rclpy's ``EventsExecutor`` (``rclpy.experimental``, public API of the pinned
    rclpy 7.1.6), returning within ``max_wait_s`` of Ctrl-C (``shutdown_requested``) or context shutdown.

    Why this executor: rclpy's default ``SingleThreadedExecutor`` costs about 0.15 ms per wake-up
    here before any callback runs (it rebuilds its wait set each time); at the 500 Hz rates of a
    legged robot that was most of a node's CPU. The stack then used a hand-made loop on private
    rclpy internals (``spin_light``: one wait set, rebuilt only when the node's entities changed).
    Measured against it (issue 20; ``anima bench bridge --compare-spin 3`` at commit 6bae915: three
    batches, 9 paced Laikago runs per loop, interleaved, on the shared 2-core machine at load average
    10-16), the private loop is not measurably better: command latency p50 3.5 vs 4.6 ms and p99 22.9
    vs 24.4 ms for the EventsExecutor (medians of the runs; the EventsExecutor was lower in 4 of the 9
    run pairs at p50 and 5 at p99), pd_controller CPU 0.38 vs 0.35 s per sim s; on the quiet machine
    (load 0.2-2, 2 runs each) p99 3.40 vs 3.24 ms, p50 0.77 vs 0.79 ms. So the nodes spin with
    the public executor, and the private-API loop was removed (BENCHMARKS.md). Handles what the
    nodes use: subscriptions, timers on the node clock (sim time included), services, clients.

    The 500 Hz Laikago path no longer pays for Python messages: its JointState subscriptions are
    ``raw`` and its publishers send bytes (``_cdr``; public API, ~20 instead of ~100 µs of message
    work per sample). No private-API executor was brought back for the latency target: on this
    shared machine (load 7-22 while measured, 2026-12-04) the tail is the wait for a core, and no
    executor was measurably better (BENCHMARKS.md, "The 500 Hz path in serialized form").
    """
    from rclpy.experimental import EventsExecutor

    executor = EventsExecutor(context=node.context)
    executor.add_node(node)
    try:
        while node.context.ok() and not _STOP.is_set():
            executor.spin_once(timeout_sec=max_wait_s)
    finally:
        executor.remove_node(node)
        executor.shutdown()
