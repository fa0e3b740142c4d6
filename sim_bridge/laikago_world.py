"""``LaikagoWorld``: the Laikago quadruped on flat ground at 1 kHz, with IMU, contacts and latency.

Set-up follows the motion-imitation work (Peng et al., RSS 2020, Sec. VI; values from the public
code's paper branch, FACTS.md): ``laikago/laikago_toes_limits.urdf`` from ``pybullet_data`` loaded
at (0, 0, 0.48) with orientation Euler(π/2, 0, π/2) (the URDF is y-up), ``plane_implicit.urdf``
ground, gravity −10, 1 ms physics step, 9 solver iterations, no cone friction.

Frames (fixed for the whole project): the **body frame** is REP-103 (x forward, y left, z up) with
its origin at the URDF base-link origin and ``world_R_body = world_R_urdfbase · R_load⁻¹``; a URDF
base-frame vector maps as ``v_body = R_load · v_urdf``. PyBullet reports the base *inertial* frame
(offset (0, 0.03, 0.0438) m in the URDF), which this module converts to the link origin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from anima.sim_bridge.sensors import (DelayBuffer, ImuModel, ImuNoiseConfig, ImuReading, cross, quat_conjugate,
                                      quat_multiply, quat_rotate)
from anima.sim_bridge.world import (BaseGroundTruth, RandomizationRanges, World, WorldConfig,
                                    load_yaml_config)

__all__ = [
    "CROUCH_POSE",
    "JOINT_LOWER_LIMITS",
    "JOINT_NAMES",
    "JOINT_UPPER_LIMITS",
    "LOAD_ORIENTATION_XYZW",
    "LaikagoWorld",
    "LaikagoWorldConfig",
    "STANDING_POSE",
    "TOE_LINKS",
    "load_laikago_world_config",
    "motor_to_urdf",
    "urdf_to_motor",
]

URDF_PATH = "laikago/laikago_toes_limits.urdf"
LEGS = ("FR", "FL", "RR", "RL")
JOINT_NAMES: tuple[str, ...] = tuple(
    f"{leg}_{part}" for leg in LEGS
    for part in ("hip_motor_2_chassis_joint", "upper_leg_2_hip_motor_joint", "lower_leg_2_upper_leg_joint"))
TOE_LINKS: tuple[str, ...] = tuple(f"toe{leg}" for leg in LEGS)
JOINT_LOWER_LIMITS = np.array([-0.873, -1.3, -2.164] * 4)   # laikago_toes_limits.urdf
JOINT_UPPER_LIMITS = np.array([1.0472, 3.4, 0.0] * 4)

# R_load = Euler(π/2, 0, π/2) as PyBullet composes it (Rz·Ry·Rx), i.e. quaternion (½, ½, ½, ½):
# URDF z (forward) -> body x, URDF x -> body y, URDF y (up) -> body z.
LOAD_ORIENTATION_XYZW = np.array([0.5, 0.5, 0.5, 0.5])
LOAD_POSITION = np.array([0.0, 0.0, 0.48])

# Motor angle -> URDF angle: (motor + offset) × direction (public code's laikago.py, FACTS.md).
MOTOR_OFFSETS = np.array([0.0, -0.6, 0.66] * 4)
MOTOR_DIRECTIONS = np.array([-1, 1, 1, 1, 1, 1, -1, 1, 1, 1, 1, 1], dtype=float)


def motor_to_urdf(motor: np.ndarray) -> np.ndarray:
    """Motor angles (..., 12) -> URDF joint angles: (motor + offset) × direction."""
    return (np.asarray(motor, dtype=float) + MOTOR_OFFSETS) * MOTOR_DIRECTIONS


def urdf_to_motor(urdf: np.ndarray) -> np.ndarray:
    """URDF joint angles (..., 12) -> motor angles (inverse of :func:`motor_to_urdf`; directions are ±1)."""
    return np.asarray(urdf, dtype=float) * MOTOR_DIRECTIONS - MOTOR_OFFSETS


# Standing: motor (0, 0.67, −1.25) per leg -> URDF (0, 0.07, −0.59); base ≈ 0.44 m high.
STANDING_POSE = motor_to_urdf(np.array([0.0, 0.67, -1.25] * 4))
# Crouch: motor (0, 0.9, −1.8) per leg -> URDF (0, 0.3, −1.14) (as config/robots/laikago.yaml).
CROUCH_POSE = motor_to_urdf(np.array([0.0, 0.9, -1.8] * 4))
STANDING_POSE.setflags(write=False)
CROUCH_POSE.setflags(write=False)


class _BodyState(NamedTuple):
    """Body-frame state from one base sample: origin (3,), world_R_body as xyzw (4,) and as a
    matrix (3, 3), origin velocity in world axes (3,), angular velocity in world axes (3,)."""

    position: np.ndarray
    orientation_xyzw: np.ndarray
    rotation: np.ndarray
    velocity_world: np.ndarray
    angular_velocity_world: np.ndarray


@dataclass(frozen=True)
class LaikagoWorldConfig(WorldConfig):
    """Laikago world settings (SI units); defaults are the imitation work's (FACTS.md).

    ``initial_height_m``: base (body origin) height at reset; None puts the lowest toe on the ground.
    ``allowed_contact_links``: links whose ground contact is normal (default: the toes only; add
    the ``*_lower_leg`` links to allow knee contact as the paper branch does).
    ``sensor_seed``: seeds the IMU noise until a reset passes its own generator.
    """

    physics_dt: float = 0.001
    num_solver_iterations: int = 9          # int(300 / 33), FACTS.md
    randomization: RandomizationRanges | None = RandomizationRanges()
    ground_urdf: str = "plane_implicit.urdf"
    self_collision: bool = True
    initial_height_m: float | None = None
    imu: ImuNoiseConfig = ImuNoiseConfig()
    allowed_contact_links: tuple[str, ...] = TOE_LINKS
    sensor_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        h = self.initial_height_m
        if h is not None and not (isinstance(h, (int, float)) and math.isfinite(h) and 0.05 <= h <= 2.0):
            raise ValueError(f"LaikagoWorldConfig.initial_height_m must be None or in [0.05, 2] m, "
                             f"got {self.initial_height_m!r}")
        if not isinstance(self.imu, ImuNoiseConfig):
            raise ValueError(f"LaikagoWorldConfig.imu must be ImuNoiseConfig, got {self.imu!r}")
        object.__setattr__(self, "allowed_contact_links", tuple(self.allowed_contact_links))
        if not all(isinstance(n, str) for n in self.allowed_contact_links):
            raise ValueError(f"LaikagoWorldConfig.allowed_contact_links must be link names, "
                             f"got {self.allowed_contact_links!r}")
        if not self.ground_urdf.endswith(".urdf"):
            raise ValueError(f"LaikagoWorldConfig.ground_urdf must name a .urdf file, got {self.ground_urdf!r}")

    # Flat views of the IMU noise, e.g. for the covariances of a sensor_msgs/Imu message.
    @property
    def imu_orientation_noise_rad(self) -> float:
        """Standard deviation of the orientation noise (rad)."""
        return self.imu.orientation_noise_std_rad

    @property
    def gyro_noise_std(self) -> float:
        """Standard deviation of the gyro white noise (rad/s)."""
        return self.imu.gyro_noise_std_radps

    @property
    def accel_noise_std(self) -> float:
        """Standard deviation of the accelerometer white noise (m/s²)."""
        return self.imu.accel_noise_std_mps2


def load_laikago_world_config(path: str | Path | None = None) -> LaikagoWorldConfig:
    """Read a :class:`LaikagoWorldConfig` from YAML (default: ``config/sim/laikago_world.yaml``)."""
    if path is None:
        from anima.controllers.paths import share_dir

        path = share_dir() / "config" / "sim" / "laikago_world.yaml"
    return load_yaml_config(LaikagoWorldConfig, path)


class LaikagoWorld(World):
    """Laikago on flat ground; torque controlled; IMU, joint encoders, contacts, ground truth."""

    def __init__(self, client: BulletClient, config: LaikagoWorldConfig | None = None) -> None:
        config = LaikagoWorldConfig() if config is None else config
        super().__init__(client, config)
        self.config: LaikagoWorldConfig = config
        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self.ground_id = client.loadURDF(config.ground_urdf)
        flags = pybullet.URDF_USE_SELF_COLLISION if config.self_collision else 0
        robot = client.loadURDF(URDF_PATH, LOAD_POSITION.tolist(), LOAD_ORIENTATION_XYZW.tolist(), flags=flags)
        dyn = client.getDynamicsInfo(robot, -1)
        self._com_offset = np.array(dyn[3])          # URDF base link -> inertial frame
        self._com_orn = np.array(dyn[4])
        # world_R_body = world_R_com · com_R_link · R_load⁻¹, and the link origin -> COM offset in
        # body axes is R_load · (URDF offset): both constant, so computed once.
        self._q_com_to_body = quat_multiply(quat_conjugate(self._com_orn), quat_conjugate(LOAD_ORIENTATION_XYZW))
        self._com_offset_body = quat_rotate(LOAD_ORIENTATION_XYZW, self._com_offset)
        self._imu_model = ImuModel(config.imu, np.random.default_rng(config.sensor_seed))
        self._base_buffer = DelayBuffer(13, 2)
        self._get_base_pose = client.getBasePositionAndOrientation
        self._get_base_velocity = client.getBaseVelocity
        self._bind_robot(robot, JOINT_NAMES, TOE_LINKS)
        unknown = [n for n in config.allowed_contact_links if n not in self.link_names]
        if unknown:
            raise ValueError(f"allowed_contact_links: {unknown} are not Laikago links {self.link_names}")
        self._allowed_contact = frozenset(config.allowed_contact_links)
        self._toe_radius = float(client.getCollisionShapeData(robot, self._foot_indices[0])[0][3][0])
        self.reset()

    # ----------------------------------------------------------------- reset
    def reset(self, joint_positions: np.ndarray | None = None, rng: np.random.Generator | None = None,
              base_height: float | None = None) -> None:
        """Joints at ``joint_positions`` (URDF angles; default standing), body level at the origin.

        ``base_height`` (m) places the body origin; None uses ``config.initial_height_m`` and, if
        that is None too, puts the lowest toe on the ground. Velocities and torque are zeroed;
        ``rng`` redraws the IMU biases and reseeds its noise.
        """
        q = STANDING_POSE if joint_positions is None else np.asarray(joint_positions, dtype=float)
        if q.shape != (12,) or not np.isfinite(q).all():
            raise ValueError(f"joint_positions must be 12 finite URDF angles, got {joint_positions!r}")
        out = (q < JOINT_LOWER_LIMITS - 1e-9) | (q > JOINT_UPPER_LIMITS + 1e-9)
        if out.any():
            bad = [self.joint_names[i] for i in np.flatnonzero(out)]
            raise ValueError(f"joint_positions outside the URDF limits at {bad}")
        if base_height is None:
            base_height = self.config.initial_height_m
        if base_height is not None and not (isinstance(base_height, (int, float, np.floating))
                                            and math.isfinite(base_height) and base_height > 0.0):
            raise ValueError(f"base_height must be a positive number of metres, got {base_height!r}")
        self._reset_joint_states(q)
        self._set_body_pose(np.array([0.0, 0.0, 1.0 if base_height is None else base_height]))
        if base_height is None:
            toes_z = [s[0][2] for s in self.client.getLinkStates(self.robot_id, self._foot_indices,
                                                                 computeForwardKinematics=1)]
            self._set_body_pose(np.array([0.0, 0.0, 1.0 - (min(toes_z) - self._toe_radius)]))
        self.client.resetBaseVelocity(self.robot_id, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
        if rng is not None:
            self._imu_model.reset(rng)
        self._sync_sensors()

    def _set_body_pose(self, position: np.ndarray, orientation_xyzw: np.ndarray | None = None) -> None:
        """Place the body frame (default level, heading +x) by moving PyBullet's inertial frame."""
        q_body = np.array([0.0, 0.0, 0.0, 1.0]) if orientation_xyzw is None else orientation_xyzw
        q_link = quat_multiply(q_body, LOAD_ORIENTATION_XYZW)
        p_com = position + quat_rotate(q_link, self._com_offset)
        q_com = quat_multiply(q_link, self._com_orn)
        self.client.resetBasePositionAndOrientation(self.robot_id, p_com.tolist(), q_com.tolist())

    def set_base_state(self, position: np.ndarray, orientation_xyzw: np.ndarray,
                       linear_velocity_world: np.ndarray | None = None,
                       angular_velocity_body: np.ndarray | None = None) -> None:
        """Teleport the body frame (same conventions as :meth:`ground_truth`; velocities default 0),
        e.g. to a reference-motion frame; restarts the sensor histories (IMU reads a = 0)."""
        arrays = {"position": (position, 3), "orientation_xyzw": (orientation_xyzw, 4),
                  "linear_velocity_world": (np.zeros(3) if linear_velocity_world is None else linear_velocity_world, 3),
                  "angular_velocity_body": (np.zeros(3) if angular_velocity_body is None else angular_velocity_body, 3)}
        checked = {}
        for name, (value, size) in arrays.items():
            arr = np.asarray(value, dtype=float)
            if arr.shape != (size,) or not np.isfinite(arr).all():
                raise ValueError(f"{name} must be {size} finite numbers, got {value!r}")
            checked[name] = arr
        norm = float(np.linalg.norm(checked["orientation_xyzw"]))
        if abs(norm - 1.0) > 1e-3:
            raise ValueError(f"orientation_xyzw must be a unit quaternion, got norm {norm:.6g}")
        q = checked["orientation_xyzw"] / norm
        self._set_body_pose(checked["position"], q)
        omega_world = quat_rotate(q, checked["angular_velocity_body"])
        r = quat_rotate(q, self._com_offset_body)              # body origin -> COM, world axes
        v_com = checked["linear_velocity_world"] + cross(omega_world, r)
        self.client.resetBaseVelocity(self.robot_id, v_com.tolist(), omega_world.tolist())
        self._sync_sensors()

    # ----------------------------------------------------------------- per-step recording
    def _base_sample(self) -> tuple[float, ...]:
        """Raw PyBullet base state: inertial-frame position (3), orientation (4), v (3), ω (3)."""
        pos, orn = self._get_base_pose(self.robot_id)
        lin, ang = self._get_base_velocity(self.robot_id)
        return pos + orn + lin + ang

    def _after_step(self) -> None:
        self._base_buffer.push(self._base_sample())

    def _on_latency_changed(self) -> None:
        # delay k needs samples k and k + 1 (acceleration by finite difference)
        self._base_buffer = DelayBuffer(13, self._latency_steps + 2)

    def _sync_sensors(self) -> None:
        super()._sync_sensors()
        self._base_buffer.fill(self._base_sample())

    # ----------------------------------------------------------------- base state in the body frame
    def _body_state(self, sample: np.ndarray | tuple[float, ...]) -> _BodyState:
        """Raw PyBullet base sample (inertial frame) -> the body frame's state."""
        s = np.asarray(sample, dtype=float)
        q = quat_multiply(s[3:7], self._q_com_to_body)
        rot = np.array(pybullet.getMatrixFromQuaternion(q.tolist())).reshape(3, 3)
        r = rot @ self._com_offset_body                      # body origin -> COM, world axes
        omega = s[10:13]
        return _BodyState(s[0:3] - r, q, rot, s[7:10] - cross(omega, r), omega)

    def ground_truth(self) -> BaseGroundTruth:
        """Exact body pose and twist now (no latency, no noise)."""
        b = self._body_state(self._base_sample())
        return BaseGroundTruth(position=b.position, orientation_xyzw=b.orientation_xyzw,
                               linear_velocity_world=b.velocity_world,
                               angular_velocity_body=b.rotation.T @ b.angular_velocity_world)

    def root_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The base as reference-motion files give the root (exact, now): PyBullet's inertial-frame
        position (3,), the y-up URDF base orientation xyzw (4,), that point's velocity and the
        angular velocity, both in world axes (3,), (3,)."""
        s = np.asarray(self._base_sample(), dtype=float)
        return s[0:3], quat_multiply(s[3:7], quat_conjugate(self._com_orn)), s[7:10], s[10:13]

    def set_root_state(self, position: np.ndarray, orientation_urdf_xyzw: np.ndarray,
                       linear_velocity: np.ndarray, angular_velocity: np.ndarray) -> None:
        """Teleport the base in the reference-motion convention of :meth:`root_state` (e.g. to a
        clip's frame for reference state initialisation); restarts the sensor histories."""
        values = [np.asarray(v, dtype=float) for v in (position, orientation_urdf_xyzw, linear_velocity, angular_velocity)]
        for name, arr, size in zip(("position", "orientation_urdf_xyzw", "linear_velocity", "angular_velocity"),
                                   values, (3, 4, 3, 3)):
            if arr.shape != (size,) or not np.isfinite(arr).all():
                raise ValueError(f"{name} must be {size} finite numbers, got {arr!r}")
        q = values[1] / np.linalg.norm(values[1])
        self.client.resetBasePositionAndOrientation(self.robot_id, values[0].tolist(),
                                                    quat_multiply(q, self._com_orn).tolist())
        self.client.resetBaseVelocity(self.robot_id, values[2].tolist(), values[3].tolist())
        self._sync_sensors()

    def imu(self) -> ImuReading:
        """IMU at the body origin, body axes, delayed by the sensor latency, with noise and bias.

        Linear acceleration is the specific force R_bodyᵀ(a − g): the origin's acceleration by
        finite difference of its velocity over the last physics step, minus gravity (0, 0, −g).
        """
        k = self._latency_steps
        now = self._body_state(self._base_buffer.get(k))
        prev = self._body_state(self._base_buffer.get(k + 1))
        accel = (now.velocity_world - prev.velocity_world) / self.physics_dt
        accel[2] += self.config.gravity_mps2
        rot_t = now.rotation.T
        return self._imu_model.measure(now.orientation_xyzw, rot_t @ now.angular_velocity_world, rot_t @ accel)

    # ----------------------------------------------------------------- contacts and feet
    def _ground_contacts(self) -> list[tuple]:
        """Robot-ground contact points that touch or penetrate (Bullet also lists points that are
        merely within its contact margin, with zero force; the lower-leg meshes end ~0.2 mm above
        the toe spheres' contact plane, so those would read as spurious knee contacts)."""
        return [cp for cp in self.client.getContactPoints(bodyA=self.robot_id, bodyB=self.ground_id)
                if cp[8] <= 0.0]

    def foot_contact_forces(self) -> np.ndarray:
        """Normal ground-contact force on each toe (N), (4,) in order FR, FL, RR, RL."""
        forces = np.zeros(len(self._foot_indices))
        slot = {link: i for i, link in enumerate(self._foot_indices)}
        for cp in self._ground_contacts():
            i = slot.get(cp[3])
            if i is not None:
                forces[i] += cp[9]
        return forces

    def non_foot_ground_contact(self) -> list[str]:
        """Sorted names of links touching the ground that are not in ``allowed_contact_links``."""
        names = {self.link_names[cp[3] + 1] for cp in self._ground_contacts()}
        return sorted(names - self._allowed_contact)

    def foot_positions_body(self) -> np.ndarray:
        """Toe link origins in the body frame (m), (4, 3) in order FR, FL, RR, RL (exact, now)."""
        b = self._body_state(self._base_sample())
        toes = np.array([s[0] for s in self.client.getLinkStates(self.robot_id, self._foot_indices,
                                                                  computeForwardKinematics=1)])
        return (toes - b.position) @ b.rotation

    @staticmethod
    def nominal_pose() -> np.ndarray:
        """The standing pose in URDF joint angles, (12,)."""
        return STANDING_POSE.copy()

    @staticmethod
    def crouch_pose() -> np.ndarray:
        """The crouch (lying-down start) pose in URDF joint angles, (12,)."""
        return CROUCH_POSE.copy()
