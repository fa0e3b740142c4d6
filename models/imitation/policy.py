"""Imitation policy files: atomic save, safe load (``weights_only``), checks, deterministic actions.

A policy file is a torch file holding only tensors and plain data (no pickled classes), so it is
loaded with ``torch.load(weights_only=True)``::

    {"spec": {"format", "robot", "motion", "obs_dim", "action_dim", "control_dt_s", "profile",
              "net_arch", "action_std", "obs_clip", "latent_dim", "latent_beta", "randomized"},
     "policy": SB3 ActorCriticPolicy state dict, "obs_mean": (D,), "obs_var": (D,), ...}

Training checkpoints add the optimizer state, counters and the run config; the same loader reads
both. :class:`ImitationPolicy` runs the actor alone (the mean action, as at deployment) with plain
torch layers, so the ``imitation_policy`` node needs no RL library.

``latent_dim`` (absent in older files: 0) says whether the policy takes a latent dynamics code z
(Peng et al., RSS 2020, Sec. VI): an adaptive policy's actor reads ``[normalised s, z]``; its z is
:attr:`ImitationPolicy.z` (default the prior mean 0), set by adaptation with :meth:`set_z`.
``randomized`` says whether it trained across randomized dynamics (a robust policy: true, 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from anima.models.checkpoint import CheckpointError, load_torch, require_finite, save_torch

__all__ = ["FORMAT", "ImitationPolicy", "load_policy_file", "save_atomic"]

FORMAT = "anima.imitation.policy/1"
ROBOT = "laikago"


def save_atomic(payload: dict[str, Any], path: str | Path) -> None:
    """Write a policy or checkpoint atomically (``anima.models.checkpoint.save_torch``)."""
    save_torch(payload, path)


def load_policy_file(path: str | Path) -> dict[str, Any]:
    """Read a policy or checkpoint file (``weights_only``); any unreadable, malformed or non-finite
    file -> a one-line ``ValueError`` naming it."""
    data = load_torch(path, what="policy")
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict) or data["spec"].get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an Anima imitation policy (expected spec.format {FORMAT!r})")
    for key in ("policy", "obs_mean", "obs_var"):
        if key not in data:
            raise CheckpointError(f"{path}: policy file lacks {key!r}")
    require_finite(path, {**{f"policy.{k}": v for k, v in data["policy"].items()},
                          "obs_mean": data["obs_mean"], "obs_var": data["obs_var"]})
    return data


def check_spec(spec: dict[str, Any], path: str | Path, motion: str | None = None, obs_dim: int | None = None,
               action_dim: int | None = None, robot: str = ROBOT) -> None:
    """Refuse a policy made for another robot, motion or observation/action size, naming what differs."""
    wanted = {"robot": robot, "motion": motion, "obs_dim": obs_dim, "action_dim": action_dim}
    names = {"robot": "robot", "motion": "motion", "obs_dim": "observation size", "action_dim": "action size"}
    for key, want in wanted.items():
        if want is not None and spec.get(key) != want:
            raise ValueError(f"{path}: policy is for {names[key]} {spec.get(key)!r}, not {want!r}")


class ImitationPolicy:
    """Deterministic actor: raw observation (D,) -> residual motor action (A,)."""

    def __init__(self, data: dict[str, Any], source: str = "<policy>") -> None:
        self.spec = dict(data["spec"])
        self.source = source
        state = data["policy"]
        layers: list[torch.nn.Module] = []
        k = 0
        while f"mlp_extractor.policy_net.{k}.weight" in state:
            w, b = state[f"mlp_extractor.policy_net.{k}.weight"], state[f"mlp_extractor.policy_net.{k}.bias"]
            layers += [self._linear(w, b), torch.nn.ReLU()]
            k += 2
        if not layers or "action_net.weight" not in state:
            raise ValueError(f"{source}: policy weights lack the actor layers")
        layers.append(self._linear(state["action_net.weight"], state["action_net.bias"]))
        self.net = torch.nn.Sequential(*layers).eval()
        self.latent_dim = int(self.spec.get("latent_dim", 0) or 0)
        self.obs_dim = int(layers[0].in_features) - self.latent_dim
        self.action_dim = int(layers[-1].out_features)
        self.z = np.zeros(self.latent_dim)
        if self.obs_dim != self.spec.get("obs_dim") or self.action_dim != self.spec.get("action_dim"):
            raise ValueError(f"{source}: weights take {self.obs_dim} observations and give {self.action_dim} actions, "
                             f"but the spec says {self.spec.get('obs_dim')} and {self.spec.get('action_dim')}")
        self.obs_mean = np.asarray(data["obs_mean"], dtype=np.float64).reshape(-1)
        self.obs_std = np.sqrt(np.asarray(data["obs_var"], dtype=np.float64).reshape(-1) + 1e-8)
        if self.obs_mean.shape != (self.obs_dim,) or self.obs_std.shape != (self.obs_dim,):
            raise ValueError(f"{source}: observation statistics do not have {self.obs_dim} values")
        self.obs_clip = float(self.spec.get("obs_clip", 5.0))

    @staticmethod
    def _linear(w: torch.Tensor, b: torch.Tensor) -> torch.nn.Linear:
        layer = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            layer.weight.copy_(w)
            layer.bias.copy_(b)
        return layer

    @classmethod
    def load(cls, path: str | Path, motion: str | None = None, obs_dim: int | None = None,
             action_dim: int | None = None) -> "ImitationPolicy":
        """Load and check a policy file (``ValueError`` naming the file and what is wrong)."""
        data = load_policy_file(path)
        check_spec(data["spec"], path, motion, obs_dim, action_dim)
        return cls(data, str(path))

    def set_z(self, z: Any) -> None:
        """The latent code the actor uses from now on; ValueError for a policy without z or a bad z."""
        if not self.latent_dim:
            raise ValueError(f"{self.source}: this policy was trained without a latent dynamics code z "
                             "(latent_dim 0); only an adaptive policy (anima train imitation --adaptive) takes z")
        arr = np.asarray(z, dtype=np.float64).reshape(-1)
        if arr.shape != (self.latent_dim,) or not np.isfinite(arr).all():
            raise ValueError(f"z must be {self.latent_dim} finite values, got {list(np.ravel(z))!r}")
        self.z = arr.copy()

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Mean action for one raw observation (and the current :attr:`z` of an adaptive policy)."""
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (self.obs_dim,):
            raise ValueError(f"observation: expected {self.obs_dim} values, got shape {obs.shape}")
        x = np.clip((obs - self.obs_mean) / self.obs_std, -self.obs_clip, self.obs_clip)
        if self.latent_dim:
            x = np.concatenate([x, self.z])
        with torch.no_grad():
            return self.net(torch.as_tensor(x, dtype=torch.float32)[None])[0].numpy().astype(np.float64)
