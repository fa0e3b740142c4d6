"""Run-time PDDM planning for the ShadowHand: model + task + MPPI -> joint targets (no ROS).

The ``pddm_planner`` node wraps this: it feeds joint positions and ball states, calls ``plan`` in its
own thread, and publishes the targets. Tasks switch at run time (``set_task``) without retraining,
since the tasks are reward functions over the same learned dynamics (PDDM, Nagabandi et al., CoRL
2019, Sec. 6, model reuse).

Every task starts as a training episode does (``BaodingEnv.reset``): from the rest grip, with both
balls at rest in the palm. Until the balls have stayed slower than ``SettleGate.speed_mps`` for
``SettleGate.hold_s``, ``plan`` returns action 0 (the rest grip) and ``settling`` is true; then the
task starts: the planner forgets its previous plan, the step counter restarts, the target ellipse
is centred on the balls, and ball_0's target starts at its end of the long axis. A task started on
balls still rolling in from the drop onto the palm put the ellipse wherever they happened to be and
planned from states unlike any episode start the model was trained on.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anima.controllers.mppi import PlannerConfig, SamplingPlanner
from anima.controllers.planning_tasks import BAODING_TASKS as TASKS
from anima.controllers.planning_tasks import (
    BAODING_ACTION_SCALE,
    BAODING_STATE_DIM,
    BALLS_POS,
    BALLS_VEL,
    BaodingParams,
    BaodingRotateTask,
    baoding_action_to_targets,
    baoding_state,
    start_baoding_task,
    valid_lead,
)
from anima.models.dynamics_ensemble import DynamicsEnsemble


@dataclass(frozen=True)
class TaskSpec:
    """Which task to plan for: ``name`` in TASKS; goto target xy (m, offset from the circle centre) and ball."""

    name: str = "ccw"
    goto_target_xy: tuple[float, float] = (0.0, 0.03)
    goto_ball: int = 0

    def __post_init__(self) -> None:
        if self.name not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.name!r}")
        if self.goto_ball not in (0, 1):
            raise ValueError(f"goto_ball must be 0 or 1, got {self.goto_ball}")
        xy = tuple(float(v) for v in self.goto_target_xy)
        if len(xy) != 2 or not all(np.isfinite(xy)):
            raise ValueError(f"goto_target_xy must be 2 finite numbers (m), got {self.goto_target_xy!r}")
        object.__setattr__(self, "goto_target_xy", xy)


@dataclass(frozen=True)
class SettleGate:
    """When a task may start: both balls slower than ``speed_mps`` (m/s) for ``hold_s`` (s) and above the drop height."""

    speed_mps: float = 0.01
    hold_s: float = 0.5

    def __post_init__(self) -> None:
        if not (np.isfinite(self.speed_mps) and self.speed_mps > 0):
            raise ValueError(f"settle speed_mps must be > 0 (m/s), got {self.speed_mps!r}")
        if not (np.isfinite(self.hold_s) and self.hold_s >= 0):
            raise ValueError(f"settle hold_s must be >= 0 (s), got {self.hold_s!r}")


SHIPPED_MODEL = Path(__file__).resolve().parent / "data" / "baoding_ccw.pt"


def target_leads(value: Any) -> dict[str, float]:
    """The rotation targets' lead (rad) per direction from the parameter [ccw, cw]: two values in
    [0, pi) (``valid_lead``); 0 = PDDM's clock (``BaodingRotateTask.lead_rad``)."""
    leads = value.tolist() if hasattr(value, "tolist") else value  # a ROS double array arrives as array('d')
    if not isinstance(leads, (list, tuple)) or len(leads) != 2 or not all(valid_lead(v) for v in leads):
        raise ValueError(f"target_lead_rad must be 2 values (ccw, cw) in [0, pi) rad, got {list(leads) if isinstance(leads, tuple) else leads!r}")
    return {"ccw": float(leads[0]), "cw": float(leads[1])}


def load_baoding_model(path: str | Path, joint_names: tuple[str, ...]) -> DynamicsEnsemble:
    """Load a Baoding checkpoint, refusing one whose dimensions or joint names differ from the robot's.

    ``path`` "shipped" is the model that comes with the package (``models/pddm/data/``; how it
    was trained is in ``baoding_ccw.yaml`` beside it).
    """
    if str(path) == "shipped":
        path = SHIPPED_MODEL
    if not Path(path).is_file():
        raise FileNotFoundError(f"model_path {path}: no such checkpoint file (train one with `anima train pddm --task baoding`)")
    return DynamicsEnsemble.load(path, state_dim=BAODING_STATE_DIM, action_dim=len(joint_names), joint_names=joint_names)


def resolve_action_scale(model: DynamicsEnsemble, requested: float) -> float:
    """The action scale to plan with: the one the model was trained with (its ``env_kwargs``).

    ``requested`` <= 0 takes the checkpoint's; a positive value must equal it, since the model's
    actions mean other joint targets under another scale. A checkpoint that does not record its
    training env (not written by ``anima train pddm``) needs a positive ``requested``.
    """
    env_kwargs = getattr(model, "extra", {}).get("env_kwargs")
    saved = None if env_kwargs is None else float(env_kwargs.get("action_scale", BAODING_ACTION_SCALE))
    if not np.isfinite(requested):
        raise ValueError(f"action_scale must be a finite number, got {requested!r}")
    if requested > 0:
        if saved is not None and abs(requested - saved) > 1e-9:
            raise ValueError(f"action_scale {requested} differs from {saved}, the scale this checkpoint was trained with; "
                             "leave action_scale at 0 to use the checkpoint's")
        return float(requested)
    if saved is None:
        raise ValueError("action_scale: the checkpoint does not record the action scale it was trained with; set action_scale > 0")
    return saved


