"""The original retargeting of Peng et al. (RSS 2020, Sec. IV-A), step by step.

Follows the Laikago configuration of the authors' public code as FACTS.md ("The original
retargeting, step by step") lists it, so that clips made from the original dog capture match the
original clips. Per frame:

1. every marker is rotated (``marker_rotations``, on the raw y-up data), scaled and offset;
2. root position = pelvis-neck midpoint (+ ``root_offset_m``); forward = neck - pelvis +
   ``forward_offset_m``, normalised; left = mean of the normalised shoulder and hip left-right
   vectors; up = forward x left; left = up x forward with z set to 0, normalised; root rotation =
   [forward, left, up] x INIT_ROT (the URDF load rotation);
3. the robot's base is put there and its simulated hip positions read; toe target = simulated hip
   + (marker toe - marker hip), with z = the marker toe's own z, plus the local toe offset rotated
   by the heading;
4. PyBullet ``calculateInverseKinematics2`` on the toe links (joint damping, rest pose, the URDF
   limits), starting from the previous frame's solution (the rest pose before frame 0).

After all frames the first frame's root x, y are subtracted. The quaternion of the (not always
orthogonal) frame matrix is taken with the homogeneous-trace method of the ``transformations``
module the original used, so non-orthogonal frames give the same root rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from anima.controllers.spatial import quat_multiply
from anima.models.retarget.config import OriginalSteps, RetargetConfig
from anima.models.retarget.keypoints import KeypointTrajectory

# Anima's z-up keypoints are the raw y-up markers mapped (x, y, z) -> (z, x, y) (keypoints.y_up_to_z_up).
_Z_UP_FROM_Y_UP = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class OriginalOutput:
    """Frames ``(N, 7 + 3L)`` (root xyz shifted to start at x = y = 0, xyzw, joints), world toe
    targets ``(N, L, 3)`` and markers ``(N, K, 3)`` in the same shifted world, toe errors ``(N, L)``."""

    frames: np.ndarray
    toe_targets: np.ndarray
    markers: np.ndarray
    toe_error_m: np.ndarray


def marker_rotation(steps: OriginalSteps) -> np.ndarray:
    """The rotation applied to Anima's z-up keypoints: the original's steps on the raw y-up data."""
    rot = np.eye(3)
    for axis, angle in steps.marker_rotations:
        rot = Rotation.from_euler(axis, angle).as_matrix() @ rot
    return rot @ _Z_UP_FROM_Y_UP.T


def process_markers(kp: KeypointTrajectory, steps: OriginalSteps, scale: float) -> np.ndarray:
    """``(T, K, 3)``: every marker rotated, scaled and offset (step 1)."""
    return kp.positions @ marker_rotation(steps).T * scale + steps.pos_offset_m


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def root_frame_matrices(pelvis: np.ndarray, neck: np.ndarray, hips: dict[str, np.ndarray],
                        forward_offset: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` columns forward, left, up (step 2); ``hips`` holds the four marker hips by
    ``left_shoulder``, ``right_shoulder``, ``left_hip``, ``right_hip``. Not always orthogonal:
    left loses its z after the cross products, as in the original."""
    fwd = _unit(neck - pelvis + forward_offset)
    left = 0.5 * (_unit(hips["left_shoulder"] - hips["right_shoulder"]) + _unit(hips["left_hip"] - hips["right_hip"]))
    up = _unit(np.cross(fwd, left))
    left = np.cross(up, fwd)
    left[:, 2] = 0.0
    return np.stack([fwd, _unit(left), up], axis=-1)


def quat_from_matrix_homogeneous(m: np.ndarray) -> np.ndarray:
    """``(T, 4)`` xyzw, not normalised: the trace method on the 4x4 homogeneous matrix of ``m (T, 3, 3)``.

    For a rotation matrix this is its quaternion; for a slightly non-orthogonal one it is the
    quaternion the original's ``transformations.quaternion_from_matrix`` returns.
    """
    out = np.empty((m.shape[0], 4))
    for n, mat in enumerate(m):
        t = np.trace(mat) + 1.0
        if t > 1.0:
            q = np.array([mat[2, 1] - mat[1, 2], mat[0, 2] - mat[2, 0], mat[1, 0] - mat[0, 1], t])
        else:
            i, j, k = 0, 1, 2
            if mat[1, 1] > mat[0, 0]:
                i, j, k = 1, 2, 0
            if mat[2, 2] > mat[i, i]:
                i, j, k = 2, 0, 1
            t = mat[i, i] - (mat[j, j] + mat[k, k]) + 1.0
            q = np.empty(4)
            q[i], q[j], q[k], q[3] = t, mat[i, j] + mat[j, i], mat[k, i] + mat[i, k], mat[k, j] - mat[j, k]
        out[n] = q * 0.5 / np.sqrt(t)
    return out


