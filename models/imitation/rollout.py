"""Rollout workers for PPO: each owns an env and a copy of the policy and returns whole segments.

A worker is seeded by ``(seed, index)``: its episodes' reset seeds and its action noise come from
its own generators, so a segment depends only on the worker's seed, the policy weights and the
observation statistics it was sent, never on where the worker runs. Three pools run the same
:class:`RolloutWorker`: in process (one worker), local processes (``spawn``), and Ray actors
(``--ray auto|ADDRESS``), so Ray rollouts equal local ones for the same seeds.

Per step (as stable-baselines3's on-policy collection does): observations normalised by the sent
running statistics and clipped to ±``obs_clip``; action = policy mean + std · N(0, 1); the env gets
the action clipped to its bounds, the buffer the unclipped one; at a time-limit truncation the
reward gets γ·V(final observation) so the cut is not taken for a failure.

An adaptive policy (``latent_dim`` > 0, :mod:`anima.models.imitation.latent`) sees
``[normalised s, μ, ε]``: μ is the episode's randomized dynamics (the env's reset info) and
ε ~ N(0, I) is drawn once per episode from the worker's own generator; its features extractor
turns them into z = mean(μ) + σ(μ) ⊙ ε, the same z for the whole episode.
"""

from __future__ import annotations

import math
import multiprocessing
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["LocalProcessPool", "InProcessPool", "RayPool", "RolloutWorker", "Segment", "make_pool", "build_policy"]


def latent_policy_kwargs(obs_dim: int, latent_dim: int, beta: float, encoder_net: tuple[int, ...]) -> dict[str, Any]:
    """The extra SB3 policy arguments of an adaptive policy (none when ``latent_dim`` is 0)."""
    if not latent_dim:
        return {}
    from anima.models.imitation.latent_policy import LatentFeatures

    return {"features_extractor_class": LatentFeatures, "beta": beta,
            "features_extractor_kwargs": {"state_dim": obs_dim, "z_dim": latent_dim, "encoder_net": tuple(encoder_net)}}


def policy_input_dim(obs_dim: int, latent_dim: int) -> int:
    """Width of what the SB3 policy takes: s, or [s, μ, ε] for an adaptive policy."""
    from anima.models.imitation.latent import MU_DIM

    return obs_dim + (MU_DIM + latent_dim if latent_dim else 0)


def build_policy(obs_dim: int, action_dim: int, action_bound: float, net_arch: tuple[int, ...], action_std: float,
                 latent_dim: int = 0, beta: float = 0.0, encoder_net: tuple[int, ...] = (64, 64)) -> Any:
    """SB3's actor-critic (separate [net_arch] ReLU policy and value networks), action std fixed;
    with ``latent_dim`` the adaptive variant (:mod:`anima.models.imitation.latent_policy`)."""
    import gymnasium as gym
    from stable_baselines3.common.policies import ActorCriticPolicy

    cls = ActorCriticPolicy
    if latent_dim:
        from anima.models.imitation.latent_policy import LatentActorCriticPolicy as cls
    policy = cls(
        gym.spaces.Box(-np.inf, np.inf, (policy_input_dim(obs_dim, latent_dim),), np.float32),
        gym.spaces.Box(-action_bound, action_bound, (action_dim,), np.float32),
        lr_schedule=lambda _: 0.0,
        net_arch=dict(pi=list(net_arch), vf=list(net_arch)),
        activation_fn=torch.nn.ReLU,
        log_std_init=math.log(action_std),
        **latent_policy_kwargs(obs_dim, latent_dim, beta, encoder_net),
    )
    policy.log_std.requires_grad_(False)
    return policy


@dataclass
class Segment:
    """``n`` consecutive steps of one worker. ``obs`` (n, D) are normalised as the policy saw them;
    ``raw_obs`` (n, D) unnormalised (for the running statistics); ``episode_starts[t]``: obs[t]
    began an episode; ``last_obs``/``last_done``: what follows the segment (for bootstrapping)."""

    obs: np.ndarray
    raw_obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_starts: np.ndarray
    values: np.ndarray
    log_probs: np.ndarray
    last_value: float
    last_done: bool
    episodes: list[dict[str, float]] = field(default_factory=list)


