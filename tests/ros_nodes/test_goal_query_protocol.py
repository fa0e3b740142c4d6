"""The goal_query protocol over real DDS: RosOperator (learner) and answering clients, each in its own
rclpy context (its own DDS participant) in this process.

A stale answer is refused, a skip works, an answer with nothing pending gets a clear error, two
learners in different namespaces (or, by mistake, in one) never take each other's answers, and the
camera capture refuses wrong encodings and shapes by name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from std_srvs.srv import SetBool, Trigger

from anima.models.vice_raq.operator import Answer
from anima.ros_nodes._common import STREAM_QOS
from anima.ros_nodes._goal_query import EVENT_QOS, id_to_stamp, rgb_image_msg
from anima.ros_nodes._goal_query_client import GoalQueryClient
from anima.ros_nodes._goal_query_server import RosOperator, spin_in_thread

pytestmark = [pytest.mark.ros]
TIMEOUT_S = 30.0


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def image(value: int) -> np.ndarray:
    return np.full((48, 48, 3), value, np.uint8)


class Peer:
    """A second DDS participant: raw publishers and service clients, plus GoalQueryClients."""

    def __init__(self, domain_id: int) -> None:
        self.ctx = Context()
        rclpy.init(context=self.ctx, domain_id=domain_id)
        self.node = Node("peer", context=self.ctx)
        self.stop = threading.Event()
        self.clients: list[GoalQueryClient] = []

    def start(self) -> None:
        self.thread = spin_in_thread(self.node, self.stop)

    def panel(self, namespace: str = "", **kw) -> GoalQueryClient:
        client = GoalQueryClient(self.node, namespace, **kw)
        self.clients.append(client)
        return client

    def call(self, srv_type, name: str, request) -> object:
        client = self.node.create_client(srv_type, name)
        assert client.wait_for_service(timeout_sec=TIMEOUT_S), f"{name} never appeared"
        future = client.call_async(request)
        wait_until(future.done, f"the response of {name}")
        return future.result()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.ctx)


@pytest.fixture
def domain(ros_env: dict[str, str]) -> int:
    return int(ros_env["ROS_DOMAIN_ID"])


@pytest.fixture
def peer(domain: int) -> Iterator[Peer]:
    p = Peer(domain)
    yield p
    p.close()


@pytest.fixture
def learners(domain: int) -> Iterator[Callable[..., RosOperator]]:
    made: list[RosOperator] = []

    def make(namespace: str = "", **kw) -> RosOperator:
        op = RosOperator(namespace=namespace, domain_id=domain, **kw)
        made.append(op)
        return op

    yield make
    for op in made:
        op.close()


def set_bool(value: bool) -> SetBool.Request:
    request = SetBool.Request()
    request.data = value
    return request


def test_answer_with_no_pending_query_gets_a_clear_error(learners, peer: Peer) -> None:
    learner = learners()
    peer.start()
    response = peer.call(SetBool, "goal_query/answer", set_bool(True))
    assert not response.success and "no query is pending" in response.message
    response = peer.call(Trigger, "goal_query/skip", Trigger.Request())
    assert not response.success and "no query is pending" in response.message
    assert learner.answers() == []


def test_panel_answer_reaches_the_learner_and_the_response_names_the_query(learners, peer: Peer) -> None:
    learner = learners()
    panel = peer.panel()
    peer.start()
    query_id = learner.ask(image(9), 0.8, success_truth=True)
    wait_until(lambda: panel.view().can_answer, "the panel to show and confirm the query")
    assert panel.view().query_id == query_id and np.array_equal(panel.view().image, image(9))
    assert panel.view().status.probability == pytest.approx(0.8)
    assert panel.answer(True, query_id)
    wait_until(lambda: learner.book.status()["answered"] == 1, "the learner to get the answer")
    assert learner.answers() == [Answer(query_id, True)]
    wait_until(lambda: panel.view().history, "the response")
    outcome = panel.view().history[-1]
    assert outcome.accepted and str(query_id) in outcome.message and "goal reached" in outcome.message


def test_an_unconfirmed_answer_is_refused(learners, peer: Peer) -> None:
    learner = learners()
    peer.start()
    query_id = learner.ask(image(1), 0.5)
    response = peer.call(SetBool, "goal_query/answer", set_bool(True))  # nobody confirmed seeing the image
    assert not response.success and "no client has confirmed" in response.message and str(query_id) in response.message
    assert learner.answers() == [] and learner.book.status()["pending"] == query_id


def test_stale_answer_to_a_replaced_query_is_refused(learners, peer: Peer) -> None:
    learner = learners()
    viewing = peer.node.create_publisher(Header, "goal_query/viewing", EVENT_QOS)
    peer.start()
    old = learner.ask(image(1), 0.5)
    # a panel that shows the old query (its confirmation reached the learner) ...
    wait_until(lambda: (viewing.publish(Header(stamp=id_to_stamp(old))), learner.status()["confirmed"] == old)[1],
               "the confirmation of the old query")
    new = learner.ask(image(2), 0.6)  # ... while the learner replaces it
    response = peer.call(SetBool, "goal_query/answer", set_bool(True))  # the click meant for the old image
    assert not response.success and "stale" in response.message
    assert str(old) in response.message and str(new) in response.message
    assert learner.answers() == [] and learner.book.status()["pending"] == new


def test_panel_moves_to_the_new_query_and_its_answer_labels_that_one(learners, peer: Peer) -> None:
    learner = learners()
    panel = peer.panel()
    peer.start()
    learner.ask(image(1), 0.5)
    wait_until(lambda: panel.view().can_answer, "the first query")
    new = learner.ask(image(2), 0.7)
    wait_until(lambda: panel.view().query_id == new and panel.view().can_answer, "the new query")
    assert not panel.answer(True, new - 1)  # a click on an image no longer shown is refused locally
    assert panel.answer(False, new)
    wait_until(lambda: learner.book.status()["answered"] == 1, "the answer")
    assert learner.answers() == [Answer(new, False)]


def test_skip_drops_the_pending_query(learners, peer: Peer) -> None:
    learner = learners()
    panel = peer.panel()
    peer.start()
    query_id = learner.ask(image(3), 0.5)
    wait_until(lambda: panel.view().can_answer, "the query")
    assert panel.skip(query_id)
    wait_until(lambda: learner.book.status()["skipped"] == 1, "the skip")
    assert learner.answers() == [Answer(query_id, None)]
    wait_until(lambda: panel.view().history and not panel.view().pending, "the panel to see nothing pending")
    assert panel.view().history[-1].accepted and "skipped" in panel.view().history[-1].message
    assert not panel.answer(True)  # nothing pending any more: refused before it is sent
    assert "no query pending" in panel.view().message


def test_two_learners_in_different_namespaces_do_not_cross(learners, peer: Peer) -> None:
    arm_a, arm_b = learners("/arm_a"), learners("/arm_b")
    panel_a, panel_b = peer.panel("/arm_a"), peer.panel("/arm_b")
    peer.start()
    qa, qb = arm_a.ask(image(10), 0.9), arm_b.ask(image(20), 0.1)
    wait_until(lambda: panel_a.view().can_answer and panel_b.view().can_answer, "both queries")
    assert panel_a.view().query_id == qa and panel_b.view().query_id == qb
    assert panel_a.answer(True, qa)
    wait_until(lambda: arm_a.book.status()["answered"] == 1, "arm_a's answer")
    assert arm_a.answers() == [Answer(qa, True)]
    assert arm_b.answers() == [] and arm_b.book.status()["pending"] == qb and not arm_b.refusals
    assert panel_b.answer(False, qb)
    wait_until(lambda: arm_b.book.status()["answered"] == 1, "arm_b's answer")
    assert arm_b.answers() == [Answer(qb, False)] and arm_a.answers() == []


def test_a_second_learner_in_the_same_namespace_cannot_take_the_answer(learners, peer: Peer) -> None:
    first, second = learners(node_name="learner_one"), learners(node_name="learner_two")
    viewing = peer.node.create_publisher(Header, "goal_query/viewing", EVENT_QOS)
    peer.start()
    q1, q2 = first.ask(image(1), 0.9), second.ask(image(2), 0.9)
    assert q1 != q2
    # the client shows (and confirms) the first learner's query; both learners hear the confirmation
    wait_until(lambda: (viewing.publish(Header(stamp=id_to_stamp(q1))),
                        first.status()["confirmed"] == q1 and second.status()["confirmed"] == q1)[1],
               "both learners to hear the confirmation")
    response = peer.call(SetBool, "goal_query/answer", set_bool(True))  # both servers receive this request
    wait_until(lambda: first.book.status()["answered"] == 1 and second.refusals, "both learners to handle it")
    assert response.success or "stale" in response.message  # whichever response came first
    assert first.answers() == [Answer(q1, True)]
    assert second.answers() == [] and second.book.status()["pending"] == q2 and "stale" in second.refusals[-1]


def camera_frame(encoding: str = "rgb8", width: int = 64, height: int = 64) -> Image:
    msg = rgb_image_msg(0, np.full((height, width, 3), 77, np.uint8))
    msg.encoding = encoding
    return msg


def test_capture_stores_the_camera_frame_and_refuses_bad_ones(learners, peer: Peer) -> None:
    learner = learners()
    camera = peer.node.create_publisher(Image, "camera/image_raw", STREAM_QOS)
    peer.start()
    response = peer.call(Trigger, "goal_examples/capture", Trigger.Request())
    assert not response.success and "no frame received on camera/image_raw" in response.message

    def capture_after(frame: Image, expect: str) -> Trigger.Response:
        # publish until the learner's camera state reflects this frame (its refusal text or a frame)
        wait_until(lambda: (camera.publish(frame), expect in (learner._camera_error or "ok"))[1], f"frame {expect}")
        return peer.call(Trigger, "goal_examples/capture", Trigger.Request())

    response = capture_after(camera_frame("bgr8"), "bgr8")
    assert not response.success and "encoding 'bgr8' refused, expected rgb8" in response.message
    response = capture_after(camera_frame(width=64, height=48), "64x48")
    assert not response.success and "a 64x48 image refused, expected a square image" in response.message
    response = capture_after(camera_frame(width=32, height=32), "32x32")
    assert not response.success and "at least 48x48" in response.message
    assert learner.goal_captures() == []
    response = capture_after(camera_frame(), "ok")
    assert response.success and "captured goal example 1 (64x64 rgb8" in response.message
    captures = learner.goal_captures()
    assert len(captures) == 1 and captures[0].shape == (64, 64, 3) and (captures[0] == 77).all()


def test_status_reaches_diagnostics_for_monitors(learners, peer: Peer) -> None:
    from diagnostic_msgs.msg import DiagnosticArray

    from anima.ros_nodes._goal_query import parse_status

    learner = learners()
    seen = []
    peer.node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: seen.append(parse_status(m)), 10)
    peer.start()
    query_id = learner.ask(image(4), 0.25)
    wait_until(lambda: any(s is not None and s.pending == query_id for s in seen), "the status on /diagnostics")
    status = next(s for s in seen if s is not None and s.pending == query_id)
    assert status.learner == "/vice_raq_learner" and status.probability == pytest.approx(0.25) and status.asked == 1


def test_a_call_to_a_frozen_learner_is_given_up_and_the_panel_is_not_stuck(ros_env, peer: Peer) -> None:
    import signal

    from anima.benches._goal_query_learner import LearnerProcess

    learner = LearnerProcess(ros_env)
    try:
        panel = peer.panel(call_timeout_s=1.5)
        peer.start()
        query_id = learner.ask()
        wait_until(lambda: panel.view().can_answer and panel.view().query_id == query_id, "the query")
        learner.proc.send_signal(signal.SIGSTOP)  # alive but unresponsive
        stat = f"/proc/{learner.proc.pid}/stat"
        wait_until(lambda: open(stat).read().rsplit(")", 1)[1].split()[0] == "T", "the learner to be stopped")
        assert panel.answer(True, query_id)
        wait_until(lambda: not panel.view().busy, "the call to be given up")
        outcome = panel.view().history[-1]
        assert "no response from the learner within 1.5 s" in outcome.message
        assert not outcome.accepted and outcome.query_id == query_id
    finally:
        learner.proc.send_signal(signal.SIGCONT)
        learner.kill()
