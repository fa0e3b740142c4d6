"""Run-time Baoding planner core: task specs, switching, previous-plan fallback, action mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from anima.controllers.mppi import PlannerConfig
from anima.controllers.planning_tasks import BaodingGoToTask, BaodingRotateTask, baoding_action_to_targets
from anima.controllers.robot_config import load_robot_config
from anima.models.dynamics_ensemble import DynamicsEnsemble, EnsembleConfig
from anima.models.pddm.runtime import SHIPPED_MODEL, BaodingPlannerRuntime, SettleGate, TaskSpec, load_baoding_model, resolve_action_scale

ROBOT = load_robot_config("shadowhand")
BALLS = np.array([[0.014, 0.01, 0.21], [0.086, 0.01, 0.21]])  # on the target ellipse's long axis


STILL = np.zeros((2, 3))


def _runtime(task: TaskSpec = TaskSpec(), settle: SettleGate = SettleGate(hold_s=0.0)) -> BaodingPlannerRuntime:
    model = DynamicsEnsemble(36, 24, EnsembleConfig(hidden_sizes=(8, 8)), joint_names=ROBOT.joint_names, generator=torch.Generator().manual_seed(0))
    return BaodingPlannerRuntime(model, ROBOT, PlannerConfig(num_samples=32), task, 0.5, np.random.default_rng(0), settle)


def test_plan_switch_and_fallback() -> None:
    rt = _runtime()
    q = np.asarray(ROBOT.standing_pose, float)
    action = rt.plan(q, BALLS, STILL, 0.0)
    assert action.shape == (24,) and np.all(np.abs(action) <= 1.0)
    targets = rt.targets(action)
    assert targets.shape == (24,) and np.all(targets >= ROBOT.position_lower) and np.all(targets <= ROBOT.position_upper)
    task = rt.planner.task
    assert isinstance(task, BaodingRotateTask) and task.direction == 1
    # Geometry from the first state: centre = ball midpoint (0.05, 0.01); the circle starts at ball_0:
    # ball_0 is 0.036 m (radius_x) behind the centre in x -> phase pi, so its t = 0 target is ball_0 itself.
    assert task.params.center_xy == pytest.approx((0.05, 0.01))
    np.testing.assert_allclose(task.targets(np.array(0))[0], BALLS[0, :2], atol=1e-6)  # float32 state
    # Fallback = the previous plan's next action, mapped the same way.
    np.testing.assert_array_equal(rt.next_planned_action(), rt.planner.mean[0])
    rt.set_task(TaskSpec("goto", (0.0, 0.03), 1))
    rt.plan(q, BALLS, STILL, 0.1)
    assert isinstance(rt.planner.task, BaodingGoToTask) and rt.planner.task.target_xy == pytest.approx((0.05, 0.04))
    assert rt.step_index == 1  # restarted by the switch


def test_circle_centred_on_the_balls_at_each_task_start() -> None:
    # The checkpoint's geometry gives the ellipse and the drop height; the centre is the balls'
    # midpoint when a task starts, as the training env centres each episode.
    model = DynamicsEnsemble(36, 24, EnsembleConfig(hidden_sizes=(8, 8)), joint_names=ROBOT.joint_names)
    model.extra = {"task_params": {"center_xy": [0.0, 0.0], "radius_x": 0.036, "radius_y": 0.02, "drop_z": 0.15}}
    rt = BaodingPlannerRuntime(model, ROBOT, PlannerConfig(num_samples=16), TaskSpec(), 0.5, np.random.default_rng(0), SettleGate(hold_s=0.0))
    q = np.asarray(ROBOT.standing_pose, float)
    rt.plan(q, BALLS, STILL, 0.0)
    assert rt.planner.task.params.center_xy == pytest.approx((0.05, 0.01)) and rt.planner.task.params.drop_z == 0.15
    rt.plan(q, BALLS + [0.01, 0.0, 0.0], STILL, 0.1)  # same task: the centre stays
    assert rt.planner.task.params.center_xy == pytest.approx((0.05, 0.01))
    rt.set_task(TaskSpec("cw"))
    rt.plan(q, BALLS + [0.01, 0.0, 0.0], STILL, 0.2)
    assert rt.planner.task.direction == -1 and rt.planner.task.params.center_xy == pytest.approx((0.06, 0.01))


def test_rotation_tasks_plan_with_the_target_lead() -> None:
    model = DynamicsEnsemble(36, 24, EnsembleConfig(hidden_sizes=(8, 8)), joint_names=ROBOT.joint_names)
    rt = BaodingPlannerRuntime(model, ROBOT, PlannerConfig(num_samples=16), TaskSpec("cw"), 0.5, np.random.default_rng(0),
                               SettleGate(hold_s=0.0), target_lead_rad=(0.0, 0.5))
    q = np.asarray(ROBOT.standing_pose, float)
    rt.plan(q, BALLS, STILL, 0.0)
    assert rt.planner.task.lead_rad == 0.5 and rt.planner.task.direction == -1  # cw's lead
    # What the plan optimized: ball_0's target 0.5 rad cw of the balls' phase (pi: ball_0 at the wrist end).
    a = np.pi - 0.5
    np.testing.assert_allclose(rt.planner.step_task.targets(np.array(0))[0], [0.05 + 0.036 * np.cos(a), 0.01 + 0.02 * np.sin(a)], atol=1e-6)
    rt.set_task(TaskSpec("ccw"))
    rt.plan(q, BALLS, STILL, 0.1)
    assert rt.planner.task.lead_rad == 0.0 and rt.planner.step_task is rt.planner.task  # ccw on the clock
    for bad in ((0.0, -0.1), (4.0, 0.0), (0.0, float("nan")), (0.5,), 0.5, "x"):
        with pytest.raises(ValueError, match=r"target_lead_rad must be 2 values \(ccw, cw\) in \[0, pi\) rad"):
            BaodingPlannerRuntime(model, ROBOT, PlannerConfig(num_samples=16), TaskSpec(), 0.5, np.random.default_rng(0), target_lead_rad=bad)


def test_task_starts_once_the_balls_are_at_rest() -> None:
    # As a training episode starts: the rest grip (action 0) until both balls have been slower than
    # 0.01 m/s for 0.5 s; then a fresh plan at step 0, centred on where the balls came to rest.
    model = DynamicsEnsemble(36, 24, EnsembleConfig(hidden_sizes=(8, 8)), joint_names=ROBOT.joint_names)
    model.extra = {"task_params": {"radius_x": 0.036, "radius_y": 0.02, "drop_z": 0.15}}
    rt = BaodingPlannerRuntime(model, ROBOT, PlannerConfig(num_samples=16), TaskSpec(), 0.5, np.random.default_rng(0), SettleGate(0.01, 0.5))
    q = np.asarray(ROBOT.standing_pose, float)
    rolling = np.array([[0.0, 0.02, 0.0], [0.0, 0.0, 0.0]])  # ball_0 at 2 cm/s
    for k in range(5):
        assert not rt.plan(q, BALLS + [0.0, 0.002 * k, 0.0], rolling, 0.1 * k).any()
        assert rt.settling and rt.step_index == 0
    for now in (0.5, 0.8, 0.99):  # calm from 0.5 s: not yet 0.5 s long
        assert not rt.plan(q, BALLS, STILL, now).any() and rt.settling
    assert not rt.plan(q, BALLS, rolling, 1.0).any()  # moving again: the calm restarts
    assert not rt.plan(q, BALLS, STILL, 1.1).any() and rt.settling
    rt.plan(q, BALLS, STILL, 1.65)
    assert not rt.settling and rt.step_index == 1 and rt.planner.task.params.center_xy == pytest.approx((0.05, 0.01))
    np.testing.assert_array_equal(rt.next_planned_action(), rt.planner.mean[0])
    # A switch: back to the rest grip, and the fallback action is the rest grip too.
    rt.set_task(TaskSpec("cw"))
    assert rt.settling and not rt.next_planned_action().any()
    assert not rt.plan(q, BALLS, STILL, 1.7).any()
    rt.plan(q, BALLS, STILL, 2.25)
    assert not rt.settling and rt.planner.task.direction == -1 and rt.step_index == 1
    # A dropped ball (below the checkpoint's drop height) never counts as settled.
    rt.set_task(TaskSpec("ccw"))
    dropped = BALLS.copy()
    dropped[1, 2] = 0.05
    for now in (3.0, 3.5, 4.0, 5.0):
        assert not rt.plan(q, dropped, STILL, now).any() and rt.settling
    with pytest.raises(ValueError, match="non-finite"):
        rt.plan(q, BALLS * np.nan, STILL, 6.0)
    for bad in ({"speed_mps": 0.0}, {"hold_s": -1.0}, {"hold_s": float("nan")}):
        with pytest.raises(ValueError, match="settle"):
            SettleGate(**bad)


def test_task_spec_validation_and_mapping() -> None:
    with pytest.raises(ValueError, match="task must be one of"):
        TaskSpec("spin")
    with pytest.raises(ValueError, match="goto_ball"):
        TaskSpec("goto", goto_ball=2)
    # rest 0.2, range [0, 1], scale 0.5: a = 1 -> 0.2 + 1 * 0.5 * 1 * 0.5 = 0.45; a = -1 -> -0.05 -> clipped 0.
    out = baoding_action_to_targets(np.array([1.0, -1.0]), np.array([0.2, 0.2]), np.zeros(2), np.ones(2), 0.5)
    np.testing.assert_allclose(out, [0.45, 0.0])


def test_action_scale_comes_from_the_checkpoint() -> None:
    model = DynamicsEnsemble(36, 24, EnsembleConfig(hidden_sizes=(8, 8)), joint_names=ROBOT.joint_names)
    model.extra = {"env_kwargs": {"task": "ccw", "action_scale": 0.5}}
    assert resolve_action_scale(model, 0.0) == 0.5 and resolve_action_scale(model, 0.5) == 0.5
    with pytest.raises(ValueError, match="action_scale 1.0 differs from 0.5, the scale this checkpoint was trained with"):
        resolve_action_scale(model, 1.0)
    model.extra = {"env_kwargs": {"task": "ccw"}}  # trained with the env's default
    assert resolve_action_scale(model, 0.0) == 1.0
    model.extra = {}
    with pytest.raises(ValueError, match="does not record the action scale"):
        resolve_action_scale(model, 0.0)
    assert resolve_action_scale(model, 0.7) == 0.7
    with pytest.raises(ValueError, match="finite"):
        resolve_action_scale(model, float("nan"))
    shipped = load_baoding_model(SHIPPED_MODEL, tuple(ROBOT.joint_names))
    assert resolve_action_scale(shipped, 0.0) == shipped.extra["env_kwargs"]["action_scale"]
