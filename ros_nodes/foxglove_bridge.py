"""foxglove_bridge: serves the stack's topics to the Foxglove app over WebSocket (``foxglove:=true``).

Built on the official ``foxglove-sdk`` package: a WebSocket server (bound to ``host``,
127.0.0.1 by default, so nothing outside this machine can connect unless asked) and one channel
per stream, all advertised at start, each carrying a Foxglove schema the app's panels understand:

| Foxglove channel | schema | from (relative ROS topic, type) |
|---|---|---|
| ``/joint_states`` | foxglove.JointStates | ``joint_states`` sensor_msgs/JointState |
| ``/odom/pose`` | foxglove.PoseInFrame | ``odom`` nav_msgs/Odometry |
| ``/tf`` | foxglove.FrameTransforms (odom -> base_link) | ``odom`` |
| ``/stereo/left/image_raw``, ``/stereo/right/image_raw``, ``/camera/image_raw`` | foxglove.RawImage | sensor_msgs/Image (hand's stereo pair, Sawyer's camera) |
| ``/ee_pose`` | foxglove.PoseInFrame | ``ee_pose`` geometry_msgs/PoseStamped (Sawyer) |
| ``/balls`` | foxglove.SceneUpdate (one sphere per ball) | ``balls/state`` sensor_msgs/MultiDOFJointState |
| ``/diagnostics`` | JSON (status level, name, message, hardware id, values) | ``/diagnostics`` diagnostic_msgs/DiagnosticArray |

Each channel forwards at most ``max_rate_hz`` messages per wall second (the 500 Hz streams would
cost the node far more than a viewer needs). Parameters: ``host`` (str, "127.0.0.1"), ``port``
(int, 8765; 0 = any free port, logged), ``max_rate_hz`` (float, 30), ``ball_radius_m`` (float, 0.022).
"""

from __future__ import annotations

import time

import foxglove
from diagnostic_msgs.msg import DiagnosticArray
from foxglove import channels as fc
from foxglove import messages as fm
from nav_msgs.msg import Odometry
from rclpy.node import Node
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Image, JointState, MultiDOFJointState

from anima.ros_nodes._common import SENSOR_QOS, declare_params, run_node

DIAGNOSTICS_SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "array", "items": {"type": "object", "properties": {
        "level": {"type": "integer"}, "name": {"type": "string"}, "message": {"type": "string"},
        "hardware_id": {"type": "string"}, "values": {"type": "object"}}}}},
}


def _ts(stamp) -> fm.Timestamp:
    return fm.Timestamp(sec=int(stamp.sec), nsec=int(stamp.nanosec))


def _vec(p) -> fm.Vector3:
    return fm.Vector3(x=p.x, y=p.y, z=p.z)


def _quat(q) -> fm.Quaternion:
    return fm.Quaternion(x=q.x, y=q.y, z=q.z, w=q.w)


def pose_in_frame(msg: PoseStamped) -> fm.PoseInFrame:
    p = msg.pose
    return fm.PoseInFrame(timestamp=_ts(msg.header.stamp), frame_id=msg.header.frame_id,
                          pose=fm.Pose(position=_vec(p.position), orientation=_quat(p.orientation)))


def joint_states(msg: JointState) -> fm.JointStates:
    n = len(msg.name)
    pos, vel, eff = (list(a) if len(a) == n else [None] * n for a in (msg.position, msg.velocity, msg.effort))
    return fm.JointStates(timestamp=_ts(msg.header.stamp), joints=[
        fm.JointState(name=name, position=p, velocity=v, effort=e) for name, p, v, e in zip(msg.name, pos, vel, eff)])


def raw_image(msg: Image) -> fm.RawImage:
    return fm.RawImage(timestamp=_ts(msg.header.stamp), frame_id=msg.header.frame_id, width=msg.width,
                       height=msg.height, encoding=msg.encoding, step=msg.step, data=bytes(msg.data))


def ball_scene(msg: MultiDOFJointState, radius_m: float) -> fm.SceneUpdate:
    colors = (fm.Color(r=0.9, g=0.2, b=0.2, a=1.0), fm.Color(r=0.2, g=0.4, b=0.9, a=1.0))
    entities = []
    for i, (name, tf) in enumerate(zip(msg.joint_names, msg.transforms)):
        t = tf.translation
        sphere = fm.SpherePrimitive(
            pose=fm.Pose(position=fm.Vector3(x=t.x, y=t.y, z=t.z), orientation=fm.Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)),
            size=fm.Vector3(x=2 * radius_m, y=2 * radius_m, z=2 * radius_m), color=colors[i % len(colors)])
        entities.append(fm.SceneEntity(timestamp=_ts(msg.header.stamp), frame_id=msg.header.frame_id, id=name,
                                       spheres=[sphere]))
    return fm.SceneUpdate(entities=entities)


