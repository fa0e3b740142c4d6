"""The generic ``World`` base, on a one-joint rotor whose motion is known in closed form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet
import pytest
from pybullet_utils.bullet_client import BulletClient

from anima.sim_bridge.world import (RandomizationRanges, World, WorldConfig, config_from_mapping,
                                    load_yaml_config)

# A fixed base and a rotor turning about the vertical z axis (gravity does no work on it), with its
# centre of mass on the axis: I_zz = 0.01 kg·m², so a torque τ gives α = τ / 0.01.
ROTOR_URDF = """<?xml version="1.0"?>
<robot name="rotor_rig">
  <link name="stand">
    <inertial><mass value="1.0"/><inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial>
  </link>
  <link name="rotor">
    <inertial><mass value="1.0"/><inertia ixx="0.01" ixy="0" ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial>
  </link>
  <joint name="spin" type="continuous">
    <parent link="stand"/><child link="rotor"/><axis xyz="0 0 1"/><origin xyz="0 0 0.5"/>
  </joint>
</robot>
"""


class RotorWorld(World):
    """Minimal concrete world: the rotor rig, no damping, the rotor counted as the 'foot'."""

    def __init__(self, client: BulletClient, config: WorldConfig, urdf: Path) -> None:
        super().__init__(client, config)
        body = client.loadURDF(str(urdf), useFixedBase=True, flags=pybullet.URDF_USE_INERTIA_FROM_FILE)
        for link in (-1, 0):
            client.changeDynamics(body, link, linearDamping=0.0, angularDamping=0.0)
        self._bind_robot(body, foot_links=("rotor",))
        self.reset()

    def reset(self, joint_positions: np.ndarray | None = None, rng: np.random.Generator | None = None) -> None:
        self._reset_joint_states(np.zeros(1) if joint_positions is None else joint_positions)
        self._sync_sensors()


@pytest.fixture
def rotor(tmp_path: Path):
    urdf = tmp_path / "rotor.urdf"
    urdf.write_text(ROTOR_URDF, encoding="utf-8")
    client = BulletClient(connection_mode=pybullet.DIRECT)
    world = RotorWorld(client, WorldConfig(physics_dt=0.001), urdf)
    yield world
    client.disconnect()


def rotor_angle(tau: float, n: int, dt: float = 0.001, inertia: float = 0.01) -> float:
    """Semi-implicit Euler from rest: ω_k = k·α·dt, θ_n = Σ_{k=1..n} ω_k·dt = α·dt²·n(n+1)/2."""
    return tau / inertia * dt**2 * n * (n + 1) / 2


@pytest.mark.sim
def test_held_torque_turns_rotor_as_derived(rotor: RotorWorld) -> None:
    assert rotor.joint_names == ("spin",)
    rotor.apply_torques(np.array([0.02]))
    rotor.step(100)
    # α = 0.02 / 0.01 = 2 rad/s²: θ = 2 · 1e-6 · 100·101/2 = 0.0101 rad, ω = 100 · 2 · 1e-3 = 0.2 rad/s
    j = rotor.read_joints()
    assert j.position[0] == pytest.approx(rotor_angle(0.02, 100), rel=1e-3)
    assert j.velocity[0] == pytest.approx(0.2, rel=1e-3)
    assert j.effort.tolist() == [0.02]
    assert rotor.time_s == pytest.approx(0.1)


@pytest.mark.sim
def test_motor_strength_scales_torque_and_effort(rotor: RotorWorld) -> None:
    rotor.set_motor_strength(0.5)
    rotor.apply_torques(np.array([0.02]))
    assert rotor.read_joints().effort.tolist() == [0.0]     # nothing applied before the first step
    rotor.step(100)
    j = rotor.read_joints()
    # half strength: 0.01 N·m applied, θ = 0.0101 / 2
    assert j.effort.tolist() == [0.01]
    assert j.position[0] == pytest.approx(rotor_angle(0.01, 100), rel=1e-3)


@pytest.mark.sim
def test_joint_friction_holds_small_torque_and_resists_large(rotor: RotorWorld) -> None:
    rotor.set_joint_friction(0.05)
    rotor.apply_torques(np.array([0.04]))                  # below the 0.05 N·m friction: stuck
    rotor.step(100)
    assert abs(rotor.read_joints().position[0]) < 1e-6
    rotor.reset()
    rotor.apply_torques(np.array([0.1]))                   # net 0.1 - 0.05 = 0.05 N·m
    rotor.step(100)
    assert rotor.read_joints().position[0] == pytest.approx(rotor_angle(0.05, 100), rel=0.05)


@pytest.mark.sim
def test_joint_damping_decays_spin_and_none_restores_urdf_value(rotor: RotorWorld) -> None:
    rotor.set_joint_damping(0.01)
    rotor.client.resetJointState(rotor.robot_id, 0, 0.0, targetVelocity=1.0)
    rotor.step(100)
    # explicit viscous damping: ω_n = ω_0 (1 − b·dt/I)^n = (1 − 0.01·0.001/0.01)^100 = 0.999^100 = 0.904792
    assert rotor.true_joints().velocity[0] == pytest.approx(0.999**100, rel=1e-4)
    rotor.set_joint_damping(None)                          # the URDF declares no damping
    rotor.reset()
    rotor.client.resetJointState(rotor.robot_id, 0, 0.0, targetVelocity=1.0)
    rotor.step(100)
    assert rotor.true_joints().velocity[0] == pytest.approx(1.0, rel=1e-9)


@pytest.mark.sim
def test_latency_delays_joint_readings_by_whole_steps(rotor: RotorWorld) -> None:
    rotor.set_latency(0.0049)                              # rounds to 5 steps of 1 ms
    assert rotor.latency_steps == 5
    rotor.apply_torques(np.array([0.02]))
    truth = [rotor.true_joints().position[0]]
    reads = [rotor.read_joints().position[0]]
    for _ in range(20):
        rotor.step()
        truth.append(rotor.true_joints().position[0])
        reads.append(rotor.read_joints().position[0])
    # the first 5 readings after the reset repeat the reset state, then reading k = truth k - 5
    assert reads[:6] == [0.0] * 6
    assert reads[5:] == truth[:-5]


@pytest.mark.sim
def test_reset_clears_motion_but_time_keeps_running(rotor: RotorWorld) -> None:
    rotor.apply_torques(np.array([1.0]))
    rotor.step(10)
    rotor.reset(np.array([0.3]))
    j = rotor.read_joints()
    assert (j.position[0], j.velocity[0], j.effort[0]) == (0.3, 0.0, 0.0)
    rotor.step(5)                                          # the held torque was cleared by reset
    assert rotor.read_joints().position[0] == pytest.approx(0.3, abs=1e-12)
    assert rotor.step_count == 15


@pytest.mark.sim
def test_bad_torques_and_steps_are_rejected(rotor: RotorWorld) -> None:
    with pytest.raises(ValueError, match=r"tau must have shape \(1,\)"):
        rotor.apply_torques(np.zeros(2))
    with pytest.raises(ValueError, match="tau must be finite"):
        rotor.apply_torques(np.array([np.nan]))
    with pytest.raises(ValueError, match="n_steps"):
        rotor.step(0)
    with pytest.raises(ValueError, match="joint_friction_nm"):
        rotor.set_joint_friction(-1.0)
    with pytest.raises(ValueError, match="latency_s"):
        rotor.set_latency(float("inf"))


@pytest.mark.sim
def test_unknown_joint_is_rejected(tmp_path: Path) -> None:
    urdf = tmp_path / "rotor.urdf"
    urdf.write_text(ROTOR_URDF, encoding="utf-8")
    client = BulletClient(connection_mode=pybullet.DIRECT)
    try:
        world = RotorWorld(client, WorldConfig(), urdf)
        with pytest.raises(ValueError, match="joint_names.*'wheel'"):
            world._bind_robot(world.robot_id, ["wheel"])
    finally:
        client.disconnect()


def test_world_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="physics_dt"):
        WorldConfig(physics_dt=0.0)
    with pytest.raises(ValueError, match="num_solver_iterations"):
        WorldConfig(num_solver_iterations=0)
    with pytest.raises(ValueError, match="latency_s must be in"):
        WorldConfig(latency_s="0.01")                          # e.g. a quoted YAML value
    with pytest.raises(ValueError, match="RandomizationRanges.mass_scale"):
        RandomizationRanges(mass_scale=(1.2, 0.8))
    with pytest.raises(ValueError, match="RandomizationRanges.latency_s"):
        RandomizationRanges(latency_s=(-0.01, 0.02))
    with pytest.raises(ValueError, match="RandomizationRanges.motor_strength_scale"):
        RandomizationRanges(motor_strength_scale=(0.0, 1.0))    # a zero scale would disable motors
    assert RandomizationRanges(foot_friction=[0.5, 1]).foot_friction == (0.5, 1.0)


def test_config_from_mapping_nested_and_errors() -> None:
    cfg = config_from_mapping(WorldConfig, {"latency_s": 0.002, "randomization": {"mass_scale": None}}, "x.yaml")
    assert cfg.latency_s == 0.002
    assert cfg.randomization == RandomizationRanges(mass_scale=None)
    assert config_from_mapping(WorldConfig, {"randomization": None}).randomization is None
    with pytest.raises(ValueError, match=r"x\.yaml: unknown key\(s\) \['physics_hz'\]"):
        config_from_mapping(WorldConfig, {"physics_hz": 1000}, "x.yaml")
    with pytest.raises(ValueError, match=r"x\.yaml: randomization: .*RandomizationRanges.foot_friction"):
        config_from_mapping(WorldConfig, {"randomization": {"foot_friction": [2.0, 1.0]}}, "x.yaml")


def test_load_yaml_config_reports_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("physics_dt: 0.002\nrandomization:\n  latency_s: [0.0, 0.01]\n", encoding="utf-8")
    cfg = load_yaml_config(WorldConfig, good)
    assert cfg.physics_dt == 0.002 and cfg.randomization.latency_s == (0.0, 0.01)
    bad = tmp_path / "bad.yaml"
    bad.write_text("physics_dt: [oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.yaml: invalid YAML"):
        load_yaml_config(WorldConfig, bad)
    with pytest.raises(ValueError, match="missing.yaml: cannot read"):
        load_yaml_config(WorldConfig, tmp_path / "missing.yaml")
