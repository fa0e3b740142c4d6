"""Running a SOLAR policy on camera frames: the ROS-free core of the ``solar_planner`` node.

SOLAR (Zhang, Vikram et al., ICML 2019, Sec. 4-5) acts with a time-varying linear-Gaussian
controller on a latent state: at step ``t`` of an episode the frame is encoded, ``z_t = enc(o_t)``,
the controller's state ``x_t`` is built from it (``policy.tracker()``: z_t; for ``latent_history``
policies z_t with its change since the last step and the last action; for ``filtered`` policies the
Kalman-filtered latent under the policy's dynamics, ``models/solar/state.py``),
and the action is ``u_t = K_t x_t + k_t`` (the mean at run time; ``SolarPolicy.act(t, x)``). This
module turns a stream of stamped frames into those actions, as the training rollouts do:

* :func:`decode_rgb8` checks a frame's size, encoding and layout against the policy's image size;
  anything else is refused with the reason (the caller warns and holds).
* :class:`SolarRunner` is the episode clock: ``start_episode`` arms it, the first frame after that
  is step 0, and a frame stamped ``s`` belongs to step ``round((s - s0) / control_dt)``. A new step
  encodes its frame and computes one action; later frames of the same step repeat it (zero-order
  hold, as the environment holds an action for one control period); step ``T`` (the horizon) ends
  the episode. Outside an episode, and for a refused frame or a non-finite action, it holds.
* The action becomes a command: ``joint_torque`` (the planar reacher) through
  :func:`torque_command` (clipped to the policy's action bounds, scaled to N m, held = zero torque);
  ``ee_delta`` (the Sawyer) through :class:`EeSetpoint`, the end-effector setpoint update of
  ``SawyerEnv.step`` (``p += clip(a[:3]) * max_step_m`` inside the workspace box; ``a[3]`` in
  [-1, 1] is the finger opening, -1 closed), held = the last setpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping, Protocol

import numpy as np

__all__ = ["EeSetpoint", "FrameRefused", "RunnerPhase", "SolarRunner", "SolarRunnerConfig", "StepResult",
           "check_policy", "decode_rgb8", "torque_command"]

TASK_ACTION_KINDS = {"reacher": "joint_torque", "sawyer_reach": "ee_delta", "sawyer_push": "ee_delta",
                     "sawyer_stack": "ee_delta"}


class FrameRefused(ValueError):
    """A camera frame the policy cannot use; the message says what is wrong."""


def decode_rgb8(height: int, width: int, encoding: str, step: int, data: bytes | memoryview, size: int) -> np.ndarray:
    """A sensor_msgs/Image's fields -> (size, size, 3) uint8 RGB, or :class:`FrameRefused` naming the problem."""
    if encoding != "rgb8":
        raise FrameRefused(f"encoding '{encoding}' is not rgb8")
    if (height, width) != (size, size):
        raise FrameRefused(f"image is {width}x{height}, the policy takes {size}x{size}")
    if step != 3 * width:
        raise FrameRefused(f"row step {step} bytes, expected {3 * width} (rgb8, no padding)")
    buf = np.frombuffer(bytes(data) if isinstance(data, memoryview) else data, dtype=np.uint8)
    if buf.size != step * height:
        raise FrameRefused(f"{buf.size} data bytes, expected {step * height}")
    return buf.reshape(height, width, 3)


