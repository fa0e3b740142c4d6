"""Batched reward functions for the PDDM planner: ``reward(states, actions, t) -> (reward, done)``.

Every task works on any leading shape: states (..., S), actions (..., A), t (...) integer control-step
index (broadcastable), in numpy. Tasks hold their goal (target, direction) as parameters, so one model
of the robot's dynamics serves every task (PDDM, Nagabandi et al., CoRL 2019, Sec. 5: the Baoding
model trained counter-clockwise is reused for clockwise rotation and go-to-position).

State layouts
-------------
Baoding (``BAODING_STATE_DIM`` = 36, ShadowHand, world frame, SI units):
    [0:24]  joint positions (rad), in the order of ``BaodingWorld.joint_names``
    [24:27] ball_0 position (m)      [27:30] ball_1 position (m)
    [30:33] ball_0 velocity (m/s)    [33:36] ball_1 velocity (m/s)
The paper's 40-D observation also carries the two target xy (4 values); targets here are functions of
time held by the task, not part of the learned state.

Planar reacher (``REACHER_STATE_DIM`` = 6): [cos q1, sin q1, cos q2, sin q2, qd1, qd2] (rad/s).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

BAODING_ACTION_SCALE = 1.0  # default of baoding_action_to_targets' scale (BaodingEnv); configs may set their own
BAODING_TASKS = ("ccw", "cw", "goto")  # Baoding tasks one model serves (rotate either way, move one ball)
BAODING_STATE_DIM = 36
BAODING_JOINTS = slice(0, 24)
BALL0_POS, BALL1_POS = slice(24, 27), slice(27, 30)
BALL0_VEL, BALL1_VEL = slice(30, 33), slice(33, 36)
BALLS_POS, BALLS_VEL = slice(24, 30), slice(30, 36)  # both balls: reshape(..., 2, 3)
REACHER_STATE_DIM = 6


@dataclass(frozen=True)
class BaodingParams:
    """Baoding target circle and penalties (PDDM public code, FACTS.md "PDDM").

    An ellipse 0.036 m along the fingers and 0.02 m across the palm, 60 control steps per revolution
    (6 s at 10 Hz); reward -5 * xy distance per ball; -500 and done when a ball's z < ``drop_z``;
    -10 when |wrist| > 0.15 rad. PDDM's code sets ``x_radius`` 0.02 and ``y_radius`` 0.036 in its
    palm frame, where x runs across the palm and the long axis along the fingers; the Baoding world
    here has the fingers along world x (``BaodingWorld``), so ``radius_x`` (along) is 0.036 and
    ``radius_y`` (across) 0.02.
    ``center_xy`` and ``drop_z`` depend on where the world puts the palm; ``wrist_indices`` are the
    wrist joints' indices in the state.
    """

    center_xy: tuple[float, float] = (0.0, 0.0)
    radius_x: float = 0.036
    radius_y: float = 0.02
    period_steps: int = 60
    distance_weight: float = 5.0
    drop_z: float = 0.06
    drop_penalty: float = 500.0
    wrist_indices: tuple[int, ...] = (0, 1)
    wrist_limit: float = 0.15
    wrist_penalty: float = 10.0
    phase0: float = 0.0

    def __post_init__(self) -> None:
        if self.radius_x < 0 or self.radius_y < 0:
            raise ValueError(f"BaodingParams radii must be >= 0, got {self.radius_x}, {self.radius_y}")
        if self.period_steps < 1:
            raise ValueError(f"BaodingParams.period_steps must be >= 1, got {self.period_steps}")
        if any(not 0 <= i < 24 for i in self.wrist_indices):
            raise ValueError(f"BaodingParams.wrist_indices must index the 24 joints, got {self.wrist_indices}")


def start_phase(ball0_xy: np.ndarray, ball1_xy: np.ndarray) -> float:
    """``phase0`` of a rotation task started on balls at rest: pi when ball_0 lies nearer the wrist
    (smaller x, the fingers point along +x) than ball_1, else 0.

    The targets start on the ellipse's long axis at ball_0's end, as in every training episode (the
    world places ball_0 towards the wrist). Starting them in ball_0's own direction instead (balls at
    rest can lie diagonally) trained worse in two runs (BENCHMARKS.md, "The ROS loop explained").
    """
    return float(np.pi) if float(ball0_xy[0]) <= float(ball1_xy[0]) else 0.0


def start_baoding_task(task: str, balls_xy: np.ndarray, params: BaodingParams, goto_target_xy: tuple[float, float] = (0.0, 0.0),
                       goto_ball: int = 0, lead_rad: float = 0.0) -> "BaodingRotateTask | BaodingGoToTask":
    """The task of a Baoding episode started on balls at rest: the one episode start of the training env
    and the planner node.

    The target ellipse is centred on the balls' midpoint; a rotation's targets start on the long axis at
    ball_0's end (:func:`start_phase`); ``goto`` aims ``goto_ball`` at ``goto_target_xy`` from that centre.
    ``balls_xy`` (2, 2): the balls' horizontal positions; ``params`` brings the ellipse, drop height and
    penalties (the env's, or those a checkpoint was trained with).
    """
    xy = np.asarray(balls_xy, dtype=float).reshape(2, 2)
    center = xy.mean(axis=0)
    params = replace(params, center_xy=(float(center[0]), float(center[1])), phase0=start_phase(xy[0], xy[1]))
    if task == "goto":
        target = (float(center[0] + goto_target_xy[0]), float(center[1] + goto_target_xy[1]))
        return BaodingGoToTask(target, int(goto_ball), params)
    if task not in ("ccw", "cw"):
        raise ValueError(f"start_baoding_task: task must be one of {BAODING_TASKS}, got {task!r}")
    return BaodingRotateTask(params, 1 if task == "ccw" else -1, lead_rad)


def _drop_and_wrist(p: BaodingParams, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(penalty, done) shared by the Baoding tasks: ball drop and wrist excursion."""
    dropped = (states[..., BALL0_POS.start + 2] < p.drop_z) | (states[..., BALL1_POS.start + 2] < p.drop_z)
    penalty = p.drop_penalty * dropped
    if p.wrist_indices:
        wrist = np.abs(states[..., p.wrist_indices[0]])
        for i in p.wrist_indices[1:]:
            wrist = np.maximum(wrist, np.abs(states[..., i]))
        penalty = penalty + p.wrist_penalty * (wrist > p.wrist_limit)
    return penalty, dropped


def valid_lead(value: object) -> bool:
    """A rotation task's target lead (``BaodingRotateTask.lead_rad``): a finite number in [0, pi) rad."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value)) and 0.0 <= value < np.pi


def pair_phase(state: np.ndarray, params: BaodingParams) -> float:
    """The balls' phase on the target ellipse (rad): the angle of ball_0 - ball_1 in ellipse-normalized
    coordinates, which is ball_0's target phase when both balls sit on their targets (half a turn apart)."""
    d = np.asarray(state[BALL0_POS], float)[:2] - np.asarray(state[BALL1_POS], float)[:2]
    return float(np.arctan2(d[1] / max(params.radius_y, 1e-9), d[0] / max(params.radius_x, 1e-9)))


@dataclass(frozen=True)
class BaodingRotateTask:
    """Both balls follow targets on an ellipse, half a turn apart; ``direction`` +1 = counter-clockwise.

    ``lead_rad`` 0 (PDDM): the targets run on a clock from ``params.phase0``, one revolution per
    ``period_steps``. Balls that fall more than half a turn behind the clock then find their targets
    nearer the other way round, and the reward pulls them backwards. ``lead_rad`` > 0: at each
    planning step (``from_state``) the targets are re-anchored ``lead_rad`` ahead of the balls'
    measured phase (``pair_phase``) and run on at the clock's speed over the horizon from there, so
    the reward always points in the task's direction.
    """

    params: BaodingParams = BaodingParams()
    direction: int = 1
    lead_rad: float = 0.0

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"BaodingRotateTask.direction must be +1 (ccw) or -1 (cw), got {self.direction}")
        if not valid_lead(self.lead_rad):
            raise ValueError(f"BaodingRotateTask.lead_rad must be in [0, pi) rad, got {self.lead_rad!r}")

    def from_state(self, state: np.ndarray, t: int) -> "BaodingRotateTask":
        """The task a plan from the measured ``state`` (S,) at step ``t`` optimizes: itself on the clock
        (``lead_rad`` 0); else ball_0's target at step t set ``lead_rad`` ahead of the balls' phase."""
        if self.lead_rad == 0.0:
            return self
        p = self.params
        phase0 = pair_phase(state, p) + self.direction * (self.lead_rad - 2.0 * np.pi * t / p.period_steps)
        return replace(self, params=replace(p, phase0=float(phase0)))

    def targets(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Target xy of ball_0 and ball_1 at control step t: (..., 2) each."""
        p = self.params
        theta = p.phase0 + self.direction * 2.0 * np.pi * np.asarray(t, dtype=np.float64) / p.period_steps
        cx, cy = p.center_xy
        t0 = np.stack([cx + p.radius_x * np.cos(theta), cy + p.radius_y * np.sin(theta)], axis=-1)
        t1 = np.stack([cx + p.radius_x * np.cos(theta + np.pi), cy + p.radius_y * np.sin(theta + np.pi)], axis=-1)
        return t0, t1

    def reward(self, states: np.ndarray, actions: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t0, t1 = self.targets(t)
        b0, b1 = BALL0_POS.start, BALL1_POS.start
        d0 = np.hypot(states[..., b0] - t0[..., 0], states[..., b0 + 1] - t0[..., 1])
        d1 = np.hypot(states[..., b1] - t1[..., 0], states[..., b1 + 1] - t1[..., 1])
        penalty, done = _drop_and_wrist(self.params, states)
        return -self.params.distance_weight * (d0 + d1) - penalty, done


@dataclass(frozen=True)
class BaodingGoToTask:
    """Move one ball (``ball``: 0 or 1) to a target xy, keeping both in the hand."""

    target_xy: tuple[float, float]
    ball: int = 0
    params: BaodingParams = BaodingParams()

    def __post_init__(self) -> None:
        if self.ball not in (0, 1):
            raise ValueError(f"BaodingGoToTask.ball must be 0 or 1, got {self.ball}")

    def reward(self, states: np.ndarray, actions: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start = (BALL0_POS if self.ball == 0 else BALL1_POS).start
        d = np.hypot(states[..., start] - self.target_xy[0], states[..., start + 1] - self.target_xy[1])
        penalty, done = _drop_and_wrist(self.params, states)
        return -self.params.distance_weight * d - penalty, done


@dataclass(frozen=True)
class ReachTask:
    """Planar 2-link reacher: bring the fingertip to ``target_xy`` (m) and stop there.

    reward = -distance_weight * |tip - target| - velocity_weight * |qd|^2; never done.
    """

    target_xy: tuple[float, float]
    link_lengths: tuple[float, float] = (0.1, 0.1)
    distance_weight: float = 10.0
    velocity_weight: float = 0.01

    def fingertip(self, states: np.ndarray) -> np.ndarray:
        """Forward kinematics from the (cos, sin) state: (..., 2)."""
        c1, s1, c2, s2 = states[..., 0], states[..., 1], states[..., 2], states[..., 3]
        l1, l2 = self.link_lengths
        x = l1 * c1 + l2 * (c1 * c2 - s1 * s2)
        y = l1 * s1 + l2 * (s1 * c2 + c1 * s2)
        return np.stack([x, y], axis=-1)

    def distance(self, states: np.ndarray) -> np.ndarray:
        return np.sqrt(((self.fingertip(states) - np.asarray(self.target_xy)) ** 2).sum(-1))

    def reward(self, states: np.ndarray, actions: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        speed2 = states[..., 4] ** 2 + states[..., 5] ** 2
        r = -self.distance_weight * self.distance(states) - self.velocity_weight * speed2
        return r, np.zeros(r.shape, dtype=bool)


def baoding_action_to_targets(action: np.ndarray, rest: np.ndarray, low: np.ndarray, high: np.ndarray, scale: float) -> np.ndarray:
    """Planner action in [-1, 1]^24 -> joint-position targets (rad): rest + a * scale * half range, clipped.

    PDDM maps actions onto each joint's range around its middle; here 0 is the rest pose (which holds
    the balls), so random exploration and a zero plan keep the balls on the palm. Used by the training
    env and the run-time planner node alike.
    """
    a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    return np.clip(np.asarray(rest) + a * 0.5 * (np.asarray(high) - np.asarray(low)) * scale, low, high)


def baoding_state(q: np.ndarray, ball_pos: np.ndarray, ball_vel: np.ndarray) -> np.ndarray:
    """Assemble the 36-D Baoding model state from joints (24,), ball positions and velocities (2, 3)."""
    q, p, v = np.asarray(q, float).reshape(-1), np.asarray(ball_pos, float).reshape(-1), np.asarray(ball_vel, float).reshape(-1)
    if q.size != 24 or p.size != 6 or v.size != 6:
        raise ValueError(f"baoding_state: need 24 joints and 2 balls x 3, got {q.size}, {p.size}, {v.size}")
    return np.concatenate([q, p, v]).astype(np.float32)


__all__ = [
    "baoding_action_to_targets",
    "baoding_state",
    "BAODING_STATE_DIM",
    "BAODING_ACTION_SCALE",
    "BAODING_TASKS",
    "REACHER_STATE_DIM",
    "BaodingParams",
    "start_phase",
    "start_baoding_task",
    "BAODING_JOINTS",
    "BALL0_POS",
    "BALL1_POS",
    "BALL0_VEL",
    "BALL1_VEL",
    "BALLS_POS",
    "BALLS_VEL",
    "pair_phase",
    "valid_lead",
    "BaodingRotateTask",
    "BaodingGoToTask",
    "ReachTask",
]
