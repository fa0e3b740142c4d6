"""rosbag2 MCAP files: write, read and summarise with ``rosbags``; no rclpy here.

A bag is one ``.mcap`` file in rosbag2's MCAP layout: ``ros2msg`` schemas holding each type's full
message definition (so Foxglove and ``ros2 bag info`` decode it without the packages installed),
``cdr`` channels with their offered QoS, and rosbag2's ``rosbag2`` metadata record. It is written by
``rosbags``' rosbag2 writer into a hidden folder beside the target and moved into place with
``os.replace`` when it is closed, so a crash never leaves a half-written file under the user's name.
(The tests read the files back with the ``mcap`` library, an implementation independent of the writer.)
"""

from __future__ import annotations

import importlib
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BAG_SUFFIX = ".mcap"


class BagError(ValueError):
    """A bag path or file that cannot be used; the message names it and says what is wrong."""


def check_bag_target(path: str | os.PathLike) -> Path:
    """Validate where a new bag will go (before any recording starts); returns the absolute path."""
    target = Path(path).expanduser().absolute()
    if target.suffix != BAG_SUFFIX:
        raise BagError(f"bag path '{path}' must end in {BAG_SUFFIX}")
    if target.is_dir():
        raise BagError(f"bag path '{path}' is a directory")
    parent = target.parent
    if not parent.is_dir():
        raise BagError(f"bag path '{path}': folder '{parent}' does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BagError(f"bag path '{path}': folder '{parent}' is not writable")
    if target.exists() and not os.access(target, os.W_OK):
        raise BagError(f"bag path '{path}' exists and is not writable")
    return target


class BagWriter:
    """Writes serialized (CDR) ROS 2 messages into a rosbag2 MCAP file.

    ``add_topic`` registers a topic with its type (``pkg/msg/Name``) and its publishers' offered
    QoS; ``write`` takes the CDR bytes exactly as received from DDS.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        self.path = check_bag_target(path)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.stem}.", suffix=".partial", dir=self.path.parent))
        self._typestore = get_typestore(Stores.ROS2_JAZZY)
        self._writer = Writer(self._tmp / "bag", version=Writer.VERSION_LATEST, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict[str, object] = {}
        self.counts: dict[str, int] = {}

    def knows_type(self, msgtype: str) -> bool:
        return msgtype in self._typestore.fielddefs

    def add_topic(self, topic: str, msgtype: str, offered_qos: list[dict] | None = None) -> None:
        """Register a topic; ``offered_qos``: the publishers' QoS as rosbag2 stores it (dicts of
        history, depth, reliability, durability, deadline, lifespan, liveliness, ...)."""
        if not self.knows_type(msgtype):
            raise BagError(f"topic '{topic}': type '{msgtype}' has no message definition in the ROS 2 Jazzy type store")
        from rosbags.rosbag2.metadata import parse_qos

        qos = parse_qos(offered_qos) if offered_qos else ()
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self._typestore, offered_qos_profiles=qos
        )
        self.counts[topic] = 0

    def write(self, topic: str, stamp_ns: int, data: bytes) -> None:
        self._writer.write(self._connections[topic], stamp_ns, data)
        self.counts[topic] += 1

    def close(self) -> Path:
        """Finish the file and move it to ``path``; returns the path."""
        try:
            self._writer.close()
            written = next(self._tmp.glob("bag/*.mcap"))
            os.replace(written, self.path)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)


@dataclass(frozen=True)
class TopicInfo:
    topic: str
    msgtype: str
    count: int
    offered_qos: tuple[dict, ...] = ()  # as rosbag2 stores them: reliability, durability, ... by name


@dataclass(frozen=True)
class BagInfo:
    path: Path
    start_ns: int
    end_ns: int
    message_count: int
    topics: tuple[TopicInfo, ...] = field(default_factory=tuple)

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) * 1e-9 if self.message_count else 0.0


def _open(path: str | os.PathLike):
    """An opened rosbags reader of a bare rosbag2 MCAP file, or a BagError naming the file."""
    from rosbags.rosbag2 import Reader
    from rosbags.rosbag2.errors import ReaderError

    p = Path(path)
    if not p.is_file():
        raise BagError(f"bag '{path}' does not exist or is not a file")
    try:
        reader = Reader(p)
        reader.open()
    except (ReaderError, ValueError, KeyError, EOFError, struct.error) as err:
        raise BagError(f"'{path}' is not a complete rosbag2 MCAP file (truncated, damaged or another format: {err})") from None
    return reader


def _qos_dict(q) -> dict:
    return {"reliability": q.reliability.name.lower(), "durability": q.durability.name.lower(),
            "history": q.history.name.lower(), "depth": q.depth}


def bag_info(path: str | os.PathLike) -> BagInfo:
    """Summary of a bag from its index: topics, types, counts, offered QoS, time span."""
    reader = _open(path)
    try:
        topics = tuple(sorted((TopicInfo(c.topic, c.msgtype, c.msgcount,
                                         tuple(_qos_dict(q) for q in getattr(c.ext, "offered_qos_profiles", ())))
                               for c in reader.connections), key=lambda t: t.topic))
        return BagInfo(Path(path), reader.start_time, reader.end_time, reader.message_count, topics)
    finally:
        reader.close()


@dataclass(frozen=True)
class RawMessage:
    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes


def read_messages(path: str | os.PathLike, topics: set[str] | None = None) -> Iterator[RawMessage]:
    """Every message of a bag in log-time order, undecoded (CDR bytes)."""
    from rosbags.rosbag2.errors import ReaderError

    reader = _open(path)
    try:
        connections = [c for c in reader.connections if not topics or c.topic in topics]
        for c, stamp_ns, data in reader.messages(connections=connections):
            yield RawMessage(c.topic, c.msgtype, stamp_ns, bytes(data))
    except (ReaderError, ValueError, EOFError, struct.error) as err:
        raise BagError(f"'{path}' is damaged ({type(err).__name__}: {err})") from None
    finally:
        reader.close()


def decode_messages(path: str | os.PathLike, topics: set[str]) -> Iterator[tuple[str, int, object]]:
    """(topic, log time ns, message) of the given topics, decoded with the ROS 2 Jazzy type store;
    a message that does not decode as its type is skipped."""
    from rosbags.serde import SerdeError
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    for m in read_messages(path, topics):
        try:
            yield m.topic, m.log_time_ns, store.deserialize_cdr(m.data, m.msgtype)
        except SerdeError:
            continue


def format_info(info: BagInfo) -> str:
    """The text of ``anima bag info``."""
    width = max((len(t.topic) for t in info.topics), default=5)
    lines = [
        f"Files:      {info.path}",
        f"Duration:   {info.duration_s:.3f} s",
        f"Start:      {info.start_ns / 1e9:.3f}",
        f"End:        {info.end_ns / 1e9:.3f}",
        f"Messages:   {info.message_count}",
        f"Topics:     {len(info.topics)}",
    ]
    for t in info.topics:
        rate = t.count / info.duration_s if info.duration_s > 0 else 0.0
        lines.append(f"  {t.topic:<{width}}  {t.msgtype:<36} {t.count:>8} msgs  {rate:8.1f} Hz")
    return "\n".join(lines)


def parse_topics(text: str) -> tuple[str, ...]:
    """``"a, /b c"`` -> ``("/a", "/b", "/c")``: absolute names, in order, without repeats;
    ``""`` or ``"all"`` -> ``()`` (every topic)."""
    if text.strip() == "all":
        return ()
    names = [t if t.startswith("/") else "/" + t for t in text.replace(",", " ").split()]
    return tuple(dict.fromkeys(names))


def message_class(type_name: str):
    """``pkg/msg/Name`` -> the Python message class (a generic subscription by type name)."""
    pkg, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
