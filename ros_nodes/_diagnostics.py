"""Node status as diagnostic_msgs/DiagnosticArray on ``/diagnostics`` (REP 107 style).

Every node with status publishes one ``DiagnosticStatus`` per thing it watches: ``name``
"<node>: <what>", ``hardware_id`` the robot (parameter ``hardware_id``, default the robot name),
a level (OK, WARN, ERROR, STALE), a one-line message and named values (``KeyValue``, strings),
so rqt_robot_monitor, Foxglove and a recorder read them without knowing our nodes. The topic is
absolute, as diagnostic_updater publishes it, so a robot namespace does not hide it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTICS_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
def _int(level: object) -> int:
    return level[0] if isinstance(level, (bytes, bytearray)) else int(level)


# the message's constants are one-byte ``bytes`` in rclpy; plain ints here
OK, WARN, ERROR, STALE = (_int(DiagnosticStatus.OK), _int(DiagnosticStatus.WARN), _int(DiagnosticStatus.ERROR),
                          _int(DiagnosticStatus.STALE))
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR", STALE: "STALE"}


def format_value(value: object) -> str:
    """A KeyValue string: booleans as true/false, floats with 6 significant digits."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def diagnostic_status(name: str, hardware_id: str, level: int, message: str,
                      values: Mapping[str, object]) -> DiagnosticStatus:
    if level not in LEVEL_NAMES:
        raise ValueError(f"diagnostic level must be one of {sorted(LEVEL_NAMES)}, got {level!r}")
    return DiagnosticStatus(
        level=bytes([level]), name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=k, value=format_value(v)) for k, v in values.items()],
    )


def diagnostic_array(stamp: Time, statuses: Iterable[DiagnosticStatus]) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = list(statuses)
    return msg


def level_of(status: DiagnosticStatus) -> int:
    """The level as an int (the message field is a one-byte ``bytes``)."""
    return _int(status.level)


def find_status(msg: DiagnosticArray, name: str) -> DiagnosticStatus | None:
    """The status called ``name`` in ``msg``, or None (several nodes share ``/diagnostics``)."""
    return next((s for s in msg.status if s.name == name), None)


def status_values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}
