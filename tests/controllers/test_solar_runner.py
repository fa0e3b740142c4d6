"""The SOLAR runner core: frame checks, the episode clock, holding, and the command mappings (no ROS)."""

from __future__ import annotations

import numpy as np
import pytest

from anima.controllers.solar_runner import (EeSetpoint, FrameRefused, RunnerPhase, SolarRunner, SolarRunnerConfig,
                                            check_policy, decode_rgb8, torque_command)
from anima.controllers.solar_setup import resolve_model_path
from anima.models.solar.state import StateSpec, StateTracker

DT = 0.05
CONFIG = SolarRunnerConfig(image_size=8, control_dt_s=DT, horizon=4, action_kind="joint_torque",
                           action_low=(-1.0, -1.0), action_high=(1.0, 1.0))


class CountingPolicy:
    """encode: z = [mean pixel / 255]; act: u = (0.1 t + z, -0.1 t); counts the encodes."""

    spec = {"action_kind": "joint_torque", "action_low": [-1.0, -1.0], "action_high": [1.0, 1.0]}

    def __init__(self, bad_at: int | None = None) -> None:
        self.encoded = 0
        self.bad_at = bad_at

    def encode_potential(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.encoded += 1
        return np.array([image.mean() / 255.0]), np.array([0.0])

    def act(self, t: int, z: np.ndarray, explore: bool = False) -> np.ndarray:
        assert not explore  # the mean action at run time
        return np.array([np.nan if t == self.bad_at else 0.1 * t + z[0], -0.1 * t])

    def tracker(self) -> StateTracker:
        return StateTracker(StateSpec("latent", 1, 2))


class HistoryPolicy(CountingPolicy):
    """State kind latent_history (diff scale 1 / DT): records the states it is given; u = (0.5, -0.5)."""

    def __init__(self) -> None:
        super().__init__()
        self.states: list[np.ndarray] = []

    def act(self, t: int, x: np.ndarray, explore: bool = False) -> np.ndarray:
        self.states.append(np.asarray(x, float).copy())
        return np.array([0.5, -0.5]) if t < 2 else np.array([3.0, 0.0])  # the last one is clipped to 1

    def tracker(self) -> StateTracker:
        return StateTracker(StateSpec("latent_history", 1, 2, 1.0 / DT))


def test_a_history_policy_gets_the_latent_its_change_and_the_last_applied_action() -> None:
    policy = HistoryPolicy()
    runner = SolarRunner(policy, CONFIG)
    for episode in range(2):  # the second episode starts from rest again: no change, no last action
        runner.start_episode()
        for k, value in enumerate((51, 102, 204)):
            runner.on_frame(frame(value), 10.0 * episode + k * DT)
    x0, x1, x2 = policy.states[:3]
    np.testing.assert_allclose(x0, [0.2, 0.0, 0.0, 0.0])  # z_{-1} = z_0, u_{-1} = 0
    np.testing.assert_allclose(x1, [0.4, 0.2 / DT, 0.5, -0.5])
    np.testing.assert_allclose(x2, [0.8, 0.4 / DT, 0.5, -0.5])
    np.testing.assert_allclose(policy.states[3], x0)
    assert len(policy.states) == 6


def frame(value: int = 0) -> np.ndarray:
    return np.full((8, 8, 3), value, np.uint8)


def test_decode_accepts_rgb8_of_the_policy_size() -> None:
    img = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    np.testing.assert_array_equal(decode_rgb8(8, 8, "rgb8", 24, img.tobytes(), 8), img)


@pytest.mark.parametrize(("h", "w", "enc", "step", "n", "reason"), [
    (8, 8, "bgr8", 24, 192, "encoding 'bgr8' is not rgb8"),
    (8, 8, "mono8", 8, 64, "encoding 'mono8' is not rgb8"),
    (16, 16, "rgb8", 48, 768, "image is 16x16, the policy takes 8x8"),
    (8, 8, "rgb8", 32, 256, "row step 32 bytes, expected 24"),
    (8, 8, "rgb8", 24, 100, "100 data bytes, expected 192"),
])
def test_decode_refuses_with_the_reason(h: int, w: int, enc: str, step: int, n: int, reason: str) -> None:
    with pytest.raises(FrameRefused, match=reason):
        decode_rgb8(h, w, enc, step, bytes(n), 8)


def test_idle_holds_and_the_first_frame_after_start_is_step_zero() -> None:
    policy = CountingPolicy()
    runner = SolarRunner(policy, CONFIG)
    assert runner.on_frame(frame(), 10.0).action is None and policy.encoded == 0  # no episode: hold
    runner.start_episode()
    assert runner.phase is RunnerPhase.ARMED
    r = runner.on_frame(frame(255), 10.02)
    assert (r.step, r.new_step) == (0, True) and runner.phase is RunnerPhase.RUNNING
    np.testing.assert_allclose(r.action, [1.0, 0.0])  # z = 1
    r = runner.on_frame(frame(0), 10.07)  # 0.05 s later: step 1, z = 0
    assert (r.step, r.new_step) == (1, True)
    np.testing.assert_allclose(r.action, [0.1, -0.1])


def test_frames_within_a_step_repeat_its_action_and_time_decides_the_step() -> None:
    policy = CountingPolicy()
    runner = SolarRunner(policy, CONFIG)
    runner.start_episode()
    first = runner.on_frame(frame(), 0.0).action
    again = runner.on_frame(frame(200), 0.02)  # same step (0.02 / 0.05 rounds to 0): held, not re-encoded
    assert (again.step, again.new_step) == (0, False) and policy.encoded == 1
    np.testing.assert_array_equal(again.action, first)
    r = runner.on_frame(frame(), 3 * DT)  # frames of steps 1, 2 lost: the clock says step 3
    assert r.step == 3
    np.testing.assert_allclose(r.action, [0.3, -0.3])


def test_the_horizon_ends_the_episode_and_stop_holds() -> None:
    runner = SolarRunner(CountingPolicy(), CONFIG)
    runner.start_episode()
    for k in range(4):
        assert runner.on_frame(frame(), k * DT).step == k
    r = runner.on_frame(frame(), 4 * DT)  # T = 4 steps: done
    assert r.action is None and runner.phase is RunnerPhase.DONE
    runner.start_episode()  # a new episode restarts the clock at its first frame
    assert runner.on_frame(frame(), 100.0).step == 0 and runner.episodes_started == 2
    runner.stop()
    assert runner.on_frame(frame(), 100.05).action is None and runner.phase is RunnerPhase.IDLE


def test_actions_are_clipped_and_a_non_finite_action_holds() -> None:
    runner = SolarRunner(CountingPolicy(bad_at=2), CONFIG)
    runner.start_episode()
    runner.on_frame(frame(), 0.0)
    big = SolarRunner(CountingPolicy(), CONFIG)
    big.start_episode()
    big.on_frame(frame(), 0.0)
    np.testing.assert_allclose(big.on_frame(frame(255), 3 * DT).action, [1.0, -0.3])  # 0.3 + 1 clipped to 1
    assert runner.on_frame(frame(), 2 * DT).action is None  # NaN from the policy: hold
    assert "step 2: the policy gave [nan, -0.2" in runner.last_error
    np.testing.assert_allclose(runner.on_frame(frame(), 3 * DT).action, [0.3, -0.3])  # the next step acts again


def test_torque_command_scales_and_holds_at_zero() -> None:
    np.testing.assert_array_equal(torque_command(None, np.array([0.02, 0.02])), [0.0, 0.0])
    np.testing.assert_allclose(torque_command(np.array([0.5, -1.0]), np.array([0.02, 0.02])), [0.01, -0.02])


def test_ee_setpoint_follows_the_sawyer_env_update() -> None:
    # SawyerEnv.step: setpoint += clip(a[:3], -1, 1) * max_step_m, clamped to the box; gripper (a3 + 1) / 2 * limit
    ee = EeSetpoint(0.02, np.array([0.35, -0.35, 0.02]), np.array([0.85, 0.35, 0.35]), 0.04)
    with pytest.raises(ValueError, match="before reset"):
        ee.apply(np.zeros(4))
    ee.reset(np.array([0.55, 0.0, 0.25]))
    p, g = ee.apply(np.array([1.0, -0.5, 3.0, -1.0]))
    np.testing.assert_allclose(p, [0.57, -0.01, 0.27])
    assert g == 0.0
    for _ in range(10):
        p, g = ee.apply(np.array([0.0, 0.0, 1.0, 1.0]))
    assert p[2] == pytest.approx(0.35) and g == pytest.approx(0.04)  # the box's top; fingers open
    ee.reset(np.array([0.1, 0.0, 0.0]))  # a start outside the box is clamped into it
    np.testing.assert_allclose(ee.position, [0.35, 0.0, 0.02])


def test_a_policy_for_another_action_is_refused_with_what_differs() -> None:
    spec = {"action_kind": "ee_delta", "action_low": [-1.0] * 4, "action_high": [1.0] * 4}
    with pytest.raises(ValueError, match=r"does not fit task reacher: action_kind 'ee_delta' \(task reacher needs "
                                         r"'joint_torque'\); 4 action dimensions \(task reacher commands 2\)"):
        check_policy(spec, "reacher", 2)
    check_policy(spec, "sawyer_push", 4)
    with pytest.raises(ValueError, match="task 'cook' is not a SOLAR task; valid tasks: reacher, sawyer_push"):
        check_policy(spec, "cook", 4)


def test_config_refuses_bad_bounds_and_timing() -> None:
    with pytest.raises(ValueError, match="low < high"):
        SolarRunnerConfig(8, DT, 4, "joint_torque", (1.0, -1.0), (1.0, 1.0))
    with pytest.raises(ValueError, match="control_dt_s must be > 0"):
        SolarRunnerConfig(8, 0.0, 4, "joint_torque", (-1.0,), (1.0,))
    with pytest.raises(ValueError, match="action_kind must be"):
        SolarRunnerConfig(8, DT, 4, "joint_velocity", (-1.0,), (1.0,))


def test_model_paths(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no shipped SOLAR model for task 'sawyer_stack'"):
        resolve_model_path("shipped", "sawyer_stack")
    with pytest.raises(FileNotFoundError, match="no such file"):
        resolve_model_path(str(tmp_path / "none.pt"), "reacher")
    with pytest.raises(ValueError, match="'model_path' is required"):
        resolve_model_path("", "reacher")


class FilteredPolicy(CountingPolicy):
    """State kind filtered over a 1-D latent that integrates (z' = z + u_0 dt): records the states it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.states: list[np.ndarray] = []

    def act(self, t: int, x: np.ndarray, explore: bool = False) -> np.ndarray:
        self.states.append(np.asarray(x, float).copy())
        return np.array([1.0, 0.0])

    def tracker(self) -> StateTracker:
        from anima.models.solar.lds import LdsParams

        lds = LdsParams(np.ones((4, 1, 1)), np.tile([[[DT, 0.0]]], (4, 1, 1)), np.zeros((4, 1)), np.full((4, 1), -20.0))
        return StateTracker(StateSpec("filtered", 1, 2), lds)

    def encode_potential(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.encoded += 1
        return np.array([image.mean() / 255.0]), np.array([12.0])  # the frames say next to nothing


def test_a_filtered_policy_predicts_through_lost_frames() -> None:
    """Frames of steps 1 and 2 lost: the filtered state at step 3 has moved three periods under the held action."""
    policy = FilteredPolicy()
    runner = SolarRunner(policy, CONFIG)
    runner.start_episode()
    runner.on_frame(frame(0), 0.0)
    runner.on_frame(frame(0), 3 * DT)
    assert policy.states[1][0] - policy.states[0][0] == pytest.approx(3 * DT, rel=1e-3)
