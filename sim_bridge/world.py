"""The ``World`` abstraction: one PyBullet scene with a torque-controlled robot and its sensors.

The same ``World`` drives training (gymnasium environments, in process) and run time (the
``sim_bridge`` node publishing ROS topics), so a policy sees identical dynamics in both. A world:

* owns an injected ``BulletClient`` (``pybullet.DIRECT`` in tests and training), configures fixed-step
  physics and loads its scene in ``__init__``;
* is torque controlled: :meth:`World.apply_torques` holds a torque (zero-order hold, scaled by the
  motor strength) that :meth:`World.step` applies on every physics step with PyBullet's
  ``TORQUE_CONTROL``; PyBullet's default velocity motors are turned into Coulomb joint friction
  (a velocity motor with target 0 and the friction torque as its force limit);
* delays sensor readings by a whole number of physics steps (observation latency);
* applies domain randomization (Peng et al., RSS 2020, Sec. VI-A; ranges in FACTS.md "Domain
  randomization") through :meth:`World.randomize`, always relative to the nominal values stored at
  load, so repeated randomization never compounds.

Subclasses load their scene and call :meth:`World._bind_robot`, then implement :meth:`World.reset`.
Shapes: joint vectors are ``(n_joints,)`` in URDF order (``World.joint_names``).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from anima.controllers.config_loader import config_from_mapping as _config_from_mapping
from anima.controllers.config_loader import load_yaml_config as _load_yaml_config
from anima.sim_bridge import randomization as _dr
from anima.sim_bridge.randomization import RandomizationRanges
from anima.sim_bridge.sensors import DelayBuffer, ImuReading

__all__ = [
    "BaseGroundTruth",
    "ImuReading",
    "JointReading",
    "RandomizationRanges",
    "World",
    "WorldConfig",
    "config_from_mapping",
    "load_yaml_config",
]



# --------------------------------------------------------------------------- shared dataclasses
@dataclass(frozen=True)
class JointReading:
    """Joint sensor sample, URDF order, shapes ``(n_joints,)``.

    ``position`` rad, ``velocity`` rad/s, ``effort``: torque (N·m) applied during the most recent
    physics step (after motor-strength scaling; zeros before the first step after a reset).
    """

    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


@dataclass(frozen=True)
class BaseGroundTruth:
    """Exact floating-base state (evaluation only; never fed to a controller as a measurement).

    ``position``: body-frame origin in the world (m), (3,). ``orientation_xyzw``: world_R_body, (4,).
    ``linear_velocity_world``: velocity of the body origin in world axes (m/s), (3,).
    ``angular_velocity_body``: rad/s in body axes, (3,).
    """

    position: np.ndarray
    orientation_xyzw: np.ndarray
    linear_velocity_world: np.ndarray
    angular_velocity_body: np.ndarray


def _is_number(value: Any) -> bool:
    """A finite int or float (bool excluded), e.g. a YAML scalar that is not a string."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class WorldConfig:
    """Physics settings shared by every world (SI units).

    ``gravity_mps2`` is the magnitude of gravity along −z (10 in the imitation work, FACTS.md).
    ``latency_s`` is the nominal sensor latency (rounded to whole physics steps).
    ``randomization``: ranges used by :meth:`World.randomize`; ``None`` means randomize() restores
    the nominal values.
    """

    physics_dt: float = 0.001
    gravity_mps2: float = 10.0
    num_solver_iterations: int = 50
    enable_cone_friction: bool = False
    latency_s: float = 0.0
    randomization: RandomizationRanges | None = None

    def __post_init__(self) -> None:
        name = type(self).__name__
        if not (_is_number(self.physics_dt) and 0.0 < self.physics_dt <= 0.1):
            raise ValueError(f"{name}.physics_dt must be in (0, 0.1] s, got {self.physics_dt!r}")
        if not (_is_number(self.gravity_mps2) and self.gravity_mps2 >= 0.0):
            raise ValueError(f"{name}.gravity_mps2 must be finite and >= 0, got {self.gravity_mps2!r}")
        if not (isinstance(self.num_solver_iterations, int) and self.num_solver_iterations >= 1):
            raise ValueError(f"{name}.num_solver_iterations must be an int >= 1, got {self.num_solver_iterations!r}")
        if not (_is_number(self.latency_s) and 0.0 <= self.latency_s <= 1.0):
            raise ValueError(f"{name}.latency_s must be in [0, 1] s, got {self.latency_s!r}")
        if self.randomization is not None and not isinstance(self.randomization, RandomizationRanges):
            raise ValueError(f"{name}.randomization must be RandomizationRanges or None, got {self.randomization!r}")


