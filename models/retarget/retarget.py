"""Retarget animal keypoint trajectories to a legged robot's reference motion.

Peng et al., "Learning Agile Robotic Locomotion Skills by Imitating Animals", RSS 2020,
Sec. IV-A: scale the source, set the robot's root from the animal's pelvis/neck/shoulder/hip
keypoints, place toe targets relative to the robot's hips, and solve IK for the legs every
frame. Two methods, chosen by the robot's config:

* ``method: original`` (Laikago): the original retargeting step by step
  (:mod:`anima.models.retarget.original`), so clips match the original ones.
* ``method: anima``: toes under the nominal stance width, and stance handling: source toes that
  rest on the ground (low and slow) are locked in x-y for the whole stance and put exactly at
  contact height, with the shift blended through the swing phases.

Both flag stance per foot, each against that foot's own ground level (real capture puts the
front-toe markers 1-2 cm above the hind ones), and store the flags as the clip's contacts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from anima.models.motion.format import LOOP_WRAP, ReferenceMotion
from anima.models.retarget.config import RetargetConfig
from anima.models.retarget.ik import solve_sequence_ik
from anima.models.retarget.keypoints import KeypointTrajectory


@dataclass(frozen=True)
class RetargetResult:
    """The reference motion and the per-frame, per-foot toe error (metres)."""

    motion: ReferenceMotion
    toe_error_m: np.ndarray  # (N, L)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def root_frames(kp: KeypointTrajectory) -> np.ndarray:
    """World rotations ``(T, 3, 3)`` of the animal's body: columns forward, left, up.

    Forward is pelvis -> neck; left is the sum of the right->left shoulder and hip vectors,
    made orthogonal (original retargeting, Sec. IV-A).
    """
    fwd = _unit(kp.get("neck") - kp.get("pelvis"))
    left = (kp.get("left_shoulder") - kp.get("right_shoulder")) + (kp.get("left_hip") - kp.get("right_hip"))
    up = _unit(np.cross(fwd, left))
    left = np.cross(up, fwd)
    return np.stack([fwd, left, up], axis=-1)


def heading_rotations(rot: np.ndarray) -> np.ndarray:
    """Yaw-only rotations ``(T, 3, 3)`` with the heading of the x axes of ``rot``."""
    yaw = np.arctan2(rot[:, 1, 0], rot[:, 0, 0])
    c, s = np.cos(yaw), np.sin(yaw)
    out = np.zeros(rot.shape)
    out[:, 0, 0], out[:, 0, 1], out[:, 1, 0], out[:, 1, 1], out[:, 2, 2] = c, -s, s, c, 1.0
    return out


def detect_stance(
    toes: np.ndarray, fps: float, height_m: float, speed_m_s: float, min_frames: int = 3
) -> np.ndarray:
    """``(T, L)`` stance flags: toe within ``height_m`` of its own ground level and slower than ``speed_m_s``.

    Each foot's ground level is the 5th percentile of its own height over the trajectory, so
    markers that rest at different heights (front toes above hind ones) are all found in stance.
    Marker noise makes raw flags flicker, so gaps shorter than ``min_frames`` inside a stance
    are filled and stance runs shorter than ``min_frames`` are dropped.
    """
    vel = np.gradient(toes[..., :2], axis=0) * fps
    ground = np.percentile(toes[..., 2], 5, axis=0)
    flags = (toes[..., 2] - ground < height_m) & (np.linalg.norm(vel, axis=-1) < speed_m_s)
    for leg in range(flags.shape[1]):
        col = flags[:, leg]
        runs = _intervals(~col)
        for a, b in runs:
            if 0 < a and b < col.size and b - a < min_frames:
                col[a:b] = True
        for a, b in _intervals(col):
            if b - a < min_frames:
                col[a:b] = False
    return flags


def _intervals(flags: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``[a, b)`` runs of True."""
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(int)))
    return list(zip(edges[::2], edges[1::2]))


