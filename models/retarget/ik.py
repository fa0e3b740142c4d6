"""Batched damped-least-squares inverse kinematics for the feet of a legged robot.

Peng et al., RSS 2020, Sec. IV-A solve IK for the robot's toe positions every frame so that
they track the (scaled) animal's feet. Here each leg (3 joints, 3D foot target) is solved by
Levenberg-Marquardt steps with a small pull towards a nominal pose, which selects the knee
branch; angles are clamped to the joint limits after every step. Everything is batched over
``(B, L)``: B configurations and L legs at once, using the analytic Jacobians of
:class:`~anima.controllers.leg_kinematics.LegKinematics`.
"""

from __future__ import annotations

import numpy as np

from anima.controllers.leg_kinematics import LegKinematics
from anima.models.retarget.config import IkConfig


def solve_feet_ik(
    kin: LegKinematics,
    targets_body: np.ndarray,
    q_init: np.ndarray,
    q_nominal: np.ndarray,
    cfg: IkConfig = IkConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """Joint angles putting the feet at ``targets_body (B, L, 3)`` (body frame).

    Each step solves ``(JᵀJ + (λ² + w²) I) Δq = Jᵀ e + w² (q_nom - q)`` per leg, the normal
    equations of ``|e - J Δq|² + λ²|Δq|² + w²|q_nom - q - Δq|²``.

    Returns ``q (B, 3L)`` and the remaining foot position error ``(B, L)`` in metres.
    """
    targets = np.asarray(targets_body, dtype=float)
    batch, legs = targets.shape[:2]
    q = kin.clip(np.broadcast_to(np.asarray(q_init, dtype=float), (batch, 3 * legs)).copy())
    q_nom = np.asarray(q_nominal, dtype=float).reshape(legs, 3)
    reg = (cfg.damping**2 + cfg.nominal_weight**2) * np.eye(3)
    w2 = cfg.nominal_weight**2
    for _ in range(cfg.iterations):
        foot, jac = kin.foot_positions_and_jacobians(q)
        err = targets - foot
        if np.max(np.abs(err)) < cfg.tolerance_m:
            break
        jt = np.swapaxes(jac, -1, -2)
        rhs = np.einsum("blij,blj->bli", jt, err) + w2 * (q_nom - q.reshape(batch, legs, 3))
        dq = np.linalg.solve(jt @ jac + reg, rhs[..., None])[..., 0]
        q = kin.clip(q + dq.reshape(batch, 3 * legs))
    foot = kin.foot_positions(q)
    return q, np.linalg.norm(targets - foot, axis=-1)


def solve_sequence_ik(
    kin: LegKinematics,
    targets_body: np.ndarray,
    q_nominal: np.ndarray,
    cfg: IkConfig = IkConfig(),
    q_start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """IK along a trajectory ``targets_body (N, L, 3)``, warm-started frame to frame.

    Frames are solved in chunks of ``cfg.chunk_frames`` (1 = strictly sequential); each chunk
    starts from the last solution of the previous chunk (the first from ``q_start`` or the
    nominal pose), which keeps the knee branch continuous and is vectorised within a chunk.
    Returns ``q (N, 3L)`` and the foot errors ``(N, L)``.
    """
    targets = np.asarray(targets_body, dtype=float)
    n = targets.shape[0]
    q_prev = np.asarray(q_nominal if q_start is None else q_start, dtype=float)
    qs, errs = [], []
    for a in range(0, n, cfg.chunk_frames):
        q, err = solve_feet_ik(kin, targets[a:a + cfg.chunk_frames], q_prev, q_nominal, cfg)
        qs.append(q)
        errs.append(err)
        q_prev = q[-1]
    return np.concatenate(qs), np.concatenate(errs)
