"""The operator's goal-query panel: a Qt widget over :class:`GoalQueryClient`, used by the rqt plugin
(``_rqt_query_panel.QueryPanelPlugin``) and standalone by ``anima query-panel [--namespace NS]``.

It shows the pending query's image scaled up with nearest-neighbour sampling (crisp pixels), the
classifier's probability, the learner's counts and how long the query has waited; buttons **Goal
reached** (Y), **Not reached** (N), **Skip** (S) and **Capture goal** (C); a strip of recent answers
(green: reached, red: not reached, grey: skipped, orange: refused). It greys out while no learner is
connected (no ``goal_query/status`` for 2 s) and comes back when one is; answering is enabled only
while the shown query is pending and confirmed (``_goal_query_server`` explains the binding).
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import numpy as np

from anima.ros_nodes._goal_query_client import GoalQueryClient, Outcome, PanelView
from anima.ros_nodes._qt import QtCore, QtGui, QtWidgets, Signal

__all__ = ["QueryPanelWidget", "run_standalone"]

_BORDER = {True: "#2e9d3a", False: "#c62828", None: "#8a8a8a"}
REFUSED = "#ef8f00"


def to_pixmap(image: np.ndarray, side_px: int) -> QtGui.QPixmap:
    """(H, W, 3) uint8 RGB -> a pixmap about ``side_px`` on its long side, nearest-neighbour."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    qimage = QtGui.QImage(image.data, w, h, 3 * w, QtGui.QImage.Format_RGB888).copy()
    scale = max(1, side_px // max(h, w))
    return QtGui.QPixmap.fromImage(qimage.scaled(w * scale, h * scale, QtCore.Qt.KeepAspectRatio,
                                                 QtCore.Qt.FastTransformation))


class _Relay(QtCore.QObject):
    """Carries the client's change notices (ROS thread) to the Qt thread."""

    changed = Signal()


class QueryPanelWidget(QtWidgets.QWidget):
    """The panel. ``client``: answers one learner; the widget sets the client's change callback."""

    def __init__(self, client: GoalQueryClient, parent: QtWidgets.QWidget | None = None, image_px: int = 384,
                 history_len: int = 10) -> None:
        super().__init__(parent)
        self.setObjectName("GoalQueryPanel")
        self.setWindowTitle("Goal queries")
        self.client, self.image_px, self.history_len = client, image_px, history_len
        self.displayed_id: int | None = None
        self.displayed_wall_s: dict[int, float] = {}  # query id -> when its image was drawn
        self.clicked_wall_s: dict[int, float] = {}  # query id -> when its answer was clicked
        self._history_key: tuple = ()
        self._build()
        self._relay = _Relay()
        self._relay.changed.connect(self.refresh)
        client.set_on_change(self._relay.changed.emit)
        self._timer = QtCore.QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(250)  # waiting time and connection loss
        self.refresh()

    def _build(self) -> None:
        self.status_label = QtWidgets.QLabel("waiting for a learner")
        self.content = QtWidgets.QWidget()
        self.image_label = QtWidgets.QLabel("no query yet")
        self.image_label.setObjectName("query_image")
        self.image_label.setAlignment(QtCore.Qt.AlignCenter)
        self.image_label.setMinimumSize(self.image_px, self.image_px)
        self.image_label.setStyleSheet("background: #202020; color: #bbbbbb;")
        self.query_label = QtWidgets.QLabel("")
        self.probability_label = QtWidgets.QLabel("")
        self.counts_label = QtWidgets.QLabel("")
        self.message_label = QtWidgets.QLabel("")
        self.message_label.setWordWrap(True)
        self.reached_button = self._button("Goal reached (Y)", "Y", lambda: self._answer(True))
        self.not_reached_button = self._button("Not reached (N)", "N", lambda: self._answer(False))
        self.skip_button = self._button("Skip (S)", "S", self._skip)
        self.capture_button = self._button("Capture goal (C)", "C", self._capture)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.reached_button, self.not_reached_button, self.skip_button, self.capture_button):
            buttons.addWidget(button)
        self.history_layout = QtWidgets.QHBoxLayout()
        self.history_layout.setAlignment(QtCore.Qt.AlignLeft)
        inner = QtWidgets.QVBoxLayout(self.content)
        for item in (self.image_label, self.query_label, self.probability_label, self.counts_label):
            inner.addWidget(item)
        inner.addLayout(buttons)
        inner.addWidget(QtWidgets.QLabel("recent answers (newest first):"))
        inner.addLayout(self.history_layout)
        outer = QtWidgets.QVBoxLayout(self)
        outer.addWidget(self.status_label)
        outer.addWidget(self.content)
        outer.addWidget(self.message_label)

    def _button(self, text: str, key: str, slot) -> QtWidgets.QPushButton:
        button = QtWidgets.QPushButton(text)
        button.setShortcut(QtGui.QKeySequence(key))
        button.clicked.connect(slot)
        return button

    # -- actions -------------------------------------------------------------------------------
    def _answer(self, label: bool) -> None:
        if self.displayed_id is not None:
            self.clicked_wall_s[self.displayed_id] = time.time()
        self.client.answer(label, self.displayed_id)
        self.refresh()

    def _skip(self) -> None:
        self.client.skip(self.displayed_id)
        self.refresh()

    def _capture(self) -> None:
        self.client.capture()
        self.refresh()

    # -- drawing -------------------------------------------------------------------------------
    def refresh(self) -> None:
        view = self.client.view()
        self._draw_query(view)
        s = view.status
        if view.connected and s is not None:
            self.status_label.setText(f"learner {view.learner}: "
                                      + (f"query waiting {s.waiting_s:.1f} s" if view.pending else "no query pending"))
            self.counts_label.setText(f"asked {s.asked} · answered {s.answered} ({s.positives} reached, "
                                      f"{s.negatives} not) · skipped {s.skipped} · goal captures {s.captures}")
        else:
            self.status_label.setText(view.message if not view.connected else "waiting for the learner's status")
        self.content.setEnabled(view.connected)
        for button in (self.reached_button, self.not_reached_button, self.skip_button):
            button.setEnabled(view.can_answer)
        self.capture_button.setEnabled(view.connected and not view.busy)
        self.message_label.setText(view.message)
        self._draw_history(view.history)

    def _draw_query(self, view: PanelView) -> None:
        if view.query_id != self.displayed_id and view.image is not None:
            self.image_label.setPixmap(to_pixmap(view.image, self.image_px))
            self.displayed_id = view.query_id
            self.displayed_wall_s.setdefault(view.query_id, time.time())
        self.image_label.setEnabled(view.pending)
        p = view.status.probability if (view.pending and view.status) else None
        self.query_label.setText(f"query {view.query_id}" + ("" if view.pending else " (answered or replaced)")
                                 if view.query_id is not None else "no query yet")
        self.probability_label.setText("classifier p(goal) = " + ("—" if p is None else f"{p:.3f}"))

    def _draw_history(self, history: tuple[Outcome, ...]) -> None:
        shown = [o for o in history if o.kind != "capture" and o.image is not None][-self.history_len:]
        key = tuple((o.query_id, o.kind, o.accepted, o.done_wall_s) for o in shown)
        if key == self._history_key:
            return
        self._history_key = key
        while self.history_layout.count():
            item = self.history_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for outcome in reversed(shown):
            thumb = QtWidgets.QLabel()
            thumb.setPixmap(to_pixmap(outcome.image, 48))
            color = _BORDER[outcome.label] if outcome.accepted else REFUSED
            thumb.setStyleSheet(f"border: 3px solid {color};")
            thumb.setToolTip(outcome.message)
            self.history_layout.addWidget(thumb)


def run_standalone(namespace: str = "", ros_args: list[str] | None = None, domain_id: int | None = None) -> int:
    """``anima query-panel``: the widget in its own window, its ROS node spun on a thread."""
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    from anima.ros_nodes._goal_query_server import spin_in_thread

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    context = Context()
    rclpy.init(args=["anima-query-panel", *(["--ros-args", *ros_args] if ros_args else [])], context=context,
               domain_id=domain_id)
    node = Node("goal_query_panel", context=context)
    stop = threading.Event()
    client = GoalQueryClient(node, namespace)
    widget = QueryPanelWidget(client)
    widget.setWindowTitle(f"Goal queries {namespace or node.get_namespace()}")
    thread = spin_in_thread(node, stop)
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    tick = QtCore.QTimer()
    tick.timeout.connect(lambda: None)  # lets Python run its signal handlers inside Qt's loop
    tick.start(200)
    widget.show()
    try:
        return int(app.exec_())
    finally:
        stop.set()
        thread.join(timeout=5.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