class RolloutWorker:
    """One env + policy copy. ``collect`` continues the worker's current episode across calls."""

    def __init__(self, env_kwargs: dict[str, Any], seed: int, index: int, net_arch: tuple[int, ...],
                 action_std: float, gamma: float, obs_clip: float, latent_dim: int = 0, beta: float = 0.0,
                 encoder_net: tuple[int, ...] = (64, 64)) -> None:
        from anima.sim_bridge.envs import make_env

        torch.set_num_threads(1)
        self.env = make_env("laikago_imitation", **env_kwargs)
        space = self.env.action_space
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.policy = build_policy(self.env.observation_space.shape[0], space.shape[0], float(space.high[0]),
                                   tuple(net_arch), action_std, latent_dim, beta, encoder_net)
        self.policy.set_training_mode(False)
        self.latent_dim = int(latent_dim)
        self._latent_noise = np.random.default_rng([seed, index, 3])
        self._episode_input = np.zeros(0, np.float32)  # [μ, ε] of the current episode (adaptive policies)
        self.gamma, self.obs_clip, self.action_std = float(gamma), float(obs_clip), float(action_std)
        self._episode_seeds = np.random.default_rng([seed, index, 1])
        self._noise = torch.Generator().manual_seed(int(np.random.default_rng([seed, index, 2]).integers(2**62)))
        self._obs: np.ndarray | None = None
        self._episode_start = True
        self._ep_return, self._ep_len, self._ep_pose = 0.0, 0, 0.0

    def _reset(self) -> None:
        self._obs, info = self.env.reset(seed=int(self._episode_seeds.integers(2**31 - 1)))
        if self.latent_dim:
            eps = self._latent_noise.standard_normal(self.latent_dim)
            self._episode_input = np.concatenate([info["dynamics_mu"], eps]).astype(np.float32)
        self._episode_start = True
        self._ep_return, self._ep_len, self._ep_pose = 0.0, 0, 0.0

    def _normalise(self, raw: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """The policy's input: the clipped normalised observation (with [μ, ε] for an adaptive policy)."""
        s = np.clip((raw - mean) / std, -self.obs_clip, self.obs_clip).astype(np.float32)
        return np.concatenate([s, self._episode_input]) if self.latent_dim else s

    def _value(self, obs: np.ndarray) -> float:
        with torch.no_grad():
            return float(self.policy.predict_values(torch.as_tensor(obs)[None])[0, 0])

    def collect(self, weights: dict[str, np.ndarray], obs_mean: np.ndarray, obs_var: np.ndarray, n_steps: int,
                curriculum_samples: float) -> Segment:
        """Run ``n_steps`` with these policy weights and observation statistics."""
        self.policy.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
        self.env.unwrapped.set_curriculum_samples(curriculum_samples)
        mean, std = np.asarray(obs_mean, np.float64), np.sqrt(np.asarray(obs_var, np.float64) + 1e-8)
        if self._obs is None:
            self._reset()
        dim, adim = self._obs.shape[0], self.low.shape[0]
        seg = Segment(np.zeros((n_steps, policy_input_dim(dim, self.latent_dim)), np.float32),
                      np.zeros((n_steps, dim), np.float32),
                      np.zeros((n_steps, adim), np.float32), np.zeros(n_steps), np.zeros(n_steps, bool),
                      np.zeros(n_steps), np.zeros(n_steps), 0.0, False)
        for t in range(n_steps):
            obs = self._normalise(self._obs, mean, std)
            with torch.no_grad():
                obs_t = torch.as_tensor(obs)[None]
                dist = self.policy.get_distribution(obs_t)
                action = dist.distribution.mean + self.action_std * torch.randn(adim, generator=self._noise)
                log_prob = float(dist.log_prob(action)[0])
                value = float(self.policy.predict_values(obs_t)[0, 0])
            a = action[0].numpy().astype(np.float64)
            next_obs, reward, terminated, truncated, info = self.env.step(np.clip(a, self.low, self.high))
            self._ep_return += reward
            self._ep_len += 1
            self._ep_pose += info["pose_error_rad_rms"]
            if truncated and not terminated:
                reward += self.gamma * self._value(self._normalise(next_obs, mean, std))
            seg.obs[t], seg.raw_obs[t], seg.actions[t] = obs, self._obs, a
            seg.rewards[t], seg.episode_starts[t], seg.values[t], seg.log_probs[t] = reward, self._episode_start, value, log_prob
            self._episode_start = False
            self._obs = next_obs
            if terminated or truncated:
                seg.episodes.append({"return": self._ep_return, "length": self._ep_len,
                                     "normalized_return": self._ep_return / self._ep_len,
                                     "pose_error_rad_rms": self._ep_pose / self._ep_len, "fell": bool(info["fell"])})
                self._reset()
        seg.last_done = self._episode_start
        seg.last_value = self._value(self._normalise(self._obs, mean, std))
        return seg

    def close(self) -> None:
        self.env.close()


# ------------------------------------------------------------------------------ pools
class InProcessPool:
    """Workers as plain objects in this process (the default for one worker)."""

    def __init__(self, worker_args: list[dict[str, Any]]) -> None:
        self.workers = [RolloutWorker(**a) for a in worker_args]

    def collect(self, *args: Any) -> list[Segment]:
        return [w.collect(*args) for w in self.workers]

    def close(self) -> None:
        for w in self.workers:
            w.close()


def _serve(conn: Any, kwargs: dict[str, Any]) -> None:
    """Local worker process: build the worker, then answer ``collect`` requests until ``None``."""
    worker = RolloutWorker(**kwargs)
    try:
        while (request := conn.recv()) is not None:
            conn.send(worker.collect(*request))
    finally:
        worker.close()


class LocalProcessPool:
    """One ``spawn`` process per worker, talking over pipes; all collect in parallel."""

    def __init__(self, worker_args: list[dict[str, Any]]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conns, self._procs = [], []
        for kwargs in worker_args:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, kwargs), daemon=True)
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)

    def collect(self, *args: Any) -> list[Segment]:
        for conn in self._conns:
            conn.send(args)
        out = []
        for conn, proc in zip(self._conns, self._procs):
            try:
                out.append(conn.recv())
            except EOFError as exc:
                raise RuntimeError(f"rollout worker process {proc.pid} died (exit code {proc.exitcode})") from exc
        return out

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()


