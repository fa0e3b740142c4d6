"""Shared node plumbing: QoS profiles, time conversion, the Jazzy ``main`` pattern.

QoS is chosen per stream (STYLE.md): sensor streams are best-effort keep-last (a late sample is
worthless), commands and targets are reliable keep-last with a small depth, latched data is
transient-local depth 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

SENSOR_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=5,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
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
    depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)


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


def run_node(
    factory: Callable[[], Node],
    args: list[str] | None = None,
    spin: Callable[[Node], None] = rclpy.spin,
) -> int:
    """The Jazzy ``main`` pattern: init, spin, destroy, try_shutdown; Ctrl-C is a clean exit.

    ``spin`` replaces ``rclpy.spin`` for nodes that own their loop (the simulator). The factory may
    raise ``ValueError`` for bad parameters; that is reported on one line and the process exits 2
    so ``anima launch`` names the node that failed. A node ends a run by raising ``SystemExit``.
    """
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    code = 0
    try:
        node = factory()
        spin(node)
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
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return code
