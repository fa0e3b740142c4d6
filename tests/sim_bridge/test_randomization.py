"""Domain randomization: seeded sampling within the ranges, and application without compounding."""

from __future__ import annotations

import numpy as np
import pybullet
import pytest
from pybullet_utils.bullet_client import BulletClient

from anima.sim_bridge.laikago_world import LaikagoWorld, LaikagoWorldConfig
from anima.sim_bridge.randomization import RandomizationParams, apply, sample
from anima.sim_bridge.world import RandomizationRanges


@pytest.fixture
def world():
    client = BulletClient(connection_mode=pybullet.DIRECT)
    yield LaikagoWorld(client)
    client.disconnect()


def test_same_seed_same_params_and_ranges_respected() -> None:
    ranges = RandomizationRanges()
    a = sample(ranges, np.random.default_rng(5), n_links=17, n_joints=12)
    b = sample(ranges, np.random.default_rng(5), n_links=17, n_joints=12)
    assert a.as_dict() == b.as_dict()
    c = sample(ranges, np.random.default_rng(6), n_links=17, n_joints=12)
    assert a.as_dict() != c.as_dict()
    many = sample(ranges, np.random.default_rng(0), n_links=5000, n_joints=5000)
    for name, (lo, hi) in (("mass_scale", (0.8, 1.2)), ("inertia_scale", (0.5, 1.5)),
                           ("motor_strength_scale", (0.8, 1.2)), ("joint_friction_nm", (0.0, 0.05))):
        values = getattr(many, name)
        assert values.min() >= lo and values.max() <= hi, name
        # 5000 uniform draws cover the range: expected gap at each end (hi − lo)/5001 ≪ 2 %
        assert values.min() < lo + 0.02 * (hi - lo) and values.max() > hi - 0.02 * (hi - lo), name
    assert a.mass_scale.shape == (17,) and a.motor_strength_scale.shape == (12,)
    assert 0.5 <= a.foot_friction <= 1.25 and 0.0 <= a.latency_s <= 0.04
    assert a.joint_damping_nms.shape == (12,) and np.all((0.0 <= a.joint_damping_nms) & (a.joint_damping_nms <= 0.05))


def test_disabled_parameters_stay_nominal() -> None:
    assert sample(None, np.random.default_rng(0), 17, 12) == RandomizationParams()
    p = sample(RandomizationRanges(mass_scale=None, latency_s=None), np.random.default_rng(0), 17, 12)
    assert p.mass_scale is None and p.latency_s is None and p.inertia_scale is not None
    with pytest.raises(ValueError, match="n_links"):
        sample(RandomizationRanges(), np.random.default_rng(0), 0, 12)


@pytest.mark.sim
def test_apply_sets_scaled_nominal_values(world: LaikagoWorld) -> None:
    c, body = world.client, world.robot_id
    nominal_mass = world.nominal_link_masses
    nominal_inertia = np.array([c.getDynamicsInfo(body, j)[2] for j in range(-1, 16)])
    applied = world.randomize(np.random.default_rng(1))
    mass = np.array([c.getDynamicsInfo(body, j)[0] for j in range(-1, 16)])
    inertia = np.array([c.getDynamicsInfo(body, j)[2] for j in range(-1, 16)])
    np.testing.assert_allclose(mass, nominal_mass * np.array(applied["mass_scale"]), rtol=1e-12)
    np.testing.assert_allclose(inertia, nominal_inertia * np.array(applied["inertia_scale"])[:, None], rtol=1e-12)
    toe_friction = [c.getDynamicsInfo(body, j)[1] for j in (3, 7, 11, 15)]       # toe link indices
    assert toe_friction == pytest.approx([applied["foot_friction"]] * 4)
    np.testing.assert_allclose(world.motor_strength, applied["motor_strength_scale"])
    np.testing.assert_allclose(world.joint_friction_nm, applied["joint_friction_nm"])
    assert world.latency_steps == round(applied["latency_s"] / 0.001)


@pytest.mark.sim
def test_repeated_randomization_does_not_compound(world: LaikagoWorld) -> None:
    c, body = world.client, world.robot_id
    rng = np.random.default_rng(2)
    for _ in range(5):
        last = world.randomize(rng)
    # after five draws the chassis mass is nominal × the last scale only (13.715 kg from the URDF)
    assert c.getDynamicsInfo(body, -1)[0] == pytest.approx(13.715 * last["mass_scale"][0], rel=1e-12)
    apply(world, RandomizationParams())                   # all None: back to nominal
    assert c.getDynamicsInfo(body, -1)[0] == pytest.approx(13.715, rel=1e-12)
    assert c.getDynamicsInfo(body, 3)[1] == 1.0           # toe lateral_friction 1.0 in the URDF
    assert world.latency_steps == 0 and world.motor_strength.tolist() == [1.0] * 12
    assert world.joint_friction_nm.tolist() == [0.0] * 12


@pytest.mark.sim
def test_randomize_without_ranges_restores_nominal() -> None:
    client = BulletClient(connection_mode=pybullet.DIRECT)
    try:
        world = LaikagoWorld(client, LaikagoWorldConfig(randomization=None, latency_s=0.002))
        world.set_mass_scale(2.0)
        world.set_latency(0.01)
        applied = world.randomize(np.random.default_rng(0))
        assert set(applied.values()) == {None}
        assert client.getDynamicsInfo(world.robot_id, -1)[0] == pytest.approx(13.715)
        assert world.latency_steps == 2                   # the config's nominal 0.002 s
    finally:
        client.disconnect()


@pytest.mark.sim
def test_bad_scale_shape_is_rejected(world: LaikagoWorld) -> None:
    with pytest.raises(ValueError, match=r"mass_scale must be a scalar or shape \(17,\)"):
        world.set_mass_scale(np.ones(12))
    with pytest.raises(ValueError, match="motor_strength_scale"):
        world.set_motor_strength(np.full(12, np.nan))