def lock_stance(targets: np.ndarray, stance: np.ndarray, contact_height: float) -> np.ndarray:
    """Hold each stance foot at one x-y point (the mid-stance target) and at contact height.

    The x-y shift applied in stance is interpolated linearly through the swing in between, so
    the swing trajectory stays smooth. ``targets (T, L, 3)``, ``stance (T, L)``.
    """
    out = targets.copy()
    frames = np.arange(targets.shape[0])
    for leg in range(targets.shape[1]):
        runs = _intervals(stance[:, leg])
        if not runs:
            continue
        shift = np.full((targets.shape[0], 2), np.nan)
        for a, b in runs:
            anchor = targets[(a + b - 1) // 2, leg, :2]
            shift[a:b] = anchor - targets[a:b, leg, :2]
        known = ~np.isnan(shift[:, 0])
        for d in range(2):
            shift[:, d] = np.interp(frames, frames[known], shift[known, d])
        out[:, leg, :2] += shift
        out[stance[:, leg], leg, 2] = contact_height
    out[..., 2] = np.maximum(out[..., 2], contact_height)
    return out


class Retargeter:
    """Keypoints -> reference motion for one robot (see module docstring)."""

    def __init__(self, config: RetargetConfig) -> None:
        self.config = config
        self.kin = config.kinematics()
        self.hips_body = self.kin.hip_positions()
        nominal_feet = self.kin.foot_positions(config.nominal_pose)
        self.toe_offsets_body = nominal_feet - self.hips_body
        self.toe_offsets_body[:, 2] = 0.0  # horizontal placement of the foot under the hip

    def _source_ground(self, kp: KeypointTrajectory) -> float:
        toes = np.stack([kp.get(n) for n in self.config.source_toes], axis=1)
        return float(np.percentile(toes[..., 2], 5))

    def root_and_targets(self, kp: KeypointTrajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Body origin ``(T, 3)``, body rotation ``(T, 3, 3)``, toe targets ``(T, L, 3)``, stance ``(T, L)``."""
        cfg = self.config
        kp.require(["pelvis", "neck", *cfg.source_hips, *cfg.source_toes])
        pos = kp.positions.copy()
        pos[..., 2] -= self._source_ground(kp)
        kp = KeypointTrajectory(kp.names, pos, kp.fps, kp.source)
        rot = root_frames(kp)
        src_hips = np.stack([kp.get(n) for n in cfg.source_hips], axis=1)
        src_toes = np.stack([kp.get(n) for n in cfg.source_toes], axis=1)
        center = src_hips.mean(axis=1) * cfg.scale
        center[:, 2] += cfg.foot_contact_height_m + cfg.root_height_offset_m
        origin = center - rot @ self.hips_body.mean(axis=0)
        hips_world = origin[:, None] + np.einsum("tij,lj->tli", rot, self.hips_body)
        heading = heading_rotations(rot)
        limb = cfg.scale * np.asarray(cfg.limb_scale)[None, :, None]
        targets = hips_world + np.einsum("tij,lj->tli", heading, self.toe_offsets_body) + limb * (src_toes - src_hips)
        stance = detect_stance(src_toes, kp.fps, cfg.stance_height_m, cfg.stance_speed_m_s, cfg.stance_min_frames)
        return origin, rot, lock_stance(targets, stance, cfg.foot_contact_height_m), stance

    def solve(self, origin: np.ndarray, rot: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """IK for world toe targets given the root: joint angles ``(T, 3L)`` and errors ``(T, L)``."""
        body_targets = np.einsum("tji,tlj->tli", rot, targets - origin[:, None])
        return solve_sequence_ik(self.kin, body_targets, self.config.nominal_pose, self.config.ik)

    def make_motion(
        self, origin: np.ndarray, rot: np.ndarray, q: np.ndarray, frame_duration: float, **extras: object
    ) -> ReferenceMotion:
        """Frames in the original layout: PyBullet base position and URDF-base quaternion."""
        rot_urdf = rot @ self.config.urdf_to_body
        base = origin + rot_urdf @ self.kin.base_inertial_offset_urdf
        quat = Rotation.from_matrix(rot_urdf).as_quat()
        return ReferenceMotion(frames=np.concatenate([base, quat, q], axis=1), frame_duration=frame_duration, **extras)

    def retarget(
        self,
        kp: KeypointTrajectory,
        loop_mode: str = LOOP_WRAP,
        keep_keypoints: bool = True,
        frames: slice = slice(None),
    ) -> RetargetResult:
        """Full pipeline on a keypoint trajectory (see module docstring).

        ``frames`` selects the source frames (``a:b``; errors if it reaches past the end). The
        original method retargets only those, starting from the rest pose, as the original did;
        stance detection (and Anima's stance locking) see the whole trajectory, so a cut through
        a stance phase does not move that foothold.
        """
        sel = frame_range(frames, kp.num_frames, kp.source)
        if self.config.original is not None:
            return self._retarget_original(kp, sel, loop_mode, keep_keypoints)
        origin, rot, targets, stance = self.root_and_targets(kp)
        ground = self._source_ground(kp)
        origin, rot, targets, stance = origin[sel], rot[sel], targets[sel], stance[sel]
        kp = kp.slice(sel.start, sel.stop)
        q, err = self.solve(origin, rot, targets)
        extras: dict[str, object] = {"toe_targets": targets, "contacts": stance, "loop_mode": loop_mode}
        if keep_keypoints:
            used = [n for n in ("pelvis", "neck", *self.config.source_hips, *self.config.source_toes) if n in kp.names]
            pts = np.stack([kp.get(n) for n in used], axis=1) - [0.0, 0.0, ground]
            extras.update(keypoints=pts * self.config.scale + [0.0, 0.0, self.config.foot_contact_height_m],
                          keypoint_names=tuple(used))
        extras["info"] = {"robot": self.config.robot, "source": kp.source, "generator": "anima.models.retarget"}
        return RetargetResult(self.make_motion(origin, rot, q, 1.0 / kp.fps, **extras), err)

    def source_stance(self, kp: KeypointTrajectory) -> np.ndarray:
        """``(T, L)`` stance flags of the source toes, per foot against its own ground level."""
        cfg = self.config
        toes = np.stack([kp.get(n) for n in cfg.source_toes], axis=1)
        return detect_stance(toes, kp.fps, cfg.stance_height_m, cfg.stance_speed_m_s, cfg.stance_min_frames)

    def _retarget_original(
        self, kp: KeypointTrajectory, sel: slice, loop_mode: str, keep_keypoints: bool
    ) -> RetargetResult:
        from anima.models.retarget.original import retarget_original

        stance = self.source_stance(kp)[sel]
        kp = kp.slice(sel.start, sel.stop)
        out = retarget_original(kp, self.config)
        extras: dict[str, object] = {"toe_targets": out.toe_targets, "contacts": stance, "loop_mode": loop_mode}
        if keep_keypoints:
            used = [n for n in ("pelvis", "neck", *self.config.source_hips, *self.config.source_toes) if n in kp.names]
            extras.update(keypoints=out.markers[:, [kp.names.index(n) for n in used]], keypoint_names=tuple(used))
        extras["info"] = {"robot": self.config.robot, "source": kp.source,
                          "generator": "anima.models.retarget.original"}
        motion = ReferenceMotion(frames=out.frames, frame_duration=1.0 / kp.fps, **extras)
        return RetargetResult(motion, out.toe_error_m)


def frame_range(frames: slice, num_frames: int, source: str) -> slice:
    """``frames`` as ``slice(start, stop)`` within ``[0, num_frames]``; ValueError naming ``source``
    if it reaches past the end, runs backwards or selects fewer than 2 frames."""
    if frames.step not in (None, 1):
        raise ValueError(f"{source}: frame range must have step 1, got {frames.step}")
    start = 0 if frames.start is None else frames.start
    stop = num_frames if frames.stop is None else frames.stop
    if start < 0:
        start += num_frames
    if stop < 0:
        stop += num_frames
    if not 0 <= start < num_frames or stop > num_frames:
        raise ValueError(f"{source}: frame range {frames.start}:{frames.stop} is beyond the end of the "
                         f"file ({num_frames} frames, 0:{num_frames})")
    if stop - start < 2:
        raise ValueError(f"{source}: frame range {frames.start}:{frames.stop} selects {max(0, stop - start)} "
                         f"frames; need >= 2")
    return slice(start, stop)
