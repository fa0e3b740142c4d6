"""Transformations of reference motions: reverse, mirror, time-scale, resample, loop-seam blend.

These build more of the motion library from a few retargeted clips (Peng et al., RSS 2020,
Sec. VI uses e.g. backwards trotting and turning). Every function returns a new
:class:`ReferenceMotion`; the extras (toe targets, contacts, keypoints) are transformed too.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from anima.controllers.leg_kinematics import R_LOAD
from anima.models.motion.format import LOOP_WRAP, ReferenceMotion
from anima.models.motion.player import MotionPlayer, heading

# Laikago: left/right leg swap (FR<->FL, RR<->RL); joint angles keep their sign because the
# mirrored legs' abduction axes are mirrored in the URDF (FR -z, FL +z) and the pitch axes lie
# along the mirror normal.
LAIKAGO_MIRROR_PERMUTATION = (3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8)
LAIKAGO_MIRROR_SIGNS = (1.0,) * 12
LAIKAGO_FOOT_PERMUTATION = (1, 0, 3, 2)


def reverse(motion: ReferenceMotion) -> ReferenceMotion:
    """Play the motion backwards in time (a forward walk becomes a backward walk)."""
    rev = lambda a: None if a is None else a[::-1]  # noqa: E731
    return motion.with_frames(
        motion.frames[::-1].copy(), toe_targets=rev(motion.toe_targets), contacts=rev(motion.contacts),
        keypoints=rev(motion.keypoints), info={**motion.info, "reversed": not motion.info.get("reversed", False)},
    )


def _swap_lr(name: str) -> str:
    for a, b in (("left", "right"), ("right", "left")):
        if name.startswith(a):
            return b + name[len(a):]
    return name


def mirror(
    motion: ReferenceMotion,
    joint_permutation: Sequence[int] = LAIKAGO_MIRROR_PERMUTATION,
    joint_signs: Sequence[float] = LAIKAGO_MIRROR_SIGNS,
    foot_permutation: Sequence[int] = LAIKAGO_FOOT_PERMUTATION,
    urdf_to_body: np.ndarray = R_LOAD,
) -> ReferenceMotion:
    """Mirror left/right about the world x-z plane (y -> -y); left and right legs swap.

    The body rotation is conjugated by M = diag(1, -1, 1) (the REP-103 body frame is symmetric
    under it); the stored URDF-base rotation follows as ``M world_R_body M @ urdf_to_body``.
    """
    m = np.diag([1.0, -1.0, 1.0])
    frames = motion.frames.copy()
    frames[:, 1] *= -1.0
    body = Rotation.from_quat(frames[:, 3:7]).as_matrix() @ urdf_to_body.T
    frames[:, 3:7] = Rotation.from_matrix(m @ body @ m @ urdf_to_body).as_quat()
    frames[:, 7:] = motion.joints()[:, list(joint_permutation)] * np.asarray(joint_signs)
    flip = lambda a: None if a is None else a * np.array([1.0, -1.0, 1.0])  # noqa: E731
    toes = None if motion.toe_targets is None else flip(motion.toe_targets)[:, list(foot_permutation)]
    contacts = None if motion.contacts is None else motion.contacts[:, list(foot_permutation)]
    names = tuple(_swap_lr(n) for n in motion.keypoint_names)
    keypoints = None
    if motion.keypoints is not None:
        order = [motion.keypoint_names.index(n) if n in motion.keypoint_names else i for i, n in enumerate(names)]
        keypoints = flip(motion.keypoints)[:, order]
    return motion.with_frames(
        frames, toe_targets=toes, contacts=contacts, keypoints=keypoints,
        keypoint_names=motion.keypoint_names, info={**motion.info, "mirrored": not motion.info.get("mirrored", False)},
    )


def resample(motion: ReferenceMotion, frame_duration: float) -> ReferenceMotion:
    """Resample one cycle at (about) a new frame duration; slerp for the root, extras dropped.

    The cycle length is kept, so the new frame duration is ``duration / round(duration / fd)``.
    """
    if not frame_duration > 0:
        raise ValueError(f"frame_duration: must be positive, got {frame_duration}")
    n = max(2, int(round(motion.duration / frame_duration)) + 1)
    times = np.linspace(0.0, motion.duration, n)
    s = MotionPlayer(motion).sample(times)
    frames = np.concatenate([s.root_position, s.root_quat_urdf, s.joints], axis=1)
    frames[-1] = motion.frames[-1]  # t = duration is the next cycle's start under Wrap
    return motion.with_frames(
        frames, frame_duration=motion.duration / (n - 1), toe_targets=None, contacts=None, keypoints=None,
        keypoint_names=(),
    )


def time_scale(motion: ReferenceMotion, factor: float) -> ReferenceMotion:
    """Slow down (``factor > 1``) or speed up (``factor < 1``) by scaling the frame duration."""
    if not factor > 0:
        raise ValueError(f"factor: must be positive, got {factor}")
    return motion.with_frames(motion.frames.copy(), frame_duration=motion.frame_duration * factor)


def blend_loop_seam(
    motion: ReferenceMotion, blend_frames: int = 10, urdf_to_body: np.ndarray = R_LOAD
) -> ReferenceMotion:
    """Make a ``Wrap`` clip continuous at the loop point.

    The next cycle starts at the first frame moved by the cycle offset; the mismatch between
    that pose and the last frame (joints, root height, root tilt) is spread over the last
    ``blend_frames`` frames with a smoothstep weight, so the last frame equals the next start.
    """
    if motion.loop_mode != LOOP_WRAP:
        raise ValueError("blend_loop_seam: only 'Wrap' motions loop")
    n = motion.num_frames
    k = int(np.clip(blend_frames, 1, n - 1))
    frames = motion.frames.copy()
    s = (np.arange(n) - (n - 1 - k)) / k
    w = np.where(s > 0, 3 * np.clip(s, 0, 1) ** 2 - 2 * np.clip(s, 0, 1) ** 3, 0.0)
    frames[:, 7:] += w[:, None] * (frames[0, 7:] - frames[-1, 7:])
    frames[:, 2] += w * (frames[0, 2] - frames[-1, 2])
    if not motion.enable_cycle_offset_position:
        frames[:, :2] += w[:, None] * (frames[0, :2] - frames[-1, :2])
    yaw = heading(frames[[0, -1], 3:7], urdf_to_body)
    turn = yaw[1] - yaw[0] if motion.enable_cycle_offset_rotation else 0.0
    start = Rotation.from_rotvec([0.0, 0.0, turn]) * Rotation.from_quat(frames[0, 3:7])
    correction = (start * Rotation.from_quat(frames[-1, 3:7]).inv()).as_rotvec()
    frames[:, 3:7] = (Rotation.from_rotvec(w[:, None] * correction) * Rotation.from_quat(frames[:, 3:7])).as_quat()
    return motion.with_frames(frames)
