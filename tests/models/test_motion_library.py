"""The shipped motion library: every clip meets the targets; the motion CLI; the preview."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anima.controllers.leg_kinematics import LegKinematics
from anima.main import main as anima_main
from anima.models.motion.check import check_motion
from anima.models.motion.format import load_motion
from anima.models.motion.library import shipped_motions

REQUIRED = {"dog_trot", "dog_pace", "dog_walk_backwards", "dog_spin", "hop_turn"}


def test_required_clips_are_shipped() -> None:
    assert REQUIRED <= {p.stem for p in shipped_motions()}


@pytest.mark.parametrize("path", shipped_motions(), ids=lambda p: p.stem)
def test_shipped_motion_meets_targets(path: Path) -> None:
    report = check_motion(load_motion(path), LegKinematics.laikago())
    assert report["toe_error_m_median"] is not None
    assert report["toe_error_m_median"] <= 0.01 and report["toe_error_m_max"] <= 0.03
    assert report["foot_slip_m_max"] <= 0.01
    assert report["penetration_m_max"] <= 0.005
    assert report["joint_limit_violations"] == 0
    assert report["joint_velocity_spikes"] == 0 and report["root_velocity_spikes"] == 0


def test_cli_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert anima_main(["motion", "list"]) == 0
    lines = capsys.readouterr().out.split()
    assert {Path(p).stem for p in lines} >= REQUIRED and all(Path(p).is_file() for p in lines)


def test_cli_check_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert anima_main(["motion", "check", "dog_trot", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("toe_error_m_median", "toe_error_m_max", "foot_slip_m_max", "penetration_m_max",
                "joint_limit_violations", "joint_velocity_spikes", "root_velocity_spikes"):
        assert key in report
    # A clip driven past the knee limit (lower joint must be <= 0) fails with violations counted.
    motion = load_motion(shipped_motions()[0])
    frames = motion.frames.copy()
    frames[:, 9] = 0.5  # FR lower joint
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**motion.with_frames(frames).to_json_dict()}))
    assert anima_main(["motion", "check", str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["joint_limit_violations"] == motion.num_frames
    assert anima_main(["motion", "check", str(tmp_path / "none.json")]) == 2


@pytest.mark.sim
def test_cli_preview(tmp_path: Path) -> None:
    import cv2

    out = tmp_path / "hop.mp4"
    assert anima_main(["motion", "preview", "hop_turn", "-o", str(out), "--width", "96", "--height", "72",
                       "--fps", "5"]) == 0
    video = cv2.VideoCapture(str(out))
    ok, frame = video.read()
    # 1.4 s at 5 frames/s, subsampled from 30 Hz every 6th frame: frames 0, 6, ..., 42 -> 8 frames.
    assert ok and frame.shape == (72, 96, 3)
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    assert frame.std() > 5.0  # a rendered scene, not a blank image
    assert (tmp_path / "hop_joints.png").stat().st_size > 1000


@pytest.mark.sim
def test_frames_follow_pybullet_convention() -> None:
    """Frames put on PyBullet as the original code does give the toes our numpy check computes."""
    import numpy as np
    import pybullet
    import pybullet_data
    from pybullet_utils import bullet_client

    from anima.controllers.leg_kinematics import LAIKAGO_LEGS, LAIKAGO_URDF
    from anima.models.motion.check import toe_positions_world
    from anima.models.motion.library import find_motion

    kin = LegKinematics.laikago()
    motion = load_motion(find_motion("hop_turn"))
    expected = toe_positions_world(motion, kin)
    client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
    try:
        robot = client.loadURDF(f"{pybullet_data.getDataPath()}/{LAIKAGO_URDF}")
        info = [client.getJointInfo(robot, i) for i in range(client.getNumJoints(robot))]
        joints = {j[1].decode(): j[0] for j in info}
        toes = [next(j[0] for j in info if j[12].decode() == f"toe{leg}") for leg in LAIKAGO_LEGS]
        for i in range(0, motion.num_frames, 7):
            frame = motion.frames[i]
            client.resetBasePositionAndOrientation(robot, frame[:3], frame[3:7])
            for name, angle in zip(kin.joint_names, frame[7:]):
                client.resetJointState(robot, joints[name], angle)
            got = [client.getLinkState(robot, t, computeForwardKinematics=True)[4] for t in toes]
            np.testing.assert_allclose(got, expected[i], atol=1e-5)
    finally:
        client.disconnect()
