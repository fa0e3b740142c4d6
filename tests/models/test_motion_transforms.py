"""Motion transformations: reverse, mirror, time-scale, resample, loop-seam blending."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from anima.controllers.leg_kinematics import R_LOAD, LegKinematics
from anima.models.motion.check import check_motion, toe_positions_world
from anima.models.motion.format import load_motion
from anima.models.motion.library import find_motion
from anima.models.motion.player import MotionPlayer
from anima.models.motion.transforms import blend_loop_seam, mirror, resample, reverse, time_scale


@pytest.fixture(scope="module")
def kin() -> LegKinematics:
    return LegKinematics.laikago()


@pytest.fixture(scope="module")
def turn():
    return load_motion(find_motion("dog_trot_turn_left"))


def test_reverse_invariants(turn) -> None:
    rev = reverse(turn)
    np.testing.assert_allclose(reverse(rev).frames, turn.frames, atol=1e-12)
    # Reversed at time t = original at duration - t (linear interpolation is symmetric).
    t = np.array([0.1, 0.37, 1.2])
    a = MotionPlayer(rev).sample(t)
    b = MotionPlayer(turn).sample(turn.duration - t)
    np.testing.assert_allclose(a.joints, b.joints, atol=1e-12)
    np.testing.assert_allclose(a.root_position, b.root_position, atol=1e-12)
    np.testing.assert_array_equal(rev.contacts, turn.contacts[::-1])


def test_reverse_of_forward_walk_goes_backwards() -> None:
    walk = load_motion(find_motion("dog_walk"))
    back = reverse(walk)
    fwd_body = Rotation.from_quat(back.root_quat_body()[0]).apply([1.0, 0.0, 0.0])
    displacement = back.root_position()[-1] - back.root_position()[0]
    assert np.dot(displacement, fwd_body) < -0.2  # moves > 0.2 m against its facing


def test_mirror_invariants(turn, kin: LegKinematics) -> None:
    mir = mirror(turn)
    twice = mirror(mir)
    np.testing.assert_allclose(twice.frames[:, :3], turn.frames[:, :3], atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(twice.frames[:, 3:7] * turn.frames[:, 3:7], axis=1)), 1.0, atol=1e-9)
    np.testing.assert_array_equal(twice.joints(), turn.joints())
    # Left turn (yaw increasing) mirrors to a right turn (yaw decreasing).
    yaw = lambda m: Rotation.from_quat(m.root_quat_body()).as_euler("ZYX")[:, 0]  # noqa: E731
    assert yaw(turn)[-1] > 0.5 and yaw(mir)[-1] == pytest.approx(-yaw(turn)[-1], abs=1e-9)
    # Toes mirror too; the Laikago URDF is left/right symmetric to within its 2.3 mm hip-motor offset.
    toes, toes_m = toe_positions_world(turn, kin), toe_positions_world(mir, kin)
    expected = toes[:, [1, 0, 3, 2]] * [1.0, -1.0, 1.0]
    assert np.abs(toes_m - expected).max() < 0.003


def test_time_scale_and_resample(turn) -> None:
    slow = time_scale(turn, 2.0)
    assert slow.duration == pytest.approx(2 * turn.duration)
    np.testing.assert_allclose(MotionPlayer(slow).sample(0.5).joints, MotionPlayer(turn).sample(0.25).joints)
    with pytest.raises(ValueError, match="factor: must be positive"):
        time_scale(turn, 0.0)
    res = resample(turn, 1.0 / 30.0)
    assert res.num_frames == 61 and res.duration == pytest.approx(turn.duration)
    np.testing.assert_allclose(res.frames[::1], turn.frames[::2], atol=1e-9)


def test_blend_loop_seam_closes_loop(turn) -> None:
    frames = turn.frames.copy()
    frames[-1, 7:] += 0.1  # open the seam by 0.1 rad on every joint
    frames[-1, 2] += 0.02
    opened = turn.with_frames(frames)
    closed = blend_loop_seam(opened, blend_frames=5)
    np.testing.assert_allclose(closed.joints()[-1], closed.joints()[0], atol=1e-12)
    assert closed.frames[-1, 2] == pytest.approx(closed.frames[0, 2])
    np.testing.assert_allclose(closed.frames[:-5], opened.frames[:-5], atol=1e-12)  # untouched before the window
    # The heading at the seam is unchanged (x-y and yaw are carried by the cycle offset).
    assert np.allclose(closed.frames[-1, :2], opened.frames[-1, :2])


def test_mirrored_turn_passes_checks(turn, kin: LegKinematics) -> None:
    assert check_motion(mirror(turn), kin)["passed"]


def test_r_load_is_stored_rotation_at_rest() -> None:
    # Sanity: the body quaternion of a frame holding R_load is identity.
    q = Rotation.from_matrix(R_LOAD).as_quat()
    body = Rotation.from_quat(q) * Rotation.from_matrix(R_LOAD.T)
    np.testing.assert_allclose(body.magnitude(), 0.0, atol=1e-12)
