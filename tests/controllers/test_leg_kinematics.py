"""Laikago leg kinematics: FK against PyBullet, Jacobian against finite differences, frames."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anima.controllers.leg_kinematics import (
    LAIKAGO_LEGS,
    LAIKAGO_STANDING_URDF,
    LAIKAGO_URDF,
    R_LOAD,
    LegKinematics,
    laikago_motor_to_urdf,
    laikago_urdf_to_motor,
)


@pytest.fixture(scope="module")
def lk() -> LegKinematics:
    return LegKinematics.laikago()


def test_joint_names_and_limits(lk: LegKinematics) -> None:
    assert len(lk.joint_names) == 12
    assert lk.joint_names[0] == "FR_hip_motor_2_chassis_joint"
    assert lk.joint_names[11] == "RL_lower_leg_2_upper_leg_joint"
    # Limits straight from laikago_toes_limits.urdf.
    np.testing.assert_allclose(lk.lower[:3], [-0.873, -1.3, -2.164])
    np.testing.assert_allclose(lk.upper[:3], [1.0472, 3.4, 0.0])


def test_standing_pose_and_frames(lk: LegKinematics) -> None:
    # (motor + offset) * direction: FR hip (0 + 0) * -1 = 0, upper 0.67 - 0.6 = 0.07, lower -1.25 + 0.66 = -0.59.
    np.testing.assert_allclose(LAIKAGO_STANDING_URDF[:3], [0.0, 0.07, -0.59], atol=1e-12)
    np.testing.assert_allclose(laikago_urdf_to_motor(laikago_motor_to_urdf(np.arange(12.0))), np.arange(12.0))
    toes = lk.foot_positions(LAIKAGO_STANDING_URDF)
    assert toes.shape == (4, 3)
    assert np.all((toes[:, 2] > -0.45) & (toes[:, 2] < -0.40))
    assert np.all(toes[:2, 0] > 0) and np.all(toes[2:, 0] < 0)  # front toes forward
    assert toes[1, 1] > 0 and toes[3, 1] > 0 and toes[0, 1] < 0 and toes[2, 1] < 0  # left is +y
    hips = lk.hip_positions()
    # URDF FR hip origin (-0.0817145, 0, 0.242889) -> body (z, x, y) = (0.242889, -0.0817145, 0).
    np.testing.assert_allclose(hips[0], [0.242889, -0.0817145, 0.0], atol=1e-12)


def test_r_load_maps_urdf_axes_to_rep103() -> None:
    # URDF y (up) -> body z; URDF z (forward) -> body x; URDF x (left) -> body y.
    np.testing.assert_allclose(R_LOAD @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(R_LOAD @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(R_LOAD @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_jacobian_matches_finite_differences(lk: LegKinematics) -> None:
    rng = np.random.default_rng(1)
    q = rng.uniform(lk.lower, lk.upper, size=(5, 12))
    jac = lk.foot_jacobians(q)
    assert jac.shape == (5, 4, 3, 3)
    eps = 1e-6
    for i in range(12):
        dq = np.zeros(12)
        dq[i] = eps
        num = (lk.foot_positions(q + dq) - lk.foot_positions(q - dq)) / (2 * eps)
        np.testing.assert_allclose(jac[:, i // 3, :, i % 3], num[:, i // 3], atol=1e-8)
        others = [leg for leg in range(4) if leg != i // 3]
        np.testing.assert_allclose(num[:, others], 0.0, atol=1e-12)  # a joint moves only its own foot


def test_foot_velocities_match_finite_differences(lk: LegKinematics) -> None:
    rng = np.random.default_rng(2)
    q = rng.uniform(lk.lower, lk.upper, size=(3, 12))
    dq = rng.normal(size=(3, 12))
    h = 1e-6
    num = (lk.foot_positions(q + h * dq) - lk.foot_positions(q - h * dq)) / (2 * h)
    np.testing.assert_allclose(lk.foot_velocities(q, dq), num, atol=1e-7)


def test_bad_input(lk: LegKinematics) -> None:
    with pytest.raises(ValueError, match="q: expected last dimension 12"):
        lk.foot_positions(np.zeros(11))
    with pytest.raises(ValueError, match="no joint named 'nope'"):
        LegKinematics.from_urdf(_urdf_path(), [["nope", "a", "b"]], ["toeFR"], np.eye(3))


def _urdf_path() -> str:
    import pybullet_data

    return f"{pybullet_data.getDataPath()}/{LAIKAGO_URDF}"


@pytest.mark.sim
def test_fk_matches_pybullet(lk: LegKinematics) -> None:
    import pybullet
    from pybullet_utils import bullet_client

    client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
    try:
        robot = client.loadURDF(_urdf_path(), [0, 0, 0.48], client.getQuaternionFromEuler([math.pi / 2, 0, math.pi / 2]))
        info = [client.getJointInfo(robot, i) for i in range(client.getNumJoints(robot))]
        joint_index = {j[1].decode(): j[0] for j in info}
        link_index = {j[12].decode(): j[0] for j in info}
        rng = np.random.default_rng(0)
        for q in rng.uniform(lk.lower, lk.upper, size=(10, 12)):
            for name, angle in zip(lk.joint_names, q):
                client.resetJointState(robot, joint_index[name], angle)
            pos, quat = client.getBasePositionAndOrientation(robot)  # inertial frame of the chassis
            world_r_urdf = np.array(client.getMatrixFromQuaternion(quat)).reshape(3, 3)
            origin = np.asarray(pos) - world_r_urdf @ lk.base_inertial_offset_urdf
            world_r_body = world_r_urdf @ R_LOAD.T
            toes = np.array(
                [client.getLinkState(robot, link_index[f"toe{leg}"], computeForwardKinematics=True)[4] for leg in LAIKAGO_LEGS]
            )
            np.testing.assert_allclose(lk.foot_positions(q), (toes - origin) @ world_r_body, atol=1e-6)
    finally:
        client.disconnect()
