"""SawyerWorld: scenes by name, success predicates, objects at rest, EE tracking, gripper, camera, seeding."""

from __future__ import annotations

import dataclasses

import numpy as np
import pybullet
import pytest
from pybullet_utils.bullet_client import BulletClient

from anima.controllers.cartesian_controller import CartesianConfig, CartesianController
from anima.controllers.command_path import JointCommandPath
from anima.controllers.robot_config import load_robot_config
from anima.sim_bridge.sawyer_world import SawyerWorld, load_sawyer_config

pytestmark = pytest.mark.sim

SCENES = ("reach", "push", "stack", "mug", "bookshelf", "drape")
RIGID_OBJECT_SCENES = ("push", "stack", "mug", "bookshelf")


def _world(scene: str, **overrides) -> SawyerWorld:
    return SawyerWorld(BulletClient(connection_mode=pybullet.DIRECT), load_sawyer_config(scene=scene, **overrides))


def _path(world: SawyerWorld) -> JointCommandPath:
    path = JointCommandPath(load_robot_config("sawyer"))
    path.reset(world.read_joints().position)
    return path


def _hold(world: SawyerWorld, path: JointCommandPath, seconds: float) -> None:
    """Hold the current arm pose, re-sending the target every 0.1 s (inside the command timeout)."""
    q = world.read_joints().position
    for _ in range(int(round(seconds / 0.1))):
        world.run_targets(path, q, 0.1)


def test_unknown_scene_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown Sawyer scene 'kitchen'; valid scenes: bookshelf, drape, mug, push, reach, stack"):
        load_sawyer_config(scene="kitchen")


def test_arm_joints_come_from_the_urdf_chain() -> None:
    world = _world("reach")
    assert world.joint_names == tuple(f"right_j{i}" for i in range(7))
    assert world.physics_dt == pytest.approx(0.002)
    np.testing.assert_allclose(world.ee_position(), [0.55, 0.0, 0.25], atol=1e-3)  # home pose (sawyer.yaml)


@pytest.mark.parametrize("scene", SCENES)
def test_success_is_false_at_start_and_true_at_goal(scene: str) -> None:
    world = _world(scene)
    path = _path(world)
    world.reset(rng=np.random.default_rng(0))
    _hold(world, path, 0.2)
    assert not world.success(), world.metrics()
    world.place_at_goal()
    path.reset(world.read_joints().position)
    _hold(world, path, 0.3)  # still true once the objects have settled
    assert world.success(), world.metrics()


@pytest.mark.parametrize("scene", RIGID_OBJECT_SCENES)
def test_objects_rest_60_s_within_1_mm(scene: str) -> None:
    world = _world(scene)
    if scene == "stack":
        world.place_at_goal()  # the harder case: one block resting on the other
    world.step(50)  # contacts settle from the exact placement
    before = {o.name: o.position for o in world.object_states()}
    world.step(int(round(60.0 / world.physics_dt)))  # gravity compensation holds the arm meanwhile
    after = {o.name: o.position for o in world.object_states()}
    for name in before:
        assert np.linalg.norm(after[name] - before[name]) < 1e-3, name


def test_end_effector_tracks_at_rest_and_while_moving() -> None:
    # Issue targets: <= 5 mm at rest, <= 2 cm while moving at 0.2 m/s (cartesian targets at 50 Hz).
    world = _world("reach")
    path = _path(world)
    rc = load_robot_config("sawyer")
    ctl = CartesianController(world.chain, CartesianConfig(), rc.standing_pose)
    ctl.reset(world.read_joints().position)
    start = world.ee_position()
    moving, errors = [], []
    for k in range(100):  # 1.5 s at 0.2 m/s along +y, then 0.5 s at rest
        ctl.set_velocity([0.0, 0.2, 0.0] if k < 75 else [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], world.time_s)
        world.run_targets(path, ctl.step(world.time_s), 1.0 / rc.target_rate_hz)
        (moving if 5 <= k < 75 else errors).append(np.linalg.norm(world.ee_position() - ctl.target_pose[0]))
    assert np.linalg.norm(world.ee_position() - start) > 0.25  # it really moved ~0.3 m
    assert max(moving) <= 0.02
    assert errors[-1] <= 0.005