def root_poses(markers: np.ndarray, names: tuple[str, ...], cfg: RetargetConfig) -> tuple[np.ndarray, ...]:
    """Root position ``(T, 3)``, root quaternion xyzw ``(T, 4)`` of the URDF base, heading ``(T,)`` rad."""
    steps = cfg.original
    assert steps is not None
    get = lambda n: markers[:, names.index(n)]  # noqa: E731
    hips = {n: get(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")}
    frame = root_frame_matrices(get("pelvis"), get("neck"), hips, steps.forward_offset_m)
    q_frame = quat_from_matrix_homogeneous(frame)
    q_frame /= np.linalg.norm(q_frame, axis=1, keepdims=True)
    init = Rotation.from_matrix(cfg.urdf_to_body)  # INIT_ROT
    root_q = quat_multiply(q_frame, init.as_quat())
    root_q /= np.linalg.norm(root_q, axis=1, keepdims=True)
    fwd = Rotation.from_quat(q_frame).apply([1.0, 0.0, 0.0])  # heading of root x INIT_ROT^-1
    heading = np.arctan2(fwd[:, 1], fwd[:, 0])
    root_pos = 0.5 * (get("pelvis") + get("neck")) + steps.root_offset_m
    return root_pos, root_q, heading


class _Robot:
    """The robot in a private PyBullet client: base pose, joints, hip and toe link positions, IK."""

    def __init__(self, client: object, cfg: RetargetConfig) -> None:
        import pybullet

        self.p = client
        self.body = client.loadURDF(str(cfg.urdf_path()), [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
        info = [client.getJointInfo(self.body, j) for j in range(client.getNumJoints(self.body))]
        by_joint = {i[1].decode(): i for i in info}
        by_link = {i[12].decode(): i[0] for i in info}
        self.movable = [i[0] for i in info if i[2] != pybullet.JOINT_FIXED]
        order = [by_joint[name][0] for leg in cfg.leg_joints for name in leg]
        if order != self.movable:
            raise ValueError(f"{cfg.urdf}: leg_joints must list the URDF's movable joints in order")
        self.lower = [i[8] for i in info if i[2] != pybullet.JOINT_FIXED]
        self.upper = [i[9] for i in info if i[2] != pybullet.JOINT_FIXED]
        self.hip_links = [by_joint[leg[0]][0] for leg in cfg.leg_joints]  # child link of the abduction joint
        self.toe_links = [by_link[name] for name in cfg.foot_links]

    def set_pose(self, pos: np.ndarray, quat: np.ndarray, q: np.ndarray | None = None) -> None:
        self.p.resetBasePositionAndOrientation(self.body, pos.tolist(), quat.tolist())
        if q is not None:
            for j, angle in zip(self.movable, q):
                self.p.resetJointState(self.body, j, float(angle), 0.0)

    def link_positions(self, links: list[int]) -> np.ndarray:
        return np.array([self.p.getLinkState(self.body, i, computeForwardKinematics=True)[4] for i in links])


def retarget_original(kp: KeypointTrajectory, cfg: RetargetConfig) -> OriginalOutput:
    """Run the original retargeting on every frame of ``kp`` (see module docstring)."""
    import pybullet
    from pybullet_utils import bullet_client

    steps = cfg.original
    if steps is None:
        raise ValueError(f"{cfg.robot}: config has no 'original' steps (method: original)")
    kp.require(["pelvis", "neck", "left_shoulder", "right_shoulder", "left_hip", "right_hip",
                *cfg.source_hips, *cfg.source_toes])
    markers = process_markers(kp, steps, cfg.scale)
    root_pos, root_q, heading = root_poses(markers, kp.names, cfg)
    hips_m = markers[:, [kp.names.index(n) for n in cfg.source_hips]]
    toes_m = markers[:, [kp.names.index(n) for n in cfg.source_toes]]
    c, s = np.cos(heading), np.sin(heading)
    off = steps.toe_offsets_local_m
    toe_off = np.stack([c[:, None] * off[:, 0] - s[:, None] * off[:, 1],
                        s[:, None] * off[:, 0] + c[:, None] * off[:, 1],
                        np.broadcast_to(off[:, 2], (c.size, off.shape[0]))], axis=-1)
    n, legs = kp.num_frames, len(cfg.leg_names)
    frames = np.zeros((n, 7 + 3 * legs))
    targets = np.zeros((n, legs, 3))
    err = np.zeros((n, legs))
    client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
    try:
        robot = _Robot(client, cfg)
        robot.set_pose(np.zeros(3), Rotation.from_matrix(cfg.urdf_to_body).as_quat(), steps.rest_pose)
        for f in range(n):
            robot.set_pose(root_pos[f], root_q[f])
            tar = robot.link_positions(robot.hip_links) + toes_m[f] - hips_m[f]
            tar[:, 2] = toes_m[f, :, 2]
            tar += toe_off[f]
            q = np.array(client.calculateInverseKinematics2(
                robot.body, robot.toe_links, tar.tolist(), jointDamping=steps.joint_damping.tolist(),
                lowerLimits=robot.lower, upperLimits=robot.upper, restPoses=steps.rest_pose.tolist()))
            robot.set_pose(root_pos[f], root_q[f], q)
            err[f] = np.linalg.norm(robot.link_positions(robot.toe_links) - tar, axis=-1)
            frames[f] = np.concatenate([root_pos[f], root_q[f], q])
            targets[f] = tar
    finally:
        client.disconnect()
    shift = np.array([frames[0, 0], frames[0, 1], 0.0])
    frames[:, 0:2] -= shift[:2]
    return OriginalOutput(frames, targets - shift, markers - shift, err)
