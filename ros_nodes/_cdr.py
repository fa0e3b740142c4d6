"""sensor_msgs/JointState straight from and to its serialized form (CDR), for the 500 Hz command path.

rclpy turns each received JointState into a Python message (12 name strings, three arrays: about
37 µs here) and each sent one back into CDR (about 30 µs with building it). On the Laikago's
``joint_states`` → ``pd_controller`` → ``joint_commands`` → bridge path that happens four times per
sample. Subscriptions created with ``raw=True`` hand over the serialized bytes, and
``Publisher.publish`` sends bytes as they are (both public rclpy API); this module reads the
numbers out of those bytes with numpy views and writes a command by patching a pre-serialized
template, so the names are decoded only when their bytes change.

Format (the rmw's XCDR1 as ROS 2 serializes messages; checked against rclpy's own
(de)serialization in ``tests/ros_nodes/test_cdr.py``): a 4-byte encapsulation header (``00 01``
= little endian, then 2 option bytes; big-endian messages are refused, naming the header), then, aligned to their size counted from
the end of that header: ``int32 sec``, ``uint32 nanosec``, ``string frame_id`` (uint32 length
including the NUL, bytes), ``string[] name`` (uint32 count, each string as above, aligned to 4),
``float64[] position, velocity, effort`` (uint32 count, then the values aligned to 8).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_LE = b"\x00\x01"  # CDR little endian (every ROS 2 platform in use); big-endian senders are refused
_HEADER = 4  # encapsulation header; alignment counts from its end
_U32 = struct.Struct("<I")
_STAMP = struct.Struct("<iI")


class CdrError(ValueError):
    """Bytes that are not a well-formed serialized JointState (names what is wrong)."""


@dataclass(frozen=True)
class JointStateArrays:
    """One JointState's numbers: views into the received bytes (read-only), ``names`` decoded."""

    sec: int
    nanosec: int
    names: tuple[str, ...]
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray

    @property
    def stamp_s(self) -> float:
        return self.sec + self.nanosec * 1e-9


class JointStateReader:
    """Reads serialized JointState messages; the names are decoded once per distinct name block."""

    def __init__(self) -> None:
        self._names_raw = b""
        self._names: tuple[str, ...] = ()

    def read(self, buf: bytes) -> JointStateArrays:
        if len(buf) < _HEADER + 12:
            raise CdrError(f"joint_states: {len(buf)} bytes is too short for a serialized JointState")
        if buf[:2] != _LE:
            raise CdrError(f"joint_states: CDR encapsulation {bytes(buf[:2]).hex()} is not little-endian CDR (0001)")
        u32 = _U32
        sec, nanosec = _STAMP.unpack_from(buf, _HEADER)
        pos = _HEADER + 8
        pos = _skip_string(buf, pos, u32)  # frame_id
        names_at = pos
        known = self._names_raw
        if known and buf[names_at:names_at + len(known)] == known:
            pos = names_at + len(known)  # the same bytes parse the same way: skip the strings
        else:
            count, pos = _count(buf, pos, u32, "name")
            for _ in range(count):
                pos = _skip_string(buf, pos, u32)
            self._names = _decode_names(buf, names_at, count, u32)
            self._names_raw = bytes(buf[names_at:pos])
        arrays = []
        for field in ("position", "velocity", "effort"):
            values, pos = _doubles(buf, pos, u32, field)
            arrays.append(values)
        return JointStateArrays(sec, nanosec, self._names, *arrays)


class JointStateWriter:
    """Serialized JointState messages with fixed ``names`` and a fixed choice of filled ``fields``
    (the others empty): a template serialized once, its stamp and values patched per call.
    ``pd_controller`` sends ``fields=("effort",)``; the simulated robot sends all three."""

    FIELDS = ("position", "velocity", "effort")

    def __init__(self, names: tuple[str, ...] | list[str], fields: tuple[str, ...] = ("effort",),
                 frame_id: str = "") -> None:
        unknown = [f for f in fields if f not in self.FIELDS]
        if unknown:
            raise ValueError(f"fields: {unknown} are not JointState arrays {self.FIELDS}")
        n = len(names)
        out = bytearray(_LE + b"\x00\x00")
        out += struct.pack("<iI", 0, 0)
        _put_string(out, frame_id)
        _align(out, 4)
        out += struct.pack("<I", n)
        for name in names:
            _align(out, 4)
            _put_string(out, name)
        self._slots: list[int] = []  # byte offset of each filled field's values, in ``fields`` order
        at = {}
        for field in self.FIELDS:
            _align(out, 4)
            filled = field in fields and n > 0
            out += struct.pack("<I", n if field in fields else 0)
            if filled:
                _align(out, 8)
                at[field] = len(out)
                out += bytes(8 * n)
        self._slots = [at[f] for f in fields] if n else []
        self._template = bytes(out)
        self._n = n
        self.fields = tuple(fields)

    def write(self, sec: int, nanosec: int, *values: np.ndarray) -> bytes:
        """The serialized message stamped ``sec``/``nanosec``, one array of ``len(names)`` per field."""
        if len(values) != len(self.fields):
            raise ValueError(f"expected {len(self.fields)} arrays ({', '.join(self.fields)}), got {len(values)}")
        out = bytearray(self._template)
        struct.pack_into("<iI", out, _HEADER, sec, nanosec)
        for field, at, v in zip(self.fields, self._slots, values):
            arr = np.asarray(v, dtype="<f8")
            if arr.shape != (self._n,):
                raise ValueError(f"{field}: expected {self._n} values, got shape {arr.shape}")
            out[at:at + 8 * self._n] = arr.tobytes()
        return bytes(out)


def _align(out: bytearray, size: int) -> None:
    out += bytes(-(len(out) - _HEADER) % size)


def _put_string(out: bytearray, text: str) -> None:
    data = text.encode() + b"\x00"
    out += struct.pack("<I", len(data)) + data


def _aligned(pos: int, size: int) -> int:
    return pos + (-(pos - _HEADER) % size)


def _count(buf: bytes, pos: int, u32: struct.Struct, field: str) -> tuple[int, int]:
    pos = _aligned(pos, 4)
    if pos + 4 > len(buf):
        raise CdrError(f"joint_states: truncated before the length of {field}")
    (count,) = u32.unpack_from(buf, pos)
    return count, pos + 4


def _skip_string(buf: bytes, pos: int, u32: struct.Struct) -> int:
    length, pos = _count(buf, pos, u32, "a string")
    if pos + length > len(buf):
        raise CdrError("joint_states: a string runs past the end of the message")
    return pos + length


def _decode_names(buf: bytes, pos: int, count: int, u32: struct.Struct) -> tuple[str, ...]:
    _count_again, pos = _count(buf, pos, u32, "name")
    names = []
    for _ in range(count):
        length, pos = _count(buf, pos, u32, "a name")
        names.append(bytes(buf[pos:pos + max(length - 1, 0)]).decode(errors="replace"))
        pos += length
    return tuple(names)


def _doubles(buf: bytes, pos: int, u32: struct.Struct, field: str) -> tuple[np.ndarray, int]:
    count, pos = _count(buf, pos, u32, field)
    if count == 0:
        return np.empty(0), pos
    pos = _aligned(pos, 8)
    stop = pos + 8 * count
    if stop > len(buf):
        raise CdrError(f"joint_states: {field} claims {count} values, more than the message holds")
    return np.frombuffer(buf, dtype="<f8", count=count, offset=pos), stop


__all__ = ["CdrError", "JointStateArrays", "JointStateReader", "JointStateWriter"]