# --------------------------------------------------------------------------- YAML loading
# One shared, type-checking loader for every config (anima.controllers.config_loader).
config_from_mapping = _config_from_mapping
load_yaml_config = _load_yaml_config


# --------------------------------------------------------------------------- the world
class World(abc.ABC):
    """A PyBullet scene with one torque-controlled robot, sensor latency and domain randomization.

    ``time_s`` counts simulated time since construction and never goes back (a reset does not
    rewind it), so a ``/clock`` built on it stays monotonic. A world owns its client: the
    constructor calls ``resetSimulation``, so give each world its own ``BulletClient``.
    """

    physics_dt: float
    joint_names: tuple[str, ...]

    def __init__(self, client: BulletClient, config: WorldConfig) -> None:
        self.client = client
        self.config = config
        self.physics_dt = config.physics_dt
        self.joint_names = ()
        self._step_count = 0
        client.resetSimulation()
        client.setPhysicsEngineParameter(
            fixedTimeStep=config.physics_dt,
            numSolverIterations=config.num_solver_iterations,
            enableConeFriction=int(config.enable_cone_friction),
        )
        client.setGravity(0.0, 0.0, -config.gravity_mps2)
        client.setRealTimeSimulation(0)

    # ----------------------------------------------------------------- binding (for subclasses)
    def _bind_robot(self, body_id: int, joint_names: Sequence[str] | None = None,
                    foot_links: Sequence[str] = ()) -> None:
        """Register the controlled robot: its joints (default: all non-fixed, URDF order) and feet.

        Stores the nominal link masses, inertias and foot friction, disables PyBullet's default
        velocity motors and sets up the latency buffers. Call once, after loading the robot.
        """
        c = self.client
        self.robot_id = body_id
        info = [c.getJointInfo(body_id, j) for j in range(c.getNumJoints(body_id))]
        joint_index = {i[1].decode(): i[0] for i in info}
        link_names = [c.getBodyInfo(body_id)[0].decode()] + [i[12].decode() for i in info]
        self.link_names: tuple[str, ...] = tuple(link_names)  # index 0 is the base (PyBullet -1)
        if joint_names is None:
            joint_names = [i[1].decode() for i in info if i[2] != pybullet.JOINT_FIXED]
        missing = [n for n in joint_names if n not in joint_index]
        if missing:
            raise ValueError(f"joint_names: {missing} not in the robot's URDF joints {sorted(joint_index)}")
        bad_feet = [n for n in foot_links if n not in link_names]
        if bad_feet:
            raise ValueError(f"foot_links: {bad_feet} not in the robot's links {link_names}")
        self.joint_names = tuple(joint_names)
        self._joint_indices = [joint_index[n] for n in joint_names]
        self.foot_link_names: tuple[str, ...] = tuple(foot_links)
        self._foot_indices = [link_names.index(n) - 1 for n in foot_links]
        n = len(self._joint_indices)
        self._store_nominal_dynamics()
        self._motor_strength = np.ones(n)
        self._joint_friction = np.zeros(n)
        self._tau_applied = np.zeros(n)
        self._tau_forces: list[float] = [0.0] * n
        self._tau_last_step = np.zeros(n)
        # Cached bound calls keep the per-step Python overhead low.
        self._set_motors = c.setJointMotorControlArray
        self._step_simulation = c.stepSimulation
        self._get_joint_states = c.getJointStates
        self._apply_joint_friction()
        self._latency_steps = 0
        self._joint_buffer = DelayBuffer(3 * n, 1)
        self.set_latency(self.config.latency_s)

    def _store_nominal_dynamics(self) -> None:
        """Masses, inertia diagonals and foot friction as loaded (the DR reference values)."""
        dyn = [self.client.getDynamicsInfo(self.robot_id, j) for j in range(-1, len(self.link_names) - 1)]
        self._nominal_mass = np.array([d[0] for d in dyn])
        self._nominal_inertia = np.array([d[2] for d in dyn])
        self._nominal_foot_friction = np.array([dyn[j + 1][1] for j in self._foot_indices])
        self._nominal_joint_damping = np.array([self.client.getJointInfo(self.robot_id, j)[6]
                                                for j in self._joint_indices])

    # ----------------------------------------------------------------- properties
    @property
    def time_s(self) -> float:
        """Simulated time since construction (s)."""
        return self._step_count * self.physics_dt

    @property
    def step_count(self) -> int:
        """Physics steps taken since construction."""
        return self._step_count

    @property
    def n_joints(self) -> int:
        """Number of controlled joints."""
        return len(self.joint_names)

    @property
    def latency_s(self) -> float:
        """Current sensor latency, a whole number of physics steps (s)."""
        return self._latency_steps * self.physics_dt

    @property
    def latency_steps(self) -> int:
        """Current sensor latency in physics steps."""
        return self._latency_steps

    @property
    def motor_strength(self) -> np.ndarray:
        """Per-joint torque scale, (n_joints,)."""
        return self._motor_strength.copy()

    @property
    def joint_friction_nm(self) -> np.ndarray:
        """Per-joint Coulomb friction torque (N·m), (n_joints,)."""
        return self._joint_friction.copy()

    @property
    def nominal_link_masses(self) -> np.ndarray:
        """Link masses as loaded (kg), (n_links,), base first."""
        return self._nominal_mass.copy()

    # ----------------------------------------------------------------- control and stepping
    @abc.abstractmethod
    def reset(self, joint_positions: np.ndarray | None = None, rng: np.random.Generator | None = None) -> None:
        """Put the robot in a start state with zero velocities and zero held torque."""

    def apply_torques(self, tau: np.ndarray) -> None:
        """Hold joint torques ``tau`` (N·m, (n_joints,)) until the next call (zero-order hold)."""
        tau = np.asarray(tau, dtype=float)
        if tau.shape != (self.n_joints,):
            raise ValueError(f"tau must have shape ({self.n_joints},) in joint order {self.joint_names}, "
                             f"got {tau.shape}")
        if not np.isfinite(tau).all():
            bad = [self.joint_names[i] for i in np.flatnonzero(~np.isfinite(tau))]
            raise ValueError(f"tau must be finite, got non-finite values at joints {bad}")
        self._tau_applied = tau * self._motor_strength
        self._tau_forces = self._tau_applied.tolist()

    def step(self, n_steps: int = 1) -> None:
        """Advance ``n_steps`` physics steps, applying the held torque on each."""
        if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
            raise ValueError(f"n_steps must be an int >= 1, got {n_steps!r}")
        body, idx, forces = self.robot_id, self._joint_indices, self._tau_forces
        record = self._latency_steps > 0
        for _ in range(int(n_steps)):
            self._set_motors(body, idx, pybullet.TORQUE_CONTROL, forces=forces)
            self._step_simulation()
            self._step_count += 1
            self._tau_last_step = self._tau_applied
            if record:
                self._joint_buffer.push(self._joint_sample())
            self._after_step()

    def _after_step(self) -> None:
        """Hook run after every physics step (subclasses record what their sensors need)."""

    # ----------------------------------------------------------------- sensing
    def _joint_sample(self) -> np.ndarray:
        """Exact joint state now: (3 n_joints,) = position, velocity, effort."""
        position, velocity, _, _ = zip(*self._get_joint_states(self.robot_id, self._joint_indices))
        n = len(position)
        out = np.empty(3 * n)
        out[:n] = position
        out[n:2 * n] = velocity
        out[2 * n:] = self._tau_last_step
        return out

    def true_joints(self) -> JointReading:
        """Exact joint state now, without latency."""
        s, n = self._joint_sample(), self.n_joints
        return JointReading(s[:n], s[n:2 * n], s[2 * n:])

    def read_joints(self) -> JointReading:
        """Joint sensor reading, delayed by the sensor latency."""
        if self._latency_steps == 0:
            return self.true_joints()
        s, n = self._joint_buffer.get(self._latency_steps), self.n_joints
        return JointReading(s[:n], s[n:2 * n], s[2 * n:])

    def _sync_sensors(self) -> None:
        """Restart the sensor histories from the current state (after a reset or latency change)."""
        self._joint_buffer.fill(self._joint_sample())

    # ----------------------------------------------------------------- dynamics parameters
    def _reset_joint_states(self, positions: np.ndarray, velocities: np.ndarray | None = None) -> None:
        """Teleport the joints (velocities default to zero); clears the held torque."""
        positions = np.asarray(positions, dtype=float)
        velocities = np.zeros(self.n_joints) if velocities is None else np.asarray(velocities, dtype=float)
        for name, arr in (("joint_positions", positions), ("joint_velocities", velocities)):
            if arr.shape != (self.n_joints,) or not np.isfinite(arr).all():
                raise ValueError(f"{name} must be finite with shape ({self.n_joints},), got {arr!r}")
        for j, q, qd in zip(self._joint_indices, positions.tolist(), velocities.tolist()):
            self.client.resetJointState(self.robot_id, j, q, targetVelocity=qd)
        self.apply_torques(np.zeros(self.n_joints))
        self._tau_last_step = np.zeros(self.n_joints)

    def set_joint_state(self, positions: np.ndarray, velocities: np.ndarray | None = None) -> None:
        """Teleport the joints to ``positions`` (rad) and ``velocities`` (rad/s, default 0), e.g. for
        reference-state initialisation; clears the held torque and restarts the sensor histories."""
        self._reset_joint_states(positions, velocities)
        self._sync_sensors()

    def _apply_joint_friction(self) -> None:
        """Coulomb friction as a velocity motor with target 0 and force limit = friction torque."""
        n = self.n_joints
        self._set_motors(self.robot_id, self._joint_indices, pybullet.VELOCITY_CONTROL,
                         targetVelocities=[0.0] * n, forces=self._joint_friction.tolist())

    def _per_item(self, name: str, value: float | np.ndarray, size: int, lower: float) -> np.ndarray:
        """Broadcast a scalar or check an array of ``size`` values, all finite and >= ``lower``."""
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 0:
            arr = np.full(size, float(arr))
        if arr.shape != (size,) or not np.isfinite(arr).all() or (arr < lower).any():
            raise ValueError(f"{name} must be a scalar or shape ({size},), finite and >= {lower}, got {value!r}")
        return arr.copy()

    def set_mass_scale(self, scale: float | np.ndarray) -> None:
        """Link masses = nominal × scale (scalar or (n_links,), base first)."""
        scale = self._per_item("mass_scale", scale, len(self.link_names), 1e-6)
        for j, m in enumerate(self._nominal_mass * scale):
            self.client.changeDynamics(self.robot_id, j - 1, mass=float(m))

    def set_inertia_scale(self, scale: float | np.ndarray) -> None:
        """Link inertia diagonals = nominal × scale (scalar or (n_links,)); call after set_mass_scale."""
        scale = self._per_item("inertia_scale", scale, len(self.link_names), 1e-6)
        for j, (inertia, s) in enumerate(zip(self._nominal_inertia, scale)):
            self.client.changeDynamics(self.robot_id, j - 1, localInertiaDiagonal=(inertia * s).tolist())

    def set_motor_strength(self, scale: float | np.ndarray) -> None:
        """Torque scale per joint (scalar or (n_joints,)); applies from the next apply_torques."""
        self._motor_strength = self._per_item("motor_strength_scale", scale, self.n_joints, 0.0)

    def set_joint_friction(self, friction_nm: float | np.ndarray) -> None:
        """Coulomb friction torque per joint (N·m, scalar or (n_joints,))."""
        self._joint_friction = self._per_item("joint_friction_nm", friction_nm, self.n_joints, 0.0)
        self._apply_joint_friction()

    def set_foot_friction(self, mu: float | None) -> None:
        """Lateral friction coefficient of every foot link; ``None`` restores the URDF values."""
        values = self._nominal_foot_friction if mu is None else self._per_item(
            "foot_friction", mu, len(self._foot_indices), 0.0)
        for j, m in zip(self._foot_indices, values):
            self.client.changeDynamics(self.robot_id, j, lateralFriction=float(m))

    def set_joint_damping(self, damping_nms: float | np.ndarray | None) -> None:
        """Viscous joint damping (N·m·s/rad, scalar or (n_joints,)); ``None`` restores the URDF values."""
        values = self._nominal_joint_damping if damping_nms is None else self._per_item(
            "joint_damping_nms", damping_nms, self.n_joints, 0.0)
        for j, d in zip(self._joint_indices, values):
            self.client.changeDynamics(self.robot_id, j, jointDamping=float(d))

    def set_latency(self, latency_s: float) -> None:
        """Sensor latency (s), rounded to whole physics steps; restarts the sensor histories."""
        if not (math.isfinite(latency_s) and 0.0 <= latency_s <= 1.0):
            raise ValueError(f"latency_s must be in [0, 1] s, got {latency_s!r}")
        self._latency_steps = int(round(latency_s / self.physics_dt))
        self._joint_buffer = DelayBuffer(3 * self.n_joints, self._latency_steps + 1)
        self._on_latency_changed()
        self._sync_sensors()

    def _on_latency_changed(self) -> None:
        """Hook: resize subclass sensor buffers to ``self._latency_steps`` (before a sync)."""

    def randomize(self, rng: np.random.Generator) -> dict[str, Any]:
        """Sample and apply domain randomization from ``config.randomization``; returns what was applied.

        With ``config.randomization`` None every parameter goes back to nominal.
        """
        params = _dr.sample(self.config.randomization, rng, n_links=len(self.link_names), n_joints=self.n_joints)
        _dr.apply(self, params)
        return params.as_dict()
