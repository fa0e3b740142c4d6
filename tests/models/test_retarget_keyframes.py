"""Keyframe authoring: the hop-turn, keyframe files, and their errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anima.main import main as anima_main
from anima.models.motion.check import check_motion
from anima.models.motion.format import load_motion
from anima.models.retarget.config import load_config
from anima.models.retarget.keyframes import (
    Keyframe,
    hop_turn_keyframes,
    interpolate_keyframes,
    keyframes_from_dict,
    motion_from_keyframes,
)
from anima.models.retarget.retarget import Retargeter


@pytest.fixture(scope="module")
def rt() -> Retargeter:
    return Retargeter(load_config("laikago"))


def test_hop_turn(rt: Retargeter) -> None:
    motion, err = motion_from_keyframes(rt, hop_turn_keyframes(rt), frame_duration=1.0 / 30.0)
    assert err.max() < 1e-3
    # Turns by pi/2: body yaw at the end.
    yaw = Rotation.from_quat(motion.root_quat_body()[-1]).as_euler("ZYX")[0]
    assert yaw == pytest.approx(math.pi / 2, abs=1e-9)
    # A flight phase exists: at t = 0.65 s (frame 19.5 -> frame 20 at 30 Hz) no foot is in contact.
    assert not motion.contacts[20].any()
    assert motion.contacts[0].all() and motion.contacts[-1].all()
    report = check_motion(motion, rt.kin)
    assert report["passed"], report
    assert report["foot_slip_m_max"] < 1e-4  # stance feet are held exactly by the interpolation


def test_pchip_keeps_repeated_keys_constant() -> None:
    # Equal values at t = 0, 1 and a bump at t = 2: PCHIP stays exactly flat on [0, 1] (no overshoot).
    feet = ((0.0, 0.0, 0.03),)
    keys = [Keyframe(0.0, (0, 0, 0.45), (0, 0, 0), feet), Keyframe(1.0, (0, 0, 0.45), (0, 0, 0), feet),
            Keyframe(2.0, (0, 0, 0.45), (0, 0, 0), ((0.2, 0.0, 0.13),))]
    t, _, _, f = interpolate_keyframes(keys, 0.1)
    assert t.size == 21
    np.testing.assert_array_equal(f[:11, 0], np.tile([0.0, 0.0, 0.03], (11, 1)))
    assert np.all(f[:, 0, 2] >= 0.03) and np.all(f[:, 0, 2] <= 0.13)


def test_keyframe_file_via_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "lean.yaml"
    src.write_text(
        "frame_duration_s: 0.05\n"
        "keyframes:\n"
        "  - {t: 0.0, root_xyz: [0, 0, 0.456], feet: under_hips}\n"
        "  - {t: 0.5, root_xyz: [0, 0, 0.42], root_rpy: [0.1, 0, 0], feet: {under_hips: {yaw: 0.0}}}\n"
        "  - {t: 1.0, root_xyz: [0, 0, 0.456], feet: {under_hips: {yaw: 0.0}}}\n"
    )
    out = tmp_path / "lean.json"
    assert anima_main(["retarget", str(src), "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 21 and summary["toe_error_m_max"] < 0.01
    assert load_motion(out).loop_mode == "Clamp"


def test_keyframe_errors(rt: Retargeter) -> None:
    with pytest.raises(ValueError, match="k.yaml: expected a mapping with a 'keyframes' list"):
        keyframes_from_dict(rt, {"frames": []}, "k.yaml")
    with pytest.raises(ValueError, match="k.yaml: keyframe 1: needs t, root_xyz"):
        keyframes_from_dict(rt, {"keyframes": [{"t": 0, "root_xyz": [0, 0, 0.4]}, {"t": 1}]}, "k.yaml")
    with pytest.raises(ValueError, match="k.yaml: keyframe 0: 'feet' must be"):
        keyframes_from_dict(rt, {"keyframes": [{"t": 0, "root_xyz": [0, 0, 0.4], "feet": [[0, 0, 0]]}]}, "k.yaml")
    with pytest.raises(ValueError, match="k.yaml: need at least 2 keyframes with increasing t"):
        keyframes_from_dict(rt, {"keyframes": [{"t": 1, "root_xyz": [0, 0, 0.4]}, {"t": 0, "root_xyz": [0, 0, 0.4]}]},
                            "k.yaml")
