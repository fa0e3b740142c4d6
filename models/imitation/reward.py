"""The motion-imitation reward: five tracking terms, each ``exp(-scale × error)``, weighted and summed.

Peng et al., RSS 2020, Sec. V-B, with the weights and scales of the public code's paper branch
(FACTS.md "Reward"):

========== ====== ===== ==========================================================================
term       weight scale error
========== ====== ===== ==========================================================================
pose       0.5    5     Σ_j (q_ref − q_sim)²
velocity   0.05   0.1   Σ_j (q̇_ref − q̇_sim)²
end eff.   0.2    40    Σ_feet ‖Δ(toe − root)_xy in each one's heading frame‖² + 3 Δ(toe z)²
root pose  0.15   20    ‖p_ref − p_sim‖² + 0.5 × angle(q_ref q_sim⁻¹)²
root vel.  0.1    2     ‖v_ref − v_sim‖² + 0.1 ‖ω_ref − ω_sim‖²
========== ====== ===== ==========================================================================

Roots are in the reference files' convention (PyBullet's base: inertial-frame position and
URDF-base quaternion, world velocities); heading frames remove each root's own heading only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from anima.controllers.spatial import quat_conjugate, quat_multiply, quat_rotate

__all__ = ["RewardConfig", "TERMS", "end_effector_error", "imitation_reward", "pose_error", "root_pose_error",
           "root_velocity_error", "velocity_error"]

TERMS = ("pose", "velocity", "end_effector", "root_pose", "root_velocity")


@dataclass(frozen=True)
class RewardConfig:
    """Weights and error scales of the five terms (paper-branch defaults)."""

    pose_weight: float = 0.5
    velocity_weight: float = 0.05
    end_effector_weight: float = 0.2
    root_pose_weight: float = 0.15
    root_velocity_weight: float = 0.1
    pose_scale: float = 5.0
    velocity_scale: float = 0.1
    end_effector_scale: float = 40.0
    end_effector_height_scale: float = 3.0
    root_pose_scale: float = 20.0
    root_velocity_scale: float = 2.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"RewardConfig.{name} must be a finite number >= 0, got {value!r}")


def pose_error(q_ref: np.ndarray, q_sim: np.ndarray) -> float:
    """Σ (q_ref − q_sim)² over joints (rad²)."""
    d = np.asarray(q_ref, dtype=float) - np.asarray(q_sim, dtype=float)
    return float(d @ d)


def velocity_error(qd_ref: np.ndarray, qd_sim: np.ndarray) -> float:
    """Σ (q̇_ref − q̇_sim)² over joints ((rad/s)²)."""
    return pose_error(qd_ref, qd_sim)


def _heading_inverse(heading: float) -> np.ndarray:
    return np.array([0.0, 0.0, -math.sin(0.5 * heading), math.cos(0.5 * heading)])


def end_effector_error(toes_ref: np.ndarray, root_ref: np.ndarray, heading_ref: float,
                       toes_sim: np.ndarray, root_sim: np.ndarray, heading_sim: float,
                       height_scale: float = 3.0) -> float:
    """Feet (F, 3) in the world: horizontal error of toe − root in each root's heading frame, plus
    ``height_scale`` × the squared error of the toes' world heights, summed over feet (m²)."""
    toes_ref, toes_sim = np.asarray(toes_ref, dtype=float), np.asarray(toes_sim, dtype=float)
    rel_ref = quat_rotate(np.broadcast_to(_heading_inverse(heading_ref), (len(toes_ref), 4)), toes_ref - root_ref)
    rel_sim = quat_rotate(np.broadcast_to(_heading_inverse(heading_sim), (len(toes_sim), 4)), toes_sim - root_sim)
    dxy = rel_ref[:, :2] - rel_sim[:, :2]
    dz = toes_ref[:, 2] - toes_sim[:, 2]
    return float(np.sum(dxy * dxy) + height_scale * np.sum(dz * dz))


def rotation_angle(q_a: np.ndarray, q_b: np.ndarray) -> float:
    """Angle (rad, in [0, π]) of the rotation q_a q_b⁻¹ between two xyzw quaternions."""
    d = quat_multiply(np.asarray(q_a, dtype=float), quat_conjugate(np.asarray(q_b, dtype=float)))
    return 2.0 * math.atan2(float(np.linalg.norm(d[:3])), abs(float(d[3])))


def root_pose_error(p_ref: np.ndarray, q_ref: np.ndarray, p_sim: np.ndarray, q_sim: np.ndarray) -> float:
    """‖Δp‖² + 0.5 × angle(q_ref q_sim⁻¹)²."""
    d = np.asarray(p_ref, dtype=float) - np.asarray(p_sim, dtype=float)
    return float(d @ d) + 0.5 * rotation_angle(q_ref, q_sim) ** 2


def root_velocity_error(v_ref: np.ndarray, w_ref: np.ndarray, v_sim: np.ndarray, w_sim: np.ndarray) -> float:
    """‖Δv‖² + 0.1 ‖Δω‖² (world axes)."""
    dv = np.asarray(v_ref, dtype=float) - np.asarray(v_sim, dtype=float)
    dw = np.asarray(w_ref, dtype=float) - np.asarray(w_sim, dtype=float)
    return float(dv @ dv) + 0.1 * float(dw @ dw)


def imitation_reward(errors: dict[str, float], config: RewardConfig = RewardConfig()) -> tuple[float, dict[str, float]]:
    """Weighted sum of ``exp(-scale × error)`` over ``TERMS``; returns (reward, per-term rewards)."""
    missing = [t for t in TERMS if t not in errors]
    if missing:
        raise ValueError(f"imitation_reward: missing error terms {missing}")
    terms = {t: math.exp(-getattr(config, f"{t}_scale") * errors[t]) for t in TERMS}
    return float(sum(getattr(config, f"{t}_weight") * r for t, r in terms.items())), terms
