"""The VICE-RAQ policy file and the small API that runs it (``vice_raq_policy`` node, ``anima eval vice_raq``).

File format (``torch.save`` of plain data; read with ``torch.load(weights_only=True)``, so a file is
data, never code)::

    {"format": "anima.vice_raq.policy", "version": 1,
     "spec": {"task": "push", "image_size_px": 48, "image_encoding": "rgb8",
              "action_dim": 4, "action_low": [-1, -1, -1, -1], "action_high": [1, 1, 1, 1],
              "action_meaning": "dx, dy, dz (x max_step_m), gripper (-1 closed, +1 open)",
              "max_step_m": 0.02, "control_rate_hz": 10.0},
     "network": {"hidden_sizes": [256, 256], "feature_dim": 256, "conv_filters": 8, "conv_kernel": 5},
     "encoder": <state_dict>, "actor": <state_dict>,
     "provenance": {"run_dir": ..., "epoch": ..., "env_steps": ..., "queries_used": ..., "goal_examples_used": ...}}

Use::

    from anima.models.vice_raq.policy import load_policy
    policy = load_policy("policy.pt")          # ValueError (CheckpointError) naming the file if unusable
    policy.spec.image_size_px                  # 48: the camera image size the policy takes
    action = policy.act(image)                 # image (48, 48, 3) uint8 RGB -> (4,) float32 in [-1, 1]

:meth:`ViceRaqPolicy.act` is deterministic (the mean action) and refuses an image of the wrong shape,
dtype or non-RGB layout with a ValueError that says what it got. Actions are the Sawyer env's
end-effector moves (``anima.sim_bridge.envs.sawyer``): the caller adds ``action[:3] * max_step_m``
to the end-effector setpoint and maps ``action[3]`` to the gripper opening, at ``control_rate_hz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from anima.models.checkpoint import CheckpointError, load_torch, require_finite, save_torch
from anima.models.vice_raq.networks import ConvEncoder, GaussianActor

__all__ = ["FORMAT", "PolicySpec", "ViceRaqPolicy", "load_policy", "save_policy", "shipped_policy_path"]

FORMAT, VERSION = "anima.vice_raq.policy", 1
DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class PolicySpec:
    """What the policy takes and gives: the task, the square RGB image size, the action box."""

    task: str
    image_size_px: int
    action_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    image_encoding: str = "rgb8"
    action_meaning: str = "dx, dy, dz (x max_step_m), gripper (-1 closed, +1 open)"
    max_step_m: float = 0.02
    control_rate_hz: float = 10.0

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "image_size_px": self.image_size_px, "image_encoding": self.image_encoding,
                "action_dim": self.action_dim, "action_low": list(self.action_low), "action_high": list(self.action_high),
                "action_meaning": self.action_meaning, "max_step_m": self.max_step_m, "control_rate_hz": self.control_rate_hz}


class ViceRaqPolicy:
    """A loaded policy: ``act(image) -> action``, deterministic, on the CPU."""

    def __init__(self, spec: PolicySpec, encoder: ConvEncoder, actor: GaussianActor, provenance: dict[str, Any] | None = None) -> None:
        self.spec, self.encoder, self.actor = spec, encoder.eval(), actor.eval()
        self.provenance = dict(provenance or {})

    def check_image(self, image: np.ndarray) -> np.ndarray:
        s = self.spec.image_size_px
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.shape != (s, s, 3):
            raise ValueError(f"policy for {self.spec.task!r} takes a ({s}, {s}, 3) uint8 RGB image, "
                             f"got {image.shape} {image.dtype}")
        return image

    @torch.no_grad()
    def act(self, image: np.ndarray) -> np.ndarray:
        """The mean action ``(action_dim,)`` float32 in [action_low, action_high] for one image."""
        x = torch.as_tensor(np.ascontiguousarray(self.check_image(image)))[None]
        action, _ = self.actor(self.encoder(x), deterministic=True)
        return action[0].numpy().astype(np.float32)


def save_policy(path: str | Path, spec: PolicySpec, network: dict[str, Any], encoder: ConvEncoder, actor: GaussianActor,
                provenance: dict[str, Any] | None = None) -> None:
    """Write a policy file (atomically); ``network``: hidden_sizes, feature_dim, conv_filters, conv_kernel."""
    save_torch({"format": FORMAT, "version": VERSION, "spec": spec.to_dict(),
                "network": {k: (list(v) if isinstance(v, tuple) else v) for k, v in network.items()},
                "encoder": encoder.state_dict(), "actor": actor.state_dict(), "provenance": dict(provenance or {})}, path)


def shipped_policy_path(task: str) -> Path:
    """``models/vice_raq/data/<task>_policy.pt`` (installed as package data)."""
    return DATA_DIR / f"{task}_policy.pt"


def load_policy(path: str | Path) -> ViceRaqPolicy:
    """Read a policy file (weights only); CheckpointError (a ValueError) naming ``path`` when it is not one."""
    data = load_torch(path, "VICE-RAQ policy")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a VICE-RAQ policy file (format {data.get('format') if isinstance(data, dict) else type(data).__name__!r})")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path}: VICE-RAQ policy version {data.get('version')!r}, this code reads {VERSION}")
    try:
        s, net = data["spec"], data["network"]
        spec = PolicySpec(task=str(s["task"]), image_size_px=int(s["image_size_px"]), action_dim=int(s["action_dim"]),
                          action_low=tuple(float(v) for v in s["action_low"]), action_high=tuple(float(v) for v in s["action_high"]),
                          image_encoding=str(s.get("image_encoding", "rgb8")), action_meaning=str(s.get("action_meaning", "")),
                          max_step_m=float(s.get("max_step_m", 0.02)), control_rate_hz=float(s.get("control_rate_hz", 10.0)))
        encoder = ConvEncoder(spec.image_size_px, int(net["conv_filters"]), int(net["conv_kernel"]), int(net["feature_dim"]))
        actor = GaussianActor(int(net["feature_dim"]), spec.action_dim, tuple(int(h) for h in net["hidden_sizes"]))
        require_finite(path, {**{f"encoder.{k}": v for k, v in data["encoder"].items()},
                              **{f"actor.{k}": v for k, v in data["actor"].items()}})
        encoder.load_state_dict(data["encoder"])
        actor.load_state_dict(data["actor"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: VICE-RAQ policy file is incomplete or inconsistent: {type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:200]}") from None
    return ViceRaqPolicy(spec, encoder, actor, data.get("provenance"))
