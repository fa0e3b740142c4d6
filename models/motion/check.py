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
    stance_height_margin_m: float = 0.002  # stance = toe within this of its own ground level
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


def foot_slip_per_foot(toes: np.ndarray, stance: np.ndarray) -> np.ndarray:
    """``(L,)`` largest horizontal drift of each foot, over its stance runs, from where the run began (m)."""
    worst = np.zeros(toes.shape[1])
    for leg in range(toes.shape[1]):
        for a, b in _runs(stance[:, leg]):
            drift = np.linalg.norm(toes[a:b, leg, :2] - toes[a, leg, :2], axis=-1)
            worst[leg] = max(worst[leg], float(drift.max()))
    return worst


def foot_slip(toes: np.ndarray, stance: np.ndarray) -> float:
    """Largest horizontal drift of a stance foot from where its stance began, metres."""
    return float(foot_slip_per_foot(toes, stance).max(initial=0.0))


def stance_from_heights(toes: np.ndarray, margin_m: float) -> np.ndarray:
    """``(N, L)``: each toe within ``margin_m`` of its own ground level (the 5th percentile of its
    height over the clip). Height only, no speed test, so a sliding foot still counts as stance."""
    ground = np.percentile(toes[..., 2], 5, axis=0)
    return toes[..., 2] <= ground + margin_m


def _leg_labels(n: int, leg_names: tuple[str, ...] | None) -> tuple[str, ...]:
    if leg_names is not None and len(leg_names) == n:
        return tuple(leg_names)
    return ("FR", "FL", "RR", "RL") if n == 4 else tuple(str(i) for i in range(n))


def check_motion(
    motion: ReferenceMotion,
    kin: LegKinematics,
    th: CheckThresholds = CheckThresholds(),
    leg_names: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """All metrics as one JSON-ready dict; ``passed`` tells whether every target is met.

    Foot slip is measured on every foot's stance phases: those the clip's contact flags mark and
    those found from the toe heights themselves (each foot against its own ground level), so a
    foot that no flag marks is measured too. ``foot_slip_m`` gives it per foot.
    """
    toes = toe_positions_world(motion, kin)
    out: dict[str, Any] = {"frames": motion.num_frames, "duration_s": round(motion.duration, 6)}
    if motion.toe_targets is not None and motion.toe_targets.shape[1] == toes.shape[1]:
        err = np.linalg.norm(toes - motion.toe_targets, axis=-1)
        out["toe_error_m_median"], out["toe_error_m_max"] = float(np.median(err)), float(err.max())
    else:
        out["toe_error_m_median"] = out["toe_error_m_max"] = None
    detected = stance_from_heights(toes, th.stance_height_margin_m)
    slip = foot_slip_per_foot(toes, detected)
    if motion.contacts is not None and motion.contacts.shape[1] == toes.shape[1]:
        slip = np.maximum(slip, foot_slip_per_foot(toes, motion.contacts))
    labels = _leg_labels(toes.shape[1], leg_names)
    out["foot_slip_m"] = {name: float(v) for name, v in zip(labels, slip)}
    out["stance_fraction"] = {name: float(v) for name, v in zip(labels, detected.mean(axis=0))}
    out["foot_slip_m_max"] = float(slip.max(initial=0.0))
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
