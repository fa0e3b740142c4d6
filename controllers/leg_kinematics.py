"""Forward kinematics and Jacobians of legged robots' legs, parsed from a URDF (pure numpy).

Used by the state estimator (leg odometry, contact velocities) and by motion retargeting
(damped-least-squares IK on the toe positions, Peng et al., RSS 2020, Sec. IV-A). The URDF is
read once with ``xml.etree``; afterwards every call is a few batched numpy operations, so a
whole trajectory of configurations ``(N, 12)`` is evaluated at once without PyBullet.

Frames (fixed for Laikago across Anima):

* URDF frame: the URDF base link (``chassis``) frame. Laikago's URDF is y-up, z-forward,
  x-left.
* Body frame (REP-103): x forward, y left, z up, origin at the URDF base link origin.
  ``v_body = urdf_to_body @ v_urdf``; for Laikago ``urdf_to_body = R_load``, the rotation
  with which the original imitation work loads the robot (pybullet Euler (π/2, 0, π/2)), so
  ``world_R_body = world_R_urdfbase @ R_load.T``.

Note that PyBullet reports the *inertial* frame of the base as its position; the URDF base link
origin is ``base_position - world_R_urdfbase @ base_inertial_offset_urdf``
(see :attr:`LegKinematics.base_inertial_offset_urdf`).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import transforms3d

from anima.controllers.spatial import cross

LAIKAGO_URDF = "laikago/laikago_toes_limits.urdf"
LAIKAGO_LEGS = ("FR", "FL", "RR", "RL")
LAIKAGO_INIT_POSITION = (0.0, 0.0, 0.48)
# Motor angle -> URDF angle: (motor + offset) * direction (motion_imitation laikago.py; FACTS.md).
LAIKAGO_MOTOR_OFFSETS = np.tile([0.0, -0.6, 0.66], 4)
LAIKAGO_MOTOR_DIRECTIONS = np.array([-1, 1, 1, 1, 1, 1, -1, 1, 1, 1, 1, 1], dtype=float)
LAIKAGO_DEFAULT_MOTOR_POSE = np.tile([0.0, 0.67, -1.25], 4)


def rpy_to_matrix(rpy: Sequence[float]) -> np.ndarray:
    """URDF/PyBullet fixed-axis roll-pitch-yaw to a rotation matrix: ``Rz(y) @ Ry(p) @ Rx(r)``."""
    r, p, y = (float(v) for v in rpy)
    return transforms3d.euler.euler2mat(r, p, y, "sxyz")


R_LOAD = rpy_to_matrix((math.pi / 2, 0.0, math.pi / 2))
"""Laikago load rotation: world_R_urdfbase at load; also the URDF -> body rotation."""


def laikago_motor_to_urdf(motor: np.ndarray) -> np.ndarray:
    """Motor angles ``(..., 12)`` to URDF joint angles: ``(motor + offset) * direction``."""
    return (np.asarray(motor, dtype=float) + LAIKAGO_MOTOR_OFFSETS) * LAIKAGO_MOTOR_DIRECTIONS


def laikago_urdf_to_motor(q: np.ndarray) -> np.ndarray:
    """Inverse of :func:`laikago_motor_to_urdf` (directions are ±1)."""
    return np.asarray(q, dtype=float) * LAIKAGO_MOTOR_DIRECTIONS - LAIKAGO_MOTOR_OFFSETS


LAIKAGO_STANDING_URDF = laikago_motor_to_urdf(LAIKAGO_DEFAULT_MOTOR_POSE)
"""Standing pose in URDF angles: per leg (∓0, 0.07, -0.59)."""


@dataclass(frozen=True)
class _UrdfJoint:
    name: str
    type: str
    parent: str
    child: str
    xyz: np.ndarray
    rot: np.ndarray
    axis: np.ndarray
    lower: float
    upper: float


def _vec(elem: ET.Element | None, attr: str, default: str) -> np.ndarray:
    text = default if elem is None else elem.get(attr, default)
    return np.array([float(v) for v in text.split()], dtype=float)


def parse_urdf_joints(urdf_path: str | Path) -> dict[str, _UrdfJoint]:
    """All joints of a URDF by name (origin, axis, limits); raises ValueError on malformed joints."""
    root = ET.parse(str(urdf_path)).getroot()
    joints: dict[str, _UrdfJoint] = {}
    for j in root.findall("joint"):
        name = j.get("name", "")
        parent, child = j.find("parent"), j.find("child")
        if parent is None or child is None:
            raise ValueError(f"{urdf_path}: joint '{name}' lacks <parent> or <child>")
        origin, limit = j.find("origin"), j.find("limit")
        axis = _vec(j.find("axis"), "xyz", "1 0 0")
        norm = np.linalg.norm(axis)
        if j.get("type") in ("revolute", "continuous") and norm == 0.0:
            raise ValueError(f"{urdf_path}: joint '{name}' has a zero axis")
        lower = float(limit.get("lower", "-inf")) if limit is not None else -math.inf
        upper = float(limit.get("upper", "inf")) if limit is not None else math.inf
        if j.get("type") == "continuous":
            lower, upper = -math.inf, math.inf
        joints[name] = _UrdfJoint(
            name=name, type=j.get("type", ""), parent=parent.get("link", ""), child=child.get("link", ""),
            xyz=_vec(origin, "xyz", "0 0 0"), rot=rpy_to_matrix(_vec(origin, "rpy", "0 0 0")),
            axis=axis / norm if norm > 0 else axis, lower=lower, upper=upper,
        )
    return joints


def _chain_to(joints: dict[str, _UrdfJoint], link: str) -> list[_UrdfJoint]:
    """Joints from the root link down to ``link`` (root first)."""
    by_child = {j.child: j for j in joints.values()}
    chain = []
    while link in by_child:
        j = by_child[link]
        chain.append(j)
        link = j.parent
    return chain[::-1]


def _compose(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Compose rigid transforms (R, p): a then b (b expressed in a's child frame)."""
    return a[0] @ b[0], a[1] + a[0] @ b[1]


