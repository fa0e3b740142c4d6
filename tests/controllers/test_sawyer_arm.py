"""The Sawyer arm shared by the image policies: chain, gripper travel, the commanded hand orientation."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.robot_config import load_robot_config
from anima.controllers.sawyer_arm import EE_DOWN_XYZW, GRIPPER_JOINT, load_sawyer_arm


def test_the_arm_has_the_robot_configs_joints_and_the_finger_travel() -> None:
    arm = load_sawyer_arm()
    assert tuple(arm.chain.joint_names) == tuple(load_robot_config("sawyer").joint_names)
    assert arm.gripper_limit_m == pytest.approx(0.04) and GRIPPER_JOINT == "right_gripper_l_finger_joint"
    p = arm.hand_position(np.zeros(len(arm.chain.joint_names)))
    assert p.shape == (3,) and np.isfinite(p).all() and np.linalg.norm(p) > 0.3  # the hand is out at the arm's reach


def test_the_hand_orientation_is_the_one_the_training_env_commands() -> None:
    from anima.sim_bridge.sawyer_world import EE_DOWN_XYZW as ENV_DOWN

    np.testing.assert_allclose(EE_DOWN_XYZW, ENV_DOWN)


def test_an_unknown_link_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="no_such_link"):
        load_sawyer_arm("base_link", "no_such_link")
