"""``anima bench record``'s loss count: gaps in the stamps of the fixed-rate topics of a bag."""

from __future__ import annotations

from pathlib import Path

from rclpy.serialization import serialize_message
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

from anima.benches.record import lost_messages
from anima.ros_nodes._bag_io import BagWriter


def test_counts_each_missing_stamp(tmp_path: Path) -> None:
    bag = tmp_path / "run.mcap"
    w = BagWriter(bag)
    w.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    w.add_topic("/clock", "rosgraph_msgs/msg/Clock")
    dropped = {7, 8, 20}  # three 2 ms samples missing out of 0..99
    for k in range(100):
        t_ns = 1_000_000_000 + k * 2_000_000
        if k not in dropped:
            msg = JointState(name=["j"], position=[0.0], velocity=[0.0], effort=[0.0])
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)
            w.write("/joint_states", t_ns, serialize_message(msg))
        if k % 2 == 0:  # /clock every 4 ms, complete
            clock = Clock()
            clock.clock.sec, clock.clock.nanosec = divmod(t_ns, 1_000_000_000)
            w.write("/clock", t_ns, serialize_message(clock))
    w.close()
    lost, counts = lost_messages(bag)
    assert lost["/joint_states"] == 3 and counts["/joint_states"] == 97
    assert lost["/clock"] == 0 and counts["/clock"] == 50
    assert lost["/imu/data"] == 0 and counts["/imu/data"] == 0  # absent topic: nothing to count
