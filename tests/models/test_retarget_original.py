"""The original retargeting, step by step (FACTS.md), on generated dogs.

The regression test re-derives every frame here, independently and plainly: one frame at a time
with the ``transformations`` module and PyBullet calls the original used, hard-coded link ids,
no Anima code in the loop. Stance tests use dogs whose fore and hind toe markers rest at
different heights, as in real capture.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from anima.main import main as anima_main
from anima.models.motion.check import check_motion
from anima.models.motion.format import load_motion
from anima.models.motion.library import LAIKAGO_SIZED_DOG
from anima.models.retarget.config import load_config
from anima.models.retarget.generator import GaitParams, generate_gait
from anima.models.retarget.keypoints import DOG27_NAMES, KeypointTrajectory, read_keypoints, write_dog_csv
from anima.models.retarget.retarget import Retargeter

FRONT_TOE_LIFT = 0.02  # fore toe markers rest this much above the hind ones (real capture: 1-2 cm)


def by_hand(rows: np.ndarray) -> np.ndarray:
    """Frames ``(T, 19)`` of the original Laikago retargeting of raw y-up marker rows ``(T, 81)``."""
    import pybullet
    import pybullet_data
    from pybullet_utils import bullet_client
    from pybullet_utils import transformations as tf

    def rotate(point: np.ndarray, quat: np.ndarray) -> np.ndarray:
        return tf.quaternion_matrix(quat)[:3, :3] @ point

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v)

    coord_rot = tf.quaternion_from_euler(0.5 * math.pi, 0.0, 0.0)  # y up -> z up
    turn = tf.quaternion_from_euler(0.0, 0.0, 0.47 * math.pi)
    init_rot = tf.quaternion_from_euler(math.pi / 2, 0.0, math.pi / 2, axes="sxyz")
    rest = [0.0, 0.67, -1.25] * 4
    # Marker order front-left, hind-left, front-right, hind-right; Laikago link ids from its URDF.
    hip_markers, toe_markers = [6, 16, 11, 20], [10, 19, 15, 23]
    hip_links, toe_links = [4, 12, 0, 8], [7, 15, 3, 11]
    toe_offsets = [[-0.02, 0, 0], [-0.02, 0, 0.01], [-0.02, 0, 0], [-0.02, 0, 0.01]]
    client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
    robot = client.loadURDF(pybullet_data.getDataPath() + "/laikago/laikago_toes_limits.urdf")
    movable = [j for j in range(client.getNumJoints(robot)) if client.getJointInfo(robot, j)[2] == 0]
    lower = [client.getJointInfo(robot, j)[8] for j in movable]
    upper = [client.getJointInfo(robot, j)[9] for j in movable]
    client.resetBasePositionAndOrientation(robot, [0, 0, 0], init_rot)
    for j, angle in zip(movable, rest):
        client.resetJointState(robot, j, angle)
    out = []
    for row in rows:
        m = [rotate(rotate(p, coord_rot), turn) * 1.0 for p in row.reshape(27, 3)]
        fwd = unit(m[3] - m[0] + np.array([0.0, 0.0, 0.025]))
        left = 0.5 * (unit(m[6] - m[11]) + unit(m[16] - m[20]))
        up = unit(np.cross(fwd, left))
        left = np.cross(up, fwd)
        left[2] = 0.0
        left = unit(left)
        mat = np.eye(4)
        mat[:3, 0], mat[:3, 1], mat[:3, 2] = fwd, left, up
        root_rot = tf.quaternion_multiply(tf.quaternion_from_matrix(mat), init_rot)
        root_rot = root_rot / np.linalg.norm(root_rot)
        root_pos = 0.5 * (m[0] + m[3])
        client.resetBasePositionAndOrientation(robot, root_pos, root_rot)
        facing = rotate(np.array([1.0, 0, 0]), tf.quaternion_multiply(root_rot, tf.quaternion_inverse(init_rot)))
        heading = tf.quaternion_about_axis(math.atan2(facing[1], facing[0]), [0, 0, 1])
        targets = []
        for i in range(4):
            hip = np.array(client.getLinkState(robot, hip_links[i], computeForwardKinematics=True)[4])
            target = hip + m[toe_markers[i]] - m[hip_markers[i]]
            target[2] = m[toe_markers[i]][2]
            targets.append(target + rotate(np.array(toe_offsets[i], dtype=float), heading))
        joints = client.calculateInverseKinematics2(
            robot, toe_links, targets, jointDamping=[0.5, 0.05, 0.01] * 4, lowerLimits=lower,
            upperLimits=upper, restPoses=rest)
        for j, angle in zip(movable, joints):
            client.resetJointState(robot, j, angle)
        out.append(np.concatenate([root_pos, root_rot, joints]))
    client.disconnect()
    frames = np.array(out)
    frames[:, 0:2] -= frames[0, 0:2]
    return frames


def noisy_turning_dog(seed: int = 0, noise_m: float = 0.003) -> KeypointTrajectory:
    """A turning pace with marker noise (so frames roll and are not orthogonal), moved away
    from the origin and turned, fore toe markers resting 1.5 cm above the hind ones."""
    sk = replace(LAIKAGO_SIZED_DOG, fore_toe_height_m=0.02 + FRONT_TOE_LIFT, hind_toe_height_m=0.02)
    kp = generate_gait(GaitParams("pace", speed_m_s=0.6, stride_m=0.36, duty_factor=0.55, turn_rate_rad_s=0.4,
                                  pitch_amplitude_rad=0.05, cycles=2), sk)
    rng = np.random.default_rng(seed)
    yaw = 0.7
    rot = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    pos = kp.positions @ rot.T + [1.5, -0.4, 0.0] + rng.normal(0.0, noise_m, kp.positions.shape)
    return KeypointTrajectory(kp.names, pos, kp.fps, "noisy")


@pytest.fixture(scope="module")
def rt() -> Retargeter:
    return Retargeter(load_config("laikago"))


def test_config_is_the_originals(rt: Retargeter) -> None:
    cfg = rt.config
    assert cfg.original is not None and cfg.scale == 1.0
    assert cfg.original.marker_rotations == (("x", pytest.approx(0.5 * math.pi)), ("z", pytest.approx(0.47 * math.pi)))
    np.testing.assert_allclose(cfg.original.forward_offset_m, [0, 0, 0.025])
    np.testing.assert_allclose(cfg.original.rest_pose, [0, 0.67, -1.25] * 4)


def test_matches_the_original_steps_frame_by_frame(rt: Retargeter, tmp_path: Path) -> None:
    src = tmp_path / "dog_test_joint_pos.txt"
    write_dog_csv(noisy_turning_dog(), src)
    expected = by_hand(np.loadtxt(src, delimiter=","))
    got = rt.retarget(read_keypoints(src)).motion.frames
    assert got.shape == expected.shape == (73, 19)
    np.testing.assert_allclose(got[:, :3], expected[:, :3], atol=1e-9)
    # Quaternions: same rotation and the same sign as the original's arithmetic.
    np.testing.assert_allclose(got[:, 3:7], expected[:, 3:7], atol=1e-9)
    np.testing.assert_allclose(got[:, 7:], expected[:, 7:], atol=1e-7)
    # A frame range is cut before retargeting (the original's clip ranges), from the rest pose.
    out = tmp_path / "cut.json"
    assert anima_main(["retarget", str(src), "-o", str(out), "--frames", "10:50"]) == 0
    np.testing.assert_allclose(load_motion(out).frames, by_hand(np.loadtxt(src, delimiter=",")[10:50]), atol=2e-6)


def test_root_height_and_heading_follow_the_markers(rt: Retargeter) -> None:
    # A level dog walking along the capture's forward axis: the root sits at the pelvis-neck
    # midpoint, level (the neck's 2.5 cm drop cancels the forward offset) and turned by
    # 0.47 pi - 0.5 pi = -5.4 deg; the clip starts at x = y = 0.
    kp = generate_gait(GaitParams("trot", speed_m_s=0.8, stride_m=0.4, bob_m=0.0, cycles=1), LAIKAGO_SIZED_DOG)
    motion = rt.retarget(kp).motion
    mid = 0.5 * (kp.get("pelvis") + kp.get("neck"))
    np.testing.assert_allclose(motion.root_position()[:, 2], mid[:, 2], atol=1e-12)
    np.testing.assert_allclose(motion.root_position()[0, :2], [0.0, 0.0], atol=1e-12)
    rpy = np.array([[math.atan2(r[2, 1], r[2, 2]), -math.asin(r[2, 0]), math.atan2(r[1, 0], r[0, 0])]
                    for r in _body_rotations(motion)])
    np.testing.assert_allclose(rpy[:, :2], 0.0, atol=1e-9)
    np.testing.assert_allclose(rpy[:, 2], -0.03 * math.pi, atol=1e-9)
    travel = motion.root_position()[-1, :2]
    assert math.atan2(travel[1], travel[0]) == pytest.approx(-0.03 * math.pi, abs=1e-6)


def _body_rotations(motion: object) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_quat(motion.root_quat_body()).as_matrix()


def test_stance_found_per_foot_when_fore_toes_rest_higher(rt: Retargeter) -> None:
    kp = noisy_turning_dog(seed=1, noise_m=0.001)
    fore = kp.positions[:, [DOG27_NAMES.index("right_fore_toe"), DOG27_NAMES.index("left_fore_toe")], 2]
    hind = kp.positions[:, [DOG27_NAMES.index("right_hind_toe"), DOG27_NAMES.index("left_hind_toe")], 2]
    # The rest heights differ by more than the stance height band: one ground level for all feet would miss the fore ones.
    assert np.percentile(fore, 5) - np.percentile(hind, 5) > rt.config.stance_height_m + 0.002
    contacts = rt.retarget(kp).motion.contacts
    # Every foot, fore and hind, is in stance for about the duty factor (0.55).
    np.testing.assert_allclose(contacts.mean(axis=0), 0.55, atol=0.08)


def test_check_measures_slip_of_feet_no_flag_marks(rt: Retargeter) -> None:
    # Fore toes slide 3 cm forward during every stance; no contact flags at all in the clip.
    sk = replace(LAIKAGO_SIZED_DOG, fore_toe_height_m=0.03 + FRONT_TOE_LIFT)
    kp = generate_gait(GaitParams("pace", speed_m_s=0.6, stride_m=0.36, duty_factor=0.55, cycles=2), sk)
    pos = kp.positions.copy()
    for name in ("right_fore_toe", "left_fore_toe"):
        k = DOG27_NAMES.index(name)
        low = pos[:, k, 2] < sk.fore_toe_height_m + 1e-9
        pos[:, k, 0] += np.where(low, 0.03 * _stance_progress(low), 0.0)
    motion = rt.retarget(KeypointTrajectory(kp.names, pos, kp.fps, "slide")).motion
    unflagged = motion.with_frames(motion.frames, contacts=np.zeros_like(motion.contacts))
    report = check_motion(unflagged, rt.kin, leg_names=rt.config.leg_names)
    slip = report["foot_slip_m"]
    assert slip["FR"] > 0.025 and slip["FL"] > 0.025
    assert slip["RR"] < 0.005 and slip["RL"] < 0.005
    assert report["foot_slip_m_max"] == pytest.approx(max(slip.values())) and not report["passed"]
    # The same dog without the slide: every foot still measured, none slips.
    clean = rt.retarget(kp).motion
    report = check_motion(clean.with_frames(clean.frames, contacts=np.zeros_like(clean.contacts)), rt.kin)
    assert max(report["foot_slip_m"].values()) < 0.005 and min(report["stance_fraction"].values()) > 0.4


def _stance_progress(low: np.ndarray) -> np.ndarray:
    """0 -> 1 across each run of True in ``low``."""
    out = np.zeros(low.size)
    padded = np.concatenate([[False], low, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    for a, b in zip(edges[::2], edges[1::2]):
        out[a:b] = np.linspace(0.0, 1.0, b - a)
    return out


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "dog_walk00_joint_pos.txt"
    write_dog_csv(generate_gait(GaitParams("walk", cycles=1), LAIKAGO_SIZED_DOG), src)
    n = len(src.read_text().splitlines())
    # The original file name is accepted.
    assert anima_main(["retarget", str(src), "-o", str(tmp_path / "ok.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frames"] == n
    # --frames beyond the end of the file.
    assert anima_main(["retarget", str(src), "-o", str(tmp_path / "x.json"), "--frames", f"10:{n + 5}"]) == 2
    assert f"frame range 10:{n + 5} is beyond the end of the file ({n} frames" in capsys.readouterr().err
    # Unwritable -o: its folder is a file; -o is a folder.
    assert anima_main(["retarget", str(src), "-o", str(src / "out.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert anima_main(["retarget", str(src), "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    # A motion JSON without LoopMode.
    data = json.loads((tmp_path / "ok.json").read_text())
    del data["LoopMode"]
    bad = tmp_path / "noloop.json"
    bad.write_text(json.dumps(data))
    assert anima_main(["motion", "check", str(bad)]) == 2
    assert "noloop.json: missing key 'LoopMode'" in capsys.readouterr().err
