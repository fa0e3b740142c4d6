"""LaikagoWorld: poses and frames, determinism, standing, IMU, latency, contacts, config file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pybullet
import pytest
from pybullet_utils.bullet_client import BulletClient

from anima import share_dir
from anima.sim_bridge.laikago_world import (CROUCH_POSE, JOINT_NAMES, STANDING_POSE, LaikagoWorld,
                                            LaikagoWorldConfig, load_laikago_world_config, motor_to_urdf,
                                            urdf_to_motor)
from anima.sim_bridge.sensors import ImuNoiseConfig, quat_multiply

KP = 220.0                                   # FACTS.md motor model: kp 220, kd 0.3 / 2.0 / 2.0
KD = np.array([0.3, 2.0, 2.0] * 4)
# Total mass from the URDF: chassis 13.715 + 4 × (hip 1.095 + upper 1.527 + lower 0.241 + toe 0.1)
TOTAL_MASS_KG = 13.715 + 4 * (1.095 + 1.527 + 0.241 + 0.1)
PERFECT_IMU = ImuNoiseConfig(0.0, 0.0, 0.0, 0.0, 0.0)


@pytest.fixture
def client():
    c = BulletClient(connection_mode=pybullet.DIRECT)
    yield c
    c.disconnect()


def hold(world: LaikagoWorld, pose: np.ndarray, steps: int) -> None:
    """PD on the exact joint state, recomputed every physics step (the original's 1 kHz PD)."""
    for _ in range(steps):
        j = world.true_joints()
        world.apply_torques(KP * (pose - j.position) - KD * j.velocity)
        world.step()


def test_standing_pose_from_motor_convention() -> None:
    # motor (0, 0.67, −1.25) per leg; URDF = (motor + (0, −0.6, 0.66)) × direction:
    # hip 0 × ±1 = 0, upper (0.67 − 0.6) × 1 = 0.07, lower (−1.25 + 0.66) × 1 = −0.59
    np.testing.assert_allclose(STANDING_POSE, [0.0, 0.07, -0.59] * 4, atol=1e-12)
    np.testing.assert_allclose(CROUCH_POSE, [0.0, 0.3, -1.14] * 4, atol=1e-12)
    # hip direction −1 on FR and RR: motor hip 0.1 -> URDF −0.1 there, +0.1 on FL and RL
    m = np.zeros(12)
    m[[0, 3, 6, 9]] = 0.1
    np.testing.assert_allclose(motor_to_urdf(m)[[0, 3, 6, 9]], [-0.1, 0.1, -0.1, 0.1])
    rng = np.random.default_rng(0)
    q = rng.uniform(-1, 1, (5, 12))
    np.testing.assert_allclose(motor_to_urdf(urdf_to_motor(q)), q, atol=1e-12)
    assert len(JOINT_NAMES) == 12 and JOINT_NAMES[4] == "FL_upper_leg_2_hip_motor_joint"


@pytest.mark.sim
def test_frames_at_the_standing_pose(client: BulletClient) -> None:
    world = LaikagoWorld(client)
    assert world.joint_names == JOINT_NAMES
    gt = world.ground_truth()
    np.testing.assert_allclose(gt.orientation_xyzw, [0, 0, 0, 1], atol=1e-12)   # body level at reset
    toes = world.foot_positions_body()                                            # FR, FL, RR, RL
    assert np.all((toes[:, 2] > -0.45) & (toes[:, 2] < -0.40))
    assert toes[0, 0] > 0 and toes[1, 0] > 0 and toes[2, 0] < 0 and toes[3, 0] < 0   # front toes ahead
    assert toes[1, 1] > 0 and toes[3, 1] > 0 and toes[0, 1] < 0 and toes[2, 1] < 0   # left toes at +y
    # lowest toe touches the ground: base height = −(toe z) + toe sphere radius 0.03
    assert gt.position[2] == pytest.approx(-toes[:, 2].min() + 0.03, abs=1e-9)
    world.reset(CROUCH_POSE)
    assert world.ground_truth().position[2] < gt.position[2] - 0.05


@pytest.mark.sim
def test_same_seed_same_trajectory_bit_for_bit() -> None:
    finals = []
    for _ in range(2):
        c = BulletClient(connection_mode=pybullet.DIRECT)
        world = LaikagoWorld(c)
        rng = np.random.default_rng(42)
        applied = world.randomize(rng)
        world.reset(rng=rng)
        torques = rng.normal(0.0, 5.0, (150, 12))
        for tau in torques:
            world.apply_torques(tau)
            world.step(2)
        gt, j, imu = world.ground_truth(), world.read_joints(), world.imu()
        finals.append((applied, np.concatenate([gt.position, gt.orientation_xyzw, gt.linear_velocity_world,
                                                j.position, j.velocity, imu.linear_acceleration])))
        c.disconnect()
    assert finals[0][0] == finals[1][0]
    np.testing.assert_array_equal(finals[0][1], finals[1][1])


@pytest.mark.sim
def test_pd_standing_holds_for_two_seconds_on_toes_only(client: BulletClient) -> None:
    world = LaikagoWorld(client)
    start = world.ground_truth().position[2]
    for _ in range(4):
        hold(world, STANDING_POSE, 500)
        assert world.non_foot_ground_contact() == []
    end = world.ground_truth()
    assert end.position[2] > start - 0.02 and end.position[2] > 0.40
    assert abs(end.orientation_xyzw[3]) > 0.999                                  # still level (< 5°)
    forces = world.foot_contact_forces()
    # at rest the toes carry the whole weight: 25.566 kg × 10 m/s² = 255.66 N
    assert forces.sum() == pytest.approx(TOTAL_MASS_KG * 10.0, rel=0.02)
    assert np.all(forces > 20.0)


@pytest.mark.sim
def test_collapse_is_reported_as_non_foot_contact(client: BulletClient) -> None:
    world = LaikagoWorld(client)
    world.step(600)                            # zero torque, no friction: the legs fold under it
    assert "chassis" in world.non_foot_ground_contact()
    knees_ok = LaikagoWorld(client, LaikagoWorldConfig(allowed_contact_links=(
        "chassis", "toeFR", "toeFL", "toeRR", "toeRL")))
    knees_ok.step(600)
    assert "chassis" not in knees_ok.non_foot_ground_contact()


@pytest.mark.sim
def test_imu_at_rest_reads_plus_g_and_level(client: BulletClient) -> None:
    world = LaikagoWorld(client)
    world.reset(rng=np.random.default_rng(7))
    hold(world, STANDING_POSE, 500)
    acc, gyro, tilt = [], [], []
    for _ in range(100):
        hold(world, STANDING_POSE, 1)
        r = world.imu()
        acc.append(r.linear_acceleration)
        gyro.append(r.angular_velocity)
        tilt.append(2 * np.arccos(min(1.0, abs(r.orientation_xyzw[3]))))
    # specific force at rest = −g = (0, 0, +10); tolerance 0.3 covers the accel bias (σ 0.05)
    # and the residual sway of the PD-held body
    np.testing.assert_allclose(np.mean(acc, axis=0), [0.0, 0.0, 10.0], atol=0.3)
    np.testing.assert_allclose(np.mean(gyro, axis=0), 0.0, atol=0.05)             # bias σ 0.01
    assert max(tilt) < 0.05                                                      # AHRS noise σ 0.005


@pytest.mark.sim
def test_imu_in_free_fall_and_spinning_without_noise(client: BulletClient) -> None:
    world = LaikagoWorld(client, LaikagoWorldConfig(imu=PERFECT_IMU))
    world.reset(base_height=2.0)
    # in free fall a = g, so the specific force a − g is 0 (the body falls with its legs, no drag)
    world.step(20)
    np.testing.assert_allclose(world.imu().linear_acceleration, 0.0, atol=0.05)
    # spin at 1 rad/s about world z while level: the body-frame gyro reads (0, 0, 1)
    world.reset(base_height=2.0)
    client.resetBaseVelocity(world.robot_id, [0, 0, 0], [0, 0, 1.0])
    world.step(1)
    np.testing.assert_allclose(world.imu().angular_velocity, [0.0, 0.0, 1.0], atol=1e-3)
    np.testing.assert_allclose(world.ground_truth().angular_velocity_body, [0.0, 0.0, 1.0], atol=1e-3)


@pytest.mark.sim
def test_imu_body_frame_when_pitched_nose_down(client: BulletClient) -> None:
    world = LaikagoWorld(client, LaikagoWorldConfig(imu=PERFECT_IMU))
    world.reset(base_height=1.0)
    # pitch +90° about y (REP-103: positive pitch turns the nose down): R_y(90°) sends body x to
    # world (0, 0, −1) and body z to world (1, 0, 0). At rest f = a − g = (0, 0, +10) in the world,
    # so in body axes f·x_body = −10, f·y_body = 0, f·z_body = 0: (−10, 0, 0).
    q = np.array([0.0, np.sin(np.pi / 4), 0.0, np.cos(np.pi / 4)])
    world.set_base_state(np.array([0.3, -0.2, 1.0]), q)      # sensor history restarts: a = 0 -> f = −g
    r = world.imu()
    np.testing.assert_allclose(r.orientation_xyzw, q, atol=1e-9)
    np.testing.assert_allclose(r.linear_acceleration, [-10.0, 0.0, 0.0], atol=1e-9)
    gt = world.ground_truth()
    np.testing.assert_allclose(gt.position, [0.3, -0.2, 1.0], atol=1e-12)
    np.testing.assert_allclose(gt.orientation_xyzw, q, atol=1e-12)


@pytest.mark.sim
def test_set_base_state_round_trips_through_ground_truth(client: BulletClient) -> None:
    world = LaikagoWorld(client)
    # yawed 30° and pitched 10°, moving and turning; what goes in comes back out of ground_truth()
    yaw = np.array([0.0, 0.0, np.sin(np.pi / 12), np.cos(np.pi / 12)])           # 30° about z
    pitch = np.array([0.0, np.sin(np.pi / 36), 0.0, np.cos(np.pi / 36)])         # 10° about y
    q = quat_multiply(yaw, pitch)
    world.set_base_state(np.array([1.0, 2.0, 0.6]), q, np.array([0.5, -0.1, 0.2]), np.array([0.3, -0.2, 1.0]))
    gt = world.ground_truth()
    np.testing.assert_allclose(gt.position, [1.0, 2.0, 0.6], atol=1e-12)
    np.testing.assert_allclose(gt.orientation_xyzw, q, atol=1e-12)
    np.testing.assert_allclose(gt.linear_velocity_world, [0.5, -0.1, 0.2], atol=1e-12)
    np.testing.assert_allclose(gt.angular_velocity_body, [0.3, -0.2, 1.0], atol=1e-12)
    qd = np.linspace(-1.0, 1.0, 12)
    world.set_joint_state(CROUCH_POSE, qd)
    j = world.read_joints()
    np.testing.assert_allclose(j.position, CROUCH_POSE, atol=1e-12)
    np.testing.assert_allclose(j.velocity, qd, atol=1e-12)
    with pytest.raises(ValueError, match="orientation_xyzw must be a unit quaternion"):
        world.set_base_state(np.zeros(3), np.array([0.0, 0.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="joint_velocities"):
        world.set_joint_state(CROUCH_POSE, np.zeros(3))


@pytest.mark.sim
def test_latency_delays_joints_and_imu(client: BulletClient) -> None:
    world = LaikagoWorld(client, LaikagoWorldConfig(imu=PERFECT_IMU, latency_s=0.003))
    assert world.latency_steps == 3
    world.reset(base_height=1.0)
    world.apply_torques(np.full(12, 2.0))
    true_q, true_orn, read_q, read_orn = [], [], [], []
    for _ in range(10):
        world.step()
        true_q.append(world.true_joints().position)
        true_orn.append(world.ground_truth().orientation_xyzw)
        read_q.append(world.read_joints().position)
        read_orn.append(world.imu().orientation_xyzw)
    # after step k (1-based) the reading is the exact state after step k − 3
    for k in range(3, 10):
        np.testing.assert_array_equal(read_q[k], true_q[k - 3])
        np.testing.assert_allclose(read_orn[k], true_orn[k - 3], atol=1e-12)
    assert not np.array_equal(read_q[9], true_q[9])


@pytest.mark.sim
def test_bad_input_raises_naming_the_argument(client: BulletClient) -> None:
    world = LaikagoWorld(client)
    with pytest.raises(ValueError, match=r"tau must have shape \(12,\)"):
        world.apply_torques(np.zeros(11))
    bad = np.zeros(12)
    bad[5] = np.nan
    with pytest.raises(ValueError, match=r"tau must be finite.*\['FL_lower_leg_2_upper_leg_joint'\]"):
        world.apply_torques(bad)
    with pytest.raises(ValueError, match="joint_positions outside the URDF limits at .*FR_lower_leg"):
        world.reset(np.array([0.0, 0.0, 0.5] * 4))
    with pytest.raises(ValueError, match="joint_positions must be 12"):
        world.reset(np.zeros(3))
    with pytest.raises(ValueError, match="base_height"):
        world.reset(base_height=-1.0)
    with pytest.raises(ValueError, match="allowed_contact_links"):
        LaikagoWorld(client, LaikagoWorldConfig(allowed_contact_links=("paw",)))


def test_shipped_yaml_matches_code_defaults() -> None:
    path = share_dir() / "config" / "sim" / "laikago_world.yaml"
    assert load_laikago_world_config(path) == LaikagoWorldConfig()
    assert load_laikago_world_config() == LaikagoWorldConfig()


def test_yaml_errors_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("imu:\n  gyro_noise_std: 0.1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"w\.yaml: imu: unknown key\(s\) \['gyro_noise_std'\]"):
        load_laikago_world_config(path)
    path.write_text("initial_height_m: 5.0\nrandomization: null\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"w\.yaml: .*initial_height_m"):
        load_laikago_world_config(path)
    path.write_text("randomization: null\nallowed_contact_links: [toeFR]\n", encoding="utf-8")
    cfg = load_laikago_world_config(path)
    assert cfg.randomization is None and cfg.allowed_contact_links == ("toeFR",)
    assert dataclasses.replace(cfg, latency_s=0.01).latency_s == 0.01