def _rotations(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rodrigues: unit axes ``(L, 3)`` and angles ``(..., L)`` -> ``(..., L, 3, 3)``."""
    k = np.zeros(axes.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axes[..., 2], axes[..., 1], -axes[..., 0]
    k[..., 1, 0], k[..., 2, 0], k[..., 2, 1] = axes[..., 2], -axes[..., 1], axes[..., 0]
    s, c = np.sin(angles)[..., None, None], np.cos(angles)[..., None, None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


class LegKinematics:
    """Batched forward kinematics of ``L`` legs with 3 revolute joints each, in the body frame.

    Each leg chain is folded into three (origin rotation, origin offset, axis) triples and a
    final foot offset, so fixed joints (e.g. Laikago's ``jtoe*``) cost nothing at run time.
    """

    def __init__(
        self,
        joint_names: Sequence[str],
        origins_rot: np.ndarray,
        origins_xyz: np.ndarray,
        axes: np.ndarray,
        foot_offsets: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        urdf_to_body: np.ndarray,
        base_inertial_offset_urdf: np.ndarray | None = None,
    ) -> None:
        """Arrays are per leg and joint: rot ``(L, 3, 3, 3)``, xyz ``(L, 3, 3)``, axes ``(L, 3, 3)``."""
        self.num_legs = int(origins_xyz.shape[0])
        self.joint_names: tuple[str, ...] = tuple(joint_names)
        if len(self.joint_names) != 3 * self.num_legs:
            raise ValueError(f"joint_names: expected {3 * self.num_legs} names, got {len(self.joint_names)}")
        self._rot = np.asarray(origins_rot, dtype=float)
        self._xyz = np.asarray(origins_xyz, dtype=float)
        self._axes = np.asarray(axes, dtype=float)
        self._foot = np.asarray(foot_offsets, dtype=float)
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        self.urdf_to_body = np.asarray(urdf_to_body, dtype=float)
        if self.urdf_to_body.shape != (3, 3) or not np.allclose(self.urdf_to_body @ self.urdf_to_body.T, np.eye(3)):
            raise ValueError("urdf_to_body: must be a 3x3 rotation matrix")
        self.base_inertial_offset_urdf = (
            np.zeros(3) if base_inertial_offset_urdf is None else np.asarray(base_inertial_offset_urdf, float)
        )

    @classmethod
    def from_urdf(
        cls,
        urdf_path: str | Path,
        leg_joints: Sequence[Sequence[str]],
        foot_links: Sequence[str],
        urdf_to_body: np.ndarray,
    ) -> "LegKinematics":
        """Build from a URDF: ``leg_joints[l]`` are leg ``l``'s 3 revolute joints (root first)."""
        joints = parse_urdf_joints(urdf_path)
        if len(leg_joints) != len(foot_links):
            raise ValueError("leg_joints and foot_links must have the same length (one entry per leg)")
        rots, xyzs, axes, feet, names = [], [], [], [], []
        for leg, foot in zip(leg_joints, foot_links):
            leg = list(leg)
            for name in leg:
                if name not in joints:
                    raise ValueError(f"{urdf_path}: no joint named '{name}'")
            chain = _chain_to(joints, foot)
            if not chain:
                raise ValueError(f"{urdf_path}: no link named '{foot}' (or it is the root)")
            moving = [j for j in chain if j.type in ("revolute", "continuous")]
            if [j.name for j in moving] != leg:
                raise ValueError(
                    f"{urdf_path}: moving joints from root to '{foot}' are {[j.name for j in moving]}, expected {leg}"
                )
            pending: tuple[np.ndarray, np.ndarray] = (np.eye(3), np.zeros(3))
            for j in chain:
                pending = _compose(pending, (j.rot, j.xyz))
                if j.type in ("revolute", "continuous"):
                    rots.append(pending[0])
                    xyzs.append(pending[1])
                    axes.append(j.axis)
                    pending = (np.eye(3), np.zeros(3))
            feet.append(pending[1])
            names += leg
        n_legs = len(foot_links)
        lower = np.array([joints[n].lower for n in names])
        upper = np.array([joints[n].upper for n in names])
        return cls(
            names, np.reshape(rots, (n_legs, 3, 3, 3)), np.reshape(xyzs, (n_legs, 3, 3)),
            np.reshape(axes, (n_legs, 3, 3)), np.asarray(feet), lower, upper, urdf_to_body,
            _base_inertial_offset(urdf_path, joints),
        )

    @classmethod
    def from_robot_config(cls, config) -> "LegKinematics":
        """The legs of a robot config (``urdf``, ``joint_names`` three per leg, ``foot_links``,
        ``urdf_to_body_rpy``; :class:`~anima.controllers.robot_config.RobotControlConfig`)."""
        from anima.controllers.urdf import resolve_urdf_path

        if not config.foot_links:
            raise ValueError(f"{config.source}: robot '{config.robot}' has no legs (foot_links is empty)")
        names = config.joint_names
        legs = [names[3 * i: 3 * i + 3] for i in range(len(config.foot_links))]
        return cls.from_urdf(resolve_urdf_path(config.urdf), legs, config.foot_links,
                             rpy_to_matrix(config.urdf_to_body_rpy))

    @classmethod
    def laikago(cls) -> "LegKinematics":
        """Laikago from pybullet_data ``laikago_toes_limits.urdf``; feet are the toe links."""
        import pybullet_data  # data files only; no PyBullet client is used

        legs = [
            [f"{leg}_hip_motor_2_chassis_joint", f"{leg}_upper_leg_2_hip_motor_joint",
             f"{leg}_lower_leg_2_upper_leg_joint"]
            for leg in LAIKAGO_LEGS
        ]
        path = Path(pybullet_data.getDataPath()) / LAIKAGO_URDF
        return cls.from_urdf(path, legs, [f"toe{leg}" for leg in LAIKAGO_LEGS], R_LOAD)

    def _split(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        if q.shape[-1:] != (3 * self.num_legs,):
            raise ValueError(f"q: expected last dimension {3 * self.num_legs}, got shape {q.shape}")
        return q.reshape(q.shape[:-1] + (self.num_legs, 3))

    def _frames(self, q: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """Per joint k: world(body) rotation after the joint and joint origin; and the foot position."""
        qq = self._split(q)
        rot = np.broadcast_to(self.urdf_to_body, qq.shape[:-1] + (3, 3))
        pos = np.zeros(qq.shape[:-1] + (3,))
        rots, origins = [], []
        for k in range(3):
            pos = pos + np.einsum("...ij,...j->...i", rot, self._xyz[:, k])
            rot = rot @ self._rot[:, k] @ _rotations(self._axes[:, k], qq[..., k])
            rots.append(rot)
            origins.append(pos)
        foot = pos + np.einsum("...ij,...j->...i", rot, self._foot)
        return rots, origins, foot

    def foot_positions(self, q: np.ndarray) -> np.ndarray:
        """Joint angles ``(..., 3L)`` (URDF order) -> foot positions ``(..., L, 3)`` in the body frame."""
        return self._frames(q)[2]

    def foot_jacobians(self, q: np.ndarray) -> np.ndarray:
        """``(..., 3L)`` -> ``(..., L, 3, 3)``: d foot_body / d (that leg's 3 joint angles)."""
        return self.foot_positions_and_jacobians(q)[1]

    def foot_positions_and_jacobians(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both :meth:`foot_positions` and :meth:`foot_jacobians` from one pass over the chains."""
        rots, origins, foot = self._frames(q)
        cols = []
        for k in range(3):
            # The axis is fixed in the joint's child frame; Rot(axis, q) leaves it unchanged.
            w = np.einsum("...ij,...j->...i", rots[k], np.broadcast_to(self._axes[:, k], foot.shape))
            cols.append(cross(w, foot - origins[k]))
        return foot, np.stack(cols, axis=-1)

    def foot_velocities(self, q: np.ndarray, dq: np.ndarray) -> np.ndarray:
        """Body-frame foot velocities ``(..., L, 3)`` from joint angles and rates ``(..., 3L)``."""
        jac = self.foot_jacobians(q)
        dq = self._split(dq)
        return np.einsum("...lij,...lj->...li", jac, dq)

    def hip_positions(self) -> np.ndarray:
        """``(L, 3)`` body-frame positions of each leg's first joint origin."""
        return self._xyz[:, 0] @ self.urdf_to_body.T

    def clip(self, q: np.ndarray) -> np.ndarray:
        """Joint angles clamped to the URDF limits."""
        return np.clip(q, self.lower, self.upper)


def _base_inertial_offset(urdf_path: str | Path, joints: dict[str, _UrdfJoint]) -> np.ndarray:
    """Inertial origin of the URDF root link (PyBullet reports the base at this point)."""
    children = {j.child for j in joints.values()}
    root = ET.parse(str(urdf_path)).getroot()
    for link in root.findall("link"):
        if link.get("name") not in children:
            inertial = link.find("inertial")
            origin = inertial.find("origin") if inertial is not None else None
            return _vec(origin, "xyz", "0 0 0")
    return np.zeros(3)
