"""The goal-query panel widget (pytest-qt, offscreen) against a real RosOperator over DDS.

The learner (RosOperator) and the panel's node each have their own rclpy context (their own DDS
participant) in this process; the widget runs in Qt's offscreen platform. Buttons and their
keyboard shortcuts label the shown query, the image is drawn crisp (nearest neighbour), the history
strip records answers, and the panel greys out without a learner and comes back with one.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import rclpy  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.node import Node  # noqa: E402

from anima.models.vice_raq.operator import Answer  # noqa: E402
from anima.ros_nodes._goal_query_client import GoalQueryClient  # noqa: E402
from anima.ros_nodes._goal_query_server import RosOperator, spin_in_thread  # noqa: E402

pytest.importorskip("pytestqt", reason="pytest-qt is pinned in requirements.txt")
from anima.ros_nodes._qt import QtCore, QtGui  # noqa: E402
from anima.ros_nodes._query_panel import QueryPanelWidget  # noqa: E402

pytestmark = [pytest.mark.ros]
WAIT_MS = 30_000


def checkerboard(a=(255, 0, 0), b=(0, 0, 255), block: int = 8, size: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    mask = ((yy // block + xx // block) % 2 == 0)[..., None]
    return np.where(mask, np.array(a, np.uint8), np.array(b, np.uint8)).astype(np.uint8)


class PanelNode:
    def __init__(self, domain_id: int, namespace: str = "") -> None:
        self.ctx = Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("goal_query_panel", context=self.ctx)
        self.client = GoalQueryClient(self.node, namespace)
        self.stop = threading.Event()
        self.thread = spin_in_thread(self.node, self.stop)

    def close(self) -> None:
        self.client.destroy()
        self.stop.set()
        self.thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


@pytest.fixture
def domain(ros_env: dict[str, str]) -> int:
    return int(ros_env["ROS_DOMAIN_ID"])


@pytest.fixture
def panel(domain: int, qtbot) -> Iterator[QueryPanelWidget]:
    node = PanelNode(domain)
    widget = QueryPanelWidget(node.client)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget._timer.stop()
    node.close()


@pytest.fixture
def learner(domain: int) -> Iterator[RosOperator]:
    op = RosOperator(domain_id=domain)
    yield op
    op.close()


def shown(widget: QueryPanelWidget, query_id: int):
    return lambda: widget.displayed_id == query_id and widget.reached_button.isEnabled()


def test_click_goal_reached_labels_the_shown_query(panel: QueryPanelWidget, learner: RosOperator, qtbot) -> None:
    query_id = learner.ask(checkerboard(), 0.83, success_truth=True)
    qtbot.waitUntil(shown(panel, query_id), timeout=WAIT_MS)
    assert "0.830" in panel.probability_label.text() and "asked 1" in panel.counts_label.text()
    qtbot.mouseClick(panel.reached_button, QtCore.Qt.LeftButton)
    qtbot.waitUntil(lambda: learner.book.status()["answered"] == 1, timeout=WAIT_MS)
    assert learner.answers() == [Answer(query_id, True)]
    qtbot.waitUntil(lambda: panel.history_layout.count() == 1, timeout=WAIT_MS)
    assert "#2e9d3a" in panel.history_layout.itemAt(0).widget().styleSheet()  # green: reached
    assert not panel.reached_button.isEnabled()  # nothing pending any more


def test_image_is_scaled_up_crisp(panel: QueryPanelWidget, learner: RosOperator, qtbot) -> None:
    query_id = learner.ask(checkerboard(), 0.5)
    qtbot.waitUntil(shown(panel, query_id), timeout=WAIT_MS)
    image = panel.image_label.pixmap().toImage()
    assert (image.width(), image.height()) == (384, 384)  # 48 px x 8
    # nearest neighbour: every screen pixel is one of the two source colours, even at block edges
    colours = {QtGui.QColor(image.pixel(x, y)).getRgb()[:3] for x in range(60, 70) for y in range(0, 384, 7)}
    assert colours == {(255, 0, 0), (0, 0, 255)}


def test_keyboard_shortcuts_answer_and_skip(panel: QueryPanelWidget, learner: RosOperator, qtbot) -> None:
    first = learner.ask(checkerboard(), 0.2)
    qtbot.waitUntil(shown(panel, first), timeout=WAIT_MS)
    panel.activateWindow()
    panel.setFocus()
    qtbot.keyClick(panel, QtCore.Qt.Key_N)
    qtbot.waitUntil(lambda: learner.book.status()["answered"] == 1, timeout=WAIT_MS)
    second = learner.ask(checkerboard(), 0.4)
    qtbot.waitUntil(shown(panel, second), timeout=WAIT_MS)
    qtbot.keyClick(panel, QtCore.Qt.Key_S)
    qtbot.waitUntil(lambda: learner.book.status()["skipped"] == 1, timeout=WAIT_MS)
    assert learner.answers() == [Answer(first, False), Answer(second, None)]
    qtbot.waitUntil(lambda: panel.history_layout.count() == 2, timeout=WAIT_MS)
    newest, older = (panel.history_layout.itemAt(i).widget().styleSheet() for i in range(2))
    assert "#8a8a8a" in newest and "#c62828" in older  # grey: skipped, red: not reached


def test_capture_button_asks_the_learner_for_a_goal_example(panel: QueryPanelWidget, learner: RosOperator, qtbot) -> None:
    qtbot.waitUntil(panel.capture_button.isEnabled, timeout=WAIT_MS)  # connected
    qtbot.keyClick(panel, QtCore.Qt.Key_C)
    # no camera frame in this test: the learner's refusal is shown, proving the request arrived
    qtbot.waitUntil(lambda: "no frame received on camera/image_raw" in panel.message_label.text(), timeout=WAIT_MS)
    assert learner.refusals and learner.goal_captures() == []


def test_panel_greys_out_without_a_learner_and_reconnects(panel: QueryPanelWidget, domain: int, qtbot) -> None:
    assert not panel.content.isEnabled() and "no learner connected" in panel.status_label.text()
    first = RosOperator(domain_id=domain)
    try:
        q1 = first.ask(checkerboard(), 0.5)
        qtbot.waitUntil(shown(panel, q1), timeout=WAIT_MS)
        assert panel.content.isEnabled()
    finally:
        first.close()  # the learner dies with its query pending
    qtbot.waitUntil(lambda: not panel.content.isEnabled(), timeout=WAIT_MS)
    assert not panel.reached_button.isEnabled() and "no learner connected" in panel.status_label.text()
    second = RosOperator(domain_id=domain)
    try:
        q2 = second.ask(checkerboard((0, 255, 0)), 0.6)
        qtbot.waitUntil(shown(panel, q2), timeout=WAIT_MS)
        qtbot.mouseClick(panel.reached_button, QtCore.Qt.LeftButton)
        qtbot.waitUntil(lambda: second.book.status()["answered"] == 1, timeout=WAIT_MS)
        assert second.answers() == [Answer(q2, True)]
    finally:
        second.close()
