"""Keyframe authoring: a reference motion from a handful of root poses and footholds.

The original work also hand-animated some clips (e.g. the hop-turn, Peng et al., RSS 2020,
Sec. VI) with keyframes. Here a keyframe fixes the body pose (REP-103 body origin and roll,
pitch, yaw) and the four toe positions in the world; in between, every coordinate is
interpolated with monotone piecewise-cubic Hermite splines (PCHIP), which are smooth and never
overshoot, so a foot given the same position in consecutive keyframes stays exactly still
(a stance foot cannot slide) and a foot on the ground never dips below it. The robot's joint
angles then come from the same IK as retargeting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.spatial.transform import Rotation

from anima.models.motion.format import LOOP_CLAMP, ReferenceMotion
from anima.models.retarget.retarget import Retargeter


@dataclass(frozen=True)
class Keyframe:
    """Body origin (m, world), body roll/pitch/yaw (rad) and toes ``(L, 3)`` (m, world)."""

    time_s: float
    root_xyz: tuple[float, float, float]
    root_rpy: tuple[float, float, float]
    feet: tuple[tuple[float, float, float], ...]


def feet_under_hips(rt: Retargeter, root_xyz: Sequence[float], yaw: float, height_m: float) -> tuple:
    """Toe positions at ``height_m`` below the robot's hips in their nominal stance placement."""
    rot = Rotation.from_euler("z", yaw).as_matrix()
    pts = np.asarray(root_xyz) + (rt.hips_body + rt.toe_offsets_body) @ rot.T
    pts[:, 2] = height_m
    return tuple(tuple(float(v) for v in p) for p in pts)


def interpolate_keyframes(keys: Sequence[Keyframe], frame_duration: float) -> tuple[np.ndarray, ...]:
    """Sample ``times (N,)``, origin ``(N, 3)``, rotation ``(N, 3, 3)``, feet ``(N, L, 3)``."""
    times = np.array([k.time_s for k in keys])
    if len(keys) < 2 or np.any(np.diff(times) <= 0):
        raise ValueError("keyframes: need at least 2 keyframes with strictly increasing time_s")
    n = int(round((times[-1] - times[0]) / frame_duration)) + 1
    t = times[0] + np.arange(n) * frame_duration
    t[-1] = min(t[-1], times[-1])
    interp = lambda v: PchipInterpolator(times, np.asarray(v, dtype=float), axis=0)(t)  # noqa: E731
    origin = interp([k.root_xyz for k in keys])
    rpy = np.array([k.root_rpy for k in keys])
    rpy[:, 2] = np.unwrap(rpy[:, 2])
    r = interp(rpy)
    rot = Rotation.from_euler("ZYX", r[:, ::-1]).as_matrix()
    feet = interp([k.feet for k in keys])
    return t, origin, rot, feet


def motion_from_keyframes(
    rt: Retargeter, keys: Sequence[Keyframe], frame_duration: float, loop_mode: str = LOOP_CLAMP
) -> tuple[ReferenceMotion, np.ndarray]:
    """Interpolate, solve IK and build the motion; returns it with the toe errors ``(N, L)``."""
    _, origin, rot, feet = interpolate_keyframes(keys, frame_duration)
    contact = rt.config.foot_contact_height_m
    feet[..., 2] = np.maximum(feet[..., 2], contact)
    stance = feet[..., 2] <= contact + 1e-6
    q, err = rt.solve(origin, rot, feet)
    motion = rt.make_motion(
        origin, rot, q, frame_duration, toe_targets=feet, contacts=stance, loop_mode=loop_mode,
        enable_cycle_offset_position=False, enable_cycle_offset_rotation=False,
        info={"robot": rt.config.robot, "source": "keyframes", "generator": "anima.models.retarget.keyframes"},
    )
    return motion, err


def hop_turn_keyframes(rt: Retargeter, turn_rad: float = math.pi / 2) -> list[Keyframe]:
    """A dynamic hop-turn: crouch, jump, turn ``turn_rad`` in the air, land, absorb, stand."""
    c = rt.config.foot_contact_height_m
    stand = float(c - rt.kin.foot_positions(rt.config.nominal_pose)[:, 2].mean())
    before = feet_under_hips(rt, (0.0, 0.0, stand), 0.0, c)
    after = feet_under_hips(rt, (0.0, 0.0, stand), turn_rad, c)
    half = feet_under_hips(rt, (0.0, 0.0, stand), 0.5 * turn_rad, c + 0.10)
    z = lambda dz: (0.0, 0.0, stand + dz)  # noqa: E731
    return [
        Keyframe(0.0, z(0.0), (0.0, 0.0, 0.0), before),
        Keyframe(0.3, z(-0.07), (0.0, 0.03, 0.0), before),
        Keyframe(0.5, z(0.01), (0.0, -0.02, 0.08 * turn_rad), before),
        Keyframe(0.65, z(0.07), (0.0, 0.0, 0.5 * turn_rad), half),
        Keyframe(0.8, z(0.0), (0.0, 0.0, turn_rad), after),
        Keyframe(1.0, z(-0.06), (0.0, 0.02, turn_rad), after),
        Keyframe(1.4, z(0.0), (0.0, 0.0, turn_rad), after),
    ]
