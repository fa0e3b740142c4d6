"""Gymnasium environments on :class:`~anima.sim_bridge.sawyer_world.SawyerWorld`, one per scene.

Actions are end-effector moves, as in SOLAR's and VICE-RAQ's Sawyer experiments (Zhang, Vikram et
al., ICML 2019, Sec. 6; Singh et al., RSS 2019, Sec. VI): ``(dx, dy, dz, gripper)`` in [-1, 1],
``dx..dz`` scaled by ``max_step_m`` and added to the end-effector setpoint (gripper pointing
down, clamped to the workspace box), ``gripper`` mapped to the finger opening (-1 closed, +1
open). The same cores run under ROS: :class:`CartesianController` (IK, as the
``cartesian_controller`` node) -> :class:`JointCommandPath` (as ``pd_controller``) at 50 Hz
targets and 500 Hz PD.

Observations (``observation``): ``"image"`` (H, W, 3) uint8 from the third-person camera (64×64
for SOLAR, 48×48 for VICE-RAQ), ``"state"`` float32 (grasp-centre position, finger position,
then the position of every movable object), or ``"dict"`` with both. ``info`` carries
``<scene>_success`` and ``is_success`` (the scene's predicate on ground truth) and the scene's
metrics. Reward: ``"dense"`` = minus the scene's first distance metric, ``"sparse"`` = success.
:meth:`SawyerEnv.goal_image` renders the scene's goal configuration (goal examples for VICE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from anima.controllers.cartesian_controller import CartesianConfig, CartesianController
from anima.controllers.command_path import JointCommandPath
from anima.controllers.robot_config import load_robot_config
from anima.sim_bridge.sawyer_world import EE_DOWN_XYZW, SawyerWorld, load_sawyer_config

__all__ = ["SawyerEnv", "SawyerEnvConfig", "SawyerReachEnv", "SawyerPushEnv", "SawyerStackEnv", "SawyerMugEnv",
           "SawyerBookshelfEnv", "SawyerDrapeEnv"]

OBSERVATIONS = ("image", "state", "dict")


@dataclass(frozen=True)
class SawyerEnvConfig:
    """Task settings (SI units). ``control_rate_hz``: env steps per second; ``episode_steps``:
    100 (VICE-RAQ's path length; SOLAR uses 50); ``workspace_*``: box the setpoint stays in."""

    scene: str = "push"
    observation: str = "image"
    image_size_px: int = 64
    control_rate_hz: float = 10.0
    max_step_m: float = 0.02
    episode_steps: int = 100
    reward: str = "dense"
    randomize: bool = False
    workspace_min_m: tuple[float, float, float] = (0.35, -0.35, 0.02)
    workspace_max_m: tuple[float, float, float] = (0.85, 0.35, 0.35)

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.observation not in OBSERVATIONS:
            raise ValueError(f"{name}.observation must be one of {OBSERVATIONS}, got {self.observation!r}")
        if self.reward not in ("dense", "sparse"):
            raise ValueError(f"{name}.reward must be 'dense' or 'sparse', got {self.reward!r}")
        if not (isinstance(self.image_size_px, int) and 16 <= self.image_size_px <= 512):
            raise ValueError(f"{name}.image_size_px must be an int in 16..512, got {self.image_size_px!r}")
        if not (0 < self.control_rate_hz <= 50 and 0 < self.max_step_m <= 0.1 and self.episode_steps >= 1):
            raise ValueError(f"{name}: control_rate_hz in (0, 50], max_step_m in (0, 0.1], episode_steps >= 1")


class SawyerEnv(gym.Env):
    """One Sawyer scene as a gymnasium environment (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, world_config: str | None = None, **kwargs: Any) -> None:
        self.config = SawyerEnvConfig(**kwargs)
        c = self.config
        self.render_mode = render_mode
        self._client = BulletClient(connection_mode=pybullet.DIRECT)
        self._world_config = load_sawyer_config(world_config, scene=c.scene, camera_size_px=c.image_size_px)
        self.world = SawyerWorld(self._client, self._world_config)
        robot = load_robot_config(self.world.config.robot)
        self._target_period = 1.0 / robot.target_rate_hz
        self._substeps = max(1, int(round(robot.target_rate_hz / c.control_rate_hz)))
        self.path = JointCommandPath(robot)
        self.controller = CartesianController(self.world.chain, CartesianConfig(
            workspace_min_m=c.workspace_min_m, workspace_max_m=c.workspace_max_m, max_linear_speed_mps=1.0),
            robot.standing_pose)
        self._lo, self._hi = np.array(c.workspace_min_m), np.array(c.workspace_max_m)
        self._movable = [n for n in self.world.scene.bodies if self._is_movable(n)]
        self.action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        state_space = gym.spaces.Box(-np.inf, np.inf, (4 + 3 * len(self._movable),), np.float32)
        image_space = gym.spaces.Box(0, 255, (c.image_size_px, c.image_size_px, 3), np.uint8)
        self.observation_space = {"image": image_space, "state": state_space,
                                  "dict": gym.spaces.Dict({"image": image_space, "state": state_space})}[c.observation]
        self._steps = 0
        self._t0 = 0.0
        self._setpoint = np.zeros(3)
        # Every reset restores this snapshot and drops Bullet's contact caches, so an episode
        # depends only on its seed, not on the episodes before it (gymnasium's check_env).
        self._snapshot = self._client.saveState()

    def _is_movable(self, name: str) -> bool:
        body = self.world.scene.bodies[name]
        return self.world.scene.is_deformable(name) or self._client.getDynamicsInfo(body, -1)[0] > 0

    # ----------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        if self.world.scene.is_deformable("cloth"):
            # A soft body's solver keeps state that restoreState does not cover (replays drifted
            # by ~1e-6 m): the deformable scene is rebuilt from scratch instead (~0.1 s).
            self.world = SawyerWorld(self._client, self._world_config)
        else:
            self._client.restoreState(self._snapshot)
            self._drop_contact_caches()
        if self.config.randomize:
            self.world.randomize(self.np_random)
        self.world.reset(rng=self.np_random)
        q = self.world.read_joints().position
        self.path.reset(q)
        self.controller.reset(q)
        self._t0 = self.world.time_s
        self.controller.step(0.0)
        self._setpoint = self.controller.target_pose[0]
        self._steps = 0
        return self._observe(), self._info()

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (4,) or not np.isfinite(a).all():
            raise ValueError(f"action must be 4 finite values (dx, dy, dz, gripper) in [-1, 1], got {action!r}")
        a = np.clip(a, -1.0, 1.0)
        self._setpoint = np.clip(self._setpoint + a[:3] * self.config.max_step_m, self._lo, self._hi)
        rejected = not self.controller.set_pose_target(self._setpoint, EE_DOWN_XYZW).accepted
        if rejected:  # out of reach: stay where the controller is
            self._setpoint = self.controller.target_pose[0]
        self.world.set_gripper((a[3] + 1.0) / 2.0 * self.world.gripper_limit_m)
        for _ in range(self._substeps):
            self._run_target(self.controller.step(self.world.time_s - self._t0))
        self._steps += 1
        info = self._info()
        info["ik_rejected"] = rejected
        metrics = self.world.metrics()
        reward = float(info["is_success"]) if self.config.reward == "sparse" else -float(next(iter(metrics.values())))
        return self._observe(), reward, False, self._steps >= self.config.episode_steps, info

    def _run_target(self, q_target: np.ndarray) -> None:
        """One target period: the PD law on every physics step, episode-relative time (so a
        replay is bit-exact whatever ran before), as ``SawyerWorld.run_targets`` at 500 Hz."""
        world, path = self.world, self.path
        t = world.time_s - self._t0
        path.set_targets(None, q_target, t)
        for i in range(int(round(self._target_period / world.physics_dt))):
            js = world.read_joints()
            world.apply_torques(path.compute(js.position, js.velocity, t + i * world.physics_dt))
            world.step(1)

    def _drop_contact_caches(self) -> None:
        """Lift every body far away for one collision pass: Bullet forgets the contact manifolds
        (and warm-start impulses) of the episode before (see laikago_imitation.py)."""
        c = self._client
        bodies = [self.world.robot_id, *(b for n, b in self.world.scene.bodies.items()
                                          if not self.world.scene.is_deformable(n))]
        poses = [c.getBasePositionAndOrientation(b) for b in bodies]
        for b, (pos, orn) in zip(bodies, poses):
            c.resetBasePositionAndOrientation(b, [pos[0], pos[1], pos[2] + 100.0], orn)
        c.performCollisionDetection()
        for b, (pos, orn) in zip(bodies, poses):
            c.resetBasePositionAndOrientation(b, pos, orn)

    def render(self) -> np.ndarray:
        return self.world.render()

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client = None

    # ----------------------------------------------------------------- observations
    def _state(self) -> np.ndarray:
        positions = {o.name: o.position for o in self.world.object_states()}
        parts = [self.world.ee_position(), self.world.gripper_positions()[:1]]
        parts += [positions[n] for n in self._movable]
        return np.concatenate(parts).astype(np.float32)

    def _observe(self) -> Any:
        kind = self.config.observation
        if kind == "state":
            return self._state()
        image = self.world.render()
        return image if kind == "image" else {"image": image, "state": self._state()}

    def _info(self) -> dict[str, Any]:
        success = bool(self.world.success())
        return {f"{self.config.scene}_success": success, "is_success": success, **self.world.metrics()}

    def goal_image(self, seed: int | None = None) -> np.ndarray:
        """Camera image of the scene at its goal (ground truth), after a reset with ``seed``; the
        episode must be reset afterwards."""
        self.reset(seed=seed)
        self.world.place_at_goal()
        self.path.reset(self.world.read_joints().position)
        for _ in range(10):
            self._run_target(self.world.read_joints().position)
        return self.world.render()


class SawyerReachEnv(SawyerEnv):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(scene="reach", **kwargs)


class SawyerPushEnv(SawyerEnv):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(scene="push", **kwargs)


class SawyerStackEnv(SawyerEnv):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(scene="stack", **kwargs)


class SawyerMugEnv(SawyerEnv):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(scene="mug", **kwargs)


class SawyerBookshelfEnv(SawyerEnv):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(scene="bookshelf", **kwargs)


class SawyerDrapeEnv(SawyerEnv):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(scene="drape", **kwargs)
