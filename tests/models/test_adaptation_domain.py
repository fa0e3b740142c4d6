"""Held-out target domains (config/adaptation/*.yaml): loading, refusals naming the key, application."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anima import share_dir
from anima.models.adaptation.domain import TargetDomain, load_domain
from anima.sim_bridge.randomization import RandomizationRanges

SHIPPED = sorted((share_dir() / "config" / "adaptation").glob("*.yaml"))


def test_shipped_domains_load_two_inside_and_two_outside_the_training_ranges() -> None:
    domains = [load_domain(p) for p in SHIPPED]
    ranges = RandomizationRanges()
    inside = [d.name for d in domains if not d.outside(ranges)]
    outside = [d.name for d in domains if d.outside(ranges)]
    assert len(inside) >= 2 and len(outside) >= 2, (inside, outside)
    assert {p.stem for p in SHIPPED} == {d.name for d in domains}
    assert load_domain("out_weak_motors").motor_strength_scale == 0.65  # by shipped name


@pytest.mark.parametrize("text, key", [
    ("mass_scale: 1.0\nmass_scael: 1.2\n", "mass_scael"),          # unknown key
    ("mass_scale: -1.2\n", "mass_scale"),                          # negative mass
    ("foot_friction: -0.3\n", "foot_friction"),                    # negative friction
    ("joint_friction_nm: -0.01\n", "joint_friction_nm"),
    ("trunk_payload_kg: -2\n", "trunk_payload_kg"),
    ("latency_s: fast\n", "latency_s"),                            # wrong type
])
def test_bad_domain_file_is_refused_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=key) as err:
        load_domain(path)
    assert str(path) in str(err.value)


def test_unknown_domain_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ValueError, match="out_weak_motors"):
        load_domain("no_such_domain")


def test_params_put_the_payload_on_the_base_and_scale_every_link() -> None:
    masses = np.array([10.0, 1.0, 2.0])
    p = TargetDomain(mass_scale=1.3, trunk_payload_kg=5.0, foot_friction=0.35, latency_s=0.045).params(masses, 12)
    # base: 1.3 + 5 / 10 = 1.8 -> 18 kg = 13 kg scaled + 5 kg payload
    np.testing.assert_allclose(p.mass_scale, [1.8, 1.3, 1.3])
    assert p.foot_friction == 0.35 and p.latency_s == 0.045 and p.motor_strength_scale.shape == (12,)


def test_env_applies_a_domain_and_refuses_it_with_randomization() -> None:
    from anima.sim_bridge.envs.laikago_imitation import LaikagoImitationEnv

    env = LaikagoImitationEnv(profile="training", episode_steps=2, domain="out_payload_latency")
    try:
        masses = env.world.nominal_link_masses
        base = env.client.getDynamicsInfo(env.world.robot_id, -1)[0]
        assert abs(base - (masses[0] + 5.0)) < 1e-9  # the 5 kg payload on the trunk
        assert env.world.latency_steps == round(0.045 / env.world.physics_dt)
        _, info = env.reset(seed=0)
        assert np.all(info["dynamics_mu"] == 0)  # no randomization: μ is not known to the policy
    finally:
        env.close()
    with pytest.raises(ValueError, match="exclude"):
        LaikagoImitationEnv(profile="training", randomize=True, domain="out_weak_motors")