class RayPool:
    """Workers as Ray actors (one CPU each). ``address`` "auto" joins a running cluster if there is
    one (``ray start --head`` / ``RAY_ADDRESS``), else starts a private local instance whose node
    address is 127.0.0.1 (no dashboard). Ray 2.60's own servers still listen on every interface
    (measured with ``ss``), so the tests run Ray inside ``unshare -n``; on a shared network, start
    the cluster yourself behind a firewall and pass its address."""

    def __init__(self, worker_args: list[dict[str, Any]], address: str) -> None:
        import ray

        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            init_ray(address, len(worker_args))
        actor = ray.remote(num_cpus=1)(RolloutWorker)
        self.actors = [actor.remote(**kwargs) for kwargs in worker_args]

    def collect(self, *args: Any) -> list[Segment]:
        weights = self._ray.put(args[0])  # one copy in the object store for all actors
        return self._ray.get([a.collect.remote(weights, *args[1:]) for a in self.actors])

    def close(self) -> None:
        for a in self.actors:
            self._ray.kill(a)
        if self._owns:
            self._ray.shutdown()


def init_ray(address: str, num_cpus: int) -> None:
    """Connect to ``address`` or (``auto`` without a cluster) start a private local Ray with node
    address 127.0.0.1 and ``num_cpus`` CPUs, without the dashboard."""
    import ray

    if address == "auto":
        try:
            ray.init(address="auto", include_dashboard=False, log_to_driver=False)
            return
        except ConnectionError:
            pass
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    else:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)


def make_pool(worker_args: list[dict[str, Any]], ray_address: str | None) -> Any:
    if ray_address:
        return RayPool(worker_args, ray_address)
    if len(worker_args) == 1:
        return InProcessPool(worker_args)
    return LocalProcessPool(worker_args)
