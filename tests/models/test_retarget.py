"""Retargeting: IK recovers known angles, root frames, stance locking, a procedural trot end to end.

Laikago's config runs the original method (tests/models/test_retarget_original.py checks it step
by step); Anima's stance-locking method is exercised through the A1 config and a Laikago config
switched to it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from anima.controllers.leg_kinematics import LAIKAGO_STANDING_URDF
from anima.main import main as anima_main
from anima.models.motion.check import check_motion
from anima.models.motion.format import load_motion
from anima.models.motion.library import LAIKAGO_SIZED_DOG
from anima.models.retarget.config import IkConfig, config_from_dict, load_config
from anima.models.retarget.generator import GaitParams, generate_gait
from anima.models.retarget.ik import solve_feet_ik, solve_sequence_ik
from anima.models.retarget.keypoints import KeypointTrajectory, write_dog_csv
from anima.models.retarget.retarget import Retargeter, lock_stance, root_frames


@pytest.fixture(scope="module")
def rt() -> Retargeter:
    return Retargeter(load_config("laikago"))


@pytest.fixture(scope="module")
def rt_anima() -> Retargeter:
    """Laikago with Anima's stance-locking method (scale 0.825 for the default, larger dog)."""
    return Retargeter(replace(load_config("laikago"), original=None, scale=0.825))


def test_ik_recovers_joint_angles_from_fk_targets(rt: Retargeter) -> None:
    rng = np.random.default_rng(3)
    # Knee-back configurations near the standing pose (the branch the nominal bias selects).
    q_true = LAIKAGO_STANDING_URDF + rng.uniform(-0.3, 0.3, size=(50, 12))
    q_true[:, 2::3] = np.minimum(q_true[:, 2::3], -0.3)  # lower joint away from the straight-knee singularity
    targets = rt.kin.foot_positions(q_true)
    q, err = solve_feet_ik(rt.kin, targets, LAIKAGO_STANDING_URDF, LAIKAGO_STANDING_URDF, IkConfig(iterations=40))
    assert err.max() < 1e-4
    np.testing.assert_allclose(q, q_true, atol=2e-3)


def test_ik_respects_limits_on_unreachable_target(rt: Retargeter) -> None:
    # A target 1 m below the hip is out of reach (leg length ~0.5 m): the answer stays inside the limits.
    target = rt.kin.hip_positions()[None] + [0.0, 0.0, -1.0]
    q, err = solve_feet_ik(rt.kin, target, LAIKAGO_STANDING_URDF, LAIKAGO_STANDING_URDF)
    assert np.all(q >= rt.kin.lower) and np.all(q <= rt.kin.upper)
    assert np.all(err > 0.4)


def test_sequence_ik_chunks_agree(rt: Retargeter) -> None:
    t = np.linspace(0.0, 1.0, 40)
    q_true = LAIKAGO_STANDING_URDF + 0.2 * np.sin(2 * np.pi * t[:, None] + np.arange(12))
    targets = rt.kin.foot_positions(q_true)
    q1, e1 = solve_sequence_ik(rt.kin, targets, LAIKAGO_STANDING_URDF, IkConfig(chunk_frames=1))
    q8, e8 = solve_sequence_ik(rt.kin, targets, LAIKAGO_STANDING_URDF, IkConfig(chunk_frames=8))
    assert e1.max() < 1e-4 and e8.max() < 1e-4
    np.testing.assert_allclose(q1, q8, atol=2e-3)


def test_root_frames_hand_example() -> None:
    # Dog facing +y: pelvis (0,0,0.5) -> neck (0,1,0.5); left side is -x.
    names = ("pelvis", "neck", "left_shoulder", "right_shoulder", "left_hip", "right_hip")
    pts = np.array([[0, 0, .5], [0, 1, .5], [-.1, .8, .5], [.1, .8, .5], [-.1, .2, .5], [.1, .2, .5]])
    kp = KeypointTrajectory(names, np.stack([pts, pts]), 60.0)
    rot = root_frames(kp)[0]
    # Columns forward (0,1,0), left (-1,0,0), up (0,0,1): a +90 deg yaw.
    np.testing.assert_allclose(rot, [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)


def test_lock_stance_holds_mid_stance_point() -> None:
    # One foot drifting +1 cm/frame in x; stance on frames 2..4 -> held at frame 3's x = 0.03.
    targets = np.zeros((7, 1, 3))
    targets[:, 0, 0] = 0.01 * np.arange(7)
    targets[:, 0, 2] = 0.05
    stance = np.zeros((7, 1), bool)
    stance[2:5] = True
    out = lock_stance(targets, stance, contact_height=0.03)
    np.testing.assert_allclose(out[2:5, 0, 0], 0.03)
    np.testing.assert_allclose(out[2:5, 0, 2], 0.03)  # put on the ground
    np.testing.assert_allclose(out[:, 0, 2][[0, 1, 5, 6]], 0.05)  # swing height untouched
    # Shift before the first stance = the first stance's start shift (0.03 - 0.02), held.
    np.testing.assert_allclose(out[0, 0, 0], 0.0 + 0.01)


@pytest.mark.parametrize("method", ["original", "anima"])
def test_procedural_trot_passes_checks(rt: Retargeter, rt_anima: Retargeter, method: str) -> None:
    params = GaitParams("trot", speed_m_s=0.9, stride_m=0.45, duty_factor=0.55, cycles=2)
    r = rt if method == "original" else rt_anima
    kp = generate_gait(params, LAIKAGO_SIZED_DOG) if method == "original" else generate_gait(params)
    result = r.retarget(kp)
    report = check_motion(result.motion, r.kin)
    assert report["toe_error_m_median"] <= 0.01 and report["toe_error_m_max"] <= 0.03
    assert report["foot_slip_m_max"] <= 0.01 and report["penetration_m_max"] <= 0.005
    assert report["joint_limit_violations"] == 0 and report["joint_velocity_spikes"] == 0
    # The robot travels the scaled distance: 2 cycles x 0.45 m x scale (1.0 original, 0.825 anima),
    # along the heading the original's 0.47 pi turn leaves for a dog walking along the capture's +z.
    travelled = result.motion.root_position()[-1, :2] - result.motion.root_position()[0, :2]
    assert np.linalg.norm(travelled) == pytest.approx(2 * 0.45 * r.config.scale, abs=1e-3)
    # Knees bend backwards like the nominal pose (lower joint negative) throughout.
    assert np.all(result.motion.joints()[:, 2::3] < 0)


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="missing key 'legs'"):
        config_from_dict({"robot": "x"}, "x.yaml")
    with pytest.raises(ValueError, match="no retarget config for robot 'nosuchrobot'"):
        load_config("nosuchrobot")


