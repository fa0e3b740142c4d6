"""Robot descriptions: URDF paths, joints and limits, the text for robot_description, rpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anima.controllers.leg_kinematics import LegKinematics
from anima.controllers.robot_config import load_robot_config
from anima.controllers.spatial import quat_rotate, quat_to_matrix
from anima.controllers.urdf import description_xml, movable_joints, resolve_urdf_path, rpy_to_matrix


def test_laikago_urdf_comes_from_pybullet_data_with_its_12_joints_and_limits() -> None:
    path = resolve_urdf_path("pybullet_data/laikago/laikago_toes_limits.urdf")
    joints = movable_joints(path)
    assert [j.name for j in joints] == list(load_robot_config("laikago").joint_names)
    hip = joints[0]  # FR abduction: -0.873 .. 1.0472 rad, effort 100 N m (config/robots/laikago.yaml comment)
    assert (hip.lower, hip.upper, hip.effort) == pytest.approx((-0.873, 1.0472, 100.0))


def test_missing_urdf_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="urdf: urdf/nope.urdf not found"):
        resolve_urdf_path("urdf/nope.urdf")


def test_description_makes_relative_meshes_absolute_file_uris() -> None:
    text = description_xml(resolve_urdf_path("pybullet_data/laikago/laikago_toes_limits.urdf"))
    assert '<robot' in text and 'filename="chassis.obj"' not in text
    assert 'filename="file:///' in text and text.count("file:///") >= 12


def test_rpy_is_fixed_axis_rz_ry_rx() -> None:
    # rpy (pi/2, 0, pi/2): x -> Rx leaves x, Rz(90) turns it to +y; z -> Rx(90) to -y, Rz(90) to +x.
    R = rpy_to_matrix((math.pi / 2, 0.0, math.pi / 2))
    np.testing.assert_allclose(R @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(R @ [0, 0, 1], [1, 0, 0], atol=1e-12)


def test_quat_to_matrix_agrees_with_the_hot_path_rotation_and_normalises() -> None:
    q = np.array([0.1, -0.3, 0.2, 0.9])
    v = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(quat_to_matrix(2.0 * q) @ v, quat_rotate(q / np.linalg.norm(q), v), atol=1e-12)
    with pytest.raises(ValueError, match="finite and non-zero"):
        quat_to_matrix([0.0, 0.0, 0.0, 0.0])


def test_leg_kinematics_from_the_robot_config_equals_the_laikago_builder() -> None:
    from_config = LegKinematics.from_robot_config(load_robot_config("laikago"))
    q = np.asarray(load_robot_config("laikago").standing_pose)
    np.testing.assert_allclose(from_config.foot_positions(q), LegKinematics.laikago().foot_positions(q), atol=1e-12)
    with pytest.raises(ValueError, match="has no legs"):
        LegKinematics.from_robot_config(load_robot_config("shadowhand"))
