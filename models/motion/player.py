"""Sample a reference motion at any time: interpolation, velocities and cycle offsets.

Peng et al., RSS 2020, Sec. V: the imitation policy is given target poses from the reference
motion at arbitrary times; looping clips repeat with the root displaced so that a gait keeps
travelling. As in the original code, root positions and joints are interpolated linearly, the
root orientation with slerp, and velocities are the finite difference of the frame segment that
contains the time. With ``LoopMode: Wrap`` and cycle offsets enabled, cycle ``k`` is the base
cycle moved by ``T^k``, where ``T`` is the planar rigid motion (x, y, heading) that takes the
first frame's root onto the last frame's root; root height never accumulates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from anima.controllers.leg_kinematics import R_LOAD
from anima.models.motion.format import LOOP_WRAP, ReferenceMotion


def heading(quat_urdf: np.ndarray, urdf_to_body: np.ndarray = R_LOAD) -> np.ndarray:
    """Yaw (rad) of the body x axis in the world for URDF-base quaternions ``(..., 4)`` xyzw."""
    rot = Rotation.from_quat(np.reshape(quat_urdf, (-1, 4))).as_matrix() @ np.asarray(urdf_to_body).T
    fwd = rot[:, :, 0]
    return np.arctan2(fwd[:, 1], fwd[:, 0]).reshape(np.shape(quat_urdf)[:-1])


@dataclass(frozen=True)
class MotionSample:
    """Pose and velocities at one or more times ``(T,)``; shapes ``(T, ...)``."""

    root_position: np.ndarray  # (T, 3) world
    root_quat_urdf: np.ndarray  # (T, 4) xyzw, y-up URDF base orientation
    joints: np.ndarray  # (T, J)
    root_linear_velocity: np.ndarray  # (T, 3) world, m/s
    root_angular_velocity: np.ndarray  # (T, 3) world, rad/s
    joint_velocities: np.ndarray  # (T, J) rad/s


class MotionPlayer:
    """Continuous-time access to a :class:`ReferenceMotion` (vectorised over times)."""

    def __init__(self, motion: ReferenceMotion, urdf_to_body: np.ndarray = R_LOAD) -> None:
        self.motion = motion
        self._rot = Rotation.from_quat(motion.root_quat_urdf())
        yaw = heading(motion.root_quat_urdf(), urdf_to_body)
        pos = motion.root_position()
        self.cycle_yaw = float(yaw[-1] - yaw[0]) if motion.enable_cycle_offset_rotation else 0.0
        self.cycle_yaw = float(np.arctan2(np.sin(self.cycle_yaw), np.cos(self.cycle_yaw)))
        self._p0 = complex(pos[0, 0], pos[0, 1])
        self._p1 = complex(pos[-1, 0], pos[-1, 1]) if motion.enable_cycle_offset_position else self._p0

    @property
    def duration(self) -> float:
        return self.motion.duration

    def _cycle_and_phase(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dur = self.duration
        if self.motion.loop_mode == LOOP_WRAP:
            cycle = np.floor(t / dur)
            return cycle, t - cycle * dur
        return np.zeros_like(t), np.clip(t, 0.0, dur)

    def _offset_xy(self, xy: np.ndarray, cycle: np.ndarray) -> np.ndarray:
        """Apply ``T^k`` to points ``(T, 2)``; T: z -> e^{iθ}(z - p0) + p1 in complex form."""
        z = xy[:, 0] + 1j * xy[:, 1]
        theta = self.cycle_yaw
        if abs(theta) < 1e-9:
            z = z + cycle * (self._p1 - self._p0)
        else:
            e = np.exp(1j * theta)
            fixed = (self._p1 - e * self._p0) / (1.0 - e)  # fixed point of T
            z = np.exp(1j * theta * cycle) * (z - fixed) + fixed
        return np.stack([z.real, z.imag], axis=-1)

    def sample(self, times: np.ndarray | float) -> MotionSample:
        """Pose and velocities at ``times`` (seconds; any real value)."""
        t = np.atleast_1d(np.asarray(times, dtype=float))
        cycle, phase = self._cycle_and_phase(t)
        m = self.motion
        n = m.num_frames
        f = phase / m.frame_duration
        i0 = np.clip(np.floor(f).astype(int), 0, n - 2)
        a = np.clip(f - i0, 0.0, 1.0)
        frames = m.frames
        pos = (1 - a)[:, None] * frames[i0, :3] + a[:, None] * frames[i0 + 1, :3]
        joints = (1 - a)[:, None] * frames[i0, 7:] + a[:, None] * frames[i0 + 1, 7:]
        r0, r1 = self._rot[i0], self._rot[i0 + 1]
        delta = (r1 * r0.inv()).as_rotvec()  # world-frame rotation over the segment
        rot = Rotation.from_rotvec(a[:, None] * delta) * r0
        dt = m.frame_duration
        lin = (frames[i0 + 1, :3] - frames[i0, :3]) / dt
        ang = delta / dt
        jvel = (frames[i0 + 1, 7:] - frames[i0, 7:]) / dt
        if np.any(cycle != 0):
            pos = pos.copy()
            pos[:, :2] = self._offset_xy(pos[:, :2], cycle)
            yaw_rot = Rotation.from_rotvec(np.outer(cycle * self.cycle_yaw, [0.0, 0.0, 1.0]))
            rot = yaw_rot * rot
            lin = yaw_rot.apply(lin)
            ang = yaw_rot.apply(ang)
        if m.loop_mode != LOOP_WRAP:
            outside = (t < 0) | (t > self.duration)
            lin[outside], ang[outside], jvel[outside] = 0.0, 0.0, 0.0
        return MotionSample(pos, rot.as_quat(), joints, lin, ang, jvel)

    def frame_at(self, time: float) -> np.ndarray:
        """One frame ``(7 + J,)`` in the file layout at ``time``."""
        s = self.sample(time)
        return np.concatenate([s.root_position[0], s.root_quat_urdf[0], s.joints[0]])
