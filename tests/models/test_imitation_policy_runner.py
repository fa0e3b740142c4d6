"""The imitation_policy node's core: the env's observation for the same state, the clip's phase on
its own clock, stand-up before the policy, and refusal of policy files made for something else."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from anima.controllers.leg_kinematics import laikago_motor_to_urdf
from anima.models.imitation.observation import DEFAULT_MOTOR_POSE, OBS_LAYOUT
from anima.models.imitation.policy_runner import (ImitationRunner, RunnerConfig, load_policy, resolve_motion,
                                                  resolve_policy)
from anima.models.motion.format import load_motion
from anima.models.motion.library import find_motion


class RecordingPolicy:
    """A deterministic stand-in policy (any function of the observation) that keeps what it saw."""

    obs_dim, action_dim, spec = 160, 12, {"control_dt_s": 0.033}

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def act(self, obs: np.ndarray) -> np.ndarray:
        self.seen.append(np.array(obs))
        return 0.05 * np.sin(np.arange(12) + 10.0 * obs[:12])


def _recording(fn):
    """Wrap a sensor read so the test sees the very sample the env got (the IMU adds noise per read)."""
    def wrapper():
        wrapper.last = fn()
        return wrapper.last
    return wrapper


def test_observation_equals_the_envs_for_the_same_state(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import anima.sim_bridge.laikago_world as lw
    from anima.sim_bridge.envs.laikago_imitation import LaikagoImitationEnv

    # A noiseless IMU: the env aligns the reference with the true heading, the node with the IMU's.
    base = lw.load_laikago_world_config()
    quiet = dataclasses.replace(base, imu=dataclasses.replace(
        base.imu, **{f.name: 0.0 for f in dataclasses.fields(base.imu) if f.name.endswith("_std_rad")
                     or f.name.endswith("_std_radps") or f.name.endswith("_std_mps2")}))
    monkeypatch.setattr(lw, "load_laikago_world_config", lambda *a, **k: quiet)
    env = LaikagoImitationEnv(motion="dog_pace", episode_steps=50)
    try:
        env.world.imu, env.world.read_joints = _recording(env.world.imu), _recording(env.world.read_joints)
        obs_env, _ = env.reset(seed=3, options={"ref_state_init": False, "motion_time": -0.25})
        policy = RecordingPolicy()
        runner = ImitationRunner(policy, env.tracker.motion, RunnerConfig(control_dt_s=env.control_dt, warmup_s=0.25),
                                 frame=env.default_frame)
        for k in range(40):  # through the warm-up (8 steps) into the clip
            imu, joints = env.world.imu.last, env.world.read_joints.last
            target = runner.step(10.0 + k * env.control_dt, joints.position, imu.orientation_xyzw, imu.angular_velocity)
            np.testing.assert_allclose(runner.last_observation, obs_env, atol=2e-5, err_msg=f"step {k}")
            action = policy.seen and 0.05 * np.sin(np.arange(12) + 10.0 * policy.seen[-1][:12])
            np.testing.assert_allclose(target, laikago_motor_to_urdf(DEFAULT_MOTOR_POSE + action), atol=1e-12)
            obs_env, _, terminated, truncated, _ = env.step(action)
            assert not (terminated or truncated)
        assert runner.motion_time(10.0 + 39 * env.control_dt) == pytest.approx(-0.25 + 39 * env.control_dt)
    finally:
        env.close()


def _runner(rise: float = 0.0, settle: float = 0.0, warmup: float = 0.0,
            max_step: float = 1.0) -> tuple[ImitationRunner, RecordingPolicy]:
    policy = RecordingPolicy()
    motion = load_motion(find_motion("dog_pace"))
    config = RunnerConfig(0.033, warmup_s=warmup, rise_s=rise, settle_s=settle, stand_max_step_s=max_step)
    return ImitationRunner(policy, motion, config), policy


STAND = laikago_motor_to_urdf(DEFAULT_MOTOR_POSE)
LEVEL = np.array([0.0, 0.0, 0.0, 1.0])


def test_phase_runs_on_its_own_clock_not_on_calls() -> None:
    runner, policy = _runner(warmup=0.0)
    duration = runner.tracker.duration
    times = [5.0, 5.033, 5.2, 5.9, 6.0]  # irregular ticks, a gap of 0.7 s
    for now in times:
        runner.step(now, STAND, LEVEL, np.zeros(3))
    assert runner.motion_time(6.0) == pytest.approx(1.0)
    assert runner.phase(6.0) == pytest.approx((1.0 % duration) / duration)
    # The observation's target frames are the clip's at the clock's motion time (+1, +2, +10, +30 steps).
    frames = runner.tracker.target_frames(1.0, 0.033, 0.0)
    np.testing.assert_allclose(policy.seen[-1][OBS_LAYOUT["target_frames"]], frames, atol=1e-12)
    assert len(policy.seen) == len(times)


def test_stands_up_then_warms_up_then_plays() -> None:
    crouch = STAND + np.tile([0.0, 0.2, -0.5], 4)
    runner, policy = _runner(rise=1.0, settle=0.5, warmup=0.25)
    first = runner.step(0.0, crouch, LEVEL, np.zeros(3))
    np.testing.assert_allclose(first, crouch)  # starts from the measured pose
    mid = runner.step(0.5, crouch, LEVEL, np.zeros(3))
    np.testing.assert_allclose(mid, 0.5 * (crouch + STAND))  # smooth step at half time
    np.testing.assert_allclose(runner.step(1.2, STAND, LEVEL, np.zeros(3)), STAND)
    assert not policy.seen and runner.motion_time(1.2) is None
    runner.step(1.5, STAND, LEVEL, np.zeros(3))  # policy starts: reference in its warm-up
    assert len(policy.seen) == 1 and runner.motion_time(1.5) == pytest.approx(-0.25)
    assert runner.phase(1.6) == 0.0 and runner.motion_time(1.75) == pytest.approx(0.0)


def test_a_stall_pauses_the_stand_up_instead_of_skipping_it() -> None:
    # Calls every 0.1 s, then none for 0.8 s (a starved node): the stand-up clock advances by at
    # most 0.1 s per call, so after the stall it stands at 0.2 + 0.1 = 0.3 s of the 1 s rise,
    # not at 1.0 s (the schedule's time): smooth step (1 - cos(0.3 pi)) / 2 of the way.
    crouch = STAND + np.tile([0.0, 0.2, -0.5], 4)
    runner, policy = _runner(rise=1.0, settle=0.5, max_step=0.1)
    for now in (0.0, 0.1, 0.2):
        runner.step(now, crouch, LEVEL, np.zeros(3))
    after = runner.step(1.0, crouch, LEVEL, np.zeros(3))
    u = 0.5 * (1.0 - math.cos(0.3 * math.pi))
    np.testing.assert_allclose(after, crouch + u * (STAND - crouch), atol=1e-12)
    # the negative case: without the cap the same calls land at the end of the rise
    free, _ = _runner(rise=1.0, settle=0.5, max_step=10.0)
    for now in (0.0, 0.1, 0.2):
        free.step(now, crouch, LEVEL, np.zeros(3))
    np.testing.assert_allclose(free.step(1.0, crouch, LEVEL, np.zeros(3)), STAND, atol=1e-12)
    assert not policy.seen


def test_restart_stands_up_again_from_the_measured_pose() -> None:
    # After restart() the stand-up clock starts from zero again: the first target is the pose
    # measured then, and half-way through the rise the smooth step is at 0.5.
    crouch = STAND + np.tile([0.0, 0.2, -0.5], 4)
    runner, policy = _runner(rise=1.0, settle=0.5, max_step=1.0)
    for now in (0.0, 1.0, 1.5, 1.6):
        runner.step(now, crouch, LEVEL, np.zeros(3))
    assert runner.policy_started and policy.seen
    runner.restart()
    np.testing.assert_allclose(runner.step(5.0, crouch, LEVEL, np.zeros(3)), crouch)
    np.testing.assert_allclose(runner.step(5.5, crouch, LEVEL, np.zeros(3)), 0.5 * (crouch + STAND))
    assert not runner.policy_started


def test_reference_heading_follows_the_robot_at_start() -> None:
    # A robot facing 90 deg left sees the same target frames as one facing forward.
    runner_a, pa = _runner()
    runner_b, pb = _runner()
    yaw = 0.5 * math.pi
    turned = np.array([0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)])
    runner_a.step(0.0, STAND, LEVEL, np.zeros(3))
    runner_b.step(0.0, STAND, turned, np.zeros(3))
    np.testing.assert_allclose(pa.seen[0], pb.seen[0], atol=1e-9)


def test_bad_readings_refused() -> None:
    runner, _ = _runner()
    with pytest.raises(ValueError, match="joint positions: expected 12 finite values"):
        runner.step(0.0, np.full(12, np.nan), LEVEL, np.zeros(3))


def test_policy_files_for_something_else_are_refused(make_policy_file, tmp_path: Path) -> None:
    good = make_policy_file("good.pt")
    policy = load_policy(str(good), "dog_pace")
    assert policy.obs_dim == 160 and policy.action_dim == 12
    cases = {
        "motion": (make_policy_file("trot.pt", motion="dog_trot"), "policy is for motion 'dog_trot', not 'dog_pace'"),
        "robot": (make_policy_file("a1.pt", robot="a1"), "policy is for robot 'a1', not 'laikago'"),
        "obs": (make_policy_file("obs.pt", obs_dim=150), "policy is for observation size 150, not 160"),
    }
    for _, (path, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            load_policy(str(path), "dog_pace")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError) as err:
        load_policy(str(corrupt), "dog_pace")
    assert "corrupt.pt: cannot read the policy" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="no such policy file"):
        load_policy(str(tmp_path / "none.pt"), "dog_pace")


def test_motion_and_shipped_policy_names() -> None:
    assert resolve_motion("pace") == resolve_motion("dog_pace") == find_motion("dog_pace")
    with pytest.raises(ValueError, match="no_such_gait: no such file or shipped motion"):
        resolve_motion("no_such_gait")
    with pytest.raises(ValueError, match="no shipped policy for motion 'dog_canter'"):
        resolve_policy("shipped", "dog_canter")


def test_eval_as_node_runs_the_policy_through_the_runner(make_policy_file, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from anima.main import main as anima_main

    policy = make_policy_file("zero.pt", scale=0.0)  # stands: the default pose whatever it sees
    assert anima_main(["eval", "imitation", "--policy", str(policy), "--motion", "dog_pace", "--episodes", "1",
                       "--seconds", "0.5", "--as-node", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["conditions"] == "node" and result["survival_rate"] == 1.0
    assert 0.0 < result["normalized_return"] <= 1.0 and result["pose_error_rad_rms"] > 0.0
    trot = make_policy_file("trot.pt", motion="dog_trot")
    assert anima_main(["eval", "imitation", "--policy", str(trot), "--motion", "dog_pace", "--as-node"]) == 2
    assert "policy is for motion 'dog_trot', not 'dog_pace'" in capsys.readouterr().err
