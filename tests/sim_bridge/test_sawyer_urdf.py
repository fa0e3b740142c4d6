"""urdf/sawyer.urdf: kinematics, limits and masses as published (FACTS.md "Sawyer"), primitives only."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pybullet
import pytest
from pybullet_utils.bullet_client import BulletClient

from anima import share_dir
from anima.controllers.robot_config import load_robot_config
from anima.controllers.serial_chain import SerialChain

pytestmark = pytest.mark.sim

URDF = share_dir() / "urdf" / "sawyer.urdf"
# FACTS.md "Sawyer" table: name -> (lower, upper, effort, velocity)
LIMITS = {
    "right_j0": (-3.0503, 3.0503, 80, 1.48), "right_j1": (-3.8183, 2.2824, 80, 1.13),
    "right_j2": (-3.0514, 3.0514, 40, 1.66), "right_j3": (-3.0514, 3.0514, 40, 1.66),
    "right_j4": (-2.9842, 2.9842, 9, 2.96), "right_j5": (-2.9842, 2.9842, 9, 2.96),
    "right_j6": (-4.7104, 4.7104, 9, 3.86),
}
MASSES = {"base_link": 2.0687, "right_l0": 5.3213, "right_l1": 4.505, "right_l2": 1.7251, "right_l3": 2.4743,
          "right_l4": 1.0433, "right_l5": 1.5343, "right_l6": 0.3292}


@pytest.fixture
def robot():
    client = BulletClient(connection_mode=pybullet.DIRECT)
    body = client.loadURDF(str(URDF), useFixedBase=True, flags=pybullet.URDF_USE_INERTIA_FROM_FILE)
    info = {client.getJointInfo(body, j)[12].decode(): client.getJointInfo(body, j) for j in range(client.getNumJoints(body))}
    yield client, body, info
    client.disconnect()


def test_l6_frame_at_zero_matches_the_facts_check_point(robot) -> None:
    client, body, info = robot
    # FACTS.md: end-effector position at q = 0, as loaded in PyBullet: (0.991, 0.160, 0.317), the
    # right_l6 frame (the product of the seven joint origins; right_hand adds 0.0245 along l6's z).
    l6 = client.getLinkState(body, info["right_l6"][0], computeForwardKinematics=True)
    np.testing.assert_allclose(l6[4], [0.991, 0.160, 0.317], atol=1e-3)
    hand = client.getLinkState(body, info["right_hand"][0], computeForwardKinematics=True)
    # l6's z axis points along world +x at q = 0, so the hand sits 0.0245 m further along x.
    np.testing.assert_allclose(np.subtract(hand[4], l6[4]), [0.0245, 0.0, 0.0], atol=1e-6)


def test_seven_revolute_joints_with_published_limits(robot) -> None:
    _client, _body, info = robot
    joints = {i[1].decode(): i for i in info.values() if i[2] == pybullet.JOINT_REVOLUTE}
    assert sorted(joints) == sorted(LIMITS)
    for name, (lo, hi, effort, vel) in LIMITS.items():
        assert joints[name][8:12] == pytest.approx((lo, hi, effort, vel)), name


def test_link_masses_are_the_published_ones(robot) -> None:
    client, body, info = robot
    for link, mass in MASSES.items():
        if link != "base_link":  # PyBullet reports a fixed base's mass as 0
            assert client.getDynamicsInfo(body, info[link][0])[0] == pytest.approx(mass), link
    root = ET.parse(URDF).getroot()
    base = [ln for ln in root.findall("link") if ln.get("name") == "base_link"][0]
    assert float(base.find("inertial/mass").get("value")) == pytest.approx(MASSES["base_link"])


def test_primitives_only_and_a_mimic_gripper_and_ee_link() -> None:
    root = ET.parse(URDF).getroot()
    shapes = {g.tag for geom in root.iter("geometry") for g in geom}
    assert shapes <= {"box", "cylinder", "sphere", "capsule"}, shapes
    mimic = [j for j in root.findall("joint") if j.find("mimic") is not None]
    assert [j.get("name") for j in mimic] == ["right_gripper_r_finger_joint"]
    assert mimic[0].find("mimic").get("joint") == "right_gripper_l_finger_joint"
    assert any(link.get("name") == "ee" for link in root.findall("link"))


def test_serial_chain_forward_kinematics_matches_pybullet(robot) -> None:
    client, body, info = robot
    chain = SerialChain.from_urdf(URDF, "base_link", "ee")
    assert chain.joint_names == tuple(LIMITS)
    rng = np.random.default_rng(3)
    for _ in range(5):
        q = rng.uniform(chain.lower, chain.upper)
        for name, qi in zip(chain.joint_names, q):
            client.resetJointState(body, [i[0] for i in info.values() if i[1].decode() == name][0], qi)
        ee = client.getLinkState(body, info["ee"][0], computeForwardKinematics=True)
        T = chain.forward(q)
        np.testing.assert_allclose(T[:3, 3], ee[4], atol=1e-7)
        R = np.array(client.getMatrixFromQuaternion(ee[5])).reshape(3, 3)
        np.testing.assert_allclose(T[:3, :3], R, atol=1e-7)


def test_jacobian_matches_finite_differences() -> None:
    chain = SerialChain.from_urdf(URDF, "base_link", "ee")
    q = np.array([0.3, -0.8, 0.2, 1.5, -0.4, 0.9, 2.0])
    T, J = chain.jacobian(q)
    eps = 1e-6
    for i in range(chain.n):
        dq = np.zeros(chain.n)
        dq[i] = eps
        dp = (chain.forward(q + dq)[:3, 3] - chain.forward(q - dq)[:3, 3]) / (2 * eps)
        np.testing.assert_allclose(J[:3, i], dp, atol=1e-6)


def test_robot_config_agrees_with_the_urdf() -> None:
    cfg = load_robot_config("sawyer")
    chain = SerialChain.from_urdf(URDF, "base_link", "ee")
    assert cfg.joint_names == chain.joint_names
    np.testing.assert_allclose(cfg.position_lower, chain.lower)
    np.testing.assert_allclose(cfg.position_upper, chain.upper)
    np.testing.assert_allclose(cfg.torque_limit, [LIMITS[n][2] for n in cfg.joint_names])
    assert cfg.control_rate_hz == 500.0


def test_unknown_link_is_named() -> None:
    with pytest.raises(ValueError, match="no link 'gripper_tip'"):
        SerialChain.from_urdf(URDF, "base_link", "gripper_tip")
