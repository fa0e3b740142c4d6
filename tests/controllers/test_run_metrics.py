"""RunMetrics: stance check, estimator RMSE and e-stop damping check on synthetic samples."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.run_metrics import RunCheckConfig, RunMetrics, failed_checks, standing_judged


def _metrics(**kw) -> RunMetrics:
    return RunMetrics(RunCheckConfig(settle_s=1.0, height_band_m=(0.3, 0.6), **kw))


def test_rmse_and_stance() -> None:
    m = _metrics()
    for k in range(1, 301):
        t = k * 0.01
        m.add_ground_truth(t, 0.45)
        # constant error of (0.03, 0.04, 0) -> |e| = 0.05 m/s exactly
        m.add_velocity_pair(t, np.array([0.03, 0.04, 0.0]), np.zeros(3))
    r = m.report()
    assert r["stood"] is True
    assert r["estimator_velocity_rmse_mps"] == pytest.approx(0.05)
    assert r["rates_hz"]["sim/ground_truth/odom"] == pytest.approx(100.0, rel=0.01)


def test_fall_or_contact_fails_stance() -> None:
    m = _metrics()
    for k in range(1, 301):
        m.add_ground_truth(k * 0.01, 0.45 if k < 200 else 0.2)
    assert m.report()["stood"] is False
    m2 = _metrics()
    for k in range(1, 301):
        m2.add_ground_truth(k * 0.01, 0.45)
    m2.add_contacts(2.0, "FR_upper_leg")
    assert m2.report()["stood"] is False
    assert m2.report()["non_foot_contacts_after_settle"] == ["FR_upper_leg"]


def test_estop_residual_is_zero_for_pure_damping() -> None:
    kd = (2.0, 3.0)
    m = _metrics(estop_at_s=1.0, damping_kd=kd)
    m.estop_accepted = True
    qd = np.array([0.5, -1.0])
    m.add_command(1.5, -np.array(kd) * qd, qd)  # tau = -kd qd exactly
    m.add_command(1.6, np.array([1.0, 3.0]), qd)  # residual |1 + 1| = 2, |3 - 3| = 0 -> 2
    r = m.report()
    assert r["estop_damping_samples"] == 2
    assert r["estop_damping_residual_nm_max"] == pytest.approx(2.0)


def test_rmse_window_ends_at_the_estop() -> None:
    m = _metrics(estop_at_s=2.0)
    for k in range(1, 301):
        t = k * 0.01
        m.add_ground_truth(t, 0.45)
        err = 0.05 if t < 2.0 else 1.0  # the estimator may lose track while the robot collapses
        m.add_velocity_pair(t, np.array([err, 0.0, 0.0]), np.zeros(3))
    r = m.report()
    assert r["estimator_velocity_rmse_mps"] == pytest.approx(0.05)
    assert r["estimator_velocity_rmse_mps_after_estop"] == pytest.approx(1.0)  # t = 2.00 .. 3.00: all 1.0


def test_failed_checks_name_what_failed() -> None:
    from anima.controllers.run_metrics import failed_checks

    assert failed_checks({"stood": True}) == []
    assert failed_checks({"stood": True, "estop_accepted": True}) == []
    fell = failed_checks({"stood": False, "base_height_m_min": 0.1, "base_height_m_max": 0.5, "non_foot_contacts_after_settle": ["FR_lower"]})
    assert len(fell) == 1 and "did not stand" in fell[0] and "FR_lower" in fell[0]
    assert failed_checks({"stood": True, "estop_accepted": None}) == ["emergency_stop was not accepted (None)"]
    hung = failed_checks({"stood": False, "failure": "joint_commands silent"})
    assert hung[0] == "joint_commands silent" and "did not stand" in hung[1]


def test_standing_is_not_judged_before_the_settle_window() -> None:
    from anima.controllers.run_metrics import RunCheckConfig, failed_checks

    config = RunCheckConfig(settle_s=2.5, height_band_m=(0.3, 0.6), estop_at_s=-1.0, damping_kd=(1.0,))
    assert failed_checks({"stood": False, "sim_time_s": 2.0}, config) == []  # a 2 s run ends before settling
    assert len(failed_checks({"stood": False, "sim_time_s": 3.0}, config)) == 1
    early_estop = RunCheckConfig(settle_s=2.5, height_band_m=(0.3, 0.6), estop_at_s=1.0, damping_kd=(1.0,))
    assert failed_checks({"stood": False, "sim_time_s": 3.0, "estop_accepted": True}, early_estop) == []


def test_whole_run_height_range_includes_the_start_up() -> None:
    # a slump to 0.1 m and a throw to 0.9 m before settle_s are outside the stance window but
    # appear in the whole-run range
    m = _metrics()
    for k, z in enumerate([0.35, 0.1, 0.9] + [0.45] * 300):
        m.add_ground_truth(k * 0.01, z)
    r = m.report()
    assert r["stood"] is True
    assert (r["base_height_m_min_all"], r["base_height_m_max_all"]) == (0.1, 0.9)


def _late_stand_up(m: RunMetrics, first_target_s: float) -> None:
    """Crouched (0.355 m, a lower leg on the ground) until the first target, standing (0.45 m) 1.5 s after it."""
    for k in range(1, 801):
        t = k * 0.01
        if t >= first_target_s and m.t_commanded is None:
            m.add_target(t)
        m.add_ground_truth(t, 0.45 if t >= first_target_s + 1.5 else 0.355)
        if t < first_target_s + 1.0:
            m.add_contacts(t, "RL_lower_leg")


def test_the_standing_window_can_start_at_the_first_joint_targets() -> None:
    # the CI flake: the policy node commanded the robot 1.8 s after the start; counted from the
    # start, the window (from 2.5 s) caught the stand-up; counted from the first target, it does not
    start = RunMetrics(RunCheckConfig(settle_s=2.5, height_band_m=(0.3, 0.6)))
    _late_stand_up(start, 1.8)
    assert start.report()["stood"] is False
    first = RunMetrics(RunCheckConfig(settle_s=2.5, height_band_m=(0.3, 0.6), settle_from="first_target"))
    _late_stand_up(first, 1.8)
    r = first.report()
    assert r["stood"] is True and r["first_target_s"] == pytest.approx(1.8) and r["standing_from_s"] == pytest.approx(4.3)
    assert r["base_height_m_min"] == pytest.approx(0.45) and r["non_foot_contacts_after_settle"] == []
    assert failed_checks(r, first.config) == []
    # a robot that never stands after being commanded still fails
    slumped = RunMetrics(RunCheckConfig(settle_s=2.5, height_band_m=(0.3, 0.6), settle_from="first_target"))
    _late_stand_up(slumped, 1.8)
    slumped.add_ground_truth(7.0, 0.2)
    assert slumped.report()["stood"] is False and failed_checks(slumped.report(), slumped.config)


def test_a_run_that_nothing_commanded_fails_with_first_target_settling() -> None:
    config = RunCheckConfig(settle_s=2.5, height_band_m=(0.3, 0.6), settle_from="first_target")
    m = RunMetrics(config)
    for k in range(1, 601):
        m.add_ground_truth(k * 0.01, 0.355)
    r = m.report()
    assert r["stood"] is False and r["first_target_s"] is None
    assert standing_judged(r, config)
    assert failed_checks(r, config) == ["no joint_targets heard in 6.0 s of sim time: nothing commanded the robot"]
    with pytest.raises(ValueError, match="settle_from must be one of"):
        RunCheckConfig(settle_from="later")