class PolicyLike(Protocol):
    """What the runner needs of ``anima.models.solar.policy.SolarPolicy``."""

    spec: Mapping[str, Any]

    def encode_potential(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def act(self, t: int, x: np.ndarray, explore: bool = False) -> np.ndarray: ...

    def tracker(self) -> Any: ...


@dataclass(frozen=True)
class SolarRunnerConfig:
    """The policy's timing and action bounds (from its spec): ``control_dt_s`` s per step, ``horizon`` steps."""

    image_size: int
    control_dt_s: float
    horizon: int
    action_kind: str
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]

    def __post_init__(self) -> None:
        if not (isinstance(self.image_size, int) and self.image_size > 0):
            raise ValueError(f"SolarRunnerConfig.image_size must be a positive int, got {self.image_size!r}")
        if not (math.isfinite(self.control_dt_s) and self.control_dt_s > 0):
            raise ValueError(f"SolarRunnerConfig.control_dt_s must be > 0 s, got {self.control_dt_s!r}")
        if not (isinstance(self.horizon, int) and self.horizon >= 1):
            raise ValueError(f"SolarRunnerConfig.horizon must be an int >= 1, got {self.horizon!r}")
        if self.action_kind not in ("joint_torque", "ee_delta"):
            raise ValueError(f"SolarRunnerConfig.action_kind must be joint_torque or ee_delta, got {self.action_kind!r}")
        lo, hi = np.asarray(self.action_low, float), np.asarray(self.action_high, float)
        if lo.shape != hi.shape or lo.ndim != 1 or lo.size == 0 or not (np.isfinite(lo).all() and np.isfinite(hi).all()) \
                or not (lo < hi).all():
            raise ValueError(f"SolarRunnerConfig: action bounds must be finite with low < high, got {self.action_low}, "
                             f"{self.action_high}")

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> SolarRunnerConfig:
        """From a ``SolarPolicy.spec`` (a mapping: see ``anima.models.solar.policy``)."""
        return cls(int(spec["image_size"]), float(spec["control_dt_s"]), int(spec["horizon"]), str(spec["action_kind"]),
                   tuple(float(v) for v in np.ravel(spec["action_low"])),
                   tuple(float(v) for v in np.ravel(spec["action_high"])))

    @property
    def action_dim(self) -> int:
        return len(self.action_low)


def check_policy(spec: Mapping[str, Any], task: str, action_dim: int) -> None:
    """Refuse a policy whose action does not fit what ``task`` commands (kind and size), naming both."""
    kind = TASK_ACTION_KINDS.get(task)
    if kind is None:
        raise ValueError(f"task '{task}' is not a SOLAR task; valid tasks: {', '.join(sorted(TASK_ACTION_KINDS))}")
    problems = []
    if spec["action_kind"] != kind:
        problems.append(f"action_kind {spec['action_kind']!r} (task {task} needs {kind!r})")
    n = len(np.ravel(spec["action_low"]))
    if n != action_dim:
        problems.append(f"{n} action dimensions (task {task} commands {action_dim})")
    if problems:
        raise ValueError(f"the model does not fit task {task}: " + "; ".join(problems))


class RunnerPhase(str, Enum):
    IDLE = "idle"  # no episode: hold
    ARMED = "armed"  # start_episode called; the next frame is step 0
    RUNNING = "running"
    DONE = "done"  # the horizon was reached: hold


@dataclass(frozen=True)
class StepResult:
    """``action``: the policy's action for this frame (clipped), or None = hold. ``step``: its index."""

    action: np.ndarray | None
    step: int | None
    new_step: bool


