"""Building a SOLAR policy's run-time setup from the node's parameters: model checks and command mappings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anima.controllers.solar_runner import SolarRunner, SolarRunnerConfig
from anima.controllers.solar_setup import frames_mismatch, load_solar_setup
from anima.models.solar.networks import Encoder
from anima.models.solar.policy import SolarPolicy, make_spec

SAWYER_PARAMS = {"max_step_m": 0.02, "workspace_min_m": [0.35, -0.35, 0.02], "workspace_max_m": [0.85, 0.35, 0.35],
                 "base_link": "base_link", "tip_link": "ee"}


def _policy(path: Path, task: str, kind: str, du: int, low: float = -1.0, high: float = 1.0, seed: int = 0,
            torque: float = 0.1) -> Path:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    spec = make_spec(task, 10, 3, 0.05, kind, [low] * du, [high] * du,
                     torque_limit_nm=torque if kind == "joint_torque" else None)
    SolarPolicy(spec, Encoder(10, 64), rng.normal(size=(3, du, 10)), rng.normal(size=(3, du)),
                np.tile(np.eye(du), (3, 1, 1))).save(path)
    return path


def _params(path: Path, task: str = "reacher", latent_dim: int = 10) -> dict:
    return {"model_path": str(path), "task": task, "latent_dim": latent_dim, **SAWYER_PARAMS}


def test_reacher_setup_scales_normalized_actions_to_the_torque_limit(tmp_path) -> None:
    setup = load_solar_setup(_params(_policy(tmp_path / "r.pt", "reacher", "joint_torque", 2)))
    np.testing.assert_array_equal(setup.torque_per_unit, [0.1, 0.1])  # config/robots/reacher.yaml = the model's arm
    assert setup.ee is None and setup.runner_config.horizon == 3 and setup.runner_config.image_size == 64


def test_a_reacher_model_trained_on_another_arm_is_refused_naming_both_torques(tmp_path) -> None:
    path = _policy(tmp_path / "weak.pt", "reacher", "joint_torque", 2, torque=0.02)
    with pytest.raises(ValueError, match=r"weak.pt: refused: trained on an arm of 0.02 N m per action unit, the robot's "
                                         r"torque_limit_nm is \[0.1, 0.1\]"):
        load_solar_setup(_params(path))


def test_a_reacher_model_written_before_the_spec_recorded_the_torque_gets_its_runs_arm(tmp_path) -> None:
    """Files without spec torque_limit_nm: the arm their provenance recorded, else the 0.02 N m arm of those runs."""
    path = _policy(tmp_path / "old.pt", "reacher", "joint_torque", 2)
    data = torch.load(path, weights_only=True)
    del data["spec"]["torque_limit_nm"]
    torch.save(data, path)
    with pytest.raises(ValueError, match="trained on an arm of 0.02 N m per action unit"):
        load_solar_setup(_params(path))
    data["provenance"] = {"env_kwargs": {"reacher": {"max_torque": 0.1}}}  # its run recorded the arm: that one
    torch.save(data, path)
    np.testing.assert_array_equal(load_solar_setup(_params(path)).torque_per_unit, [0.1, 0.1])


def test_a_camera_drawing_other_frames_than_the_models_training_is_named(tmp_path) -> None:
    """The reacher's training env records its frames (env_kwargs.antialias); the planner warns on a camera unlike them."""
    path = _policy(tmp_path / "r.pt", "reacher", "joint_torque", 2)
    aliased = load_solar_setup(_params(path))  # no antialias recorded: the env's default, aliased frames
    assert aliased.trained_antialias is False and frames_mismatch(aliased, False) == ""
    assert "camera_antialias:=false" in frames_mismatch(aliased, True)
    policy = SolarPolicy.load(path)
    policy.provenance = {"env_kwargs": {"antialias": True}}
    policy.save(path)
    smooth = load_solar_setup(_params(path))
    assert smooth.trained_antialias is True and frames_mismatch(smooth, True) == ""
    assert frames_mismatch(smooth, False) == (
        f"model_path {path}: trained on anti-aliased frames (env_kwargs.antialias true), but camera_antialias is false: "
        "the camera draws aliased frames the model never saw; launch with camera_antialias:=true")
    sawyer = load_solar_setup(_params(_policy(tmp_path / "s.pt", "sawyer_reach", "ee_delta", 4), "sawyer_reach"))
    assert sawyer.trained_antialias is None and frames_mismatch(sawyer, True) == ""  # its camera has no such setting


def test_the_runner_applies_the_policys_gains_to_the_encoded_frame(tmp_path) -> None:
    setup = load_solar_setup(_params(_policy(tmp_path / "r.pt", "reacher", "joint_torque", 2)))
    runner = SolarRunner(setup.policy, setup.runner_config)
    image = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    runner.start_episode()
    runner.on_frame(image, 0.0)
    got = runner.on_frame(image, 0.1).action  # step 2
    z = setup.policy.encode(image)
    expected = np.clip(setup.policy.K[2] @ z + setup.policy.k[2], -1, 1)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_sawyer_setup_has_the_arm_chain_and_the_finger_range(tmp_path) -> None:
    setup = load_solar_setup(_params(_policy(tmp_path / "s.pt", "sawyer_push", "ee_delta", 4), "sawyer_push"))
    assert setup.ee is not None and setup.ee.gripper_limit_m > 0.01
    assert setup.chain.joint_names == setup.robot.joint_names and len(setup.robot.joint_names) == 7


@pytest.mark.parametrize(("file_task", "kind", "du", "task", "latent", "message"), [
    ("reacher", "joint_torque", 2, "sawyer_push", 10, "task is 'reacher', expected 'sawyer_push'"),
    ("reacher", "joint_torque", 2, "reacher", 8, "latent_dim is 10, expected 8"),
    ("reacher", "ee_delta", 4, "reacher", 10, "action_kind 'ee_delta' (task reacher needs 'joint_torque'); "
                                              "4 action dimensions (task reacher commands 2)"),
    ("sawyer_push", "ee_delta", 3, "sawyer_push", 10, "3 action dimensions (task sawyer_push commands 4)"),
])
def test_a_model_for_another_setup_is_refused_with_what_differs(tmp_path, file_task, kind, du, task, latent,
                                                                 message) -> None:
    path = _policy(tmp_path / "p.pt", file_task, kind, du)
    with pytest.raises(ValueError) as err:
        load_solar_setup(_params(path, task, latent))
    assert message in str(err.value)


def test_reacher_actions_outside_the_normalized_range_are_refused(tmp_path) -> None:
    path = _policy(tmp_path / "r.pt", "reacher", "joint_torque", 2, low=-2.0, high=2.0)
    with pytest.raises(ValueError, match=r"reacher actions must lie in \[-1, 1\]"):
        load_solar_setup(_params(path))


def test_unknown_task_names_the_valid_ones(tmp_path) -> None:
    with pytest.raises(ValueError, match="task 'juggle' is not a SOLAR task; valid tasks: reacher, sawyer_push, "
                                         "sawyer_reach, sawyer_stack"):
        load_solar_setup(_params(tmp_path / "none.pt", "juggle"))


def test_runner_config_from_a_policy_spec() -> None:
    spec = make_spec("sawyer_push", 10, 50, 0.1, "ee_delta", [-1] * 4, [1] * 4)
    c = SolarRunnerConfig.from_spec(spec)
    assert (c.image_size, c.control_dt_s, c.horizon, c.action_kind, c.action_dim) == (64, 0.1, 50, "ee_delta", 4)
