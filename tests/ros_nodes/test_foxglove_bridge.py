"""ROS integration: ``foxglove_bridge`` serves each stream to a WebSocket client speaking the
Foxglove protocol (``foxglove.sdk.v1``): channel advertisements, then a decodable message per
channel. Real processes over DDS on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import websockets
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.ros]
CHANNELS = {"/joint_states": "foxglove.JointStates", "/odom/pose": "foxglove.PoseInFrame",
            "/tf": "foxglove.FrameTransforms", "/stereo/left/image_raw": "foxglove.RawImage",
            "/stereo/right/image_raw": "foxglove.RawImage", "/camera/image_raw": "foxglove.RawImage",
            "/ee_pose": "foxglove.PoseInFrame", "/balls": "foxglove.SceneUpdate",
            "/diagnostics": "json"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _decoder(channel: dict):
    if channel["encoding"] == "json":
        return lambda payload: json.loads(payload)
    fds = descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(channel["schema"]))
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(channel["schemaName"]))
    return cls.FromString


async def _one_message_per_channel(port: int, timeout_s: float) -> tuple[dict, dict]:
    async with websockets.connect(f"ws://127.0.0.1:{port}", subprotocols=["foxglove.sdk.v1"]) as ws:
        advertised: dict[str, dict] = {}
        while set(advertised) < set(CHANNELS):  # the advertisements come first
            msg = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
            if msg["op"] == "advertise":
                advertised.update({c["topic"]: c for c in msg["channels"]})
        subs = {i: advertised[t] for i, t in enumerate(CHANNELS)}
        await ws.send(json.dumps({"op": "subscribe", "subscriptions": [
            {"id": i, "channelId": c["id"]} for i, c in subs.items()]}))
        got: dict[str, object] = {}
        while len(got) < len(CHANNELS):
            frame = await asyncio.wait_for(ws.recv(), timeout_s)
            if isinstance(frame, bytes) and frame[0] == 0x01:  # message data: op, sub id, log time, payload
                sub_id, _log_time = struct.unpack_from("<IQ", frame, 1)
                channel = subs[sub_id]
                got.setdefault(channel["topic"], _decoder(channel)(frame[13:]))
        return advertised, got


def test_serves_a_message_per_channel(ros_env, venv_bin) -> None:
    port = _free_port()
    bridge = subprocess.Popen([str(venv_bin / "foxglove_bridge"), "--ros-args", "-p", f"port:={port}"], env=ros_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pub = subprocess.Popen([sys.executable, str(HERE / "stream_publisher.py")], env=ros_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = bridge.stdout.readline()  # the server is up once it logs its address
        assert f"ws://127.0.0.1:{port}" in line, line + bridge.stdout.read()
        assert pub.stdout.readline().strip() == "ready"
        advertised, got = asyncio.run(_one_message_per_channel(port, timeout_s=60))
    finally:
        for proc in (pub, bridge):
            proc.send_signal(signal.SIGINT)
        for proc in (pub, bridge):
            proc.wait(timeout=30)
    assert {t: c["schemaName"] if c["encoding"] != "json" else "json" for t, c in advertised.items()
            if t in CHANNELS} == CHANNELS
    joints = got["/joint_states"]
    assert [(j.name, j.position, j.effort) for j in joints.joints] == [("j0", 0.25, 2.0), ("j1", -0.5, 3.0)]
    pose = got["/odom/pose"]
    assert pose.frame_id == "odom" and (pose.pose.position.x, pose.pose.position.z) == (1.5, 0.45)
    tf = got["/tf"].transforms[0]
    assert (tf.parent_frame_id, tf.child_frame_id, tf.translation.x) == ("odom", "base_link", 1.5)
    image = got["/stereo/left/image_raw"]
    assert (image.width, image.height, image.encoding, image.data) == (6, 4, "rgb8", bytes(range(72)))
    assert got["/camera/image_raw"].data == bytes(range(72))
    ee = got["/ee_pose"]
    assert ee.frame_id == "base_link" and ee.pose.position.y == 0.3
    balls = got["/balls"].entities
    assert [e.id for e in balls] == ["ball_0", "ball_1"] and balls[1].spheres[0].pose.position.x == 0.04
    assert balls[0].spheres[0].size.x == pytest.approx(0.044) and balls[0].frame_id == "world"
    status = got["/diagnostics"]["status"][0]
    assert status == {"level": 1, "name": "pddm_planner: planning", "message": "settling",
                      "hardware_id": "shadowhand", "values": {"plan_ms": "14.2"}}
    assert bridge.returncode == 0, bridge.stdout.read()


def test_refuses_a_port_in_use(ros_env, venv_bin) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([str(venv_bin / "foxglove_bridge"), "--ros-args", "-p", f"port:={port}"], env=ros_env,
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and f"cannot serve on 127.0.0.1:{port}" in out.stderr, out
