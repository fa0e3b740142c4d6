"""ros_nodes/_cdr.py: serialized JointState read and written without Python messages, checked
against rclpy's own (de)serialization (the rmw's CDR), including the cases that move the offsets."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import JointState

from anima.ros_nodes._cdr import CdrError, JointStateReader, JointStateWriter

NAMES = ["FR_hip", "FR_upper_leg", "FR_lower_leg_joint", "x"]  # lengths that need padding after them


def _msg(names, position, velocity, effort, frame="", sec=12, nanosec=345_000_000) -> JointState:
    m = JointState(name=list(names), position=list(position), velocity=list(velocity), effort=list(effort))
    m.header.frame_id, m.header.stamp.sec, m.header.stamp.nanosec = frame, sec, nanosec
    return m


@pytest.mark.parametrize("frame", ["", "a", "ab", "abc", "base_link"])
@pytest.mark.parametrize("filled", [(4, 4, 4), (4, 4, 0), (0, 4, 0), (0, 0, 4), (0, 0, 0)])
def test_reader_gives_what_rclpy_serialized(frame: str, filled: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(len(frame) + 7 * sum(filled))
    arrays = [rng.normal(size=k) for k in filled]
    m = _msg(NAMES, *arrays, frame=frame)
    got = JointStateReader().read(bytes(serialize_message(m)))
    assert (got.sec, got.nanosec, got.names) == (12, 345_000_000, tuple(NAMES))
    assert got.stamp_s == pytest.approx(12.345)
    for value, expected in zip((got.position, got.velocity, got.effort), arrays):
        np.testing.assert_array_equal(value, expected)  # bit for bit


def test_reader_notices_new_names_of_the_same_length() -> None:
    reader = JointStateReader()
    a = reader.read(bytes(serialize_message(_msg(["ab", "cd"], [1.0, 2.0], [], []))))
    b = reader.read(bytes(serialize_message(_msg(["cd", "ab"], [3.0, 4.0], [], []))))
    assert a.names == ("ab", "cd") and b.names == ("cd", "ab")
    np.testing.assert_array_equal(b.position, [3.0, 4.0])


@pytest.mark.parametrize("fields", [("effort",), ("position", "velocity", "effort"), ("velocity",)])
def test_writer_bytes_are_the_message_rclpy_reads(fields: tuple[str, ...]) -> None:
    rng = np.random.default_rng(3)
    values = [rng.normal(size=len(NAMES)) for _ in fields]
    raw = JointStateWriter(NAMES, fields).write(7, 9, *values)
    expected = _msg(NAMES, *[values[fields.index(f)] if f in fields else [] for f in JointStateWriter.FIELDS],
                    sec=7, nanosec=9)
    assert deserialize_message(raw, JointState) == expected
    again = JointStateReader().read(raw)  # and our reader reads our writer
    np.testing.assert_array_equal(getattr(again, fields[0]), values[0])


def test_writer_refuses_the_wrong_number_of_values() -> None:
    writer = JointStateWriter(NAMES, ("effort",))
    with pytest.raises(ValueError, match="effort: expected 4 values"):
        writer.write(0, 0, np.zeros(3))
    with pytest.raises(ValueError, match="expected 1 arrays"):
        writer.write(0, 0, np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="not JointState arrays"):
        JointStateWriter(NAMES, ("torque",))


def test_malformed_bytes_are_refused_with_a_reason() -> None:
    good = bytes(serialize_message(_msg(NAMES, np.ones(4), np.ones(4), np.ones(4))))
    reader = JointStateReader()
    with pytest.raises(CdrError, match="too short"):
        reader.read(good[:10])
    with pytest.raises(CdrError, match="not little-endian"):
        reader.read(b"\x00\x00" + good[2:])
    with pytest.raises(CdrError, match="effort claims 4 values|runs past|truncated"):
        reader.read(good[: len(good) - 40])
