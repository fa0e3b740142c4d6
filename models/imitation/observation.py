"""The motion-imitation policy's observation and its reference clock (ROS-free; env and node share it).

Peng et al., "Learning Agile Robotic Locomotion Skills by Imitating Animals", RSS 2020, Sec. V-A
and the public code's paper branch (FACTS.md "Motion imitation"): 160 values, in this order

=============================================  ====  =========
part                                            size  slice
=============================================  ====  =========
motor angles (12) × 3 steps, newest first        36   0:36
IMU [roll, pitch, roll rate, pitch rate] × 3     12   36:48
last action (12 absolute motor targets) × 3      36   48:84
target frames at +1, +2, +10, +30 env steps      76   84:160
=============================================  ====  =========

Each target frame has 19 values: the reference root position relative to the reference root now,
rotated into the simulated robot's heading frame (3), the reference root quaternion (xyzw, the
file's y-up URDF-base convention) with the robot's heading removed and w >= 0 (4), and the 12
reference joint angles (URDF order, as in the clip). Motor angles use the motor convention
(``urdf_to_motor``); the last action is the absolute motor target before the action filter
(zeros at reset, as the original's LastActionSensor).

:class:`ReferenceTracker` keeps the reference aligned with the robot: at reset its root is moved
(x, y, heading) onto the robot's; with cycle sync its x, y follow the robot again whenever the clip
wraps; during a warm-up (motion time in [-warmup, 0)) it holds the default standing pose.

Use (``LaikagoImitationEnv`` and the ``imitation_policy`` node do exactly this)::

    tracker = ReferenceTracker(load_motion(path), standing_frame())   # sim_bridge.envs.laikago_imitation
    builder = ObservationBuilder(tracker, control_dt)
    tracker.reset(t0, root_position, root_quat_urdf, warmup=True)      # align the clip with the robot
    builder.reset(motor_angles(q), imu_features(imu_quat, gyro))
    # every control step, after acting with absolute motor target m:
    builder.push(motor_angles(q), imu_features(imu_quat, gyro), m)
    obs = builder.build(t, body_heading(imu_quat))

The observation uses reference positions only relative to the reference root now, so a node
without a position estimate may align with root position zeros; the heading alignment matters.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from anima.controllers.leg_kinematics import LAIKAGO_DEFAULT_MOTOR_POSE, laikago_urdf_to_motor
from anima.controllers.spatial import quat_multiply, quat_rotate
from anima.models.motion.format import LOOP_WRAP, ReferenceMotion
from anima.models.motion.player import MotionPlayer

__all__ = [
    "DEFAULT_MOTOR_POSE",
    "HISTORY_STEPS",
    "OBS_DIM",
    "OBS_LAYOUT",
    "TARGET_FRAME_STEPS",
    "ObservationBuilder",
    "ReferenceTracker",
    "body_heading",
    "imu_features",
    "motor_angles",
]

HISTORY_STEPS = 3
TARGET_FRAME_STEPS: tuple[int, ...] = (1, 2, 10, 30)
FRAME_SIZE = 19
NUM_JOINTS = 12
OBS_LAYOUT: dict[str, slice] = {
    "motor_angles": slice(0, 36),
    "imu": slice(36, 48),
    "last_action": slice(48, 84),
    "target_frames": slice(84, 160),
}
OBS_DIM = 160
DEFAULT_MOTOR_POSE = np.asarray(LAIKAGO_DEFAULT_MOTOR_POSE, dtype=float)
# URDF z (forward) is the body x axis (R_load maps URDF z -> body x, URDF y -> body z).
_URDF_FORWARD = np.array([0.0, 0.0, 1.0])


def motor_angles(urdf_angles: np.ndarray) -> np.ndarray:
    """URDF joint angles (12,) -> motor angles (the original's MotorAngleSensor convention)."""
    return laikago_urdf_to_motor(np.asarray(urdf_angles, dtype=float))


def yaw_quat(yaw: float) -> np.ndarray:
    """xyzw quaternion of a rotation by ``yaw`` about world z."""
    return np.array([0.0, 0.0, math.sin(0.5 * yaw), math.cos(0.5 * yaw)])


def urdf_heading(quat_urdf: np.ndarray) -> float:
    """Heading (rad) of the body x axis for a y-up URDF-base orientation (file convention)."""
    fwd = quat_rotate(np.asarray(quat_urdf, dtype=float), _URDF_FORWARD)
    return math.atan2(float(fwd[1]), float(fwd[0]))


def body_heading(quat_body: np.ndarray) -> float:
    """Heading (rad) of the body x axis for a REP-103 body orientation (IMU convention)."""
    x, y, z, w = (float(v) for v in quat_body)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def imu_features(quat_body: np.ndarray, angular_velocity_body: np.ndarray) -> np.ndarray:
    """IMU observation [roll, pitch, roll rate, pitch rate] from a body orientation (xyzw) and the
    gyro (body axes, rad/s); roll and pitch as PyBullet's getEulerFromQuaternion gives them."""
    x, y, z, w = (float(v) for v in quat_body)
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    return np.array([roll, pitch, float(angular_velocity_body[0]), float(angular_velocity_body[1])])


@dataclass(frozen=True)
class ReferenceState:
    """The aligned reference at one motion time: root in the file convention (inertial-frame
    position, URDF-base quaternion), world velocities, joints (URDF order)."""

    root_position: np.ndarray
    root_quat_urdf: np.ndarray
    joints: np.ndarray
    root_linear_velocity: np.ndarray
    root_angular_velocity: np.ndarray
    joint_velocities: np.ndarray


class ReferenceTracker:
    """A reference clip aligned with the robot (origin offset, cycle sync, warm-up pose).

    ``default_frame`` (19,): the standing pose in the file layout (root position, URDF quaternion,
    joints); it is the target during a warm-up. Times are motion times in seconds.
    """

    def __init__(self, motion: ReferenceMotion, default_frame: np.ndarray) -> None:
        self.motion = motion
        self.player = MotionPlayer(motion)
        self.duration = motion.duration
        self.default_frame = np.asarray(default_frame, dtype=float).copy()
        if self.default_frame.shape != (7 + motion.num_joints,):
            raise ValueError(f"default_frame: expected {7 + motion.num_joints} values, got {self.default_frame.shape}")
        self.warmup = False
        self._offset_rot = np.array([0.0, 0.0, 0.0, 1.0])
        self._offset_pos = np.zeros(3)
        self._prev_phase = 0.0

    def phase(self, time: float) -> float:
        """Cycle phase in [0, 1) of a motion time (clamped clips: time / duration in [0, 1])."""
        p = time / self.duration
        return p - math.floor(p) if self.motion.loop_mode == LOOP_WRAP else min(max(p, 0.0), 1.0)

    def is_over(self, time: float) -> bool:
        """True past the end of a clamped clip; wrapping clips never end."""
        return self.motion.loop_mode != LOOP_WRAP and time > self.duration

    def reset(self, time: float, sim_root_position: np.ndarray, sim_root_quat_urdf: np.ndarray,
              warmup: bool = False) -> None:
        """Align the reference's root at ``time`` with the robot's (x, y and heading; not height)."""
        self.warmup = bool(warmup)
        self._offset_rot = np.array([0.0, 0.0, 0.0, 1.0])
        self._offset_pos = np.zeros(3)
        pos, quat, _ = self._raw_pose(np.array([time]))
        delta = urdf_heading(sim_root_quat_urdf) - urdf_heading(quat[0])
        self._offset_rot = yaw_quat(delta)
        self._offset_pos = np.asarray(sim_root_position, dtype=float) - quat_rotate(self._offset_rot, pos[0])
        self._offset_pos[2] = 0.0
        self._prev_phase = self.phase(time)

    def sync(self, time: float, sim_root_position: np.ndarray) -> float | None:
        """Cycle sync: when the clip has wrapped since the last call, move the reference's x, y onto
        the robot's (heading kept). Returns the horizontal distance it moved (the drift over the
        cycle just ended), or None when the clip did not wrap."""
        phase = self.phase(time)
        wrapped = phase < self._prev_phase
        self._prev_phase = phase
        if not wrapped:
            return None
        before = self.poses(np.array([time]))[0][0]
        pos, _, _ = self._raw_pose(np.array([time]))
        self._offset_pos = np.asarray(sim_root_position, dtype=float) - quat_rotate(self._offset_rot, pos[0])
        self._offset_pos[2] = 0.0
        return float(np.linalg.norm((np.asarray(sim_root_position, dtype=float) - before)[:2]))

    def _warm(self, times: np.ndarray) -> np.ndarray:
        return (times < 0.0) if self.warmup else np.zeros(times.shape, dtype=bool)

    def _sample(self, times: np.ndarray, aligned: bool = True) -> ReferenceState:
        """Clip state at ``times (T,)`` (one interpolation pass), the warm-up pose where it applies,
        moved by the origin offset when ``aligned``; fields have a leading (T,) axis."""
        s = self.player.sample(np.maximum(times, 0.0) if self.warmup else times)
        pos, quat, joints = s.root_position.copy(), s.root_quat_urdf.copy(), s.joints.copy()
        lin, ang, jvel = s.root_linear_velocity.copy(), s.root_angular_velocity.copy(), s.joint_velocities.copy()
        warm = self._warm(times)
        if warm.any():
            first = self.player.sample(0.0)
            turn = yaw_quat(urdf_heading(first.root_quat_urdf[0]) - urdf_heading(self.default_frame[3:7]))
            pos[warm] = quat_rotate(turn, self.default_frame[0:3])
            quat[warm] = quat_multiply(turn, self.default_frame[3:7])
            joints[warm] = self.default_frame[7:]
            lin[warm], ang[warm], jvel[warm] = 0.0, 0.0, 0.0
        if aligned:
            rot = np.broadcast_to(self._offset_rot, quat.shape)
            pos, quat = quat_rotate(rot, pos) + self._offset_pos, quat_multiply(rot, quat)
            lin, ang = quat_rotate(rot, lin), quat_rotate(rot, ang)
        return ReferenceState(pos, quat, joints, lin, ang, jvel)

    def _raw_pose(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self._sample(times, aligned=False)
        return s.root_position, s.root_quat_urdf, s.joints

    def poses(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Aligned root positions (T, 3), URDF quaternions (T, 4) and joints (T, 12) at ``times``."""
        s = self._sample(np.atleast_1d(np.asarray(times, dtype=float)))
        return s.root_position, s.root_quat_urdf, s.joints

    def state(self, time: float) -> ReferenceState:
        """Aligned pose and velocities at one motion time (velocities zero during a warm-up)."""
        return self.state_and_frames(time, 1.0, 0.0, steps=())[0]

    def target_frames(self, time: float, control_dt: float, heading: float,
                      steps: tuple[int, ...] = TARGET_FRAME_STEPS) -> np.ndarray:
        """The observation's target frames (len(steps) × 19,) seen from a robot with ``heading``."""
        return self.state_and_frames(time, control_dt, heading, steps)[1]

    def state_and_frames(self, time: float, control_dt: float, heading: float,
                         steps: tuple[int, ...] = TARGET_FRAME_STEPS) -> tuple[ReferenceState, np.ndarray]:
        """:meth:`state` at ``time`` and :meth:`target_frames` from one interpolation pass."""
        times = time + control_dt * np.concatenate([[0.0], np.asarray(steps, dtype=float)])
        s = self._sample(times)
        now = ReferenceState(*(getattr(s, f.name)[0] for f in dataclasses.fields(ReferenceState)))
        if not steps:
            return now, np.zeros(0)
        inv = np.broadcast_to(yaw_quat(-heading), (len(steps), 4))
        rel = quat_rotate(inv, s.root_position[1:] - s.root_position[0])
        q = quat_multiply(inv, s.root_quat_urdf[1:])
        q = np.where(q[:, 3:4] < 0.0, -q, q)
        return now, np.concatenate([rel, q, s.joints[1:]], axis=1).reshape(-1)


class ObservationBuilder:
    """Keeps the sensor histories and assembles the 160-D observation (layout in ``OBS_LAYOUT``).

    Per control step: :meth:`push` the newest motor angles (motor convention), IMU features
    (:func:`imu_features`) and the last action (absolute motor targets), then :meth:`build`.
    """

    def __init__(self, tracker: ReferenceTracker, control_dt: float) -> None:
        if not (math.isfinite(control_dt) and control_dt > 0):
            raise ValueError(f"control_dt must be > 0 s, got {control_dt!r}")
        self.tracker = tracker
        self.control_dt = float(control_dt)
        self._motor = np.zeros((HISTORY_STEPS, NUM_JOINTS))
        self._imu = np.zeros((HISTORY_STEPS, 4))
        self._action = np.zeros((HISTORY_STEPS, NUM_JOINTS))

    def reset(self, motor: np.ndarray, imu: np.ndarray, last_action: np.ndarray | None = None) -> None:
        """Fill every history slot with the first readings (last action: zeros unless given)."""
        self._motor[:] = self._checked(motor, NUM_JOINTS, "motor angles")
        self._imu[:] = self._checked(imu, 4, "imu features")
        self._action[:] = 0.0 if last_action is None else self._checked(last_action, NUM_JOINTS, "last action")

    def push(self, motor: np.ndarray, imu: np.ndarray, last_action: np.ndarray) -> None:
        """Add the newest readings (the oldest drop out)."""
        for buf, value, size, name in ((self._motor, motor, NUM_JOINTS, "motor angles"), (self._imu, imu, 4, "imu features"),
                                       (self._action, last_action, NUM_JOINTS, "last action")):
            buf[1:] = buf[:-1]
            buf[0] = self._checked(value, size, name)

    def build(self, motion_time: float, heading: float, frames: np.ndarray | None = None) -> np.ndarray:
        """The observation (OBS_DIM,) float64 at ``motion_time`` for a robot with body ``heading``
        (``frames``: the tracker's target frames for them, if already computed)."""
        if frames is None:
            frames = self.tracker.target_frames(motion_time, self.control_dt, heading)
        return np.concatenate([self._motor.reshape(-1), self._imu.reshape(-1), self._action.reshape(-1), frames])

    @staticmethod
    def _checked(value: np.ndarray, size: int, name: str) -> np.ndarray:
        arr = np.asarray(value, dtype=float)
        if arr.shape != (size,) or not np.isfinite(arr).all():
            raise ValueError(f"{name}: expected {size} finite values, got {value!r}")
        return arr
