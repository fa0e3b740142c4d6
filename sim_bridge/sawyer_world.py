"""Sawyer 7-DoF arm with a parallel gripper at a table, a named scene and a third-person camera.

The hardware stand-in for SOLAR (Zhang, Vikram et al., ICML 2019) and VICE-RAQ (Singh et al.,
RSS 2019). The arm is torque controlled through :class:`~anima.sim_bridge.world.World` (joint PD
from ``config/robots/sawyer.yaml`` at 500 Hz) and, like the real Sawyer's motor controller in
torque mode, the world adds gravity compensation to the commanded torque on every physics step
(``gravity_compensation``). The gripper is its own device: :meth:`SawyerWorld.set_gripper` sets
the finger opening, held by a force-limited position servo; the right finger follows the left one
through a ``JOINT_GEAR`` constraint (the URDF's ``<mimic>``).

Frames: the world frame is the arm's ``base_link``; the table top is the plane z = 0.

Control API for environments (in process, no ROS)::

    world = SawyerWorld(client, load_sawyer_config(scene="push"))
    path = JointCommandPath(load_robot_config("sawyer"))
    world.reset(rng=rng); path.reset(world.read_joints().position)
    world.run_targets(path, q_target, duration_s=0.1)
    world.object_states(), world.success(), world.render()

Randomization: :meth:`World.randomize` (dynamics, ``config.randomization``) plus
:class:`SawyerRandomization` (object colours, mass and friction, lighting, camera pose jitter).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from anima.controllers.cartesian_controller import CartesianConfig, quat_to_matrix, solve_ik
from anima.controllers.serial_chain import SerialChain
from anima.sim_bridge.randomization import Range, check_range
from anima.sim_bridge.rgb_camera import RgbCamera, RgbCameraConfig
from anima.sim_bridge.sawyer_scenes import DEFORMABLE_SCENES, SCENES, ObjectState, Scene, make_scene
from anima.sim_bridge.world import World, WorldConfig, load_yaml_config

__all__ = ["SawyerRandomization", "SawyerWorld", "SawyerWorldConfig", "load_sawyer_config", "EE_DOWN_XYZW"]

# Grasp centre pointing down, wrist as in Intera's neutral pose: ee x = world y, ee y = world x.
EE_DOWN_XYZW = np.array([math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0])
FINGERS = ("right_gripper_l_finger_joint", "right_gripper_r_finger_joint")


@dataclass(frozen=True)
class SawyerRandomization:
    """Per-episode scene randomization; ``None`` keeps a parameter nominal.

    ``color_jitter``: ± on each RGB channel of every object; ``lighting``: random light;
    camera position (m, per axis) and rotation (rad, rotation vector per axis) jitter; object mass
    and lateral friction scales (uniform).
    """

    color_jitter: float = 0.1
    lighting: bool = True
    camera_position_jitter_m: float = 0.01
    camera_rotation_jitter_rad: float = 0.02
    object_mass_scale: Range = (0.8, 1.2)
    object_friction_scale: Range = (0.8, 1.2)

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key in ("color_jitter", "camera_position_jitter_m", "camera_rotation_jitter_rad"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name}.{key} must be a finite number >= 0, got {v!r}")
        for key in ("object_mass_scale", "object_friction_scale"):
            object.__setattr__(self, key, check_range(name, key, getattr(self, key), 0.0, strict=True))


@dataclass(frozen=True)
class SawyerWorldConfig(WorldConfig):
    """The Sawyer table-top world (SI units). Physics 500 Hz, gravity 9.81, 50 solver iterations.

    ``scene``: one of :data:`~anima.sim_bridge.sawyer_scenes.SCENES`. ``deformable_physics_dt``:
    physics step of the deformable (drape) scene, chosen for stability (BENCHMARKS.md).
    ``gripper_force_n``: finger servo force limit; ``table_*``: table box (top at z = 0).
    """

    physics_dt: float = 0.002
    gravity_mps2: float = 9.81
    num_solver_iterations: int = 50
    urdf: str = "urdf/sawyer.urdf"
    robot: str = "sawyer"
    scene: str = "reach"
    deformable_physics_dt: float = 0.002
    gravity_compensation: bool = True
    gripper_force_n: float = 20.0
    table_center_xy_m: tuple[float, float] = (0.65, 0.0)
    table_half_extents_m: tuple[float, float, float] = (0.35, 0.6, 0.025)
    camera: RgbCameraConfig = field(default_factory=RgbCameraConfig)
    dr: SawyerRandomization | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if self.scene not in SCENES:
            raise ValueError(f"{name}.scene: unknown Sawyer scene {self.scene!r}; valid scenes: {', '.join(sorted(SCENES))}")
        if not (isinstance(self.gripper_force_n, (int, float)) and 0 < self.gripper_force_n <= 200):
            raise ValueError(f"{name}.gripper_force_n must be in (0, 200] N, got {self.gripper_force_n!r}")
        if not (isinstance(self.deformable_physics_dt, (int, float)) and 0 < self.deformable_physics_dt <= 0.01):
            raise ValueError(f"{name}.deformable_physics_dt must be in (0, 0.01] s, got {self.deformable_physics_dt!r}")
        object.__setattr__(self, "table_center_xy_m", tuple(float(v) for v in self.table_center_xy_m))
        object.__setattr__(self, "table_half_extents_m", tuple(float(v) for v in self.table_half_extents_m))
        if len(self.table_center_xy_m) != 2 or len(self.table_half_extents_m) != 3 or min(self.table_half_extents_m) <= 0:
            raise ValueError(f"{name}.table_center_xy_m needs 2 numbers and table_half_extents_m 3 positive ones")
        if not isinstance(self.camera, RgbCameraConfig):
            raise ValueError(f"{name}.camera must be a camera mapping, got {self.camera!r}")


def load_sawyer_config(path: str | Path | None = None, **overrides: Any) -> SawyerWorldConfig:
    """Read ``config/sim/sawyer_world.yaml`` (default) or ``path``; ``overrides`` replace fields
    (e.g. ``scene="push"``; a ``camera_size_px`` override sets both image sides)."""
    if path is None:
        from anima.controllers.paths import share_dir

        path = share_dir() / "config" / "sim" / "sawyer_world.yaml"
    config = load_yaml_config(SawyerWorldConfig, path)
    size = overrides.pop("camera_size_px", None)
    if size is not None:
        overrides["camera"] = dataclasses.replace(config.camera, width_px=int(size), height_px=int(size))
    try:
        return dataclasses.replace(config, **overrides)
    except TypeError as exc:
        raise ValueError(f"load_sawyer_config: {exc}") from None


class CommandPath(Protocol):
    def set_targets(self, names: Any, positions: np.ndarray, t: float) -> Any: ...

    def compute(self, q: np.ndarray, qd: np.ndarray, t: float) -> np.ndarray: ...


class SawyerWorld(World):
    """Arm joints ``right_j0..right_j6`` (from the URDF chain base_link -> right_l6), one scene."""

    def __init__(self, client: BulletClient, config: SawyerWorldConfig, rest_pose: np.ndarray | None = None,
                 control_rate_hz: float | None = None) -> None:
        deformable = config.scene in DEFORMABLE_SCENES
        if deformable:
            config = dataclasses.replace(config, physics_dt=config.deformable_physics_dt)
        super().__init__(client, config)
        self.config: SawyerWorldConfig = config
        if deformable:
            self._restart_deformable()
        self._load_table()
        self._load_robot()
        self.scene: Scene = make_scene(config.scene, client)
        self._nominal_object_dynamics = {n: client.getDynamicsInfo(b, -1)[:2] for n, b in self.scene.bodies.items()}
        self.camera = RgbCamera(client, config.camera)
        if rest_pose is None or control_rate_hz is None:
            from anima.controllers.robot_config import load_robot_config

            robot = load_robot_config(config.robot)
            rest_pose = robot.standing_pose if rest_pose is None else rest_pose
            control_rate_hz = robot.control_rate_hz if control_rate_hz is None else control_rate_hz
        if not (np.isfinite(control_rate_hz) and 0 < control_rate_hz <= 1.0 / self.physics_dt):
            raise ValueError(f"control_rate_hz must be in (0, {1.0 / self.physics_dt:g}] Hz, got {control_rate_hz!r}")
        self.control_rate_hz = float(control_rate_hz)
        self.rest_pose = np.asarray(rest_pose, dtype=float).copy()
        if self.rest_pose.shape != (self.n_joints,):
            raise ValueError(f"rest_pose must have {self.n_joints} values (URDF order), got shape {self.rest_pose.shape}")
        self.reset()

    # ----------------------------------------------------------------- loading
    def _restart_deformable(self) -> None:
        """A deformable (soft-body) world, with the same physics settings as World.__init__."""
        c, cfg = self.client, self.config
        c.resetSimulation(pybullet.RESET_USE_DEFORMABLE_WORLD)
        c.setPhysicsEngineParameter(fixedTimeStep=cfg.physics_dt, numSolverIterations=cfg.num_solver_iterations,
                                    enableConeFriction=int(cfg.enable_cone_friction))
        c.setGravity(0.0, 0.0, -cfg.gravity_mps2)
        c.setRealTimeSimulation(0)

    def _urdf_path(self) -> Path:
        path = Path(self.config.urdf)
        if not path.is_absolute():
            from anima.controllers.paths import share_dir

            path = share_dir() / path
        if not path.is_file():
            raise ValueError(f"SawyerWorldConfig.urdf: file not found: {path}")
        return path

    def _load_table(self) -> None:
        c, cfg = self.client, self.config
        hx, hy, hz = cfg.table_half_extents_m
        col = c.createCollisionShape(pybullet.GEOM_BOX, halfExtents=[hx, hy, hz])
        vis = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=[hx, hy, hz], rgbaColor=[0.76, 0.66, 0.5, 1.0])
        self.table_id = c.createMultiBody(0.0, col, vis, [*cfg.table_center_xy_m, -hz])
        c.changeDynamics(self.table_id, -1, lateralFriction=0.6)

    def _load_robot(self) -> None:
        c = self.client
        path = self._urdf_path()
        self.chain = SerialChain.from_urdf(path, "base_link", "ee")
        body = c.loadURDF(str(path), [0, 0, 0], [0, 0, 0, 1], useFixedBase=True,
                          flags=pybullet.URDF_USE_INERTIA_FROM_FILE)
        self._bind_robot(body, self.chain.joint_names)
        info = {c.getJointInfo(body, j)[1].decode(): j for j in range(c.getNumJoints(body))}
        self._fingers = [info[n] for n in FINGERS]
        self._ee_link = self.link_names.index("ee") - 1
        self.hand_link = self.link_names.index("right_hand") - 1
        self._movable = [j for j in range(c.getNumJoints(body)) if c.getJointInfo(body, j)[2] != pybullet.JOINT_FIXED]
        self._arm_in_movable = [self._movable.index(j) for j in self._joint_indices]
        self.gripper_limit_m = c.getJointInfo(body, self._fingers[0])[9]
        cid = c.createConstraint(body, self._fingers[0], body, self._fingers[1], pybullet.JOINT_GEAR,
                                 [0, 1, 0], [0, 0, 0], [0, 0, 0])
        # gearRatio -1: the right finger's coordinate equals the left one's (checked in the tests).
        c.changeConstraint(cid, gearRatio=-1.0, maxForce=100.0, erp=0.2)
        c.setJointMotorControl2(body, self._fingers[1], pybullet.VELOCITY_CONTROL, force=0.0)
        for j in self._fingers:
            c.changeDynamics(body, j, lateralFriction=1.5, spinningFriction=0.003)
        self._gravity_tau = [0.0] * self.n_joints
        self._gripper_target = self.gripper_limit_m

    # ----------------------------------------------------------------- reset and stepping
    def reset(self, joint_positions: np.ndarray | None = None, rng: np.random.Generator | None = None) -> None:
        """Arm to ``joint_positions`` (default: rest pose), gripper open, objects at the start (jittered by ``rng``)."""
        q = self.rest_pose if joint_positions is None else np.asarray(joint_positions, dtype=float)
        self._reset_joint_states(q)
        self.reset_gripper(self.gripper_limit_m)
        self.scene.reset(self, rng)
        self._sync_sensors()

    def step(self, n_steps: int = 1) -> None:
        """Advance ``n_steps`` physics steps; the held torque plus gravity compensation on each."""
        if not self.config.gravity_compensation:
            super().step(n_steps)
            return
        if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
            raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}")
        for _ in range(int(n_steps)):
            g = self.gravity_torques()
            self._tau_forces = (self._tau_applied + g).tolist()
            super().step(1)

    def gravity_torques(self) -> np.ndarray:
        """Joint torques (N·m, arm joints) that hold the arm and gripper against gravity at the current
        configuration (the simulator's own model, inverse dynamics at zero velocity and acceleration)."""
        c = self.client
        states = c.getJointStates(self.robot_id, self._movable)
        q = [s[0] for s in states]
        zeros = [0.0] * len(q)
        tau = c.calculateInverseDynamics(self.robot_id, q, zeros, zeros)
        return np.asarray(tau)[self._arm_in_movable]

    def run_targets(self, path: CommandPath, targets: np.ndarray | None, duration_s: float) -> None:
        """Send ``targets`` (URDF order, rad; None: keep the last) to ``path`` and simulate ``duration_s``,
        the PD law at ``control_rate_hz`` (torque held between), as under ROS."""
        substeps = max(1, int(round(1.0 / (self.control_rate_hz * self.physics_dt))))
        n_total = max(1, int(round(duration_s / self.physics_dt)))
        if targets is not None:
            path.set_targets(None, np.asarray(targets, dtype=float), self.time_s)
        done = 0
        while done < n_total:
            js = self.read_joints()
            self.apply_torques(path.compute(js.position, js.velocity, self.time_s))
            k = min(substeps, n_total - done)
            self.step(k)
            done += k

    # ----------------------------------------------------------------- gripper and end effector
    def set_gripper(self, opening_m: float) -> float:
        """Finger position (m per finger, 0 closed .. ``gripper_limit_m``), clamped; returns what was set."""
        if not math.isfinite(opening_m):
            raise ValueError(f"gripper opening must be finite, got {opening_m!r}")
        target = min(max(float(opening_m), 0.0), self.gripper_limit_m)
        self._gripper_target = target
        self.client.setJointMotorControl2(self.robot_id, self._fingers[0], pybullet.POSITION_CONTROL,
                                          targetPosition=target, force=self.config.gripper_force_n,
                                          positionGain=0.05, maxVelocity=0.3)
        scene = getattr(self, "scene", None)
        if scene is not None:
            scene.on_gripper(self, target)
        return target

    def reset_gripper(self, opening_m: float) -> None:
        """Teleport both fingers to ``opening_m`` (at rest) and hold them there."""
        for j in self._fingers:
            self.client.resetJointState(self.robot_id, j, min(max(opening_m, 0.0), self.gripper_limit_m), 0.0)
        self.set_gripper(opening_m)

    def gripper_positions(self) -> np.ndarray:
        """Both finger positions (m), (2,)."""
        return np.array([s[0] for s in self.client.getJointStates(self.robot_id, self._fingers)])

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Grasp-centre position (m) and orientation (x, y, z, w) in the world frame now."""
        st = self.client.getLinkState(self.robot_id, self._ee_link, computeForwardKinematics=True)
        return np.array(st[4]), np.array(st[5])

    def ee_position(self) -> np.ndarray:
        return self.ee_pose()[0]

    def teleport_ee(self, position: np.ndarray, quat_xyzw: np.ndarray = EE_DOWN_XYZW) -> None:
        """Put the arm (by IK from the rest pose, at rest) with the grasp centre at a pose."""
        result = solve_ik(self.chain, np.asarray(position, float), quat_to_matrix(quat_xyzw), self.rest_pose,
                          CartesianConfig(max_iterations=300), self.rest_pose)
        if not result.success:
            raise ValueError(f"teleport_ee: pose {np.round(position, 3).tolist()} is unreachable")
        self.set_joint_state(result.q)

    # ----------------------------------------------------------------- ground truth and sensing
    def object_states(self) -> list[ObjectState]:
        """Ground truth of every scene object (movable objects, fixtures, goal markers)."""
        return self.scene.object_states()

    def success(self) -> bool:
        return self.scene.success(self)

    def metrics(self) -> dict[str, float]:
        return self.scene.metrics(self)

    def place_at_goal(self) -> None:
        """Objects (or the arm, for reach) in the scene's goal configuration by ground truth."""
        self.scene.place_at_goal(self)
        self._sync_sensors()

    def video_view(self):
        """Viewpoint of ``video:=`` recordings: the arm and the table from the front left."""
        from anima.sim_bridge.video import VideoConfig

        return VideoConfig(target_xyz=(0.45, 0.0, 0.2), distance_m=1.3, yaw_deg=135.0, pitch_deg=-25.0)

    def render(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """The third-person camera image now, ``(H, W, 3)`` uint8."""
        return self.camera.render(rng)

    # ----------------------------------------------------------------- randomization
    def randomize(self, rng: np.random.Generator) -> dict[str, Any]:
        """Dynamics (``config.randomization``, as every World) and scene (``config.dr``); None: nominal."""
        applied = super().randomize(rng)
        dr, c = self.config.dr, self.client
        self.scene.randomize_colors(rng if dr is not None and dr.color_jitter > 0 else None,
                                    dr.color_jitter if dr else 0.0)
        self.camera.set_lighting(rng if dr is not None and dr.lighting else None)
        cam_pos = rng.uniform(-1, 1, 3) * dr.camera_position_jitter_m if dr else np.zeros(3)
        cam_rot = rng.uniform(-1, 1, 3) * dr.camera_rotation_jitter_rad if dr else np.zeros(3)
        self.camera.set_pose_offset(cam_pos, cam_rot)
        objects = {}
        for name, body in self.scene.bodies.items():
            mass, friction = self._nominal_object_dynamics[name]
            if mass <= 0 or self.scene.is_deformable(name):
                continue
            ms = rng.uniform(*dr.object_mass_scale) if dr and dr.object_mass_scale else 1.0
            fs = rng.uniform(*dr.object_friction_scale) if dr and dr.object_friction_scale else 1.0
            c.changeDynamics(body, -1, mass=mass * ms, lateralFriction=friction * fs)
            objects[name] = {"mass_kg": mass * ms, "friction": friction * fs}
        applied.update({"camera_position_offset_m": cam_pos.tolist(), "camera_rotation_offset_rad": cam_rot.tolist(),
                        "objects": objects})
        return applied
