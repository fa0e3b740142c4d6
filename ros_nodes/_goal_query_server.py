"""RosOperator: the learner's RAQ operator over ROS (the ``goal_query`` interface, ``_goal_query.py``).

The trainer calls :meth:`RosOperator.ask` (never blocks: it publishes the image and returns the
query id) and :meth:`RosOperator.answers`; a person answers in the rqt panel (``anima
query-panel``), or the ``goal_oracle`` node answers in simulation. The node runs on its own
EventsExecutor thread, so services answer while the trainer computes.

How an answer is bound to a query (SetBool carries no id):

1. **One learner per namespace.** Every name is relative; each learner runs in its own namespace
   (``-r __ns:=/arm_a``) and a panel connects to one namespace, so its answer service is that
   learner's alone.
2. **The answering client confirms what it shows.** When a client displays the image of query
   ``q`` it publishes ``goal_query/viewing`` (std_msgs/Header, stamp = ``q``); the learner echoes the
   latest confirmation as ``confirmed`` in ``goal_query/status``. ``goal_query/answer`` and
   ``goal_query/skip`` are accepted only while ``confirmed`` equals the pending query; otherwise the
   response says why (nothing pending; the confirmed query is stale because a newer one replaced it;
   no client confirmed the pending query yet). The panel enables its buttons only once the status
   shows ``pending == confirmed == the query it shows``, and confirms a newer query only after the
   response to its previous answer came back, so an answer can never be applied to an image the
   person did not see: a newer query opened meanwhile has another id, and the old answer is refused.
3. **Ids are wall-clock nanoseconds**, so two learners (even two in one namespace by mistake) never
   share an id, and a confirmation for one cannot unlock the other's query.

One client at a time is the supported set-up per learner (several panels on one learner: the last
confirmation wins). The response to an accepted answer names the query it labelled.

``goal_examples/capture`` stores the latest ``camera/image_raw`` frame (rgb8, square, at least
``image_size_px``; the trainer resizes it) as a goal example; anything else is refused with a
message naming what arrived. In simulation, queries with known ground truth are also published on
``sim/ground_truth/goal_query`` for the oracle. The status also goes to ``/diagnostics`` at 1 Hz (for monitors).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from std_srvs.srv import SetBool, Trigger

from anima.models.vice_raq.operator import Answer, QueryBook
from anima.ros_nodes._common import SENSOR_QOS
from anima.ros_nodes._diagnostics import DIAGNOSTICS_QOS, DIAGNOSTICS_TOPIC
from anima.ros_nodes._goal_query import (ANSWER_SERVICE, CAMERA_TOPIC, CAPTURE_SERVICE, EVENT_QOS, GROUND_TRUTH_TOPIC,
                                         IMAGE_TOPIC, QUERY_QOS, SKIP_SERVICE, STATUS_TOPIC, VIEWING_TOPIC,
                                         ground_truth_msg, rgb_image_array, rgb_image_msg, stamp_to_id, status_msg)

__all__ = ["RosOperator", "spin_in_thread"]


def spin_in_thread(node: Node, stop: threading.Event) -> threading.Thread:
    """Spin ``node`` with an EventsExecutor on a daemon thread until ``stop`` is set or its context ends."""
    from rclpy.experimental import EventsExecutor

    def spin() -> None:
        executor = EventsExecutor(context=node.context)
        executor.add_node(node)
        try:
            while node.context.ok() and not stop.is_set():
                executor.spin_once(timeout_sec=0.05)
        except Exception:  # context shut down under us: the owner is closing
            if node.context.ok() and not stop.is_set():
                raise
        finally:
            executor.remove_node(node)
            executor.shutdown()

    thread = threading.Thread(target=spin, name=f"ros:{node.get_name()}", daemon=True)
    thread.start()
    return thread


class RosOperator:
    """The :class:`anima.models.vice_raq.operator.Operator` served over ROS.

    ``node``: host the interface on this node (its owner spins it); otherwise a node ``node_name``
    in ``namespace`` is made in a private context from ``args`` (ROS arguments: remaps apply) and
    spun on a thread of its own. ``image_size_px``: smallest camera frame accepted as a goal example.
    """

    def __init__(self, namespace: str = "", node_name: str = "vice_raq_learner", args: list[str] | None = None,
                 image_size_px: int = 48, status_rate_hz: float = 2.0, node: Node | None = None,
                 clock: Callable[[], float] = time.time, domain_id: int | None = None) -> None:
        if image_size_px < 1 or status_rate_hz <= 0:
            raise ValueError(f"image_size_px must be >= 1 and status_rate_hz > 0, got {image_size_px}, {status_rate_hz}")
        self._own_context: Context | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if node is None:
            self._own_context = Context()
            rclpy.init(args=args, context=self._own_context, domain_id=domain_id)
            node = Node(node_name, namespace=namespace, context=self._own_context)
        self.node = node
        self.image_size_px = int(image_size_px)
        self.book = QueryBook(clock=clock)
        self._lock = threading.Lock()
        self._confirmed: int | None = None
        self._camera: np.ndarray | None = None
        self._camera_error = f"no frame received on {CAMERA_TOPIC} yet"
        self._captures: list[np.ndarray] = []
        self.captured = 0
        self.refusals: list[str] = []  # every refused answer/skip/capture message, for tests and logs
        self.answer_wall_s: dict[int, float] = {}  # query id -> wall time its answer or skip was accepted
        self._closed = False
        self.learner = node.get_fully_qualified_name()
        self._image_pub = node.create_publisher(Image, IMAGE_TOPIC, QUERY_QOS)
        self._truth_pub = node.create_publisher(DiagnosticArray, GROUND_TRUTH_TOPIC, QUERY_QOS)
        self._status_pub = node.create_publisher(DiagnosticArray, STATUS_TOPIC, EVENT_QOS)
        self._diag_pub = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS)
        node.create_subscription(Header, VIEWING_TOPIC, self._on_viewing, EVENT_QOS)
        node.create_subscription(Image, CAMERA_TOPIC, self._on_camera, SENSOR_QOS)
        node.create_service(SetBool, ANSWER_SERVICE, self._on_answer)
        node.create_service(Trigger, SKIP_SERVICE, self._on_skip)
        node.create_service(Trigger, CAPTURE_SERVICE, self._on_capture)
        node.create_timer(1.0 / status_rate_hz, self.publish_status)
        node.create_timer(1.0, lambda: self.publish_status(diagnostics=True))
        if self._own_context is not None:
            self._thread = spin_in_thread(node, self._stop)
        node.get_logger().info(f"goal queries on {node.resolve_topic_name(IMAGE_TOPIC)}, answers on "
                               f"{node.resolve_service_name(ANSWER_SERVICE)}")

    # -- Operator API (called by the trainer's thread) --------------------------------------------
    def ask(self, image: np.ndarray, probability: float, success_truth: bool | None = None) -> int:
        query = self.book.open(image, probability, success_truth)
        self._image_pub.publish(rgb_image_msg(query.query_id, query.image, frame_id="camera"))
        if success_truth is not None:
            self._truth_pub.publish(ground_truth_msg(query.query_id, success_truth))
        self.publish_status()
        return query.query_id

    def answers(self) -> list[Answer]:
        return self.book.take_answers()

    def goal_captures(self) -> list[np.ndarray]:
        with self._lock:
            out, self._captures = self._captures, []
            return out

    def status(self) -> dict:
        with self._lock:
            return {**self.book.status(), "confirmed": self._confirmed, "captures": self.captured, "operator": "ros",
                    "learner": self.learner}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._own_context is not None:
            self.node.destroy_node()
            rclpy.try_shutdown(context=self._own_context)

    # -- ROS callbacks (executor thread) -----------------------------------------------------------
    def publish_status(self, diagnostics: bool = False) -> None:
        """``goal_query/status`` (also on ``/diagnostics`` when ``diagnostics``: 1 Hz, for monitors)."""
        if self._closed:
            return
        s = self.status()
        message = "no query pending" if s["pending"] is None else (
            f"query {s['pending']} pending for {s['waiting_s']:.1f} s" +
            ("" if s["confirmed"] == s["pending"] else " (not yet shown by a client)"))
        values = {key: s[key] for key in ("pending", "confirmed", "asked", "answered", "positives", "negatives",
                                          "skipped", "probability", "waiting_s", "captures")}
        msg = status_msg(self.node.get_clock().now().to_msg(), self.learner, values, message)
        (self._diag_pub if diagnostics else self._status_pub).publish(msg)

    def _on_viewing(self, msg: Header) -> None:
        with self._lock:
            changed = self._confirmed != stamp_to_id(msg.stamp)
            self._confirmed = stamp_to_id(msg.stamp)
        if changed:
            self.publish_status()

    def _bound_query(self) -> tuple[int | None, str]:
        """The pending query an answer may label now, or None and why not."""
        pending = self.book.pending()
        with self._lock:
            confirmed = self._confirmed
        if pending is None:
            return None, "no query is pending"
        if confirmed != pending.query_id:
            if confirmed is None:
                return None, f"no client has confirmed showing the pending query {pending.query_id} yet"
            return None, (f"the shown query {confirmed} is stale: query {pending.query_id} replaced it "
                          "(answer again once the new image is shown)")
        return pending.query_id, ""

    def _on_answer(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        query_id, why = self._bound_query()
        if query_id is None:
            response.success, response.message = False, f"answer refused: {why}"
        else:
            response.success, response.message = self.book.answer(query_id, bool(request.data))
            if response.success:
                self.answer_wall_s[query_id] = time.time()
        self._log(response.success, response.message)
        self.publish_status()
        return response

    def _on_skip(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        query_id, why = self._bound_query()
        if query_id is None:
            response.success, response.message = False, f"skip refused: {why}"
        else:
            response.success, response.message = self.book.skip(query_id)
            if response.success:
                self.answer_wall_s[query_id] = time.time()
        self._log(response.success, response.message)
        self.publish_status()
        return response

    def _on_camera(self, msg: Image) -> None:
        try:
            frame = rgb_image_array(msg, CAMERA_TOPIC, min_size_px=self.image_size_px, square=True)
        except ValueError as err:
            with self._lock:
                self._camera, self._camera_error = None, str(err)
            return
        with self._lock:
            self._camera, self._camera_error = frame, ""

    def _on_capture(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            frame, error = self._camera, self._camera_error
            if frame is not None:
                self._captures.append(frame)
                self.captured += 1
                count = self.captured
        if frame is None:
            response.success, response.message = False, f"capture refused: {error}"
        else:
            response.success = True
            response.message = f"captured goal example {count} ({frame.shape[1]}x{frame.shape[0]} rgb8 from {CAMERA_TOPIC})"
        self._log(response.success, response.message)
        self.publish_status()
        return response

    def _log(self, ok: bool, message: str) -> None:
        if not ok:
            self.refusals.append(message)
        if ok:
            self.node.get_logger().info(message)
        else:
            self.node.get_logger().warn(message)
