"""Robot control config: Laikago values and validation errors naming file and key."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from anima.controllers.robot_config import load_robot_config

LAIKAGO_NAMES = [f"{leg}_{part}" for leg in ("FR", "FL", "RR", "RL")
                 for part in ("hip_motor_2_chassis_joint", "upper_leg_2_hip_motor_joint", "lower_leg_2_upper_leg_joint")]


def test_laikago_values() -> None:
    c = load_robot_config("laikago")
    assert list(c.joint_names) == LAIKAGO_NAMES
    np.testing.assert_allclose(c.kp, 220.0)
    np.testing.assert_allclose(c.kd, [0.3, 2.0, 2.0] * 4)
    np.testing.assert_allclose(c.position_lower, [-0.873, -1.3, -2.164] * 4)
    np.testing.assert_allclose(c.position_upper, [1.0472, 3.4, 0.0] * 4)
    np.testing.assert_allclose(c.torque_limit, 100.0)  # URDF effort limit
    assert c.max_change_per_step == 0.2
    assert (c.filter_order, c.filter_cutoff_hz, c.target_rate_hz, c.control_rate_hz) == (2, 4.0, 30.0, 500.0)
    # Standing pose: motor (0, 0.67, -1.25) -> ((m + (0, -0.6, 0.66)) * dir), dir = -1 on FR/RR abduction:
    #   (0*-1, 0.07, -0.59) for every leg.
    np.testing.assert_allclose(c.standing_pose, [0.0, 0.07, -0.59] * 4, atol=1e-12)
    assert not c.kp.flags.writeable  # frozen config: arrays are read-only


def test_laikago_standing_pose_matches_motor_mapping_and_kinematics() -> None:
    from anima.controllers.leg_kinematics import LegKinematics, laikago_motor_to_urdf

    c = load_robot_config("laikago")
    np.testing.assert_allclose(c.standing_pose, laikago_motor_to_urdf(np.tile([0.0, 0.67, -1.25], 4)), atol=1e-12)
    kin = LegKinematics.laikago()
    assert list(kin.joint_names) == list(c.joint_names)
    feet = kin.foot_positions(c.standing_pose)
    assert np.all((feet[:, 2] < -0.40) & (feet[:, 2] > -0.45))  # toes 0.40-0.45 m below the base
    crouch = kin.foot_positions(c.crouch_pose)
    assert np.all(crouch[:, 2] > feet[:, 2] + 0.05)  # crouch: base at least 5 cm lower


def _write(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(Path(load_robot_config("laikago").source).read_text())
    data.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]
    p = tmp_path / "robot.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"kp_nm_per_rad": [220.0] * 11}, r"kp_nm_per_rad: expected 12 values"),
        ({"kd_nms_per_rad": -1.0}, r"kd_nms_per_rad: must be finite and >= 0"),
        ({"torque_limit_nm": 0.0}, r"torque_limit_nm: must be > 0"),
        ({"standing_pose_rad": [0.0, 0.07, 0.5] * 4}, r"standing_pose_rad: outside the joint position limits"),
        ({"action_filter_cutoff_hz": 20.0}, r"action_filter_cutoff_hz: .* Nyquist"),
        ({"command_timeout_s": None}, r"missing keys \['command_timeout_s'\]"),
        ({"kp_gain": 1.0}, r"unknown keys \['kp_gain'\]"),
        ({"target_rate_hz": "fast"}, r"target_rate_hz: expected float, got 'fast' \(str\)"),
        ({"joint_names": LAIKAGO_NAMES[:11] + [LAIKAGO_NAMES[0]]}, r"joint_names: duplicate names"),
        ({"action_filter_order": 2.5}, r"action_filter_order: expected int, got 2.5"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, changes: dict, match: str) -> None:
    path = _write(tmp_path, **changes)
    with pytest.raises(ValueError, match=match) as info:
        load_robot_config(path)
    assert str(path) in str(info.value)


def test_missing_robot_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no_such_robot.yaml"):
        load_robot_config("no_such_robot")
    p = tmp_path / "bad.yaml"
    p.write_text("joint_names: [a, b\n")
    with pytest.raises(ValueError, match="invalid YAML"):
        load_robot_config(p)


def test_joint_names_and_limits_come_from_the_urdf(tmp_path: Path) -> None:
    # config/robots/laikago.yaml and shadowhand.yaml keep only what the URDF lacks
    for robot in ("laikago", "shadowhand", "sawyer"):
        text = Path(load_robot_config(robot).source).read_text()
        # sawyer names its arm joints: the URDF's movable joints include the gripper fingers
        keys = ("position_lower_rad:", "position_upper_rad:", "torque_limit_nm:") + (() if robot == "sawyer" else ("joint_names:",))
        for key in keys:
            assert f"\n{key}" not in text, f"{robot}.yaml repeats the URDF's {key}"
    hand = load_robot_config("shadowhand")
    assert hand.joint_names[:3] == ("WRJ1", "WRJ0", "FFJ3") and hand.joint_names[-1] == "THJ0"
    # WRJ1 -0.489..0.14 rad, effort 4.785 N m (urdf/shadowhand.urdf)
    assert (hand.position_lower[0], hand.position_upper[0], hand.torque_limit[0]) == pytest.approx((-0.489, 0.14, 4.785))
    # a YAML value still wins (a subset of joints, a lower torque limit)
    c = load_robot_config(_write(tmp_path, torque_limit_nm=50.0))
    np.testing.assert_allclose(c.torque_limit, 50.0)
    with pytest.raises(ValueError, match=r"joint_names: \['nope'\] are not movable joints"):
        load_robot_config(_write(tmp_path, joint_names=["nope"]))
    with pytest.raises(ValueError, match="urdf: urdf: urdf/missing.urdf not found"):
        load_robot_config(_write(tmp_path, urdf="urdf/missing.urdf"))
