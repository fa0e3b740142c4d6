"""Robot retargeting configuration: URDF, keypoint-to-link map, nominal pose, scale, IK settings.

One YAML per robot, ``config/retarget/<robot>.yaml`` under :func:`anima.share_dir`; adding a
robot with the same leg structure (3 revolute joints per leg, a foot link) is config only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from anima.controllers.config_loader import check_value, config_from_mapping, load_yaml_mapping
from anima.controllers.leg_kinematics import LegKinematics, rpy_to_matrix


@dataclass(frozen=True)
class IkConfig:
    """Damped least squares (Levenberg-Marquardt) settings, per leg."""

    damping: float = 0.01  # λ, m: regularises near singularities
    nominal_weight: float = 0.003  # w, m/rad: pull towards the nominal pose (keeps knee branch)
    iterations: int = 12
    tolerance_m: float = 5e-5
    chunk_frames: int = 8  # frames solved together, warm-started from the previous chunk's last

    def __post_init__(self) -> None:
        if self.damping < 0 or self.nominal_weight < 0:
            raise ValueError("ik: damping and nominal_weight must be >= 0")
        if self.iterations < 1 or self.tolerance_m <= 0 or self.chunk_frames < 1:
            raise ValueError("ik: iterations and chunk_frames must be >= 1 and tolerance_m > 0")


@dataclass(frozen=True, eq=False)
class OriginalSteps:
    """The original retargeting's per-robot numbers (Peng et al., RSS 2020; FACTS.md, "The original
    retargeting, step by step"), used when a config has ``method: original``.

    Attributes:
        marker_rotations: (axis, angle rad) rotations applied in order to the raw y-up markers.
        pos_offset_m: added to every marker after rotation and scaling (the global ``scale``).
        forward_offset_m: added to neck - pelvis before it is normalised (forward direction).
        root_offset_m: added to the pelvis-neck midpoint (the simulated root position).
        toe_offsets_local_m: ``(L, 3)`` per-toe offsets, rotated by the heading and added to the targets.
        joint_damping: ``(3L,)`` PyBullet IK joint damping.
        rest_pose: ``(3L,)`` URDF angles: the IK rest pose and the pose the robot starts from.
    """

    marker_rotations: tuple[tuple[str, float], ...]
    pos_offset_m: np.ndarray
    forward_offset_m: np.ndarray
    root_offset_m: np.ndarray
    toe_offsets_local_m: np.ndarray
    joint_damping: np.ndarray
    rest_pose: np.ndarray

    def __post_init__(self) -> None:
        for axis, _ in self.marker_rotations:
            if axis not in ("x", "y", "z"):
                raise ValueError(f"original.marker_rotations: axis must be x, y or z, got '{axis}'")
        for name in ("pos_offset_m", "forward_offset_m", "root_offset_m"):
            if np.shape(getattr(self, name)) != (3,):
                raise ValueError(f"original.{name}: expected 3 values, got {np.shape(getattr(self, name))}")
        legs = np.shape(self.toe_offsets_local_m)[0]
        if np.shape(self.toe_offsets_local_m) != (legs, 3):
            raise ValueError("original.toe_offsets_local_m: expected one [x, y, z] per leg")
        for name in ("joint_damping", "rest_pose"):
            if np.shape(getattr(self, name)) != (3 * legs,):
                raise ValueError(f"original.{name}: expected {3 * legs} values, got {np.shape(getattr(self, name))}")


@dataclass(frozen=True, eq=False)
class RetargetConfig:
    """Everything robot-specific about retargeting (SI units).

    Attributes:
        robot: name.
        urdf: URDF path (``pybullet_data:`` prefix = inside pybullet_data).
        leg_names: e.g. (FR, FL, RR, RL); feet in this order everywhere.
        leg_joints: 3 joint names per leg; foot_links: one link per leg.
        urdf_to_body: rotation URDF base -> REP-103 body (also the load rotation).
        nominal_pose: URDF joint angles the IK is biased to.
        source_hips: source keypoint at each leg's hip/shoulder; source_toes: at each toe.
        scale: global source -> robot length scale; limb_scale: extra factor per leg.
        root_height_offset_m: added to the scaled root height.
        foot_contact_height_m: toe-link height when touching the ground (toe sphere radius).
        stance_height_m / stance_speed_m_s: source toe below/slower than this = stance;
            stance_min_frames: shorter stance runs and gaps are treated as marker noise.
            Stance is judged per foot, against that foot's own ground level.
        original: ``method: original`` in the YAML: the original retargeting step by step
            (:mod:`anima.models.retarget.original`, ``scale`` is its REF_POS_SCALE);
            None: Anima's method (nominal stance width, stance locking, numpy IK).
    """

    robot: str
    urdf: str
    leg_names: tuple[str, ...]
    leg_joints: tuple[tuple[str, ...], ...]
    foot_links: tuple[str, ...]
    urdf_to_body: np.ndarray
    nominal_pose: np.ndarray
    source_hips: tuple[str, ...]
    source_toes: tuple[str, ...]
    scale: float
    limb_scale: tuple[float, ...]
    root_height_offset_m: float
    foot_contact_height_m: float
    stance_height_m: float
    stance_speed_m_s: float
    stance_min_frames: int
    mirror_joint_permutation: tuple[int, ...]
    mirror_joint_signs: tuple[float, ...]
    ik: IkConfig
    original: OriginalSteps | None = None

    def __post_init__(self) -> None:
        n = len(self.leg_names)
        for name, seq in (("leg_joints", self.leg_joints), ("foot_links", self.foot_links),
                          ("source_hips", self.source_hips), ("source_toes", self.source_toes),
                          ("limb_scale", self.limb_scale)):
            if len(seq) != n:
                raise ValueError(f"{self.robot}: {name} needs one entry per leg ({n}), got {len(seq)}")
        if np.shape(self.nominal_pose) != (3 * n,):
            raise ValueError(f"{self.robot}: nominal_pose needs {3 * n} angles, got {np.shape(self.nominal_pose)}")
        if not self.scale > 0 or any(not s > 0 for s in self.limb_scale):
            raise ValueError(f"{self.robot}: scale and limb_scale must be positive")
        if self.original is not None and len(self.original.toe_offsets_local_m) != n:
            raise ValueError(f"{self.robot}: original.toe_offsets_local_m needs one entry per leg ({n})")
        if sorted(self.mirror_joint_permutation) != list(range(3 * n)):
            raise ValueError(f"{self.robot}: mirror_joint_permutation must permute 0..{3 * n - 1}")

    def urdf_path(self) -> Path:
        if self.urdf.startswith("pybullet_data:"):
            import pybullet_data

            return Path(pybullet_data.getDataPath()) / self.urdf.split(":", 1)[1]
        path = Path(self.urdf)
        if not path.is_absolute():
            from anima.controllers.paths import share_dir

            path = share_dir() / path
        return path

    def kinematics(self) -> LegKinematics:
        return LegKinematics.from_urdf(self.urdf_path(), self.leg_joints, self.foot_links, self.urdf_to_body)


def _get(data: Mapping[str, Any], key: str, source: str) -> Any:
    if key not in data:
        raise ValueError(f"{source}: missing key '{key}'")
    return data[key]


def _original_from_dict(data: Mapping[str, Any], legs: tuple[str, ...], source: str) -> OriginalSteps:
    """The ``original:`` block (see :class:`OriginalSteps`); errors name ``source`` and the key."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: 'original' must be a mapping")
    toe = _get(data, "toe_offsets_local_m", source)
    try:
        toes = [toe[leg] for leg in legs]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{source}: original.toe_offsets_local_m needs an entry per leg {list(legs)}") from exc
    rotations = tuple((str(axis), float(angle)) for axis, angle in _get(data, "marker_rotations", source))
    vec = lambda key, default=None: np.asarray(data.get(key, default) if default is not None  # noqa: E731
                                               else _get(data, key, source), dtype=float)
    return OriginalSteps(
        marker_rotations=rotations, pos_offset_m=vec("pos_offset_m", [0.0, 0.0, 0.0]),
        forward_offset_m=vec("forward_offset_m"), root_offset_m=vec("root_offset_m", [0.0, 0.0, 0.0]),
        toe_offsets_local_m=np.asarray(toes, dtype=float), joint_damping=vec("joint_damping"),
        rest_pose=vec("rest_pose_rad"),
    )


