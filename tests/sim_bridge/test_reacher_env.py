"""Planar reacher world: manipulator-equation accelerations by hand, energy, gymnasium API."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from anima.sim_bridge.envs import make_env
from anima.sim_bridge.envs.planar_reacher import PlanarReacherWorld, ReacherConfig


def test_accelerations_match_hand_computation() -> None:
    # l = 0.1, m = 0.1, rods: I = m l^2 / 12 = 8.333e-5, lc = 0.05. At q2 = 0, qd = 0, tau = (0.01, 0):
    # M11 = 0.1*0.0025 + I + 0.1*(0.01 + 0.0025 + 2*0.1*0.05) + I = 0.0026667
    # M12 = 0.1*(0.0025 + 0.005) + I = 0.00083333; M22 = 0.1*0.0025 + I = 0.00033333
    # det = M11 M22 - M12^2 = 1.9444e-7; qdd = (M22 tau1, -M12 tau1) / det = (17.143, -42.857)
    world = PlanarReacherWorld(ReacherConfig())
    qdd = world.accelerations(np.zeros(2), np.zeros(2), np.array([0.01, 0.0]))
    np.testing.assert_allclose(qdd, [17.142857, -42.857143], rtol=1e-5)


def test_armature_adds_a_rotor_inertia_to_each_joint() -> None:
    # armature 0.01 kg m^2 on both joints, same pose and torque: M11 = 0.0126667, M22 = 0.0103333, M12 unchanged
    # det = 1.30194e-4; qdd = (M22 tau1, -M12 tau1) / det = (0.79369, -0.064007): the joints nearly decouple
    world = PlanarReacherWorld(ReacherConfig(armature=0.01))
    qdd = world.accelerations(np.zeros(2), np.zeros(2), np.array([0.01, 0.0]))
    np.testing.assert_allclose(qdd, [0.793686, -0.0640068], rtol=1e-5)
    with pytest.raises(ValueError, match="armature"):
        ReacherConfig(armature=-0.01)


def test_energy_conserved_without_damping_or_torque() -> None:
    world = PlanarReacherWorld(ReacherConfig(damping=0.0))
    world.reset(np.array([0.3, 0.7]), np.array([2.0, -1.0]))

    def energy() -> float:  # 1/2 qd^T M qd with M from the accelerations under unit torques
        m_inv = np.stack([world.accelerations(world.q, np.zeros(2), e) for e in np.eye(2)], axis=1)
        return 0.5 * world.qd @ np.linalg.solve(m_inv, world.qd)

    e0 = energy()
    for _ in range(20):
        world.step(np.zeros(2))
    assert energy() == pytest.approx(e0, rel=0.02)


def test_env_api_and_bad_action() -> None:
    env = make_env("reacher")
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert obs.shape == (6,) and info["target"].shape == (2,)
    assert env.render().shape == (240, 240, 3)
    with pytest.raises(ValueError, match="action must be 2 finite values"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="unknown environment"):
        make_env("valve")
    with pytest.raises(ValueError, match="no options are supported"):
        env.reset(seed=3, options={"task": "cw"})  # e.g. rollout_tasks on the reacher
