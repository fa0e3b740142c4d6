"""Kinematics of a serial chain read from a URDF: forward kinematics and the geometric Jacobian.

The chain runs from ``base_link`` to ``tip_link`` through the URDF's joint tree; fixed joints are
folded into the neighbouring transforms. Joint names, axes, origins and limits all come from the
URDF (STYLE.md: "joint names come from the URDF"), so the same code serves the simulated and the
real arm, with no physics engine (the cartesian controller runs next to a real robot too).

Conventions: URDF ``<origin xyz rpy>`` is ``T = Trans(xyz) Rz(yaw) Ry(pitch) Rx(roll)``; a
revolute joint rotates about its ``<axis>`` in the joint frame, a prismatic joint slides along it.
The Jacobian is the geometric one of the tip origin in the base frame, rows ``(v_x, v_y, v_z,
w_x, w_y, w_z)`` (Siciliano et al., "Robotics: Modelling, Planning and Control", Sec. 3.1).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anima.controllers.urdf import rpy_to_matrix

__all__ = ["ChainJoint", "SerialChain", "rpy_matrix"]


def rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF fixed-axis roll-pitch-yaw: ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (3, 3), via transforms3d."""
    return rpy_to_matrix((roll, pitch, yaw))


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix about the unit ``axis`` by ``angle`` (Rodrigues)."""
    x, y, z = axis
    c, s = math.cos(angle), math.sin(angle)
    C = 1.0 - c
    return np.array([[c + x * x * C, x * y * C - z * s, x * z * C + y * s],
                     [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
                     [z * x * C - y * s, z * y * C + x * s, c + z * z * C]])


@dataclass(frozen=True)
class ChainJoint:
    """One movable joint: ``origin`` (4, 4) from the parent frame (fixed joints before it folded
    in), unit ``axis`` (3,) in the joint frame, limits in rad or m (velocity per second)."""

    name: str
    kind: str  # "revolute" | "prismatic"
    origin: np.ndarray
    axis: np.ndarray
    lower: float
    upper: float
    effort: float
    velocity: float


def _origin(elem: ET.Element | None) -> np.ndarray:
    T = np.eye(4)
    if elem is not None:
        xyz = [float(v) for v in elem.get("xyz", "0 0 0").split()]
        rpy = [float(v) for v in elem.get("rpy", "0 0 0").split()]
        T[:3, :3] = rpy_matrix(*rpy)
        T[:3, 3] = xyz
    return T


class SerialChain:
    """Movable joints from ``base_link`` to ``tip_link`` (URDF order) and a fixed ``tip`` offset."""

    def __init__(self, joints: list[ChainJoint], tip_offset: np.ndarray, base_link: str, tip_link: str) -> None:
        if not joints:
            raise ValueError(f"chain {base_link} -> {tip_link} has no movable joints")
        self.joints = tuple(joints)
        self.tip_offset = np.asarray(tip_offset, dtype=float)
        self.base_link, self.tip_link = base_link, tip_link
        self.joint_names = tuple(j.name for j in joints)
        self.lower = np.array([j.lower for j in joints])
        self.upper = np.array([j.upper for j in joints])
        self.velocity_limit = np.array([j.velocity for j in joints])
        self._revolute = [j.kind == "revolute" for j in joints]

    @property
    def n(self) -> int:
        return len(self.joints)

    @classmethod
    def from_urdf(cls, path: str | Path, base_link: str, tip_link: str) -> "SerialChain":
        """Read the chain from a URDF file; errors name the file and the missing link."""
        path = Path(path)
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            raise ValueError(f"{path}: cannot read URDF: {exc}") from None
        by_child = {j.find("child").get("link"): j for j in root.findall("joint")}  # type: ignore[union-attr]
        links = {ln.get("name") for ln in root.findall("link")}
        for name in (base_link, tip_link):
            if name not in links:
                raise ValueError(f"{path}: no link '{name}'; links: {sorted(links)}")
        path_joints: list[ET.Element] = []
        link = tip_link
        while link != base_link:
            joint = by_child.get(link)
            if joint is None:
                raise ValueError(f"{path}: link '{tip_link}' is not below '{base_link}'")
            path_joints.append(joint)
            link = joint.find("parent").get("link")  # type: ignore[union-attr]
        return cls._build(list(reversed(path_joints)), base_link, tip_link)

    @classmethod
    def _build(cls, elems: list[ET.Element], base_link: str, tip_link: str) -> "SerialChain":
        joints: list[ChainJoint] = []
        pending = np.eye(4)
        for e in elems:
            pending = pending @ _origin(e.find("origin"))
            kind = e.get("type")
            if kind == "fixed":
                continue
            if kind not in ("revolute", "prismatic"):
                raise ValueError(f"joint '{e.get('name')}': type '{kind}' is not supported in a serial chain")
            axis = np.array([float(v) for v in (e.find("axis").get("xyz") if e.find("axis") is not None
                                                 else "1 0 0").split()])
            lim = e.find("limit")
            lo = float(lim.get("lower", "-inf")) if lim is not None else -math.inf
            hi = float(lim.get("upper", "inf")) if lim is not None else math.inf
            joints.append(ChainJoint(e.get("name", ""), kind, pending, axis / np.linalg.norm(axis), lo, hi,
                                     float(lim.get("effort", "inf")) if lim is not None else math.inf,
                                     float(lim.get("velocity", "inf")) if lim is not None else math.inf))
            pending = np.eye(4)
        return cls(joints, pending, base_link, tip_link)

    # ------------------------------------------------------------------ kinematics
    def _frames(self, q: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """Tip pose (4, 4) and each joint's axis and origin in the base frame."""
        q = np.asarray(q, dtype=float)
        if q.shape != (self.n,):
            raise ValueError(f"q must have shape ({self.n},) in joint order {self.joint_names}, got {q.shape}")
        T = np.eye(4)
        axes, points = [], []
        for joint, qi, rev in zip(self.joints, q, self._revolute):
            T = T @ joint.origin
            axes.append(T[:3, :3] @ joint.axis)
            points.append(T[:3, 3].copy())
            M = np.eye(4)
            if rev:
                M[:3, :3] = _axis_angle(joint.axis, qi)
            else:
                M[:3, 3] = joint.axis * qi
            T = T @ M
        return T @ self.tip_offset, axes, points

    def forward(self, q: np.ndarray) -> np.ndarray:
        """Pose of the tip link in the base frame, (4, 4)."""
        return self._frames(q)[0]

    def jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(T_tip (4, 4), J (6, n))``: geometric Jacobian of the tip origin, base frame."""
        T, axes, points = self._frames(q)
        p = T[:3, 3]
        J = np.zeros((6, self.n))
        for i, (z, o, rev) in enumerate(zip(axes, points, self._revolute)):
            if rev:
                J[:3, i] = np.cross(z, p - o)
                J[3:, i] = z
            else:
                J[:3, i] = z
        return T, J
