"""Quality checks of a reference motion: toe tracking, foot slip, ground penetration, limits, spikes.

The checks mirror what makes a reference motion imitable (Peng et al., RSS 2020, Sec. IV-A
and V): toes where the source put them, feet that do not slide or sink while in stance, joint
angles inside the URDF limits and no velocity spikes the PD-controlled robot cannot follow.
All kinematics are pure numpy (:class:`~anima.controllers.leg_kinematics.LegKinematics`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from anima.controllers.leg_kinematics import LegKinematics
from anima.models.motion.format import LOOP_WRAP, ReferenceMotion


@dataclass(frozen=True)
class CheckThresholds:
    """Acceptance thresholds (issue 3 targets) and spike limits, SI units."""

    toe_error_median_m: float = 0.01
    toe_error_max_m: float = 0.03
    foot_slip_m: float = 0.01
    penetration_m: float = 0.005
    foot_contact_height_m: float = 0.03  # toe origin height when touching the ground
    stance_height_margin_m: float = 0.005  # without contact flags: stance = toe below contact + margin
    joint_speed_spike_rad_s: float = 20.0
    root_speed_spike_m_s: float = 5.0
    root_angular_speed_spike_rad_s: float = 15.0
    limit_tolerance_rad: float = 1e-6


def toe_positions_world(motion: ReferenceMotion, kin: LegKinematics) -> np.ndarray:
    """``(N, L, 3)`` world toe positions of every frame."""
    rot_urdf = Rotation.from_quat(motion.root_quat_urdf()).as_matrix()
    origin = motion.root_position() - rot_urdf @ kin.base_inertial_offset_urdf
    rot_body = rot_urdf @ kin.urdf_to_body.T
    feet = kin.foot_positions(motion.joints())
    return origin[:, None] + np.einsum("nij,nlj->nli", rot_body, feet)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], flags, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))


def foot_slip(toes: np.ndarray, stance: np.ndarray) -> float:
    """Largest horizontal drift of a stance foot from where its stance began, metres."""
    worst = 0.0
    for leg in range(toes.shape[1]):
        for a, b in _runs(stance[:, leg]):
            drift = np.linalg.norm(toes[a:b, leg, :2] - toes[a, leg, :2], axis=-1)
            worst = max(worst, float(drift.max()))
    return worst


def check_motion(
    motion: ReferenceMotion, kin: LegKinematics, th: CheckThresholds = CheckThresholds()
) -> dict[str, Any]:
    """All metrics as one JSON-ready dict; ``passed`` tells whether every target is met."""
    toes = toe_positions_world(motion, kin)
    out: dict[str, Any] = {"frames": motion.num_frames, "duration_s": round(motion.duration, 6)}
    if motion.toe_targets is not None and motion.toe_targets.shape[1] == toes.shape[1]:
        err = np.linalg.norm(toes - motion.toe_targets, axis=-1)
        out["toe_error_m_median"], out["toe_error_m_max"] = float(np.median(err)), float(err.max())
    else:
        out["toe_error_m_median"] = out["toe_error_m_max"] = None
    if motion.contacts is not None and motion.contacts.shape[1] == toes.shape[1]:
        stance = motion.contacts
    else:
        stance = toes[..., 2] < th.foot_contact_height_m + th.stance_height_margin_m
    out["foot_slip_m_max"] = foot_slip(toes, stance)
    out["penetration_m_max"] = float(max(0.0, (th.foot_contact_height_m - toes[..., 2]).max()))
    q = motion.joints()
    below = q < kin.lower - th.limit_tolerance_rad
    above = q > kin.upper + th.limit_tolerance_rad
    out["joint_limit_violations"] = int(below.sum() + above.sum())
    dt = motion.frame_duration
    qd = np.abs(np.diff(q, axis=0)) / dt
    lin = np.linalg.norm(np.diff(motion.root_position(), axis=0), axis=-1) / dt
    rots = Rotation.from_quat(motion.root_quat_urdf())
    ang = np.linalg.norm((rots[1:] * rots[:-1].inv()).as_rotvec(), axis=-1) / dt
    out["joint_velocity_max_rad_s"] = float(qd.max())
    out["joint_velocity_spikes"] = int((qd > th.joint_speed_spike_rad_s).sum())
    spikes = (lin > th.root_speed_spike_m_s).sum() + (ang > th.root_angular_speed_spike_rad_s).sum()
    out["root_velocity_spikes"] = int(spikes)
    if motion.loop_mode == LOOP_WRAP:
        out["loop_seam_joint_jump_rad"] = float(np.abs(q[-1] - q[0]).max())
    out["passed"] = bool(
        (out["toe_error_m_median"] is None or out["toe_error_m_median"] <= th.toe_error_median_m)
        and (out["toe_error_m_max"] is None or out["toe_error_m_max"] <= th.toe_error_max_m)
        and out["foot_slip_m_max"] <= th.foot_slip_m
        and out["penetration_m_max"] <= th.penetration_m
        and out["joint_limit_violations"] == 0
        and out["joint_velocity_spikes"] == 0
        and out["root_velocity_spikes"] == 0
    )
    return out
