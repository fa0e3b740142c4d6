"""Per-robot joint-control configuration: gains, limits, rates, filter and safety settings.

One YAML file per robot, ``config/robots/<robot>.yaml`` (under :func:`anima.share_dir`), is
turned into a frozen :class:`RobotControlConfig`. The PD controller node and the training
environments both build their :class:`~anima.controllers.command_path.JointCommandPath` from
it, so a policy sees identical action processing in training and under ROS (ARCHITECTURE.md,
"Control path"). The schema is generic (any number of joints); Laikago's values and their
sources are documented in ``config/robots/laikago.yaml``.

Per-joint keys accept a list (URDF joint order) or one number broadcast to all joints. Joint names,
position limits and torque limits come from the robot's URDF (key ``urdf``) unless the YAML gives
them, so the YAML keeps only what the URDF lacks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from anima.controllers.config_loader import check_value, load_yaml_mapping

# YAML key -> dataclass field: per-joint vectors, then scalars.
_PER_JOINT = {
    "kp_nm_per_rad": "kp",
    "kd_nms_per_rad": "kd",
    "position_lower_rad": "position_lower",
    "position_upper_rad": "position_upper",
    "torque_limit_nm": "torque_limit",
    "damping_kd_nms_per_rad": "damping_kd",
    "standing_pose_rad": "standing_pose",
    "crouch_pose_rad": "crouch_pose",
}
_SCALAR = {
    "max_change_per_step_rad": "max_change_per_step",
    "action_filter_cutoff_hz": "filter_cutoff_hz",
    "target_rate_hz": "target_rate_hz",
    "control_rate_hz": "control_rate_hz",
    "command_timeout_s": "command_timeout_s",
}
# Read from the URDF (``urdf``) when the YAML leaves them out: the joints in URDF order and their
# <limit lower upper effort>. A YAML value, where given, is used instead (e.g. a subset of joints).
_FROM_URDF = ("joint_names", "position_lower_rad", "position_upper_rad", "torque_limit_nm")
_REQUIRED = ("robot", "joint_names", *_PER_JOINT, *_SCALAR, "action_filter_order")
_OPTIONAL = ("urdf", "coupled_joints", "target_limit_margin_rad", "resume_ramp_s", "foot_links", "urdf_to_body_rpy")
DEFAULT_TARGET_LIMIT_MARGIN_RAD = 0.5
DEFAULT_RESUME_RAMP_S = 1.0


def _frozen(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=float)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class RobotControlConfig:
    """Joint-control settings of one robot (SI units; vectors of length ``n`` in URDF order).

    Attributes:
        robot: robot name (``laikago``).
        joint_names: controlled joints, URDF order.
        kp, kd: PD gains, N·m/rad and N·m·s/rad.
        position_lower, position_upper: joint position limits, rad.
        torque_limit: symmetric torque limit, N·m (``inf`` = none).
        max_change_per_step: bound on ``|q_des - q_measured|`` applied at every control (PD)
            step, rad. This is how the original imitation code applies its
            ``MAX_MOTOR_ANGLE_CHANGE_PER_STEP`` (at every 1 ms PD substep), so it bounds the
            position error fed to the PD law, not the change between policy targets.
            ``inf`` (YAML ``.inf``) disables it.
        filter_order, filter_cutoff_hz: Butterworth action filter, sampled at ``target_rate_hz``;
            order 0 disables it (the cutoff is then ignored but must still be > 0).
        target_rate_hz: rate of policy targets (the interpolation period is its inverse), Hz.
        control_rate_hz: rate of the PD law, Hz.
        command_timeout_s: no target for longer than this -> damping mode, s.
        target_limit_margin: a target further than this beyond a joint's position limit is
            rejected as absurd (a policy or planner gone wrong); nearer ones are clamped to the
            limit, rad (YAML ``target_limit_margin_rad``, optional, default 0.5; ``.inf`` = clamp all).
        resume_ramp_s: when targets resume after a command timeout, the desired position moves
            from the pose measured at the resume to the tracked target along a smooth step of
            this duration, s (YAML ``resume_ramp_s``, optional, default 1.0; 0 = jump). After a
            timeout the robot has sagged under damping; tracking a far target at once threw it.
        damping_kd: damping gain used in timeout / e-stop (``tau = -damping_kd * qd``), N·m·s/rad.
        standing_pose, crouch_pose: URDF joint angles, rad.
        urdf: where the robot description comes from (informational).
        coupled_joints: ``(follower, leader, ratio)`` triples, ``q_follower = ratio * q_leader``
            (informational; not applied by the command path).
        foot_links: legged robots: one foot link per leg, the joints being ``joint_names`` in
            groups of three (leg kinematics of the state estimator); empty otherwise.
        urdf_to_body_rpy: rotation from the URDF base frame to the REP-103 body frame (fixed-axis
            roll, pitch, yaw, rad).
        source: file the config was loaded from (for error messages).
    """

    robot: str
    joint_names: tuple[str, ...]
    kp: np.ndarray
    kd: np.ndarray
    position_lower: np.ndarray
    position_upper: np.ndarray
    torque_limit: np.ndarray
    max_change_per_step: float
    filter_order: int
    filter_cutoff_hz: float
    target_rate_hz: float
    control_rate_hz: float
    command_timeout_s: float
    damping_kd: np.ndarray
    standing_pose: np.ndarray
    crouch_pose: np.ndarray
    target_limit_margin: float = DEFAULT_TARGET_LIMIT_MARGIN_RAD
    resume_ramp_s: float = DEFAULT_RESUME_RAMP_S
    urdf: str = ""
    coupled_joints: tuple[tuple[str, str, float], ...] = ()
    foot_links: tuple[str, ...] = ()
    urdf_to_body_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    source: str = field(default="<in-memory>", compare=False)

    def __post_init__(self) -> None:
        where = self.source
        names = tuple(str(n) for n in self.joint_names)
        if not names:
            raise ValueError(f"{where}: joint_names: must list at least one joint")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{where}: joint_names: duplicate names {dup}")
        object.__setattr__(self, "joint_names", names)
        n = len(names)
        for yaml_key, attr in _PER_JOINT.items():
            arr = np.asarray(getattr(self, attr), dtype=float)
            if arr.ndim == 0:
                arr = np.full(n, float(arr))
            if arr.shape != (n,):
                raise ValueError(f"{where}: {yaml_key}: expected {n} values (one per joint), got shape {arr.shape}")
            if np.isnan(arr).any():
                raise ValueError(f"{where}: {yaml_key}: contains NaN")
            object.__setattr__(self, attr, _frozen(arr))
        self._check_values(where)

    def _check_values(self, where: str) -> None:
        def bad(key: str, idx: np.ndarray, what: str) -> ValueError:
            joints = [self.joint_names[i] for i in np.flatnonzero(idx)]
            return ValueError(f"{where}: {key}: {what} for joints {joints}")

        for key, arr in (("kp_nm_per_rad", self.kp), ("kd_nms_per_rad", self.kd),
                         ("damping_kd_nms_per_rad", self.damping_kd)):
            if (arr < 0).any() or not np.isfinite(arr).all():
                raise bad(key, (arr < 0) | ~np.isfinite(arr), "must be finite and >= 0")
        if (self.torque_limit <= 0).any():
            raise bad("torque_limit_nm", self.torque_limit <= 0, "must be > 0")
        if not (self.position_lower < self.position_upper).all():
            raise bad("position_lower_rad", ~(self.position_lower < self.position_upper), "must be < position_upper_rad")
        for key, pose in (("standing_pose_rad", self.standing_pose), ("crouch_pose_rad", self.crouch_pose)):
            out = ~np.isfinite(pose) | (pose < self.position_lower) | (pose > self.position_upper)
            if out.any():
                raise bad(key, out, "outside the joint position limits")
        if not (isinstance(self.max_change_per_step, (int, float)) and self.max_change_per_step > 0):
            raise ValueError(f"{where}: max_change_per_step_rad: must be > 0 (.inf = no limit), "
                             f"got {self.max_change_per_step!r}")
        for key, val in (("action_filter_cutoff_hz", self.filter_cutoff_hz),
                         ("target_rate_hz", self.target_rate_hz), ("control_rate_hz", self.control_rate_hz),
                         ("command_timeout_s", self.command_timeout_s)):
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ValueError(f"{where}: {key}: must be a finite number > 0, got {val!r}")
        if not isinstance(self.filter_order, int) or isinstance(self.filter_order, bool) or not 0 <= self.filter_order <= 8:
            raise ValueError(f"{where}: action_filter_order: must be an integer in 0..8 (0 = no filter), "
                             f"got {self.filter_order!r}")
        if self.filter_order > 0 and self.filter_cutoff_hz >= self.target_rate_hz / 2:
            raise ValueError(
                f"{where}: action_filter_cutoff_hz: {self.filter_cutoff_hz} must be below the Nyquist "
                f"frequency of target_rate_hz ({self.target_rate_hz / 2})"
            )
        margin = self.target_limit_margin
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
            raise ValueError(f"{where}: target_limit_margin_rad: must be a number >= 0 (.inf = never reject), "
                             f"got {margin!r}")
        ramp = self.resume_ramp_s
        if isinstance(ramp, bool) or not isinstance(ramp, (int, float)) or not (math.isfinite(ramp) and ramp >= 0):
            raise ValueError(f"{where}: resume_ramp_s: must be a finite number >= 0 (0 = no ramp), got {ramp!r}")
        if self.command_timeout_s <= 1.0 / self.target_rate_hz:
            raise ValueError(f"{where}: command_timeout_s: must exceed one target period (1/target_rate_hz)")
        if self.foot_links and 3 * len(self.foot_links) != len(self.joint_names):
            raise ValueError(f"{where}: foot_links: {len(self.foot_links)} feet need {3 * len(self.foot_links)} "
                             f"joints (three per leg), joint_names has {len(self.joint_names)}")
        if len(self.urdf_to_body_rpy) != 3 or not all(math.isfinite(v) for v in self.urdf_to_body_rpy):
            raise ValueError(f"{where}: urdf_to_body_rpy: expected three finite angles (rad), got {self.urdf_to_body_rpy!r}")
        for i, triple in enumerate(self.coupled_joints):
            if len(triple) != 3 or triple[0] not in self.joint_names or triple[1] not in self.joint_names:
                raise ValueError(f"{where}: coupled_joints[{i}]: expected [follower, leader, ratio] of known joints")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, name: str) -> int:
        """URDF-order index of a joint; ``KeyError`` naming the joint if unknown."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KeyError(f"unknown joint '{name}' for robot '{self.robot}'") from None


