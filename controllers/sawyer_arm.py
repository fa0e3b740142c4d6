"""The Sawyer's arm as image policies command it: the URDF chain from base to hand, and the gripper.

``solar_planner`` and ``vice_raq_policy`` both turn an end-effector move into an ``ee_target`` for
``cartesian_controller`` and a finger opening for ``gripper_command``. What they share lives here:
the chain (forward kinematics place the first setpoint at the measured hand, as ``SawyerEnv.reset``
does), the finger joint and its travel, and the hand's commanded orientation (pointing down).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anima.controllers.robot_config import load_robot_config

__all__ = ["EE_DOWN_XYZW", "GRIPPER_JOINT", "SawyerArm", "load_sawyer_arm"]

# The hand pointing down (x, y, z, w), as SawyerEnv commands it (sim_bridge.sawyer_world.EE_DOWN_XYZW;
# not imported from there, so a robot's stack needs no PyBullet).
EE_DOWN_XYZW = (float(np.sqrt(0.5)), float(np.sqrt(0.5)), 0.0, 0.0)
GRIPPER_JOINT = "right_gripper_l_finger_joint"


@dataclass(frozen=True, eq=False)
class SawyerArm:
    """``chain`` (``SerialChain`` base_link -> tip_link, the robot config's joints), ``gripper_limit_m``."""

    chain: object
    gripper_limit_m: float
    base_link: str

    def hand_position(self, q: np.ndarray) -> np.ndarray:
        """Forward kinematics: the tip's position (m) in ``base_link`` for joint angles ``q``."""
        return np.asarray(self.chain.forward(q), float)[:3, 3]


def load_sawyer_arm(base_link: str = "base_link", tip_link: str = "ee") -> SawyerArm:
    """The arm from the package's Sawyer URDF; ValueError naming the file if the chain or gripper differ."""
    from anima.controllers.paths import share_dir
    from anima.controllers.serial_chain import SerialChain
    from anima.controllers.urdf import movable_joints

    robot = load_robot_config("sawyer")
    urdf = Path(robot.urdf) if Path(robot.urdf).is_absolute() else share_dir() / robot.urdf
    chain = SerialChain.from_urdf(urdf, base_link, tip_link)
    if tuple(chain.joint_names) != tuple(robot.joint_names):
        raise ValueError(f"URDF chain joints {chain.joint_names} differ from {robot.source} {robot.joint_names}")
    fingers = {j.name: j for j in movable_joints(urdf)}
    if GRIPPER_JOINT not in fingers:
        raise ValueError(f"{urdf}: no gripper joint {GRIPPER_JOINT}")
    return SawyerArm(chain, float(fingers[GRIPPER_JOINT].upper), base_link)
