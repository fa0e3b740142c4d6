"""PD law and damping against hand-computed values."""

import numpy as np
import pytest

from anima.controllers.pd import damping_torque, pd_torque


def test_pd_torque_hand_values() -> None:
    # Laikago gains: kp 220; kd 0.3 / 2.0.
    # joint 0: 220*(0.1-0.0) + 0.3*(0-1.0) = 22 - 0.3 = 21.7
    # joint 1: 220*(0.5-0.7) + 2.0*(0-(-0.5)) = -44 + 1 = -43
    tau = pd_torque(q=[0.0, 0.7], qd=[1.0, -0.5], q_des=[0.1, 0.5], kp=220.0, kd=[0.3, 2.0])
    np.testing.assert_allclose(tau, [21.7, -43.0], atol=1e-12)


def test_pd_torque_with_desired_velocity_and_batch() -> None:
    # kp 10, kd 1: 10*(1-0) + 1*(2-0.5) = 11.5 ; second row: 10*(0-1) + 1*(0-0) = -10
    q = np.array([[0.0], [1.0]])
    qd = np.array([[0.5], [0.0]])
    tau = pd_torque(q, qd, q_des=np.array([[1.0], [0.0]]), kp=10.0, kd=1.0, qd_des=np.array([[2.0], [0.0]]))
    assert tau.shape == (2, 1)
    np.testing.assert_allclose(tau[:, 0], [11.5, -10.0])


def test_damping_torque_opposes_velocity_and_ignores_nan() -> None:
    # -2 * 1.5 = -3 ; -2 * -0.5 = 1 ; NaN velocity -> 0 torque (never NaN)
    tau = damping_torque(np.array([1.5, -0.5, np.nan]), 2.0)
    np.testing.assert_allclose(tau, [-3.0, 1.0, 0.0])


@pytest.mark.parametrize("kp", [0.0, 50.0])
def test_pd_zero_error_zero_torque(kp: float) -> None:
    assert np.all(pd_torque(np.ones(3), np.zeros(3), np.ones(3), kp, 1.0) == 0.0)