def config_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> RetargetConfig:
    """Build a :class:`RetargetConfig` from parsed YAML; errors name ``source`` and the key."""
    legs = tuple(_get(data, "legs", source))
    leg_map = _get(data, "legs_detail", source)
    scale = _get(data, "scale", source)
    limb = scale.get("per_limb", {}) if isinstance(scale, Mapping) else {}
    global_scale = float(scale["global"] if isinstance(scale, Mapping) else scale)
    try:
        detail = [leg_map[leg] for leg in legs]
    except KeyError as exc:
        raise ValueError(f"{source}: legs_detail has no entry for leg {exc}") from exc
    rpy = data.get("urdf_to_body_rpy", [0.0, 0.0, 0.0])
    ik = config_from_mapping(IkConfig, data.get("ik") or {}, f"{source}: ik")
    stance = data.get("stance", {})
    n = 3 * len(legs)
    method = data.get("method", "anima")
    if method not in ("anima", "original"):
        raise ValueError(f"{source}: method must be 'anima' or 'original', got '{method}'")
    original = _original_from_dict(_get(data, "original", source), legs, source) if method == "original" else None
    return RetargetConfig(
        robot=str(_get(data, "robot", source)),
        urdf=str(_get(data, "urdf", source)),
        leg_names=legs,
        leg_joints=tuple(tuple(d["joints"]) for d in detail),
        foot_links=tuple(d["foot_link"] for d in detail),
        urdf_to_body=rpy_to_matrix([float(v) for v in rpy]),
        nominal_pose=np.asarray(_get(data, "nominal_pose_rad", source), dtype=float),
        source_hips=tuple(d["source_hip"] for d in detail),
        source_toes=tuple(d["source_toe"] for d in detail),
        scale=global_scale,
        limb_scale=tuple(float(limb.get(leg, 1.0)) for leg in legs),
        root_height_offset_m=check_value(data.get("root_height_offset_m", 0.0), float, f"{source}: root_height_offset_m"),
        foot_contact_height_m=check_value(data.get("foot_contact_height_m", 0.0), float, f"{source}: foot_contact_height_m"),
        stance_height_m=check_value(stance.get("height_m", 0.02), float, f"{source}: stance.height_m"),
        stance_speed_m_s=check_value(stance.get("speed_m_s", 0.1), float, f"{source}: stance.speed_m_s"),
        stance_min_frames=check_value(stance.get("min_frames", 3), int, f"{source}: stance.min_frames"),
        mirror_joint_permutation=tuple(int(i) for i in data.get("mirror_joint_permutation", range(n))),
        mirror_joint_signs=tuple(float(s) for s in data.get("mirror_joint_signs", [1.0] * n)),
        ik=ik,
        original=original,
    )


def load_config(robot_or_path: str | Path) -> RetargetConfig:
    """``laikago`` -> ``config/retarget/laikago.yaml`` in the share dir; or a YAML path."""
    from anima.controllers.paths import share_dir

    path = Path(robot_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = share_dir() / "config" / "retarget" / f"{robot_or_path}.yaml"
    if not path.is_file():
        raise ValueError(f"{path}: no retarget config for robot '{robot_or_path}'")
    return config_from_dict(load_yaml_mapping(path, "retarget config"), str(path))
