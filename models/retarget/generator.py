"""Procedural dog-like keypoint motions on a parameterised dog skeleton.

Stands in for animal motion capture (the dog mocap used by Peng et al., RSS 2020, Sec. IV-A
is licensed for non-commercial use only), so the motion library needs no restricted data.
A gait is a phase offset per leg plus a duty factor (the classic description of quadruped
gaits, e.g. Alexander, "The gaits of bipedal and quadrupedal animals", 1984): a foot is in
stance while ``(t / T + phase) mod 1 < duty``. Stance feet stay fixed in the world at the
point under their hip at mid-stance; swing feet move on a smooth arc (zero velocity at lift-off
and touch-down) to the next foothold. The
body follows a constant speed and turn rate with a small vertical bob (and pitch for bounding).
All 27 markers of the dog mocap layout are produced, so outputs also exercise the CSV reader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from anima.models.retarget.keypoints import DOG27_NAMES, KeypointTrajectory

# Leg order right-fore, left-fore, right-hind, left-hind; values = phase offsets (cycles).
GAIT_PHASES = {
    "walk": (0.75, 0.25, 0.5, 0.0),  # lateral sequence: LH, LF, RH, RF a quarter cycle apart
    "trot": (0.0, 0.5, 0.5, 0.0),  # diagonal pairs
    "pace": (0.0, 0.5, 0.0, 0.5),  # lateral pairs
    "bound": (0.0, 0.0, 0.5, 0.5),  # fore pair, then hind pair
}
_LEG_SIDES = (-1.0, 1.0, -1.0, 1.0)  # y sign (left +)
_LEG_FORE = (True, True, False, False)


@dataclass(frozen=True)
class DogSkeleton:
    """Proportions of the source dog (metres). Deliberately not the robot's proportions."""

    body_length_m: float = 0.56  # shoulder to hip joint
    shoulder_width_m: float = 0.16
    hip_width_m: float = 0.14
    shoulder_height_m: float = 0.52
    hip_height_m: float = 0.52
    neck_forward_m: float = 0.14
    pelvis_back_m: float = 0.06
    spine_up_m: float = 0.03  # pelvis and neck markers above the shoulder/hip line (level back)
    neck_drop_m: float = 0.0  # neck marker this much below the pelvis marker (real capture: ~2.5 cm)
    fore_toe_height_m: float = 0.0  # fore toe markers' height when the paw rests on the ground
    hind_toe_height_m: float = 0.0  # hind toe markers' (real capture: 1-2 cm below the fore ones)

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if name in ("neck_drop_m", "fore_toe_height_m", "hind_toe_height_m"):
                if not value >= 0:
                    raise ValueError(f"DogSkeleton.{name}: must be >= 0, got {value}")
            elif not value > 0:
                raise ValueError(f"DogSkeleton.{name}: must be positive, got {value}")


@dataclass(frozen=True)
class GaitParams:
    """One procedural gait clip. ``stride_m``: distance per gait cycle; speed 0 = in place."""

    gait: str = "trot"
    speed_m_s: float = 0.8
    stride_m: float = 0.4
    duty_factor: float = 0.5
    turn_rate_rad_s: float = 0.0
    period_s: float = 0.5  # used when speed is 0
    step_height_m: float = 0.08
    bob_m: float = 0.01
    pitch_amplitude_rad: float = 0.0
    cycles: int = 2
    fps: float = 60.0

    def __post_init__(self) -> None:
        if self.gait not in GAIT_PHASES:
            raise ValueError(f"gait: unknown '{self.gait}' (choose from {sorted(GAIT_PHASES)})")
        if not 0.05 < self.duty_factor < 0.95:
            raise ValueError(f"duty_factor: must be in (0.05, 0.95), got {self.duty_factor}")
        if self.speed_m_s < 0 or self.stride_m <= 0 or self.period_s <= 0 or self.fps <= 0 or self.cycles < 1:
            raise ValueError("speed_m_s >= 0, stride_m, period_s, fps > 0 and cycles >= 1 required")

    @property
    def period(self) -> float:
        """Gait cycle duration, seconds."""
        return self.stride_m / self.speed_m_s if self.speed_m_s > 0 else self.period_s