def config_from_mapping(data: Mapping[str, Any], source: str = "<in-memory>") -> RobotControlConfig:
    """Build a config from a parsed YAML mapping; errors name ``source`` and the offending key."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ValueError(f"{source}: unknown keys {unknown}")
    if data.get("urdf") and any(k not in data for k in _FROM_URDF):
        data = {**_urdf_values(str(data["urdf"]), data.get("joint_names"), source), **data}
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{source}: missing keys {missing}")
    names = data["joint_names"]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{source}: joint_names: must be a list of non-empty strings")
    kwargs: dict[str, Any] = {}
    for key, attr in _PER_JOINT.items():
        kwargs[attr] = _numeric(data[key], source, key)
    for key, attr in _SCALAR.items():
        kwargs[attr] = check_value(data[key], float, f"{source}: {key}")
    if "target_limit_margin_rad" in data:
        kwargs["target_limit_margin"] = check_value(data["target_limit_margin_rad"], float, f"{source}: target_limit_margin_rad")
    if "resume_ramp_s" in data:
        kwargs["resume_ramp_s"] = check_value(data["resume_ramp_s"], float, f"{source}: resume_ramp_s")
    coupled = data.get("coupled_joints") or []
    if not isinstance(coupled, list):
        raise ValueError(f"{source}: coupled_joints: must be a list of [follower, leader, ratio]")
    try:
        coupled_t = tuple((str(f), str(ld), float(r)) for f, ld, r in coupled)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: coupled_joints: each entry must be [follower, leader, ratio]") from None
    feet = data.get("foot_links") or []
    if not isinstance(feet, list) or not all(isinstance(f, str) and f for f in feet):
        raise ValueError(f"{source}: foot_links: must be a list of link names")
    rpy = _numeric(data.get("urdf_to_body_rpy", [0.0, 0.0, 0.0]), source, "urdf_to_body_rpy")
    return RobotControlConfig(
        robot=check_value(data["robot"], str, f"{source}: robot"), joint_names=tuple(names),
        filter_order=check_value(data["action_filter_order"], int, f"{source}: action_filter_order"),
        urdf=str(data.get("urdf", "")), coupled_joints=coupled_t, foot_links=tuple(feet),
        urdf_to_body_rpy=tuple(float(v) for v in np.ravel(rpy)), source=source, **kwargs,
    )


def _urdf_values(urdf: str, names: Any, source: str) -> dict[str, Any]:
    """Joint names (all movable joints, or ``names``) and their URDF limits, as YAML keys."""
    from anima.controllers.urdf import movable_joints, resolve_urdf_path

    try:
        joints = {j.name: j for j in movable_joints(resolve_urdf_path(urdf))}
    except (FileNotFoundError, ValueError) as err:
        raise ValueError(f"{source}: urdf: {err}") from None
    names = list(joints) if names is None else names
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{source}: joint_names: must be a list of non-empty strings")
    unknown = [n for n in names if n not in joints]
    if unknown:
        raise ValueError(f"{source}: joint_names: {unknown} are not movable joints of {urdf}")
    values = {"joint_names": list(names)}
    for key, attr in (("position_lower_rad", "lower"), ("position_upper_rad", "upper"), ("torque_limit_nm", "effort")):
        column = [getattr(joints[n], attr) for n in names]
        if all(np.isfinite(column)):  # else the YAML must give it (reported as a missing key)
            values[key] = column
    return values


def _numeric(val: Any, source: str, key: str) -> np.ndarray:
    try:
        if isinstance(val, bool) or (isinstance(val, list) and any(isinstance(v, bool) for v in val)):
            raise TypeError
        return np.asarray(val, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {key}: must be a number or a list of numbers, got {val!r}") from None


def robot_config_path(name_or_path: str | Path) -> Path:
    """``config/robots/<name>.yaml`` under the share folder, or the given path if it is a file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.is_file() or len(p.parts) > 1:
        return p
    from anima.controllers.paths import share_dir

    return share_dir() / "config" / "robots" / f"{name_or_path}.yaml"


def load_robot_config(name_or_path: str | Path) -> RobotControlConfig:
    """Load and validate a robot's control config by robot name (``"laikago"``) or YAML path."""
    path = robot_config_path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"robot config not found: {path}")
    return config_from_mapping(load_yaml_mapping(path, "robot config"), source=str(path))


__all__ = ["RobotControlConfig", "config_from_mapping", "load_robot_config", "robot_config_path"]
