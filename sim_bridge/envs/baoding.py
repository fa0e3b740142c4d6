"""Baoding balls on the simulated ShadowHand (``BaodingWorld``) as a gymnasium environment.

PDDM's Baoding task (Nagabandi et al., CoRL 2019, Sec. 6; FACTS.md "PDDM"): 24 joint-position
targets at 10 Hz, actions in [-1, 1] mapped linearly onto each joint's range, the same PD command path
as under ROS (``JointCommandPath``) run in process. Observation = the planner's model state
(``planning_tasks`` Baoding layout, 36 values): 24 joint positions, ball positions, ball velocities,
ground truth from the simulator plus optional Gaussian position noise (``ball_noise_std_m``) as a
stand-in for the stereo tracker. ``ball_state="tracked"`` instead gives the ball state as the ROS
stack does: noisy position fixes (``ball_noise_std_m``) at about the camera rate through the same
Kalman filter as ``ball_state_estimator`` (``controllers.ball_filter``), so velocities are filtered,
not the simulator's instantaneous ones; positions are carried forward from the last fix to the
step's end, as ``pddm_planner`` does (``tracker_predict``). ``action_latency_s`` delays each
action within its step (the previous targets hold that long), as planning time delays the
``pddm_planner`` node's actions. The PD loop has no extra delay, as under ROS: the sim bridge's
lockstep applies the torque computed from each ``joint_states`` sample from that sample's time on,
as this env does (a hand whose joint readings arrive late is the world config's ``latency_s``).
``settle_s`` (1.5 s) is how long the balls settle in the resting hand before each episode.

Tasks (``task``, or per episode ``reset(options={"task": ...})``): ``ccw`` (training), ``cw``,
``goto`` (ball ``goto_ball`` to ``goto_target_xy``, offsets from the palm centre). ``target_lead_rad``
> 0 gives the rotation tasks targets the planner re-anchors that far ahead of the balls at each step
(``BaodingRotateTask.lead_rad``); the env's reward keeps the clock. Episode ends when a ball drops (reward -500). ``info["success"]``:
rotation tasks, at least ``success_rotation_rad`` (pi) of relative ball rotation in the task's
direction without a drop; goto, the ball within 1 cm of its target at the last step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from anima.controllers.ball_filter import BallFilterConfig, BallStateEstimator, extrapolate_positions
from anima.controllers.planning_tasks import (
    BAODING_ACTION_SCALE,
    BAODING_STATE_DIM,
    BAODING_TASKS,
    BaodingParams,
    baoding_action_to_targets,
    baoding_state,
    start_baoding_task,
    valid_lead,
)


def _check_task(task: str) -> str:
    if task not in BAODING_TASKS:
        raise ValueError(f"BaodingEnv task must be one of {list(BAODING_TASKS)}, got {task!r}")
    return task


class BaodingEnv(gym.Env):
    """ShadowHand + two balls; see the module docstring for spaces, tasks and success."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        task: str = "ccw",
        episode_steps: int = 100,
        control_dt: float = 0.1,
        ball_noise_std_m: float = 0.0,
        randomize: bool = False,
        goto_target_xy: tuple[float, float] = (0.0, 0.03),
        goto_ball: int = 0,
        success_rotation_rad: float = float(np.pi),
        target_lead_rad: float = 0.0,
        action_scale: float = BAODING_ACTION_SCALE,
        action_latency_s: float = 0.0,
        settle_s: float = 1.5,
        ball_state: str = "true",
        tracker_rate_hz: float = 30.0,
        tracker_predict: bool = True,
        render_mode: str | None = "rgb_array",
    ) -> None:
        from pybullet_utils.bullet_client import BulletClient
        import pybullet

        from anima.controllers.command_path import JointCommandPath
        from anima.controllers.robot_config import load_robot_config
        from anima.sim_bridge.baoding_world import BaodingWorld, load_baoding_config

        _check_task(task)
        if episode_steps < 1 or control_dt <= 0 or ball_noise_std_m < 0:
            raise ValueError("BaodingEnv: episode_steps must be >= 1, control_dt > 0, ball_noise_std_m >= 0")
        if not 0.0 <= action_latency_s < control_dt:
            raise ValueError(f"BaodingEnv: action_latency_s must be in [0, control_dt), got {action_latency_s}")
        self.action_latency_s = float(action_latency_s)
        if not (np.isfinite(settle_s) and settle_s > 0):
            raise ValueError(f"BaodingEnv: settle_s must be > 0, got {settle_s}")
        self.settle_s = float(settle_s)
        if ball_state not in ("true", "tracked") or not tracker_rate_hz > 0:
            raise ValueError(f"BaodingEnv: ball_state must be 'true' or 'tracked' and tracker_rate_hz > 0, got {ball_state!r}, {tracker_rate_hz!r}")
        self.tracker_predict = bool(tracker_predict)
        self.task_name, self.episode_steps, self.control_dt = task, int(episode_steps), float(control_dt)
        self.ball_noise_std_m, self.randomize_dynamics = float(ball_noise_std_m), bool(randomize)
        self.goto_target_xy, self.goto_ball, self.success_rotation_rad = tuple(goto_target_xy), int(goto_ball), float(success_rotation_rad)
        self.render_mode, self.action_scale = render_mode, float(action_scale)
        if not valid_lead(target_lead_rad):
            raise ValueError(f"BaodingEnv: target_lead_rad must be in [0, pi) rad, got {target_lead_rad!r}")
        self.target_lead_rad = float(target_lead_rad)
        self.client = BulletClient(connection_mode=pybullet.DIRECT)
        self.robot = load_robot_config("shadowhand")
        self.world = BaodingWorld(self.client, load_baoding_config())
        self.path = JointCommandPath(self.robot)
        self.joint_names = tuple(self.world.joint_names)
        if self.joint_names != tuple(self.robot.joint_names):
            raise ValueError(f"BaodingEnv: world joints {self.joint_names} differ from robot config {self.robot.joint_names}")
        self.low, self.high = np.asarray(self.robot.position_lower, float), np.asarray(self.robot.position_upper, float)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(24,), dtype=np.float32)
        self.observation_space = gym.spaces.Box(-10.0, 10.0, shape=(BAODING_STATE_DIM,), dtype=np.float32)
        self.t = 0
        self.task: Any = None
        self.params = BaodingParams()
        # Tracker fixes every ``_fix_steps`` physics steps: a whole number of PD periods near 1/rate.
        pd_steps = max(1, int(round(1.0 / (self.world.control_rate_hz * self.world.physics_dt))))
        self._fix_steps = pd_steps * max(1, int(round(1.0 / (tracker_rate_hz * self.world.physics_dt * pd_steps))))
        self._to_fix = self._fix_steps
        self._tracker = BallStateEstimator(BallFilterConfig(n_balls=2)) if ball_state == "tracked" else None
        self._tracked: Any = None

    # ---------------------------------------------------------------- helpers
    def action_to_targets(self, action: np.ndarray) -> np.ndarray:
        """[-1, 1] -> joint targets around the rest pose (``planning_tasks.baoding_action_to_targets``)."""
        return baoding_action_to_targets(action, self.world.rest_pose, self.low, self.high, self.action_scale)

    def _make_task(self, balls_xy: np.ndarray, drop_z: float) -> Any:
        """The episode's task (``planning_tasks.start_baoding_task``, as the planner node starts one)."""
        wrist = tuple(self.joint_names.index(n) for n in ("WRJ1", "WRJ0"))
        task = start_baoding_task(self.task_name, balls_xy, BaodingParams(drop_z=drop_z, wrist_indices=wrist),
                                  self.goto_target_xy, self.goto_ball, self.target_lead_rad)
        self.params = task.params
        return task

    def _advance(self, targets: np.ndarray | None, duration_s: float) -> None:
        """Simulate ``duration_s`` toward ``targets`` (None: keep), taking tracker fixes on schedule."""
        if self._tracker is None:
            self.world.run_targets(self.path, targets, duration_s)
            return
        n = max(1, int(round(duration_s / self.world.physics_dt)))
        while n > 0:
            k = min(n, self._to_fix)
            self.world.run_targets(self.path, targets, k * self.world.physics_dt)
            targets, n, self._to_fix = None, n - k, self._to_fix - k
            if self._to_fix == 0:
                self._to_fix = self._fix_steps
                fix = self.world.ball_states().position
                fix = fix + self.np_random.normal(0.0, self.ball_noise_std_m, fix.shape) if self.ball_noise_std_m > 0 else fix
                self._tracked = self._tracker.step(self.world.time_s, fix)

    def _observe(self) -> np.ndarray:
        if self._tracker is not None and self._tracked is not None:
            est = self._tracked
            age = self.world.time_s - est.t if self.tracker_predict else 0.0
            return baoding_state(self.world.read_joints().position, extrapolate_positions(est.position, est.velocity, age), est.velocity)
        balls = self.world.ball_states()
        pos = balls.position.copy()
        if self.ball_noise_std_m > 0:
            pos += self.np_random.normal(0.0, self.ball_noise_std_m, pos.shape)
        return baoding_state(self.world.read_joints().position, pos, balls.linear_velocity)

    def _pair_angle(self) -> float:
        p = self.world.ball_states().position
        d = p[1, :2] - p[0, :2]
        return float(np.arctan2(d[1], d[0]))

    # ---------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        unknown = sorted(set(options or {}) - {"task"})
        if unknown:
            raise ValueError(f"BaodingEnv.reset: unknown option(s) {unknown}; allowed: ['task']")
        if options and "task" in options:
            self.task_name = _check_task(options["task"])
        rng = self.np_random
        if self.randomize_dynamics:
            self.world.randomize(rng)
        self.world.reset(rng=rng)
        self.path.reset(self.world.read_joints().position)
        if self._tracker is not None:
            self._tracker.reset()
            self._tracked, self._to_fix = None, self._fix_steps
        # The balls come to rest in the cupped hand before the episode starts, as they have when the
        # pddm_planner node starts on the resting hand of the ROS launch (they are still rolling
        # towards the fingers 0.3 s after the drop onto the palm, and at rest after about 1.3 s).
        # The rest targets are re-sent at the control rate, as pose_hold does: one target held
        # longer than the command path's command_timeout_s would let the hand go limp.
        chunks = max(1, int(np.ceil(self.settle_s / self.control_dt)))
        for _ in range(chunks):
            self._advance(self.world.rest_pose, self.settle_s / chunks)
        surface = self.world.palm_surface_position()
        balls = self.world.ball_states().position
        self.task = self._make_task(balls[:, :2], float(surface[2] - self.world.config.drop_depth_m))
        self.t, self._rotation, self._last_angle = 0, 0.0, self._pair_angle()
        return self._observe(), {"success": False, "rotation_rad": 0.0, "dropped": False}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float32)
        if a.shape != (24,) or not np.isfinite(a).all():
            raise ValueError(f"BaodingEnv.step: action must be 24 finite values, got shape {a.shape}")
        if self.action_latency_s > 0:  # the previous targets hold while the new action is computed and sent
            self._advance(None, self.action_latency_s)
        self._advance(self.action_to_targets(a), self.control_dt - self.action_latency_s)
        self.t += 1
        obs = self._observe()
        true_obs = obs if self.ball_noise_std_m == 0 and self._tracker is None else self._observe_true()
        reward, _ = self.task.reward(true_obs, a, np.asarray(self.t))
        dropped = bool(self.world.balls_dropped().any())
        angle = self._pair_angle()
        self._rotation += float(np.angle(np.exp(1j * (angle - self._last_angle))))
        self._last_angle = angle
        truncated = self.t >= self.episode_steps
        info = {"dropped": dropped, "rotation_rad": self._rotation, "success": self._success(true_obs, dropped, truncated)}
        return obs, float(reward) - (500.0 if dropped and reward > -500.0 else 0.0), dropped, truncated and not dropped, info

    def _observe_true(self) -> np.ndarray:
        balls = self.world.ball_states()
        return baoding_state(self.world.read_joints().position, balls.position, balls.linear_velocity)

    def _success(self, obs: np.ndarray, dropped: bool, last: bool) -> bool:
        if dropped:
            return False
        if self.task_name == "goto":
            start = 24 + 3 * self.goto_ball
            return last and float(np.hypot(*(obs[start : start + 2] - np.asarray(self.task.target_xy)))) < 0.01
        sign = 1.0 if self.task_name == "ccw" else -1.0
        return sign * self._rotation >= self.success_rotation_rad

    def render(self) -> np.ndarray:
        return self.world.render_stereo().left

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.disconnect()
            self.client = None
