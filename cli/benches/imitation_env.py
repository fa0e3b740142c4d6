"""``anima bench imitation_env``: cost of ``LaikagoImitationEnv`` against bare ``LaikagoWorld`` physics, and PPO throughput.

Per physics profile (``paper``: 1 kHz × 33 substeps; ``training``: 500 Hz × 16), interleaved in one
process so both see the same machine load, from the same states (a PyBullet snapshot is taken
before each bare chunk and restored after it):

* ``env_steps_per_s_per_core``: env steps (zero residual actions, episodes restarted when they end)
  per CPU second of this process;
* ``bare_physics_steps_per_s``: ``LaikagoWorld.step`` with a held torque, per CPU second;
* ``overhead_fraction`` = 1 − env steps/s × substeps ÷ bare physics steps/s;

with the suffix ``_training_profile`` for the training profile, and their ratio
``training_profile_speedup``. Then PPO (``anima train imitation``'s trainer) with 1 and 2 local
worker processes: ``ppo_samples_per_s_1_worker``, ``ppo_samples_per_s_2_workers`` (wall clock of
an iteration after the first: collection and update) and ``ppo_speedup_2_workers``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import numpy as np

HELP = "LaikagoImitationEnv steps/s per core vs bare physics (paper and training profiles), PPO samples/s with 1 and 2 workers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env-steps", type=int, default=300, help="env steps per profile (default 300)")
    parser.add_argument("--ppo-samples", type=int, default=1024, help="samples per PPO iteration (default 1024)")
    parser.add_argument("--no-ppo", action="store_true", help="skip the PPO worker measurements")


def measure_env(profile: str, env_steps: int, chunk: int = 10) -> dict[str, float]:
    """CPU-time rates of the env and of bare physics from the same states, interleaved in chunks."""
    from anima.sim_bridge.envs.laikago_imitation import LaikagoImitationEnv

    env = LaikagoImitationEnv(profile=profile, episode_steps=10_000)
    env.reset(seed=0)
    action = np.zeros(12, np.float32)
    t_env = t_bare = 0.0
    n_env = n_bare = 0
    seed = 1
    while n_env < env_steps:
        snap = env.client.saveState()
        c0 = time.process_time()
        env.world.step(chunk * env.substeps)
        t_bare += time.process_time() - c0
        n_bare += chunk * env.substeps
        env.client.restoreState(snap)
        env.client.removeState(snap)
        for _ in range(chunk):
            c0 = time.process_time()
            _, _, terminated, truncated, _ = env.step(action)
            t_env += time.process_time() - c0
            n_env += 1
            if terminated or truncated:
                env.reset(seed=seed)
                seed += 1
                break
    substeps = env.substeps
    env.close()
    env_rate, bare_rate = n_env / t_env, n_bare / t_bare
    return {"env_steps_per_s_per_core": env_rate, "bare_physics_steps_per_s": bare_rate,
            "overhead_fraction": 1.0 - env_rate * substeps / bare_rate, "substeps": substeps}


def measure_ppo(workers: int, samples: int) -> float:
    """Samples per wall-clock second of the second PPO iteration with ``workers`` local processes."""
    from anima.models.imitation.config import ImitationTrainConfig
    from anima.models.imitation.trainer import ImitationTrainer

    config = ImitationTrainConfig(workers=workers, video_every=0, keep_checkpoint_every=0).replace(
        **{"ppo.steps_per_batch": samples})
    with tempfile.TemporaryDirectory(prefix="anima-bench-ppo-") as tmp:
        history = ImitationTrainer(config, tmp, log=lambda _m: None).run(max_iterations=2)
    return float(history[-1]["samples_per_s"])


def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    paper = measure_env("paper", args.env_steps)
    training = measure_env("training", args.env_steps)
    out.update({k: v for k, v in paper.items() if k != "substeps"})
    out.update({f"{k}_training_profile": v for k, v in training.items() if k != "substeps"})
    out["training_profile_speedup"] = training["env_steps_per_s_per_core"] / paper["env_steps_per_s_per_core"]
    if not args.no_ppo:
        one = measure_ppo(1, args.ppo_samples)
        two = measure_ppo(2, args.ppo_samples)
        out.update({"ppo_samples_per_s_1_worker": one, "ppo_samples_per_s_2_workers": two,
                    "ppo_speedup_2_workers": two / one})
    return out