def diagnostics(msg: DiagnosticArray) -> dict:
    return {"status": [{"level": int.from_bytes(s.level, "little") if isinstance(s.level, bytes) else int(s.level),
                        "name": s.name, "message": s.message, "hardware_id": s.hardware_id,
                        "values": {kv.key: kv.value for kv in s.values}} for s in msg.status]}


class FoxgloveBridgeNode(Node):
    def __init__(self) -> None:
        super().__init__("foxglove_bridge")
        p = declare_params(self, {"host": "127.0.0.1", "port": 8765, "max_rate_hz": 30.0, "ball_radius_m": 0.022})
        if not 0 <= p["port"] <= 65535:
            raise ValueError(f"port must be in 0..65535, got {p['port']}")
        if p["max_rate_hz"] <= 0:
            raise ValueError(f"max_rate_hz must be > 0, got {p['max_rate_hz']}")
        self._period = 1.0 / p["max_rate_hz"]
        self._radius = p["ball_radius_m"]
        try:
            self.server = foxglove.start_server(name="anima", host=p["host"], port=p["port"])
        except Exception as err:  # the SDK raises its own error types for a port in use or a bad address
            raise ValueError(f"foxglove: cannot serve on {p['host']}:{p['port']}: {err}") from None
        self._last: dict[str, float] = {}
        self._joints = fc.JointStatesChannel("/joint_states")
        self._pose = fc.PoseInFrameChannel("/odom/pose")
        self._tf = fc.FrameTransformsChannel("/tf")
        self._images = {t: fc.RawImageChannel(f"/{t}") for t in ("stereo/left/image_raw", "stereo/right/image_raw",
                                                                  "camera/image_raw")}
        self._ee = fc.PoseInFrameChannel("/ee_pose")
        self._balls = fc.SceneUpdateChannel("/balls")
        self._diag = foxglove.Channel("/diagnostics", schema=DIAGNOSTICS_SCHEMA)
        self.create_subscription(JointState, "joint_states", self._on_joints, SENSOR_QOS)
        self.create_subscription(Odometry, "odom", self._on_odom, SENSOR_QOS)
        for topic, channel in self._images.items():
            self.create_subscription(Image, topic, lambda m, c=channel, k=topic: self._forward(k, c, raw_image, m),
                                     SENSOR_QOS)
        self.create_subscription(PoseStamped, "ee_pose", lambda m: self._forward("ee", self._ee, pose_in_frame, m),
                                 SENSOR_QOS)
        self.create_subscription(MultiDOFJointState, "balls/state", self._on_balls, SENSOR_QOS)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.get_logger().info(f"Foxglove WebSocket server on ws://{p['host']}:{self.server.port} "
                               f"(at most {p['max_rate_hz']:g} msgs/s per channel)")

    def _due(self, key: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self._period:
            return False
        self._last[key] = now
        return True

    def _forward(self, key: str, channel, convert, msg) -> None:
        if self._due(key):
            channel.log(convert(msg))

    def _on_joints(self, msg: JointState) -> None:
        self._forward("joints", self._joints, joint_states, msg)

    def _on_odom(self, msg: Odometry) -> None:
        if not self._due("odom"):
            return
        p, stamp = msg.pose.pose, _ts(msg.header.stamp)
        self._pose.log(pose_in_frame(PoseStamped(header=msg.header, pose=p)))
        self._tf.log(fm.FrameTransforms(transforms=[fm.FrameTransform(
            timestamp=stamp, parent_frame_id=msg.header.frame_id, child_frame_id=msg.child_frame_id,
            translation=_vec(p.position), rotation=_quat(p.orientation))]))

    def _on_balls(self, msg: MultiDOFJointState) -> None:
        if self._due("balls"):
            self._balls.log(ball_scene(msg, self._radius))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        self._diag.log(diagnostics(msg))  # a few Hz at most: never thinned

    def close(self) -> None:
        self.server.stop()


def main(args: list[str] | None = None) -> int:
    return run_node(FoxgloveBridgeNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
