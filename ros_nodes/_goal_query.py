"""The ``goal_query`` interface shared by the learner (server), the panel and the oracle (clients).

Names are relative, so a learner's namespace (``-r __ns:=/arm_a``) moves all of them together:

- ``goal_query/image`` (sensor_msgs/Image rgb8, reliable, transient-local depth 1): the pending
  query; ``header.stamp`` is the query id (``sec * 1e9 + nanosec``).
- ``goal_query/viewing`` (std_msgs/Header, reliable): a client's confirmation "I show query
  ``stamp``" (``frame_id`` names the client). The learner echoes the latest one as ``confirmed``.
- ``goal_query/status`` (diagnostic_msgs/DiagnosticArray, ~2 Hz and on every change): one status
  named ``<learner>: goal query`` with the keys of :data:`STATUS_KEYS`.
- ``goal_query/answer`` (std_srvs/SetBool), ``goal_query/skip``, ``goal_examples/capture`` (std_srvs/Trigger).
- ``sim/ground_truth/goal_query`` (diagnostic_msgs/DiagnosticArray, transient-local): in simulation,
  ``header.stamp`` = query id and key ``success`` = ``true``/``false``, for the goal_oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

IMAGE_TOPIC = "goal_query/image"
VIEWING_TOPIC = "goal_query/viewing"
STATUS_TOPIC = "goal_query/status"
ANSWER_SERVICE = "goal_query/answer"
SKIP_SERVICE = "goal_query/skip"
CAPTURE_SERVICE = "goal_examples/capture"
CAMERA_TOPIC = "camera/image_raw"
GROUND_TRUTH_TOPIC = "sim/ground_truth/goal_query"
STATUS_SUFFIX = ": goal query"
STATUS_KEYS = ("pending", "confirmed", "asked", "answered", "positives", "negatives", "skipped", "probability",
               "waiting_s", "captures")

QUERY_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)
"""The pending query and its ground truth: a panel that starts late still gets them."""
EVENT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.VOLATILE)
"""Status and viewing confirmations: reliable, none lost between two ~2 Hz updates."""


def id_to_stamp(query_id: int) -> Time:
    return Time(sec=int(query_id) // 1_000_000_000, nanosec=int(query_id) % 1_000_000_000)


def stamp_to_id(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def rgb_image_msg(query_id: int, image: np.ndarray, frame_id: str = "") -> Image:
    """(H, W, 3) uint8 RGB -> sensor_msgs/Image rgb8 stamped with the query id."""
    msg = Image()
    msg.header.stamp = id_to_stamp(query_id)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = "rgb8"
    msg.step = 3 * msg.width
    msg.data = np.ascontiguousarray(image, dtype=np.uint8).tobytes()
    return msg


def rgb_image_array(msg: Image, topic: str, min_size_px: int = 1, square: bool = False) -> np.ndarray:
    """sensor_msgs/Image -> (H, W, 3) uint8 RGB. Only ``rgb8`` is taken (a camera that sends
    another encoding is misconfigured for this learner); ValueError naming ``topic`` and what is wrong."""
    if msg.encoding != "rgb8":
        raise ValueError(f"{topic}: encoding '{msg.encoding}' refused, expected rgb8")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h < 1 or w < 1 or step < 3 * w or len(msg.data) != step * h:
        raise ValueError(f"{topic}: data size {len(msg.data)} does not match {w}x{h} rgb8 with step {step}")
    if h < min_size_px or w < min_size_px or (square and h != w):
        shape = "square " if square else ""
        raise ValueError(f"{topic}: a {w}x{h} image refused, expected a {shape}image of at least "
                         f"{min_size_px}x{min_size_px} pixels")
    return np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(h, step)[:, : 3 * w].reshape(h, w, 3).copy()


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def status_msg(stamp: Time, learner: str, values: dict[str, object], message: str) -> DiagnosticArray:
    """The learner's ``goal_query/status``: one DiagnosticStatus named ``<learner>: goal query``."""
    status = DiagnosticStatus(level=DiagnosticStatus.OK, name=f"{learner}{STATUS_SUFFIX}", message=message,
                              hardware_id=learner,
                              values=[KeyValue(key=k, value=_value(v)) for k, v in values.items()])
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = stamp
    return msg


@dataclass(frozen=True)
class LearnerStatus:
    """A decoded ``goal_query/status``: ids are ints or None, counts ints, probability float or None."""

    learner: str
    pending: int | None
    confirmed: int | None
    asked: int
    answered: int
    positives: int
    negatives: int
    skipped: int
    probability: float | None
    waiting_s: float
    captures: int
    message: str


def parse_status(msg: DiagnosticArray) -> LearnerStatus | None:
    """The goal-query status in ``msg``, or None when it holds none (or a malformed one)."""
    for status in msg.status:
        if not status.name.endswith(STATUS_SUFFIX):
            continue
        v = {kv.key: kv.value for kv in status.values}
        try:
            opt_int = lambda key: None if v.get(key, "none") == "none" else int(v[key])  # noqa: E731
            return LearnerStatus(
                learner=status.name[: -len(STATUS_SUFFIX)], pending=opt_int("pending"), confirmed=opt_int("confirmed"),
                asked=int(v["asked"]), answered=int(v["answered"]), positives=int(v["positives"]),
                negatives=int(v["negatives"]), skipped=int(v["skipped"]),
                probability=None if v.get("probability", "none") == "none" else float(v["probability"]),
                waiting_s=float(v["waiting_s"]), captures=int(v.get("captures", "0")), message=status.message)
        except (KeyError, ValueError):
            return None
    return None


def ground_truth_msg(query_id: int, success: bool) -> DiagnosticArray:
    status = DiagnosticStatus(level=DiagnosticStatus.OK, name="goal_query ground truth", message="",
                              values=[KeyValue(key="success", value=_value(bool(success)))])
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = id_to_stamp(query_id)
    return msg


def parse_ground_truth(msg: DiagnosticArray) -> tuple[int, bool] | None:
    """(query id, success) from ``sim/ground_truth/goal_query``; None when there is no ``success`` key."""
    for status in msg.status:
        for kv in status.values:
            if kv.key == "success" and kv.value in ("true", "false"):
                return stamp_to_id(msg.header.stamp), kv.value == "true"
    return None
