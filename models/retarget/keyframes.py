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


def _feet_entry(rt: Retargeter, entry: object, xyz: tuple, rpy: tuple, where: str) -> tuple:
    """Feet of one keyframe: 4 xyz points, ``under_hips`` or ``{under_hips: {yaw, lift_m}}``."""
    contact = rt.config.foot_contact_height_m
    if entry == "under_hips":
        return feet_under_hips(rt, xyz, rpy[2], contact)
    if isinstance(entry, dict) and "under_hips" in entry:
        opts = entry["under_hips"] or {}
        return feet_under_hips(rt, xyz, float(opts.get("yaw", rpy[2])), contact + float(opts.get("lift_m", 0.0)))
    pts = np.asarray(entry, dtype=float) if isinstance(entry, list) else None
    if pts is None or pts.shape != (len(rt.config.leg_names), 3) or not np.all(np.isfinite(pts)):
        raise ValueError(f"{where}: 'feet' must be 'under_hips', {{under_hips: {{yaw, lift_m}}}} or "
                         f"{len(rt.config.leg_names)} finite [x, y, z] points")
    return tuple(tuple(p) for p in pts)


def keyframes_from_dict(rt: Retargeter, data: dict, source: str = "<dict>") -> tuple[list[Keyframe], float, str]:
    """Parse a keyframe file (YAML/JSON)::

        frame_duration_s: 0.0333
        loop_mode: Clamp
        keyframes:
          - {t: 0.0, root_xyz: [0, 0, 0.456], root_rpy: [0, 0, 0], feet: under_hips}
          - {t: 0.6, root_xyz: [0, 0, 0.52], root_rpy: [0, 0, 0.8], feet: {under_hips: {yaw: 0.8, lift_m: 0.1}}}

    Returns the keyframes, the frame duration and the loop mode; errors name the keyframe.
    """
    if not isinstance(data, dict) or not isinstance(data.get("keyframes"), list):
        raise ValueError(f"{source}: expected a mapping with a 'keyframes' list")
    keys = []
    for i, item in enumerate(data["keyframes"]):
        where = f"{source}: keyframe {i}"
        try:
            xyz = tuple(float(v) for v in item["root_xyz"])
            rpy = tuple(float(v) for v in item.get("root_rpy", (0.0, 0.0, 0.0)))
            t = float(item["t"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: needs t, root_xyz [x, y, z] and optional root_rpy ({exc})") from exc
        if len(xyz) != 3 or len(rpy) != 3:
            raise ValueError(f"{where}: root_xyz and root_rpy need 3 values each")
        keys.append(Keyframe(t, xyz, rpy, _feet_entry(rt, item.get("feet", "under_hips"), xyz, rpy, where)))
    times = [k.time_s for k in keys]
    if len(keys) < 2 or any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError(f"{source}: need at least 2 keyframes with increasing t")
    return keys, float(data.get("frame_duration_s", 1.0 / 30.0)), str(data.get("loop_mode", LOOP_CLAMP))


def load_keyframes(rt: Retargeter, path: str) -> tuple[list[Keyframe], float, str]:
    """Read a keyframe YAML or JSON file (see :func:`keyframes_from_dict`)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)  # YAML is a superset of JSON
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML/JSON ({exc})") from exc
    return keyframes_from_dict(rt, data, str(path))