def test_cli_retarget_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kp = generate_gait(GaitParams("pace", speed_m_s=0.6, stride_m=0.36, duty_factor=0.55, cycles=2), LAIKAGO_SIZED_DOG)
    src = tmp_path / "pace.csv"
    write_dog_csv(kp, src)
    out = tmp_path / "pace.json"
    assert anima_main(["retarget", str(src), "-o", str(out), "--frames", "10:70", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 60 and summary["toe_error_m_max"] < 0.01
    motion = load_motion(out)
    assert motion.num_frames == 60 and motion.frame_duration == pytest.approx(1 / 60)
    assert "right_fore_toe" in motion.keypoint_names
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    assert anima_main(["retarget", str(bad), "-o", str(tmp_path / "x.json")]) == 2
    assert "bad.csv: row 1: expected 81 values" in capsys.readouterr().err


def test_missing_keypoints_rejected(rt: Retargeter) -> None:
    kp = generate_gait(GaitParams("walk", speed_m_s=0.4, stride_m=0.32, duty_factor=0.7, cycles=1))
    keep = [i for i, n in enumerate(kp.names) if n != "neck"]
    partial = KeypointTrajectory(tuple(kp.names[i] for i in keep), kp.positions[:, keep], kp.fps, "partial.json")
    with pytest.raises(ValueError, match=r"partial.json: missing keypoints \['neck'\]"):
        rt.retarget(partial)


def test_per_limb_scale_changes_only_that_limb(rt_anima: Retargeter) -> None:
    rt = rt_anima
    kp = generate_gait(GaitParams("trot", cycles=1))
    cfg = replace(rt.config, limb_scale=(1.1, 1.0, 1.0, 1.0))
    _, _, base, _ = rt.root_and_targets(kp)
    _, _, scaled, _ = Retargeter(cfg).root_and_targets(kp)
    assert np.abs(scaled[:, 1:] - base[:, 1:]).max() < 1e-12
    assert np.abs(scaled[:, 0] - base[:, 0]).max() > 0.01


def test_a1_is_config_only() -> None:
    # The Unitree A1 (z-up URDF, different joint axes and names) needs only config/retarget/a1.yaml.
    from anima.models.motion.check import CheckThresholds

    cfg = load_config("a1")
    rt_a1 = Retargeter(cfg)
    np.testing.assert_allclose(cfg.urdf_to_body, np.eye(3), atol=1e-12)
    result = rt_a1.retarget(generate_gait(GaitParams("trot", speed_m_s=0.5, stride_m=0.25, step_height_m=0.05)))
    report = check_motion(result.motion, rt_a1.kin, CheckThresholds(foot_contact_height_m=cfg.foot_contact_height_m))
    assert report["passed"], report


def test_noisy_offset_source_still_passes(rt_anima: Retargeter) -> None:
    rt = rt_anima
    # 2 mm marker noise, source shifted by (0.3, -0.2, 0.05) m: ground is re-estimated from the toes
    # and stance flags are debounced, so the checks still pass.
    kp = generate_gait(GaitParams("trot", speed_m_s=0.8, stride_m=0.4, duty_factor=0.55, cycles=3))
    rng = np.random.default_rng(0)
    noisy = KeypointTrajectory(kp.names, kp.positions + rng.normal(0, 0.002, kp.positions.shape) + [0.3, -0.2, 0.05],
                               kp.fps, "noisy")
    result = rt.retarget(noisy)
    assert check_motion(result.motion, rt.kin)["passed"]
    # Each foot is in stance for about the duty factor (0.55) of the clip, minus the debounced edges.
    assert np.all(np.abs(result.motion.contacts.mean(axis=0) - 0.5) < 0.1)
    assert result.motion.root_position()[0, 2] == pytest.approx(0.49, abs=0.02)  # ground offset removed