class BaodingPlannerRuntime:
    """Holds the model, planner and task; thread-safe task switching, one ``plan`` at a time."""

    def __init__(self, model: DynamicsEnsemble, robot: Any, planner_config: PlannerConfig, task: TaskSpec,
                 action_scale: float, rng: np.random.Generator, settle: SettleGate = SettleGate(),
                 target_lead_rad: tuple[float, float] = (0.0, 0.0)) -> None:
        self.model, self.robot, self.action_scale = model, robot, float(action_scale)
        self.target_lead_rad = target_leads(target_lead_rad)
        self.low, self.high = np.asarray(robot.position_lower, float), np.asarray(robot.position_upper, float)
        self.rest = np.asarray(robot.standing_pose, float)
        saved = dict(getattr(model, "extra", {}).get("task_params", {}) or {})
        fields = {f.name for f in dataclasses.fields(BaodingParams)}
        self.params: BaodingParams | None = BaodingParams(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k in fields}) if saved else None
        self.planner = SamplingPlanner(planner_config, model, BaodingRotateTask(), len(self.rest), rng)
        self._lock = threading.Lock()
        self._spec, self._applied = task, None
        self.settle, self._calm_since = settle, None
        self.settling = True
        self.step_index = 0
        self.last_plan_ms = float("nan")

    def set_task(self, spec: TaskSpec) -> None:
        """Switch the task: the hand returns to the rest grip and the new task starts once the balls are at rest."""
        with self._lock:
            self._spec = spec
            if spec != self._applied:
                self.settling = True

    @property
    def task_spec(self) -> TaskSpec:
        with self._lock:
            return self._spec

    def _balls_settled(self, state: np.ndarray, now_s: float) -> bool:
        """Both balls slow (and not dropped) for ``settle.hold_s`` up to ``now_s``."""
        speed = float(np.linalg.norm(state[BALLS_VEL].reshape(2, 3), axis=1).max())
        heights = state[BALLS_POS].reshape(2, 3)[:, 2]
        dropped = self.params is not None and bool((heights < self.params.drop_z).any())
        if speed > self.settle.speed_mps or dropped:
            self._calm_since = None
            return False
        if self._calm_since is None or now_s < self._calm_since:  # first calm state (or the clock went back)
            self._calm_since = now_s
        return now_s - self._calm_since >= self.settle.hold_s

    def _start_task(self, spec: TaskSpec, state: np.ndarray) -> Any:
        """A new episode: fresh plan, step 0, the target ellipse centred on the balls at rest."""
        self._applied, self.step_index, self._calm_since = spec, 0, None
        self.planner.reset()
        # The ellipse and penalties are the checkpoint's; the episode starts as the training env starts
        # one (planning_tasks.start_baoding_task: centred on the balls, targets at ball_0's end).
        balls = state[BALLS_POS].reshape(2, 3)
        if self.params is None:  # no geometry in the checkpoint: drop height from the first state
            self.params = BaodingParams(drop_z=float(balls[:, 2].mean() - 0.06), phase0=float(np.pi))
        lead = self.target_lead_rad.get(spec.name, 0.0)
        task = start_baoding_task(spec.name, balls[:, :2], self.params, spec.goto_target_xy, spec.goto_ball, lead)
        self.params = task.params
        return task

    def plan(self, q: np.ndarray, ball_pos: np.ndarray, ball_vel: np.ndarray, now_s: float) -> np.ndarray:
        """One step from the measured state at time ``now_s`` (s); returns the action (24,) in [-1, 1].

        While a (new) task waits for the balls to settle, the action is 0: the rest grip.
        ``targets`` maps an action to joint targets.
        """
        start = time.perf_counter()
        state = baoding_state(q, ball_pos, ball_vel)
        if not np.isfinite(state).all():
            raise ValueError(f"plan: state has non-finite entries at {np.flatnonzero(~np.isfinite(state)).tolist()}")
        spec = self.task_spec
        if spec != self._applied:
            if not self._balls_settled(state, float(now_s)):
                self.settling = True
                return np.zeros(self.planner.action_dim, np.float32)
            self.planner.task = self._start_task(spec, state)
        self.settling = False
        action = self.planner.plan(state, self.step_index)
        self.step_index += 1
        self.last_plan_ms = (time.perf_counter() - start) * 1000.0
        return action

    def next_planned_action(self) -> np.ndarray:
        """The previous plan's next action (the warm-started mean's first step); 0 (rest) while settling."""
        if self.settling:
            return np.zeros(self.planner.action_dim, np.float32)
        return self.planner.mean[0].copy()

    def targets(self, action: np.ndarray) -> np.ndarray:
        return baoding_action_to_targets(action, self.rest, self.low, self.high, self.action_scale)