class SolarRunner:
    """The episode clock around one policy (see the module docstring)."""

    def __init__(self, policy: PolicyLike, config: SolarRunnerConfig) -> None:
        self.policy = policy
        self.config = config
        self._lo, self._hi = np.asarray(config.action_low, float), np.asarray(config.action_high, float)
        self.phase = RunnerPhase.IDLE
        self._track = policy.tracker()  # the controller's state: the latent, its change, the last action
        self._t0: float | None = None
        self._step: int | None = None
        self._action: np.ndarray | None = None
        self.episodes_started = 0
        self.steps_acted = 0  # steps of the current (or last) episode that had a frame: T minus the lost ones
        self.last_error = ""

    @property
    def step_index(self) -> int | None:
        return self._step

    @property
    def episode_start_s(self) -> float | None:
        """The stamp of the episode's step-0 frame (s), once it arrived."""
        return self._t0

    def start_episode(self) -> None:
        """Arm a new episode; the next frame is its step 0 (a running episode is abandoned)."""
        self.phase, self._t0, self._step, self._action = RunnerPhase.ARMED, None, None, None
        self._track.reset()
        self.episodes_started += 1
        self.steps_acted = 0

    def stop(self) -> None:
        self.phase, self._step, self._action = RunnerPhase.IDLE, None, None

    def on_frame(self, image: np.ndarray, stamp_s: float) -> StepResult:
        """The action for a decoded frame stamped ``stamp_s`` (s), or None = hold."""
        if self.phase is RunnerPhase.ARMED:
            self._t0, self.phase = stamp_s, RunnerPhase.RUNNING
        if self.phase is not RunnerPhase.RUNNING:
            return StepResult(None, None, False)
        k = int(round((stamp_s - self._t0) / self.config.control_dt_s))
        if k < 0:  # a frame from before the episode (reordered delivery): hold, keep the clock
            return StepResult(None, None, False)
        if k >= self.config.horizon:
            self.phase, self._action = RunnerPhase.DONE, None
            return StepResult(None, None, False)
        if k == self._step:
            return StepResult(self._action, k, False)
        steps = 1 if self._step is None else max(1, k - self._step)  # > 1: frames were lost
        self._step = k
        self.steps_acted += 1
        self._action = self._compute(k, image, steps)
        return StepResult(self._action, k, True)

    def _compute(self, k: int, image: np.ndarray, steps: int = 1) -> np.ndarray | None:
        x = self._track.state(*self.policy.encode_potential(image), steps=steps)
        u = np.asarray(self.policy.act(k, x, explore=False), dtype=float).reshape(-1)
        if u.shape != self._lo.shape or not np.isfinite(u).all():
            self.last_error = f"step {k}: the policy gave {u.tolist()} (expected {self._lo.size} finite values): holding"
            self._track.applied(None)
            return None
        u = np.clip(u, self._lo, self._hi)
        self._track.applied(u)
        return u


def torque_command(action: np.ndarray | None, torque_per_unit: np.ndarray) -> np.ndarray:
    """Joint torques (N m) for a reacher action; None (hold) = zero torque."""
    scale = np.asarray(torque_per_unit, float)
    return np.zeros_like(scale) if action is None else np.asarray(action, float) * scale


class EeSetpoint:
    """The end-effector setpoint of ``SawyerEnv.step``: ``(dx, dy, dz, gripper)`` in [-1, 1] per step."""

    def __init__(self, max_step_m: float, workspace_min_m: np.ndarray, workspace_max_m: np.ndarray,
                 gripper_limit_m: float) -> None:
        self.max_step_m = float(max_step_m)
        self._lo, self._hi = np.asarray(workspace_min_m, float), np.asarray(workspace_max_m, float)
        if not (self.max_step_m > 0 and self._lo.shape == self._hi.shape == (3,) and (self._lo < self._hi).all()):
            raise ValueError(f"EeSetpoint: max_step_m > 0 and a workspace box min < max (3 values each) are required, "
                             f"got {max_step_m}, {workspace_min_m}, {workspace_max_m}")
        self.gripper_limit_m = float(gripper_limit_m)
        self.position: np.ndarray | None = None
        self.gripper_m = self.gripper_limit_m

    def reset(self, position: np.ndarray) -> None:
        """Start from the measured end-effector position (m, base frame), clamped into the box."""
        self.position = np.clip(np.asarray(position, float).reshape(3), self._lo, self._hi)

    def apply(self, action: np.ndarray) -> tuple[np.ndarray, float]:
        """One step: the new setpoint (m) and finger opening (m)."""
        if self.position is None:
            raise ValueError("EeSetpoint.apply before reset: no start position")
        a = np.clip(np.asarray(action, float).reshape(-1), -1.0, 1.0)
        self.position = np.clip(self.position + a[:3] * self.max_step_m, self._lo, self._hi)
        if a.size > 3:
            self.gripper_m = (a[3] + 1.0) / 2.0 * self.gripper_limit_m
        return self.position.copy(), self.gripper_m
