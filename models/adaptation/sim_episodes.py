"""Adaptation episodes in process: the imitation env on a fixed target domain (no ROS).

Each episode starts as a deployed robot does (standing, the reference holding the standing pose
through the warm-up, then the clip; no reference-state init) and lasts ``episode_s`` seconds or
until a fall; it is scored by the env's imitation reward per control step
(:func:`anima.models.imitation.evaluate.run_episode`, the same loop as ``anima eval imitation``).
The physics profile is the policy's own (its spec's ``profile``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from anima.models.adaptation.domain import TargetDomain
from anima.models.adaptation.run import EpisodeResult
from anima.models.imitation.evaluate import run_episode
from anima.models.imitation.observation import OBS_DIM
from anima.models.imitation.policy import ImitationPolicy

__all__ = ["SimEpisodes", "load_adaptive_policy"]


def load_adaptive_policy(path: str | Path, motion: str | None = None) -> ImitationPolicy:
    """An adaptive policy file; a policy trained without z is refused with a message."""
    policy = ImitationPolicy.load(path, motion=motion, obs_dim=OBS_DIM, action_dim=12)
    if not policy.latent_dim:
        raise ValueError(f"{path}: this policy was trained without a latent dynamics code z (latent_dim 0), so "
                         "there is nothing to adapt; train one with `anima train imitation --adaptive` "
                         "(a --robust policy goes to --robust-policy)")
    return policy


class SimEpisodes:
    """:class:`~anima.models.adaptation.run.EpisodeRunner` on :class:`LaikagoImitationEnv` with ``domain``."""

    def __init__(self, policy: ImitationPolicy, domain: TargetDomain, episode_s: float,
                 robust: ImitationPolicy | None = None) -> None:
        from anima.sim_bridge.envs.laikago_imitation import LaikagoImitationEnv

        self.policy, self.robust = policy, robust
        motion = str(policy.spec.get("motion", "dog_pace"))
        self.env = LaikagoImitationEnv(motion=motion, profile=str(policy.spec.get("profile", "paper")),
                                       episode_steps=1, domain=domain)
        if robust is not None and robust.spec.get("motion") != motion:
            raise ValueError(f"robust policy is for motion {robust.spec.get('motion')!r}, the adaptive one for {motion!r}")
        self.steps = max(1, int(round(episode_s / self.env.control_dt)))
        self.env.episode_steps = self.steps

    def run(self, z: np.ndarray | None, seed: int, robust: bool = False) -> EpisodeResult:
        if robust:
            if self.robust is None:
                raise ValueError("no robust policy to run")
            policy = self.robust
        else:
            policy = self.policy
            policy.set_z(np.zeros(policy.latent_dim) if z is None else z)
        t0 = time.perf_counter()
        r = run_episode(self.env, lambda _n, obs: policy.act(obs).astype(np.float32), self.steps, seed,
                        {"ref_state_init": False})
        return EpisodeResult(r["return"] / self.steps, r["steps"], r["fell"], time.perf_counter() - t0)

    def close(self) -> None:
        self.env.close()