def _body_path(p: GaitParams, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ground point under the body centre ``(T, 3)`` and yaw ``(T,)`` for constant v, ω."""
    yaw = p.turn_rate_rad_s * t
    if abs(p.turn_rate_rad_s) < 1e-9:
        x, y = p.speed_m_s * t, np.zeros_like(t)
    else:
        r = p.speed_m_s / p.turn_rate_rad_s
        x, y = r * np.sin(yaw), r * (1.0 - np.cos(yaw))
    return np.stack([x, y, np.zeros_like(t)], axis=-1), yaw


def _yaw_matrix(yaw: np.ndarray) -> np.ndarray:
    return Rotation.from_euler("z", np.atleast_1d(yaw)[:, None]).as_matrix()


def _hip_offsets(sk: DogSkeleton) -> np.ndarray:
    """Body-frame shoulder/hip joint positions ``(4, 3)`` relative to the body centre."""
    out = np.zeros((4, 3))
    for leg in range(4):
        fore = _LEG_FORE[leg]
        out[leg] = [(0.5 if fore else -0.5) * sk.body_length_m,
                    _LEG_SIDES[leg] * 0.5 * (sk.shoulder_width_m if fore else sk.hip_width_m), 0.0]
    return out


def _foothold(p: GaitParams, sk: DogSkeleton, leg: int, t: np.ndarray) -> np.ndarray:
    """Ground point under leg ``leg``'s hip at times ``t`` (``(T, 3)``)."""
    ground, yaw = _body_path(p, t)
    return ground + _yaw_matrix(yaw) @ (_hip_offsets(sk)[leg] * [1.0, 1.0, 0.0])


def _feet(p: GaitParams, sk: DogSkeleton, t: np.ndarray) -> np.ndarray:
    """Toe positions ``(T, 4, 3)``: fixed in stance, smooth arcs in swing."""
    feet = np.zeros((t.size, 4, 3))
    period, duty = p.period, p.duty_factor
    for leg, phase in enumerate(GAIT_PHASES[p.gait]):
        u = t / period + phase
        k = np.floor(u)
        frac = u - k
        mid_k = (k + 0.5 * duty - phase) * period
        hold_k = _foothold(p, sk, leg, mid_k)
        hold_next = _foothold(p, sk, leg, mid_k + period)
        s = np.clip((frac - duty) / (1.0 - duty), 0.0, 1.0)
        w = (0.5 - 0.5 * np.cos(math.pi * s))[:, None]
        feet[:, leg] = (1.0 - w) * hold_k + w * hold_next
        rest = sk.fore_toe_height_m if _LEG_FORE[leg] else sk.hind_toe_height_m
        feet[:, leg, 2] = rest + p.step_height_m * np.sin(math.pi * s) ** 2  # lands with zero vertical speed
    return feet


def generate_gait(p: GaitParams, sk: DogSkeleton = DogSkeleton()) -> KeypointTrajectory:
    """All 27 dog markers for ``p.cycles`` gait cycles at ``p.fps`` (z up, x forward)."""
    n = int(round(p.cycles * p.period * p.fps)) + 1
    t = np.arange(n) / p.fps
    ground, yaw = _body_path(p, t)
    height = 0.5 * (sk.shoulder_height_m + sk.hip_height_m)
    bob = p.bob_m * np.cos(4.0 * math.pi * t / p.period) if p.gait in ("trot", "pace") else p.bob_m * np.cos(
        2.0 * math.pi * t / p.period)
    center = ground + np.stack([np.zeros(n), np.zeros(n), height + bob], axis=-1)
    pitch = p.pitch_amplitude_rad * np.sin(2.0 * math.pi * t / p.period)
    rot = Rotation.from_euler("ZY", np.stack([yaw, pitch], axis=-1)).as_matrix()
    return _markers(sk, center, rot, _feet(p, sk, t), p.fps, f"procedural:{p.gait}")


def markers_from_body_and_feet(
    sk: DogSkeleton, center: np.ndarray, rot: np.ndarray, feet: np.ndarray, fps: float, source: str
) -> KeypointTrajectory:
    """27 markers from a body centre ``(T, 3)``, body rotation ``(T, 3, 3)`` and toes ``(T, 4, 3)``."""
    return _markers(sk, center, rot, feet, fps, source)


def _markers(
    sk: DogSkeleton, center: np.ndarray, rot: np.ndarray, feet: np.ndarray, fps: float, source: str
) -> KeypointTrajectory:
    at = lambda v: center + rot @ np.asarray(v, dtype=float)  # noqa: E731 - body point -> world
    hips = [at(h) for h in _hip_offsets(sk)]
    half = 0.5 * sk.body_length_m
    pelvis = at([-half - sk.pelvis_back_m, 0.0, sk.spine_up_m])
    neck = at([half + sk.neck_forward_m, 0.0, sk.spine_up_m - sk.neck_drop_m])
    pts = {
        "pelvis": pelvis, "neck": neck,
        "spine_1": pelvis + (neck - pelvis) / 3.0, "spine_2": pelvis + 2.0 * (neck - pelvis) / 3.0,
        "head": at([half + sk.neck_forward_m + 0.1, 0.0, sk.spine_up_m + 0.15]),
        "nose": at([half + sk.neck_forward_m + 0.22, 0.0, sk.spine_up_m + 0.11]),
        "tail_1": at([-half - 0.12, 0.0, 0.02]), "tail_2": at([-half - 0.22, 0.0, -0.02]),
        "tail_3": at([-half - 0.32, 0.0, -0.08]),
    }
    for leg, (side, part) in enumerate((("right", "fore"), ("left", "fore"), ("right", "hind"), ("left", "hind"))):
        hip, toe = hips[leg], feet[:, leg]
        bend = rot @ np.array([0.06 if part == "hind" else -0.04, 0.0, 0.0])
        joint = hip
        mid = 0.5 * (joint + toe) + bend
        low = 0.2 * joint + 0.8 * toe - 0.5 * bend
        if part == "fore":
            pts[f"{side}_shoulder"], pts[f"{side}_elbow"], pts[f"{side}_wrist"] = hip, mid, low
            pts[f"{side}_fore_paw"], pts[f"{side}_fore_toe"] = 0.05 * joint + 0.95 * toe, toe
        else:
            pts[f"{side}_hip"], pts[f"{side}_knee"], pts[f"{side}_hock"] = hip, mid, low
            pts[f"{side}_hind_toe"] = toe
    return KeypointTrajectory(DOG27_NAMES, np.stack([pts[n] for n in DOG27_NAMES], axis=1), fps, source)
