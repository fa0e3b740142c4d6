"""The planar reacher seen from above as a small RGB image, and its image-observation environment.

SOLAR (Zhang, Vikram et al., ICML 2019, Sec. 6.1 "2-DoF reacher") learns the reacher from 64x64 RGB
images only. :func:`render_reacher` draws the arm of ``planar_reacher.PlanarReacherWorld`` (links,
joints, fingertip) and the target with OpenCV, deterministically (the same inputs always give the
same bytes), so the training env and the ROS sim bridge publish identical pixels.

The image is drawn at ``SUPERSAMPLE`` times the size and area-averaged down: a 2 cm goal tolerance is
under 3 pixels at 64x64, and the averaging keeps sub-pixel positions visible in the intensities.

:class:`ReacherPixelsEnv` is the task SOLAR solves: a *fixed* target and initial joint angles drawn
in a small box around a nominal pose. LQR-FLM improves one time-varying linear-Gaussian controller
around one trajectory distribution, a local method (Sec. 4), so the task is posed the way the paper
poses it, not with a new random target every episode as ``PlanarReacherEnv`` (for PDDM) does.

Its arm (:data:`SOLAR_REACHER`) is PDDM's with 0.1 N m joint torques instead of 0.02, and 50 steps:
SOLAR's data are random-action episodes, and with 0.02 N m none of 100 comes within 10 cm of the
goal, so neither the dynamics nor the cost model ever sees it; with 0.1 N m 17 of 100 pass within
5 cm (BENCHMARKS.md "SOLAR", 2026-12-05), as the paper's reacher sweeps its workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import cv2
import gymnasium as gym
import numpy as np

from anima.controllers.planning_tasks import ReachTask
from anima.sim_bridge.envs.planar_reacher import PlanarReacherWorld, ReacherConfig

SUPERSAMPLE = 4
SOLAR_REACHER = ReacherConfig(max_torque=0.1, episode_steps=50)  # the arm of SOLAR's reacher (module docstring)
BACKGROUND = (0, 0, 0)
LINK_COLORS = ((60, 120, 255), (60, 200, 255))  # RGB: first link blue, second link light blue
JOINT_COLOR = (255, 255, 255)
TIP_COLOR = (255, 255, 0)
TARGET_COLOR = (255, 40, 40)
REWARDS = {
    "reach": "ReachTask's -10 |tip - target| - 0.01 |qd|^2 (PDDM's reacher reward)",
    "squared_distance": "-100 |tip - target|^2 (m): the SOLAR public code's reacher reward -|tip - target|^2 - 0.05 |u|^2 "
                        "without its action term, which the LQR cost carries; exactly quadratic in the fingertip position",
}


def _fingertip(q: np.ndarray, link_lengths: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    l1, l2 = link_lengths
    elbow = np.array([l1 * np.cos(q[0]), l1 * np.sin(q[0])])
    tip = elbow + l2 * np.array([np.cos(q[0] + q[1]), np.sin(q[0] + q[1])])
    return elbow, tip


def render_reacher(q: np.ndarray, target_xy: np.ndarray, config: ReacherConfig, size: int = 64,
                   antialias: bool = False) -> np.ndarray:
    """Top-down RGB image (size, size, 3) uint8 of the arm at joint angles ``q`` (2,) rad and the target (2,) m.

    The base is at the image centre, +x to the right, +y up; the view spans 2.4 x the arm's reach.
    Black background, links blue, joints white, fingertip yellow, target red. Shapes are drawn at 4x and
    area-averaged down; ``antialias`` also draws them with anti-aliased edges, so a sub-pixel motion changes
    the image continuously, as on a camera whose pixels integrate light (without it the drawn edges snap
    to the 4x grid, 0.19 cm at 64x64: over steps of 0.1 cm the image's changes are close to white noise,
    and so are a VAE encoder's, BENCHMARKS.md "SOLAR").
    """
    q = np.asarray(q, dtype=np.float64)
    target = np.asarray(target_xy, dtype=np.float64)
    if q.shape != (2,) or not np.isfinite(q).all():
        raise ValueError(f"render_reacher: q must be 2 finite joint angles (rad), got {q!r}")
    if target.shape != (2,) or not np.isfinite(target).all():
        raise ValueError(f"render_reacher: target_xy must be 2 finite coordinates (m), got {target!r}")
    if not 8 <= int(size) <= 1024:
        raise ValueError(f"render_reacher: size must be 8..1024 pixels, got {size}")
    big = int(size) * SUPERSAMPLE
    scale = big / (2.4 * sum(config.link_lengths))
    shift = 4  # fixed-point sub-pixel coordinates for cv2 drawing (1/16 pixel)
    line = cv2.LINE_AA if antialias else cv2.LINE_8

    def px(p: np.ndarray) -> tuple[int, int]:
        return int(round((big / 2 + p[0] * scale) * (1 << shift))), int(round((big / 2 - p[1] * scale) * (1 << shift)))

    img = np.full((big, big, 3), BACKGROUND, np.uint8)
    elbow, tip = _fingertip(q, config.link_lengths)
    width = max(1, int(round(0.75 * big / 64)))  # links ~1.5 pixels wide at 64x64
    r_target = max(1, int(round(config.success_distance * scale)))
    cv2.circle(img, px(target), r_target << shift, TARGET_COLOR, -1, line, shift)
    cv2.line(img, px(np.zeros(2)), px(elbow), LINK_COLORS[0], 2 * width, line, shift)
    cv2.line(img, px(elbow), px(tip), LINK_COLORS[1], 2 * width, line, shift)
    for p, color, r in ((np.zeros(2), JOINT_COLOR, 1.5 * width), (elbow, JOINT_COLOR, 1.2 * width), (tip, TIP_COLOR, 1.2 * width)):
        cv2.circle(img, px(p), int(r * (1 << shift)), color, -1, line, shift)
    return cv2.resize(img, (int(size), int(size)), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class ReacherPixelsConfig:
    """The SOLAR reacher task: fixed target (m), initial joints nominal +- noise (rad), T steps, image size."""

    reacher: ReacherConfig = SOLAR_REACHER
    target_xy: tuple[float, float] = (0.0, 0.12)
    initial_q: tuple[float, float] = (0.0, 0.0)
    initial_q_noise: float = 0.2
    image_size: int = 64
    reward: str = "reach"  # "reach": ReachTask's -10 |d| - 0.01 |qd|^2; "squared_distance": -100 |d|^2 (REWARDS)
    antialias: bool = False  # render_reacher's anti-aliased edges (smooth in sub-pixel motion)

    def __post_init__(self) -> None:
        if isinstance(self.reacher, dict):  # from a YAML config's env_kwargs: {reacher: {max_torque: 0.1}}
            unknown = sorted(set(self.reacher) - {f.name for f in fields(ReacherConfig)})
            if unknown:
                raise ValueError(f"ReacherPixelsConfig.reacher: unknown field(s) {unknown} (ReacherConfig has "
                                 f"{[f.name for f in fields(ReacherConfig)]})")
            object.__setattr__(self, "reacher", replace(SOLAR_REACHER, **self.reacher))
        if not isinstance(self.reacher, ReacherConfig):
            raise ValueError(f"ReacherPixelsConfig.reacher must be a ReacherConfig or a mapping of its fields, got {self.reacher!r}")
        reach = sum(self.reacher.link_lengths)
        if len(self.target_xy) != 2 or float(np.hypot(*self.target_xy)) > reach:
            raise ValueError(f"ReacherPixelsConfig.target_xy must be 2 values within reach {reach} m, got {self.target_xy}")
        if len(self.initial_q) != 2 or self.initial_q_noise < 0:
            raise ValueError(f"ReacherPixelsConfig.initial_q must be 2 angles and initial_q_noise >= 0, got {self.initial_q}, {self.initial_q_noise}")
        if self.reward not in REWARDS:
            raise ValueError(f"ReacherPixelsConfig.reward must be one of {sorted(REWARDS)}, got {self.reward!r}")
        if not isinstance(self.antialias, bool):
            raise ValueError(f"ReacherPixelsConfig.antialias must be true or false, got {self.antialias!r}")
        if not 8 <= self.image_size <= 1024:
            raise ValueError(f"ReacherPixelsConfig.image_size must be 8..1024, got {self.image_size}")


class ReacherPixelsEnv(gym.Env):
    """Planar reacher observed through a (S, S, 3) uint8 top-down image. Action: torques in [-1, 1]^2.

    Reward (per step, after the action): ``config.reward`` (:data:`REWARDS`), by default ``ReachTask``'s
    -10 |tip - target| - 0.01 |qd|^2, or -100 |tip - target|^2 (``squared_distance``). ``info``: ``distance`` (m),
    ``success`` (at the last step, distance < ``reacher.success_distance``), ``q``, ``target``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, config: ReacherPixelsConfig = ReacherPixelsConfig(), render_mode: str | None = "rgb_array") -> None:
        self.config = config
        self.world = PlanarReacherWorld(config.reacher)
        self.task = ReachTask(tuple(config.target_xy), config.reacher.link_lengths)
        self.render_mode = render_mode
        s = config.image_size
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.observation_space = gym.spaces.Box(0, 255, shape=(s, s, 3), dtype=np.uint8)
        self.control_dt = config.reacher.control_dt
        self.horizon = config.reacher.episode_steps
        self.t = 0

    def _obs(self) -> np.ndarray:
        return render_reacher(self.world.q, np.asarray(self.config.target_xy), self.config.reacher, self.config.image_size,
                              self.config.antialias)

    def _info(self, success: bool) -> dict[str, Any]:
        return {"distance": float(self.task.distance(self.world.state())), "success": success,
                "q": self.world.q.copy(), "target": np.asarray(self.config.target_xy, dtype=np.float64)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if options:
            raise ValueError(f"ReacherPixelsEnv.reset: no options are supported, got {sorted(options)}")
        noise = self.np_random.uniform(-self.config.initial_q_noise, self.config.initial_q_noise, size=2)
        self.world.reset(np.asarray(self.config.initial_q, dtype=np.float64) + noise)
        self.t = 0
        return self._obs(), self._info(False)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (2,) or not np.isfinite(a).all():
            raise ValueError(f"ReacherPixelsEnv.step: action must be 2 finite values, got {action!r}")
        a = np.clip(a, -1.0, 1.0)
        self.world.step(a * self.config.reacher.max_torque)
        self.t += 1
        state = self.world.state()
        if self.config.reward == "squared_distance":
            reward = -100.0 * float(self.task.distance(state)) ** 2
        else:
            reward, _ = self.task.reward(state, a.astype(np.float32), np.asarray(self.t))
        truncated = self.t >= self.horizon
        info = self._info(False)
        info["success"] = bool(truncated and info["distance"] < self.config.reacher.success_distance)
        return self._obs(), float(reward), False, truncated, info

    def render(self) -> np.ndarray:
        """A 240x240 view of the same scene (for videos)."""
        return render_reacher(self.world.q, np.asarray(self.config.target_xy), self.config.reacher, 240, self.config.antialias)


__all__ = ["ReacherPixelsConfig", "ReacherPixelsEnv", "render_reacher", "SUPERSAMPLE"]
