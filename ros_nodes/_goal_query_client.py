"""GoalQueryClient: the answering side of ``goal_query`` (the rqt panel and the goal_oracle node).

It follows the binding rule of :mod:`anima.ros_nodes._goal_query_server`: it confirms on
``goal_query/viewing`` the query whose image it shows; it may answer only while the learner's status
echoes ``pending == confirmed ==`` that query; and while an answer is in flight it shows (and so
confirms) no newer query, so the learner has settled the old answer before any confirmation of the
new query reaches it. Qt-free and thread-safe: ROS callbacks run on the node's executor thread,
``view()``/``answer()`` are called from any thread, and ``on_change`` is called (from the executor
thread) after anything a view shows changed.

A call that gets no response within ``call_timeout_s`` (10 s: a learner that died) is given up, and
the next query may then be shown and confirmed. The one case this leaves open: a learner that is
alive but whose executor thread stalls longer than that while its trainer keeps asking; its late
processing could take the old answer after the new confirmation. The learner's executor runs on its
own thread, so this needs a stall of seconds; the panel's message says the call was given up.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from std_srvs.srv import SetBool, Trigger

from anima.ros_nodes._goal_query import (ANSWER_SERVICE, CAPTURE_SERVICE, EVENT_QOS, IMAGE_TOPIC, QUERY_QOS,
                                         SKIP_SERVICE, STATUS_TOPIC, VIEWING_TOPIC, LearnerStatus, id_to_stamp,
                                         parse_status, rgb_image_array, stamp_to_id)

__all__ = ["GoalQueryClient", "Outcome", "PanelView", "resolve"]

REPEAT_CONFIRM_S = 0.5  # re-send an unechoed confirmation this often (a learner that matched late)


def resolve(namespace: str, name: str) -> str:
    """``name`` inside ``namespace``: "" keeps it relative to the node's own namespace."""
    namespace = namespace.strip()
    if namespace == "/":
        return "/" + name
    return f"{namespace.rstrip('/')}/{name}" if namespace else name


@dataclass(frozen=True)
class Outcome:
    """What one call did. ``kind``: answer, skip or capture; ``label`` of an answer."""

    kind: str
    query_id: int | None
    label: bool | None
    accepted: bool
    message: str
    image: np.ndarray | None
    sent_wall_s: float
    done_wall_s: float


@dataclass(frozen=True)
class PanelView:
    """Everything a panel draws. ``image``/``query_id``: the query shown; ``pending``: the learner
    still waits for it; ``can_answer``: answering now is bound to it (see the module docstring)."""

    connected: bool
    learner: str
    query_id: int | None
    image: np.ndarray | None
    pending: bool
    can_answer: bool
    busy: bool
    status: LearnerStatus | None
    message: str
    history: tuple[Outcome, ...]


@dataclass
class _Call:
    kind: str
    query_id: int | None
    label: bool | None
    image: np.ndarray | None
    future: object
    client: object
    sent_mono: float
    sent_wall: float


