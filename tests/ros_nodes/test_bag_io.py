"""rosbag2 MCAP files without ROS processes: written by ``BagWriter`` (rosbags), read back by the
independent ``mcap`` + ``mcap_ros2`` readers; bad paths and bad files give one clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rclpy.serialization import serialize_message
from sensor_msgs.msg import JointState

from anima.ros_nodes._bag_io import BagError, BagWriter, bag_info, check_bag_target, read_messages

RELIABLE = {"history": "keep_last", "depth": 10, "reliability": "reliable", "durability": "volatile",
            "deadline": {"sec": 0, "nsec": 0}, "lifespan": {"sec": 0, "nsec": 0}, "liveliness": "automatic",
            "liveliness_lease_duration": {"sec": 0, "nsec": 0}, "avoid_ros_namespace_conventions": False}


def _joint_state(i: int) -> JointState:
    msg = JointState(name=["a", "b"], position=[0.1 * i, -0.2 * i], velocity=[1.0, 2.0], effort=[float(i), 0.5])
    msg.header.stamp.sec, msg.header.stamp.nanosec = i // 500, (i % 500) * 2_000_000
    return msg


def _write_bag(path: Path, n: int = 50) -> list[bytes]:
    writer = BagWriter(path)
    writer.add_topic("/joint_states", "sensor_msgs/msg/JointState", [RELIABLE])
    data = [serialize_message(_joint_state(i)) for i in range(n)]
    for i, d in enumerate(data):
        writer.write("/joint_states", 1_000_000_000 + i * 2_000_000, d)
    assert not path.exists(), "the bag must appear only when it is closed"
    writer.close()
    return data


def test_written_bag_decodes_with_an_independent_reader(tmp_path: Path) -> None:
    path = tmp_path / "run.mcap"
    data = _write_bag(path)
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
        schema = next(iter(summary.schemas.values()))
        # the definition is embedded, dependencies included (rosbag2's ros2msg layout)
        assert schema.encoding == "ros2msg" and b"MSG: std_msgs/Header" in schema.data
        decoded = [(m.log_time, d) for _s, _c, m, d in reader.iter_decoded_messages()]
    assert len(decoded) == len(data)
    for i, (log_time, msg) in enumerate(decoded):
        assert log_time == 1_000_000_000 + i * 2_000_000
        assert list(msg.name) == ["a", "b"] and list(msg.effort) == [float(i), 0.5]
        assert msg.header.stamp.nanosec == (i % 500) * 2_000_000
    assert [m.data for m in read_messages(path)] == data
    assert bag_info(path).topics[0].offered_qos[0]["reliability"] == "reliable"
    assert not [p for p in tmp_path.iterdir() if p.name != "run.mcap"], "temporary files left behind"


def test_bag_info_counts_topics_and_span(tmp_path: Path) -> None:
    path = tmp_path / "run.mcap"
    _write_bag(path, n=11)
    info = bag_info(path)
    assert info.message_count == 11
    assert [(t.topic, t.msgtype, t.count) for t in info.topics] == [("/joint_states", "sensor_msgs/msg/JointState", 11)]
    assert info.duration_s == pytest.approx(10 * 0.002)


@pytest.mark.parametrize("target, problem", [
    ("missing_dir/run.mcap", "does not exist"),
    ("run.bag", "must end in .mcap"),
    (".", "must end in .mcap"),
])
def test_unusable_bag_targets_are_refused(tmp_path: Path, target: str, problem: str) -> None:
    with pytest.raises(BagError, match=problem):
        check_bag_target(tmp_path / target)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to a read-only folder")
def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(BagError, match="not writable"):
            check_bag_target(tmp_path / "run.mcap")
    finally:
        tmp_path.chmod(0o700)


def _anima(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "anima", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("make_file", ["truncated", "not_mcap", "empty"])
def test_bag_play_and_info_refuse_bad_files_with_one_line(tmp_path: Path, make_file: str) -> None:
    good = tmp_path / "good.mcap"
    _write_bag(good, n=200)
    bad = tmp_path / "bad.mcap"
    contents = {"truncated": good.read_bytes()[: good.stat().st_size // 2], "not_mcap": b"a text file\n" * 10,
                "empty": b""}
    bad.write_bytes(contents[make_file])
    for action in ("play", "info"):
        out = _anima("bag", action, str(bad))
        assert out.returncode == 2, out
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and str(bad) in lines[0], out.stderr
        assert "Traceback" not in out.stderr
    # the same command accepts the intact file (the bad input was what was refused)
    ok = _anima("bag", "info", str(good))
    assert ok.returncode == 0 and "/joint_states" in ok.stdout and "200 msgs" in ok.stdout, ok
