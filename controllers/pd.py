"""Joint-space PD law and damping, batch-first (``(..., n)`` arrays broadcast).

The imitation work computes the PD torque in Python every 1 ms and applies it with torque
control: ``tau = -kp (q - q*) - kd (qd - 0)`` (Peng et al., RSS 2020, Sec. V-A; FACTS.md
"Motor model"). The same law runs here at the control rate for both training and the ROS node.
"""

from __future__ import annotations

import numpy as np


def pd_torque(q: np.ndarray, qd: np.ndarray, q_des: np.ndarray, kp: np.ndarray | float,
              kd: np.ndarray | float, qd_des: np.ndarray | float = 0.0) -> np.ndarray:
    """``tau = kp (q_des - q) + kd (qd_des - qd)``; all arguments broadcast, shape ``(..., n)``."""
    q = np.asarray(q, dtype=float)
    qd = np.asarray(qd, dtype=float)
    return np.asarray(kp, dtype=float) * (np.asarray(q_des, dtype=float) - q) + np.asarray(kd, dtype=float) * (
        np.asarray(qd_des, dtype=float) - qd
    )


def damping_torque(qd: np.ndarray, kd: np.ndarray | float) -> np.ndarray:
    """Pure damping ``tau = -kd qd`` (timeout / e-stop); non-finite ``qd`` gives 0 torque."""
    qd = np.asarray(qd, dtype=float)
    tau = -np.asarray(kd, dtype=float) * np.where(np.isfinite(qd), qd, 0.0)
    return np.asarray(tau, dtype=float)


__all__ = ["damping_torque", "pd_torque"]
