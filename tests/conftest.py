"""Shared fixtures: an isolated ROS environment per test (own ROS_DOMAIN_ID, loopback only)."""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_DOMAIN_IDS = itertools.count(start=10 + (os.getpid() % 40) * 2)


def next_domain_id() -> int:
    """A ROS_DOMAIN_ID not used by any other test of this run (valid range 0..101 on Linux)."""
    return 10 + (next(_DOMAIN_IDS) - 10) % 90


@pytest.fixture
def ros_env() -> dict[str, str]:
    """Environment for a child process that uses rclpy: own domain, discovery on localhost only."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(next_domain_id())
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def venv_bin() -> Path:
    """Folder of this interpreter's console scripts (anima, sim_bridge, ...)."""
    return Path(sys.executable).parent


@pytest.fixture
def make_policy_file(tmp_path: Path):
    """Writes an imitation policy file in the trainer's format (anima.models.imitation.policy):
    a [512, 256] ReLU actor with small random weights (seeded; ``scale=0`` and ``action_bias=b``: a
    policy whose action is b on every joint whatever it sees), for node and runner mechanics."""

    def make(name: str = "policy.pt", motion: str = "dog_pace", robot: str = "laikago", obs_dim: int = 160,
             action_dim: int = 12, control_dt_s: float = 0.033, seed: int = 0, scale: float = 0.01,
             action_bias: float = 0.0) -> Path:
        import torch

        from anima.models.imitation.policy import FORMAT, save_atomic

        gen = torch.Generator().manual_seed(seed)
        sizes = [obs_dim, 512, 256]
        state = {}
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            state[f"mlp_extractor.policy_net.{2 * k}.weight"] = scale * torch.randn(n_out, n_in, generator=gen)
            state[f"mlp_extractor.policy_net.{2 * k}.bias"] = torch.zeros(n_out)
        state["action_net.weight"] = scale * torch.randn(action_dim, sizes[-1], generator=gen)
        state["action_net.bias"] = torch.full((action_dim,), float(action_bias))
        spec = {"format": FORMAT, "robot": robot, "motion": motion, "obs_dim": obs_dim, "action_dim": action_dim,
                "control_dt_s": control_dt_s, "profile": "paper", "net_arch": [512, 256], "action_std": 0.125,
                "obs_clip": 5.0}
        path = tmp_path / name
        save_atomic({"spec": spec, "policy": state, "obs_mean": torch.zeros(obs_dim), "obs_var": torch.ones(obs_dim)},
                    path)
        return path

    return make