def test_gripper_fingers_move_together_and_hold_a_block() -> None:
    world = _world("stack")
    path = _path(world)
    world.set_gripper(0.01)
    _hold(world, path, 0.5)
    left, right = world.gripper_positions()
    assert left == pytest.approx(0.01, abs=1e-3) and right == pytest.approx(left, abs=1e-3)
    # Grasp block_a: teleport it between the open fingers, close, lift 10 cm, the block comes along.
    world.set_gripper(0.04)
    _hold(world, path, 0.3)
    ee = world.ee_position()
    world.client.resetBasePositionAndOrientation(world.scene.bodies["block_a"], ee.tolist(), [0, 0, 0, 1])
    world.set_gripper(0.0)
    _hold(world, path, 0.5)
    ctl = CartesianController(world.chain, CartesianConfig(), load_robot_config("sawyer").standing_pose)
    ctl.reset(world.read_joints().position)
    for _ in range(50):
        ctl.set_velocity([0.0, 0.0, 0.1], [0.0, 0.0, 0.0], world.time_s)
        world.run_targets(path, ctl.step(world.time_s), 0.02)
    block = world.scene.position("block_a")
    assert np.linalg.norm(block - world.ee_position()) < 0.02
    assert world.gripper_positions()[0] > 0.015  # the block keeps the fingers apart (5 cm wide)


@pytest.mark.parametrize("size", [64, 48])
def test_camera_renders_the_configured_size_and_projects_the_gripper(size: int) -> None:
    world = _world("push", camera_size_px=size)
    img = world.render()
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    u, v = world.camera.project_world(world.ee_position()[None])[0]
    assert 0 <= u < size and 0 <= v < size
    # The gripper is dark grey; the table and the sky behind it are light. Between the fingers the
    # background shows, so look just above the grasp centre (towards the hand): the fingers' base is dark.
    iu, iv = int(round(u)), int(round(v))
    assert img[iv - 3:iv, iu - 1:iu + 2].mean(axis=2).min() < 110
    assert img[iv + 4:iv + 8, iu - 1:iu + 2].mean(axis=2).min() > 150  # below the fingertips: no gripper


def test_randomize_is_seeded_and_changes_colours_light_and_camera() -> None:
    cfg = load_sawyer_config(scene="push")
    images, params = [], []
    for seed in (7, 7, 8):
        world = SawyerWorld(BulletClient(connection_mode=pybullet.DIRECT), cfg)
        params.append(world.randomize(np.random.default_rng(seed)))
        world.reset(rng=np.random.default_rng(seed))
        images.append(world.render())
    assert params[0] == params[1] and params[0] != params[2]
    np.testing.assert_array_equal(images[0], images[1])
    assert np.abs(images[0].astype(int) - images[2].astype(int)).mean() > 1.0
    nominal = SawyerWorld(BulletClient(connection_mode=pybullet.DIRECT), dataclasses.replace(cfg, dr=None))
    nominal.randomize(np.random.default_rng(7))
    assert nominal.camera._light == {}


def test_start_poses_are_jittered_by_the_episode_generator() -> None:
    world = _world("push")
    world.reset(rng=np.random.default_rng(1))
    a = world.scene.position("puck")
    world.reset(rng=np.random.default_rng(2))
    b = world.scene.position("puck")
    world.reset(rng=np.random.default_rng(1))
    np.testing.assert_allclose(world.scene.position("puck"), a)
    assert 0.001 < np.linalg.norm(a - b) < 0.06


def test_arm_dynamics_randomization_is_the_world_mechanism_and_seeded() -> None:
    from anima.sim_bridge.randomization import RandomizationRanges

    ranges = RandomizationRanges(latency_s=None, foot_friction=None)
    cfg = dataclasses.replace(load_sawyer_config(scene="reach"), randomization=ranges)
    draws = []
    for seed in (4, 4, 5):
        world = SawyerWorld(BulletClient(connection_mode=pybullet.DIRECT), cfg)
        draws.append(world.randomize(np.random.default_rng(seed)))
    assert draws[0]["mass_scale"] == draws[1]["mass_scale"] != draws[2]["mass_scale"]
    l0 = world.link_names.index("right_l0") - 1
    mass = world.client.getDynamicsInfo(world.robot_id, l0)[0]
    assert mass == pytest.approx(5.3213 * draws[2]["mass_scale"][l0 + 1])
    # The arm still holds its pose with randomized masses (the motor controller compensates gravity).
    path = _path(world)
    world.reset()
    path.reset(world.read_joints().position)
    home = world.ee_position()
    _hold(world, path, 1.0)
    assert np.linalg.norm(world.ee_position() - home) < 0.005


def test_drape_cloth_is_held_until_the_gripper_opens() -> None:
    world = _world("drape")
    path = _path(world)
    assert world.scene.held and world.gripper_positions()[0] == pytest.approx(0.005, abs=1e-3)
    _hold(world, path, 0.4)
    top = world.scene.nodes()[:, 2].max()
    assert top == pytest.approx(world.ee_position()[2], abs=0.03)  # the top edge hangs at the hand
    world.set_gripper(0.04)
    assert not world.scene.held
    _hold(world, path, 0.6)
    assert world.scene.nodes()[:, 2].max() < top - 0.1  # released: the cloth fell to the table
