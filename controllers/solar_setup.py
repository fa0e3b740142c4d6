"""What a SOLAR policy needs around it on a robot: the checked model, its robot and its command mapping.

``solar_planner`` (and anything else that runs a SOLAR policy on a live stream) builds one
:class:`SolarSetup` from its parameters with :func:`load_solar_setup`: the model file is resolved
("shipped" = the package's ``models/solar/data/<task>.pt``), loaded as data and refused, naming what
differs, when it was trained for another task or latent size or acts differently from what the task
commands; the planar reacher's actions become joint torques, the Sawyer's end-effector setpoints
(forward kinematics of the URDF chain place the first setpoint, as ``SawyerEnv.reset`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from anima.controllers.robot_config import RobotControlConfig, load_robot_config
from anima.controllers.sawyer_arm import load_sawyer_arm
from anima.controllers.solar_runner import TASK_ACTION_KINDS, EeSetpoint, SolarRunnerConfig, check_policy
from anima.models.solar.policy import DATA_DIR, SolarPolicy, policy_env_kwargs, torque_limit_of

__all__ = ["SolarSetup", "load_solar_setup", "resolve_model_path", "frames_mismatch", "SHIPPED_DIR"]

SHIPPED_DIR = DATA_DIR  # models/solar/data: package data, installed with anima.models.solar


def resolve_model_path(model_path: str, task: str) -> Path:
    """``shipped`` -> the package's model for ``task``; a missing file is a FileNotFoundError naming it."""
    if not model_path:
        raise ValueError("parameter 'model_path' is required: 'shipped' or a policy file of `anima train solar`")
    if model_path == "shipped":
        path = SHIPPED_DIR / f"{task}.pt"
        if not path.is_file():
            shipped = sorted(p.stem for p in SHIPPED_DIR.glob("*.pt")) if SHIPPED_DIR.is_dir() else []
            raise FileNotFoundError(f"model_path shipped: no shipped SOLAR model for task '{task}' ({path}); "
                                    f"shipped: {', '.join(shipped) or 'none'}")
        return path
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"model_path {model_path}: no such file (train one with `anima train solar --task {task}`)")
    return path


@dataclass(frozen=True, eq=False)
class SolarSetup:
    """A loaded policy with its robot and command mapping (``ee`` None = joint torques)."""

    task: str
    model_path: Path
    latent_dim: int
    policy: SolarPolicy
    runner_config: SolarRunnerConfig
    robot: RobotControlConfig
    torque_per_unit: np.ndarray
    ee: EeSetpoint | None = None
    chain: Any = None
    base_link: str = "base_link"
    trained_antialias: bool | None = None  # reacher: the training env drew anti-aliased frames (env_kwargs.antialias)


def load_solar_setup(p: Mapping[str, Any]) -> SolarSetup:
    """Build the setup from the node's parameters (see ``ros_nodes/solar_planner.py``)."""
    task, latent_dim = str(p["task"]), int(p["latent_dim"])
    if task not in TASK_ACTION_KINDS:
        raise ValueError(f"task '{task}' is not a SOLAR task; valid tasks: {', '.join(sorted(TASK_ACTION_KINDS))}")
    path = resolve_model_path(str(p["model_path"]), task)
    policy = SolarPolicy.load(path, expect_task=task, expect_latent_dim=latent_dim)
    config = SolarRunnerConfig.from_spec(policy.spec)
    if task == "reacher":
        robot = load_robot_config("reacher")
        check_policy(policy.spec, task, robot.num_joints)
        return SolarSetup(task, path, latent_dim, policy, config, robot, _torque_per_unit(path, policy, config, robot),
                          trained_antialias=bool(policy_env_kwargs(policy).get("antialias", False)))
    check_policy(policy.spec, task, 4)
    return _sawyer_setup(p, task, path, latent_dim, policy, config)


def frames_mismatch(setup: SolarSetup, camera_antialias: bool) -> str:
    """A warning when the simulated reacher camera draws frames unlike the model's training frames, else "".

    A model trained on anti-aliased frames sees edges snapped to the pixel grid from an aliased camera (and the
    reverse): it still acts, but on images it never saw (the shipped model: 0.3 cm on its own frames)."""
    if setup.trained_antialias is None or setup.trained_antialias == bool(camera_antialias):
        return ""
    drawn = "anti-aliased" if camera_antialias else "aliased"
    trained = "anti-aliased" if setup.trained_antialias else "aliased"
    return (f"model_path {setup.model_path}: trained on {trained} frames (env_kwargs.antialias "
            f"{str(setup.trained_antialias).lower()}), but camera_antialias is {str(bool(camera_antialias)).lower()}: "
            f"the camera draws {drawn} frames the model never saw; launch with "
            f"camera_antialias:={str(setup.trained_antialias).lower()}")


def _torque_per_unit(path: Path, policy: SolarPolicy, config: SolarRunnerConfig, robot: RobotControlConfig) -> np.ndarray:
    """N m per action unit: the reacher's actions are normalized, [-1, 1] = +-torque limit (PlanarReacherEnv).

    The unit is the arm the model was trained on (its spec's ``torque_limit_nm``); a robot whose torque limit
    differs would scale every action wrong, so the model is refused naming both."""
    bound = np.maximum(np.abs(config.action_low), np.abs(config.action_high))
    if (bound > 1.0 + 1e-9).any():
        raise ValueError(f"reacher actions must lie in [-1, 1] (normalized torque), the model's bounds are "
                         f"{list(config.action_low)} .. {list(config.action_high)}")
    trained = torque_limit_of(policy.spec)
    if not np.allclose(robot.torque_limit, trained, rtol=1e-9, atol=0.0):
        raise ValueError(f"model_path {path}: refused: trained on an arm of {trained:g} N m per action unit, the robot's "
                         f"torque_limit_nm is {robot.torque_limit.tolist()} ({robot.source}); train or ship a model for this arm")
    return np.asarray(robot.torque_limit, float).copy()


def _sawyer_setup(p: Mapping[str, Any], task: str, path: Path, latent_dim: int, policy: Any,
                  config: SolarRunnerConfig) -> SolarSetup:
    arm = load_sawyer_arm(str(p["base_link"]), str(p["tip_link"]))
    lo, hi = (np.asarray(p[k], float) for k in ("workspace_min_m", "workspace_max_m"))
    ee = EeSetpoint(float(p["max_step_m"]), lo, hi, arm.gripper_limit_m)
    return SolarSetup(task, path, latent_dim, policy, config, load_robot_config("sawyer"), np.zeros(0), ee=ee,
                      chain=arm.chain, base_link=arm.base_link)
