"""Robot descriptions: where a robot's URDF lives, its joints and limits, its text for ``robot_description``.

A robot config names its URDF as ``urdf/<file>`` (authored here, under the share folder) or
``pybullet_data/<file>`` (shipped by PyBullet, e.g. the Laikago). Joint names and limits are read
from the URDF so that config YAML keeps only what the URDF lacks (gains, rates, poses).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import transforms3d

PYBULLET_DATA_PREFIX = "pybullet_data/"


@dataclass(frozen=True)
class UrdfJoint:
    """A movable URDF joint: limits in rad (revolute) and N·m; ``inf`` where the URDF gives none."""

    name: str
    type: str
    lower: float
    upper: float
    effort: float
    velocity: float


def resolve_urdf_path(spec: str | Path) -> Path:
    """``pybullet_data/<file>`` -> PyBullet's data folder; a relative path -> the share folder; else as is."""
    text = str(spec)
    if not text:
        raise ValueError("urdf: empty path (the robot config must name its URDF)")
    if text.startswith(PYBULLET_DATA_PREFIX):
        import pybullet_data  # data files only

        path = Path(pybullet_data.getDataPath()) / text[len(PYBULLET_DATA_PREFIX):]
    elif Path(text).is_absolute():
        path = Path(text)
    else:
        from anima.controllers.paths import share_dir

        path = share_dir() / text
    if not path.is_file():
        raise FileNotFoundError(f"urdf: {text} not found (looked at {path})")
    return path


def movable_joints(path: str | Path) -> tuple[UrdfJoint, ...]:
    """The URDF's non-fixed joints in document order, with their ``<limit>`` values."""
    root = ET.parse(str(path)).getroot()
    out = []
    for joint in root.findall("joint"):
        kind = joint.get("type", "")
        if kind in ("fixed", "floating", "planar"):
            continue
        limit = joint.find("limit")

        def attr(name: str, default: float, limit=limit) -> float:
            value = None if limit is None else limit.get(name)
            return float(value) if value is not None else default

        lower, upper = (-math.inf, math.inf) if kind == "continuous" else (attr("lower", 0.0), attr("upper", 0.0))
        out.append(UrdfJoint(joint.get("name", ""), kind, lower, upper, attr("effort", math.inf),
                             attr("velocity", math.inf)))
    return tuple(out)


def rpy_to_matrix(rpy) -> np.ndarray:
    """URDF fixed-axis roll-pitch-yaw -> rotation matrix ``Rz(y) @ Ry(p) @ Rx(r)``."""
    r, p, y = (float(v) for v in rpy)
    return transforms3d.euler.euler2mat(r, p, y, "sxyz")


_MESH = re.compile(r'(<mesh\s[^>]*filename=")([^"]+)(")')


def description_xml(path: str | Path) -> str:
    """The URDF's text for ``robot_description``, with relative mesh files made absolute ``file://`` URIs
    (rviz resolves ``package://`` and ``file://`` only)."""
    path = Path(path).resolve()
    text = path.read_text(encoding="utf-8")

    def absolute(m: re.Match) -> str:
        name = m.group(2)
        if "://" in name:
            return m.group(0)
        return f"{m.group(1)}file://{(path.parent / name).resolve()}{m.group(3)}"

    return _MESH.sub(absolute, text)