class GoalQueryClient:
    """Answers one learner's queries (names resolved in ``namespace``) from ``node``, which its owner spins."""

    def __init__(self, node: Node, namespace: str = "", on_change: Callable[[], None] | None = None,
                 connection_timeout_s: float = 2.0, call_timeout_s: float = 10.0, history_len: int = 12) -> None:
        self.node, self.namespace = node, namespace
        self._on_change = on_change or (lambda: None)
        self.connection_timeout_s, self.call_timeout_s = connection_timeout_s, call_timeout_s
        self._lock = threading.Lock()
        self._shown: tuple[int, np.ndarray] | None = None
        self._incoming: tuple[int, np.ndarray] | None = None
        self._status: LearnerStatus | None = None
        self._status_mono = -float("inf")
        self._confirm_mono = -float("inf")
        self._call: _Call | None = None
        self._message = "waiting for a learner"
        self._history: deque[Outcome] = deque(maxlen=history_len)
        self.shown_wall_s: dict[int, float] = {}  # query id -> wall time it was first shown (latency)
        self._viewing = node.create_publisher(Header, resolve(namespace, VIEWING_TOPIC), EVENT_QOS)
        self._subscriptions = [
            node.create_subscription(Image, resolve(namespace, IMAGE_TOPIC), self._on_image, QUERY_QOS),
            node.create_subscription(DiagnosticArray, resolve(namespace, STATUS_TOPIC), self._on_status, EVENT_QOS)]
        self._answer = node.create_client(SetBool, resolve(namespace, ANSWER_SERVICE))
        self._skip = node.create_client(Trigger, resolve(namespace, SKIP_SERVICE))
        self._capture = node.create_client(Trigger, resolve(namespace, CAPTURE_SERVICE))

    def set_on_change(self, callback: Callable[[], None]) -> None:
        self._on_change = callback

    def destroy(self) -> None:
        """Remove this client's entities from the node (the node lives on, e.g. rqt's)."""
        self._on_change = lambda: None
        for sub in self._subscriptions:
            self.node.destroy_subscription(sub)
        for client in (self._answer, self._skip, self._capture):
            self.node.destroy_client(client)
        self.node.destroy_publisher(self._viewing)

    # -- what a panel shows ----------------------------------------------------------------------
    def view(self) -> PanelView:
        self.poll()
        with self._lock:
            connected, pending, can = self._state()
            status, shown = self._status, self._shown
            message = self._message if connected else (
                "no learner connected" + (f" (last: {status.learner})" if status else ""))
            return PanelView(connected, status.learner if status else "", shown[0] if shown else None,
                             shown[1] if shown else None, pending, can, self._call is not None, status, message,
                             tuple(self._history))

    def _state(self) -> tuple[bool, bool, bool]:
        """(lock held) connected; the shown query is pending; an answer now is bound to it."""
        connected = time.monotonic() - self._status_mono < self.connection_timeout_s
        status, shown = self._status, self._shown
        pending = bool(connected and shown is not None and status is not None and status.pending == shown[0])
        can = bool(pending and status.confirmed == shown[0] and self._call is None)
        return connected, pending, can

    # -- actions ---------------------------------------------------------------------------------
    def answer(self, label: bool, query_id: int | None = None) -> bool:
        """Send "goal reached" (True) or "not reached" for the shown query; ``query_id``: the query
        the caller displays (refused if the shown one changed since). False, with the reason in
        ``view().message``, when answering is not bound to a query now."""
        request = SetBool.Request()
        request.data = bool(label)
        return self._send("answer", self._answer, request, label, query_id)

    def skip(self, query_id: int | None = None) -> bool:
        return self._send("skip", self._skip, Trigger.Request(), None, query_id)

    def capture(self) -> bool:
        """Ask the learner to store its latest camera frame as a goal example."""
        return self._send("capture", self._capture, Trigger.Request(), None, None)

    def _refusal(self, kind: str, query_id: int | None) -> str | None:
        """(lock held) Why ``kind`` cannot be sent now, or None."""
        connected, pending, can = self._state()
        if not connected:
            return "no learner connected"
        if self._call is not None:
            return f"the previous {self._call.kind} is still in flight"
        if kind == "capture":
            return None
        if query_id is not None and (self._shown is None or self._shown[0] != query_id):
            return f"query {query_id} is no longer the one shown"
        if not pending:
            return "no query pending"
        return None if can else "the learner has not confirmed the shown query yet"

    def _send(self, kind: str, client, request, label: bool | None, query_id: int | None) -> bool:
        with self._lock:
            refusal = self._refusal(kind, query_id)
            if refusal is not None:
                self._message = f"cannot {kind} now: {refusal}"
            else:
                shown = self._shown if kind != "capture" else None
                future = client.call_async(request)
                self._call = _Call(kind, shown[0] if shown else None, label, shown[1] if shown else None, future,
                                   client, time.monotonic(), time.time())
                self._message = f"{kind} sent" + (f" for query {shown[0]}" if shown else "")
        if refusal is not None:
            self._on_change()
            return False
        future.add_done_callback(self._on_response)
        return True

    # -- ROS callbacks and housekeeping ----------------------------------------------------------
    def poll(self) -> None:
        """Time out a call that got no response (a learner that died) after ``call_timeout_s``."""
        with self._lock:
            call = self._call
            if call is None or time.monotonic() - call.sent_mono < self.call_timeout_s:
                return
            call.client.remove_pending_request(call.future)
            self._finish(call, False, f"no response from the learner within {self.call_timeout_s:g} s")
        self._on_change()

    def _on_response(self, future) -> None:
        with self._lock:
            call = self._call
            if call is None or call.future is not future:
                return  # timed out already
            if future.cancelled() or future.exception() is not None:
                self._finish(call, False, f"{call.kind} failed: {future.exception() or 'cancelled'}")
            else:
                result = future.result()
                self._finish(call, bool(result.success), result.message)
        self._on_change()

    def _finish(self, call: _Call, accepted: bool, message: str) -> None:
        """(lock held) Record the outcome; show a query that arrived meanwhile."""
        self._call = None
        self._message = message
        self._history.append(Outcome(call.kind, call.query_id, call.label, accepted, message, call.image,
                                     call.sent_wall, time.time()))
        if self._incoming is not None:
            self._show(self._incoming)

    def _show(self, query: tuple[int, np.ndarray]) -> None:
        """(lock held) Show ``query`` and confirm it to the learner."""
        self._shown, self._incoming = query, None
        self.shown_wall_s.setdefault(query[0], time.time())
        self._confirm(query[0])

    def _confirm(self, query_id: int) -> None:
        header = Header(stamp=id_to_stamp(query_id), frame_id=self.node.get_fully_qualified_name())
        self._viewing.publish(header)
        self._confirm_mono = time.monotonic()

    def _on_image(self, msg: Image) -> None:
        try:
            query = (stamp_to_id(msg.header.stamp), rgb_image_array(msg, IMAGE_TOPIC))
        except ValueError as err:
            self.node.get_logger().warn(str(err), throttle_duration_sec=2.0)
            return
        with self._lock:
            if self._shown is not None and self._shown[0] == query[0]:
                return
            self._incoming = query
            if self._call is None:
                self._show(query)
        self._on_change()

    def _on_status(self, msg: DiagnosticArray) -> None:
        status = parse_status(msg)
        if status is None:
            return
        with self._lock:
            self._status, self._status_mono = status, time.monotonic()
            shown = self._shown[0] if self._shown else None
            if (shown is not None and status.pending == shown and status.confirmed != shown and self._call is None
                    and time.monotonic() - self._confirm_mono > REPEAT_CONFIRM_S):
                self._confirm(shown)
        self._on_change()
