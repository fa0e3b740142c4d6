"""ShadowHand, palm up, holding two Baoding balls, seen by an overhead stereo pair (PyBullet).

The scene of PDDM's Baoding task (Nagabandi et al., CoRL 2019, Sec. 6 and the public code's
``baoding_env``): a 24-joint ShadowHand with two balls in the palm, joint-position targets at
10 Hz (MuJoCo dt 0.0025 s x frame_skip 40) tracked by a PD law at the control rate, physics at
500 Hz here. The hand description is ``urdf/shadowhand.urdf``; the distal joint J0 of each of
the four fingers follows the middle joint J1 through a ``JOINT_GEAR`` constraint (the real hand's
tendon coupling). Balls carry rolling friction so they come to rest in the cupped palm.

Control API for environments (in process, no ROS)::

    world = BaodingWorld(client, load_baoding_config())
    path = JointCommandPath(load_robot_config("shadowhand"))
    world.reset(rng=rng); path.reset(world.read_joints().position)
    world.run_targets(path, q_target, duration_s=0.1)    # one 10 Hz control step
    world.ball_states(), world.balls_dropped()

Domain randomization (:class:`BaodingRandomization`): ball mass and friction, joint damping,
camera pose jitter, camera latency 0..40 ms (``camera_latency_s``; applied by whoever publishes
the images) and lighting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from anima.sim_bridge.randomization import Range, check_range
from anima.sim_bridge.stereo_camera import StereoCamera, StereoCameraConfig, StereoFrame
from anima.sim_bridge.world import World, WorldConfig, load_yaml_config

__all__ = [
    "BallStates",
    "BaodingRandomization",
    "BaodingWorld",
    "BaodingWorldConfig",
    "load_baoding_config",
]

COUPLED = (("FFJ1", "FFJ0"), ("MFJ1", "MFJ0"), ("RFJ1", "RFJ0"), ("LFJ1", "LFJ0"))
# Hand frame (URDF) -> world at zero wrist angles: fingers (+z) along world +x, palm normal (-y)
# up along world +z, thumb side (+x) along world -y.
_HAND_TO_WORLD = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
# Palm surface centre in the forearm (base) frame at zero wrist angles: palm box centre
# (0.011, 0, 0.038) in the palm frame, which sits at z 0.256 + 0.034 and y 0.01; surface at -y 0.0111.
_PALM_SURFACE_IN_BASE = np.array([0.011, 0.01 - 0.0111, 0.256 + 0.034 + 0.038])


@dataclass(frozen=True)
class BaodingRandomization:
    """Per-episode randomization ranges (uniform); ``None`` keeps a parameter nominal.

    Ball mass (kg) and lateral friction per ball, joint damping scale per joint, camera position
    jitter (m, per axis) and rotation jitter (rad, rotation vector per axis), camera latency (s).
    """

    ball_mass_kg: Range = (0.035, 0.045)
    ball_friction: Range = (0.7, 1.2)
    joint_damping_scale: Range = (0.5, 1.5)
    camera_position_jitter_m: float = 0.002
    camera_rotation_jitter_rad: float = 0.005
    camera_latency_s: Range = (0.0, 0.04)
    lighting: bool = True

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key, low in (("ball_mass_kg", 1e-4), ("ball_friction", 0.0), ("joint_damping_scale", 0.0),
                         ("camera_latency_s", 0.0)):
            object.__setattr__(self, key, check_range(name, key, getattr(self, key), low))
        if self.camera_latency_s is not None and self.camera_latency_s[1] > 1.0:
            raise ValueError(f"{name}.camera_latency_s must be within [0, 1] s, got {self.camera_latency_s!r}")
        for key in ("camera_position_jitter_m", "camera_rotation_jitter_rad"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name}.{key} must be a finite number >= 0, got {v!r}")


@dataclass(frozen=True)
class BaodingWorldConfig(WorldConfig):
    """The Baoding scene (SI units). Physics defaults: 500 Hz, gravity 9.81, 30 solver iterations.

    ``palm_position_m``: where the palm surface centre sits in the world; ``mount_pitch_rad``
    tilts the fingers down (positive) so the balls settle against the cupped fingers.
    ``ball_start_in_palm_m``: ball centre offsets (along the fingers, across the palm) from the
    palm surface centre at reset. A ball is dropped when its centre falls ``drop_depth_m``
    below the palm surface centre.
    """

    physics_dt: float = 0.002
    gravity_mps2: float = 9.81
    num_solver_iterations: int = 30
    urdf: str = "urdf/shadowhand.urdf"
    robot: str = "shadowhand"
    palm_position_m: tuple[float, float, float] = (0.0, 0.0, 0.2)
    mount_pitch_rad: float = 0.15
    ball_radius_m: float = 0.022
    ball_mass_kg: float = 0.04
    ball_friction: float = 1.0
    ball_rolling_friction: float = 1e-4
    ball_colors_rgba: tuple[tuple[float, ...], ...] = ((0.9, 0.1, 0.1, 1.0), (0.1, 0.2, 0.9, 1.0))
    ball_start_in_palm_m: tuple[tuple[float, ...], ...] = ((-0.02, 0.0), (0.025, 0.0))
    drop_depth_m: float = 0.05
    camera: StereoCameraConfig = field(default_factory=StereoCameraConfig)
    dr: BaodingRandomization | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        for key in ("ball_radius_m", "ball_mass_kg", "drop_depth_m"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}.{key} must be a finite number > 0, got {v!r}")
        if not 0.005 <= self.ball_radius_m <= 0.05:
            raise ValueError(f"{name}.ball_radius_m must be in [0.005, 0.05] m, got {self.ball_radius_m}")
        colors = tuple(tuple(float(x) for x in c) for c in self.ball_colors_rgba)
        starts = tuple(tuple(float(x) for x in s) for s in self.ball_start_in_palm_m)
        if len(colors) < 1 or any(len(c) != 4 for c in colors):
            raise ValueError(f"{name}.ball_colors_rgba must be a list of RGBA quadruples, got {self.ball_colors_rgba!r}")
        if len(starts) != len(colors) or any(len(s) != 2 for s in starts):
            raise ValueError(f"{name}.ball_start_in_palm_m must hold one (along, across) pair per ball colour")
        object.__setattr__(self, "ball_colors_rgba", colors)
        object.__setattr__(self, "ball_start_in_palm_m", starts)
        pos = tuple(float(v) for v in self.palm_position_m)
        if len(pos) != 3 or not all(math.isfinite(v) for v in pos):
            raise ValueError(f"{name}.palm_position_m must be 3 finite numbers, got {self.palm_position_m!r}")
        object.__setattr__(self, "palm_position_m", pos)
        if not (math.isfinite(self.mount_pitch_rad) and abs(self.mount_pitch_rad) < 1.0):
            raise ValueError(f"{name}.mount_pitch_rad must be within (-1, 1) rad, got {self.mount_pitch_rad!r}")
        if self.camera is None or not isinstance(self.camera, StereoCameraConfig):
            raise ValueError(f"{name}.camera must be a StereoCameraConfig mapping, got {self.camera!r}")

    @property
    def n_balls(self) -> int:
        return len(self.ball_colors_rgba)


def load_baoding_config(path: str | Path | None = None) -> BaodingWorldConfig:
    """Read ``config/sim/baoding_world.yaml`` (default, under the share folder) or ``path``."""
    if path is None:
        from anima.controllers.paths import share_dir

        path = share_dir() / "config" / "sim" / "baoding_world.yaml"
    return load_yaml_config(BaodingWorldConfig, path)


@dataclass(frozen=True)
class BallStates:
    """Exact ball states in the world frame: ``position`` (N, 3) m, ``orientation_xyzw`` (N, 4),
    ``linear_velocity`` (N, 3) m/s, ``angular_velocity`` (N, 3) rad/s."""

    position: np.ndarray
    orientation_xyzw: np.ndarray
    linear_velocity: np.ndarray
    angular_velocity: np.ndarray


class CommandPath(Protocol):
    """What :meth:`BaodingWorld.run_targets` needs (``anima.controllers.command_path.JointCommandPath``)."""

    def set_targets(self, names: Any, positions: np.ndarray, t: float) -> Any: ...

    def compute(self, q: np.ndarray, qd: np.ndarray, t: float) -> np.ndarray: ...


class BaodingWorld(World):
    """The Baoding scene; joints in URDF order (``joint_names``), balls indexed 0..N-1 by colour."""

    def __init__(self, client: BulletClient, config: BaodingWorldConfig,
                 rest_pose: np.ndarray | None = None, control_rate_hz: float | None = None) -> None:
        """``rest_pose`` (URDF order) and ``control_rate_hz`` (PD rate of :meth:`run_targets`)
        default to ``standing_pose_rad`` and ``control_rate_hz`` of ``config/robots/<config.robot>.yaml``."""
        super().__init__(client, config)
        self.config: BaodingWorldConfig = config
        self._load_hand()
        self._load_balls()
        self.camera = StereoCamera(client, config.camera)
        self.camera_latency_s = 0.0
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

    # ----------------------------------------------------------------- scene
    def _urdf_path(self) -> str:
        path = Path(self.config.urdf)
        if not path.is_absolute():
            from anima.controllers.paths import share_dir

            path = share_dir() / path
        if not path.is_file():
            raise ValueError(f"BaodingWorldConfig.urdf: file not found: {path}")
        return str(path)

    def _load_hand(self) -> None:
        from scipy.spatial.transform import Rotation

        c, cfg = self.client, self.config
        R = Rotation.from_euler("y", cfg.mount_pitch_rad).as_matrix() @ _HAND_TO_WORLD
        base = np.array(cfg.palm_position_m) - R @ _PALM_SURFACE_IN_BASE
        body = c.loadURDF(self._urdf_path(), base.tolist(), Rotation.from_matrix(R).as_quat().tolist(),
                          useFixedBase=True, flags=pybullet.URDF_USE_INERTIA_FROM_FILE)
        self._bind_robot(body)
        self._palm_link = self.link_names.index("palm") - 1
        idx = {n: i for n, i in zip(self.joint_names, self._joint_indices)}
        self._nominal_damping = np.array([c.getJointInfo(body, j)[6] for j in self._joint_indices])
        for leader, follower in COUPLED:
            cid = c.createConstraint(body, idx[leader], body, idx[follower], pybullet.JOINT_GEAR,
                                     [1, 0, 0], [0, 0, 0], [0, 0, 0])
            # gearRatio -1 makes the follower turn with the leader, q_J0 = q_J1 (checked by
            # tests/sim_bridge/test_baoding_world.py::test_distal_joint_follows_middle_joint).
            c.changeConstraint(cid, gearRatio=-1.0, maxForce=10.0, erp=0.2)
        # Ground plane that catches dropped balls. It is not drawn: a full-image plane costs
        # TINY_RENDERER more than the whole hand (~18 ms per stereo pair); the renderer's plain
        # white background stands in for the table.
        self.ground_id = c.createMultiBody(0.0, c.createCollisionShape(pybullet.GEOM_PLANE))
        c.changeVisualShape(self.ground_id, -1, rgbaColor=[0.0, 0.0, 0.0, 0.0])

    def _load_balls(self) -> None:
        c, cfg = self.client, self.config
        self.ball_ids: list[int] = []
        for rgba in cfg.ball_colors_rgba:
            col = c.createCollisionShape(pybullet.GEOM_SPHERE, radius=cfg.ball_radius_m)
            vis = c.createVisualShape(pybullet.GEOM_SPHERE, radius=cfg.ball_radius_m, rgbaColor=list(rgba))
            ball = c.createMultiBody(cfg.ball_mass_kg, col, vis, [0.0, 0.0, 1.0])
            c.changeDynamics(ball, -1, lateralFriction=cfg.ball_friction,
                             rollingFriction=cfg.ball_rolling_friction, spinningFriction=1e-4)
            self.ball_ids.append(ball)

    # ----------------------------------------------------------------- reset
    def reset(self, joint_positions: np.ndarray | None = None, rng: np.random.Generator | None = None) -> None:
        """Hand to ``joint_positions`` (default: rest pose), balls on the palm, everything at rest.

        With ``rng`` the ball start positions get a ±3 mm jitter.
        """
        q = self.rest_pose if joint_positions is None else np.asarray(joint_positions, dtype=float)
        self._reset_joint_states(q)
        for ball, pos in zip(self.ball_ids, self.ball_start_positions(rng)):
            self.client.resetBasePositionAndOrientation(ball, pos.tolist(), [0.0, 0.0, 0.0, 1.0])
            self.client.resetBaseVelocity(ball, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
        self._sync_sensors()

    def ball_start_positions(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """World positions (N, 3) of the ball centres at reset: on the palm surface (current wrist pose)."""
        x_palm, y_palm, z_palm = self._palm_axes()
        surface = self.palm_surface_position()
        r = self.config.ball_radius_m
        out = []
        for along, across in self.config.ball_start_in_palm_m:
            jitter = rng.uniform(-0.003, 0.003, 2) if rng is not None else np.zeros(2)
            out.append(surface + (along + jitter[0]) * z_palm + (across + jitter[1]) * x_palm
                       - (r + 0.001) * y_palm)
        return np.array(out)

    def _palm_axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        st = self.client.getLinkState(self.robot_id, self._palm_link, computeForwardKinematics=True)
        R = np.array(self.client.getMatrixFromQuaternion(st[5])).reshape(3, 3)
        return R[:, 0], R[:, 1], R[:, 2]

    def palm_surface_position(self) -> np.ndarray:
        """World position of the palm surface centre now (m), (3,)."""
        st = self.client.getLinkState(self.robot_id, self._palm_link, computeForwardKinematics=True)
        R = np.array(self.client.getMatrixFromQuaternion(st[5])).reshape(3, 3)
        return np.array(st[4]) + R @ np.array([0.011, -0.0111, 0.038])

    # ----------------------------------------------------------------- control
    def run_targets(self, path: CommandPath, targets: np.ndarray | None, duration_s: float) -> None:
        """Send ``targets`` (URDF order, rad; None: keep the last) to ``path`` and simulate ``duration_s``.

        The PD law runs at ``control_rate_hz`` (torque held between runs), as under ROS where the
        pd_controller runs once per ``joint_states`` message.
        """
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

    # ----------------------------------------------------------------- ground truth
    def ball_states(self) -> BallStates:
        """Exact ball states now (world frame)."""
        c = self.client
        poses = [c.getBasePositionAndOrientation(b) for b in self.ball_ids]
        vels = [c.getBaseVelocity(b) for b in self.ball_ids]
        return BallStates(np.array([p[0] for p in poses]), np.array([p[1] for p in poses]),
                          np.array([v[0] for v in vels]), np.array([v[1] for v in vels]))

    def balls_dropped(self) -> np.ndarray:
        """(N,) bool: ball centre more than ``drop_depth_m`` below the palm surface centre."""
        z_palm = self.palm_surface_position()[2]
        z = np.array([self.client.getBasePositionAndOrientation(b)[0][2] for b in self.ball_ids])
        return z < z_palm - self.config.drop_depth_m

    # ----------------------------------------------------------------- sensing
    def render_stereo(self, rng: np.random.Generator | None = None) -> StereoFrame:
        """Render the stereo pair now (stamp = ``time_s``); pixel noise drawn from ``rng`` if configured."""
        return self.camera.render(self.time_s, rng)

    # ----------------------------------------------------------------- randomization
    def randomize(self, rng: np.random.Generator) -> dict[str, Any]:
        """Sample and apply ``config.dr`` (None: restore nominal); returns what was applied."""
        dr, cfg, c = self.config.dr, self.config, self.client
        n_b = len(self.ball_ids)

        def draw(rng_range: Range, nominal: float | np.ndarray, size: int) -> np.ndarray:
            if dr is None or rng_range is None:
                return np.broadcast_to(np.asarray(nominal, dtype=float), (size,)).copy()
            return rng.uniform(rng_range[0], rng_range[1], size)

        mass = draw(dr.ball_mass_kg if dr else None, cfg.ball_mass_kg, n_b)
        friction = draw(dr.ball_friction if dr else None, cfg.ball_friction, n_b)
        for b, m, f in zip(self.ball_ids, mass, friction):
            c.changeDynamics(b, -1, mass=float(m), lateralFriction=float(f))
        damping = self._nominal_damping * draw(dr.joint_damping_scale if dr else None, 1.0, self.n_joints)
        for j, d in zip(self._joint_indices, damping):
            c.changeDynamics(self.robot_id, j, jointDamping=float(d))
        cam_pos = rng.uniform(-1, 1, 3) * dr.camera_position_jitter_m if dr else np.zeros(3)
        cam_rot = rng.uniform(-1, 1, 3) * dr.camera_rotation_jitter_rad if dr else np.zeros(3)
        self.camera.set_pose_offset(cam_pos, cam_rot)
        self.camera.set_lighting(rng if dr is not None and dr.lighting else None)
        # Latency is the camera pipeline's (what the planner sees late). Joint sensing keeps the
        # nominal latency: the hand's PD runs on its own controller, and 40 ms inside that loop
        # makes the finger PD unstable (45 rad/s bandwidth x 0.04 s = 1.8 rad of phase lag).
        self.camera_latency_s = float(draw(dr.camera_latency_s if dr else None, 0.0, 1)[0])
        return {"ball_mass_kg": mass, "ball_friction": friction, "joint_damping": damping,
                "camera_position_offset_m": cam_pos, "camera_rotation_offset_rad": cam_rot,
                "camera_latency_s": self.camera_latency_s}
