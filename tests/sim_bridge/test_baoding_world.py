"""BaodingWorld: hand model, coupling, balls resting under PD, drops, randomization, config errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pybullet
import pytest
from pybullet_utils.bullet_client import BulletClient

from anima.controllers.command_path import JointCommandPath
from anima.controllers.robot_config import load_robot_config
from anima.sim_bridge.baoding_world import BaodingRandomization, BaodingWorld, BaodingWorldConfig, load_baoding_config

pytestmark = pytest.mark.sim


@pytest.fixture
def world():
    client = BulletClient(connection_mode=pybullet.DIRECT)
    yield BaodingWorld(client, load_baoding_config())
    client.disconnect()


def _controlled(world: BaodingWorld) -> tuple[JointCommandPath, np.ndarray]:
    cfg = load_robot_config("shadowhand")
    path = JointCommandPath(cfg)
    path.reset(world.read_joints().position)
    return path, cfg.standing_pose


def test_joints_match_robot_config(world) -> None:
    cfg = load_robot_config("shadowhand")
    assert world.joint_names == cfg.joint_names and world.n_joints == 24
    assert world.physics_dt == pytest.approx(0.002)  # 500 Hz physics


def test_palm_faces_up_and_balls_start_on_it(world) -> None:
    # Palm normal is -y of the palm link; mounted palm up it must point (mostly) along world +z.
    _, y_palm, _ = world._palm_axes()
    assert -y_palm[2] > 0.95
    surface = world.palm_surface_position()
    np.testing.assert_allclose(surface, [0.0, 0.0, 0.2], atol=1e-6)  # config palm_position_m
    pos = world.ball_states().position
    # Each ball centre sits one radius (+1 mm clearance) above the palm plane.
    height = (pos - surface) @ -y_palm
    np.testing.assert_allclose(height, 0.023, atol=1e-6)


def test_distal_joint_follows_middle_joint(world) -> None:
    path, rest = _controlled(world)
    target = rest.copy()
    i1, i0 = world.joint_names.index("FFJ1"), world.joint_names.index("FFJ0")
    target[i1], target[i0] = 1.2, 0.0  # conflicting targets: the gear must keep q0 = q1
    world.run_targets(path, target, 1.0)
    q = world.read_joints().position
    assert abs(q[i0] - q[i1]) < 0.01
    assert q[i1] > 0.4  # and the finger still moved towards the middle-joint target


@pytest.mark.slow
def test_balls_rest_in_still_palm_for_60s(world) -> None:
    path, rest = _controlled(world)
    start = None
    for k in range(600):  # 600 x 0.1 s = 60 s at the 10 Hz target rate
        world.run_targets(path, rest, 0.1)
        if k == 20:
            start = world.ball_states().position.copy()  # after the first 2 s of settling
        assert not world.balls_dropped().any(), f"ball dropped at t = {k / 10:.1f} s"
    end = world.ball_states()
    # Resting: still in the palm region and not creeping (under 5 mm over the last 58 s).
    assert np.linalg.norm(end.position - start, axis=1).max() < 0.005
    assert np.linalg.norm(end.linear_velocity, axis=1).max() < 0.01
    assert np.linalg.norm(end.position[:, :2] - world.palm_surface_position()[:2], axis=1).max() < 0.11


def test_drop_detection(world) -> None:
    assert not world.balls_dropped().any()
    c = world.client
    c.resetBasePositionAndOrientation(world.ball_ids[1], [0.3, 0.3, 0.12], [0, 0, 0, 1])
    # 0.2 - 0.12 = 0.08 m below the palm centre > drop_depth_m = 0.05.
    assert world.balls_dropped().tolist() == [False, True]
    world.reset()
    assert not world.balls_dropped().any()


def test_randomization_is_reproducible_and_in_range() -> None:
    cfg = dataclasses.replace(load_baoding_config(), dr=BaodingRandomization())
    out = []
    for _ in range(2):
        client = BulletClient(connection_mode=pybullet.DIRECT)
        w = BaodingWorld(client, cfg)
        out.append(w.randomize(np.random.default_rng(7)))
        mass = client.getDynamicsInfo(w.ball_ids[0], -1)[0]
        client.disconnect()
    a, b = out
    np.testing.assert_array_equal(a["ball_mass_kg"], b["ball_mass_kg"])
    assert mass == pytest.approx(a["ball_mass_kg"][0])
    assert np.all((a["ball_mass_kg"] >= 0.035) & (a["ball_mass_kg"] <= 0.045))
    assert 0.0 <= a["camera_latency_s"] <= 0.04
    assert np.abs(a["camera_position_offset_m"]).max() <= 0.002


def test_randomize_without_ranges_restores_nominal() -> None:
    client = BulletClient(connection_mode=pybullet.DIRECT)
    world = BaodingWorld(client, dataclasses.replace(load_baoding_config(), dr=None))
    params = world.randomize(np.random.default_rng(0))
    client.disconnect()
    assert params["camera_latency_s"] == 0.0
    np.testing.assert_allclose(params["ball_mass_kg"], 0.04)


def test_bad_config_names_the_key(tmp_path) -> None:
    bad = tmp_path / "w.yaml"
    bad.write_text("ball_radius_m: 0.5\n")
    with pytest.raises(ValueError, match="ball_radius_m"):
        load_baoding_config(bad)
    bad.write_text("camera: {width_px: -3}\n")
    with pytest.raises(ValueError, match="width_px"):
        load_baoding_config(bad)
    with pytest.raises(ValueError, match="ball_start_in_palm_m"):
        BaodingWorldConfig(ball_start_in_palm_m=((0.0, 0.0),))
