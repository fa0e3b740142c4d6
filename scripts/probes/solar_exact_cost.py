"""Probe: SOLAR's LQR-FLM on a pretrained VAE's latents with an exact distance cost (no VAE retraining).

    .venv/bin/python -P scripts/probes/solar_exact_cost.py /work/runs/RUN --state filtered --kl-step 2.0 --action-weight 10

Takes the VAE of run RUN (its checkpoint), 100 fresh random episodes on the reacher whose reward is -10 |tip - target|
(the velocity term of ``ReachTask`` off), and runs ``--iterations`` LQR-FLM iterations of ``anima train solar`` with the
cost refitted by least squares to reward^2 = 100 |tip - target|^2 (``cost_model: refit``, ``cost_target: squared_reward``),
exactly quadratic in the fingertip position. Prints the mean policy's final distance and success after each iteration.
A diagnostic (BENCHMARKS.md "SOLAR", issue 18), not part of the package; the run directory is a temporary one.
"""

import argparse
import json
import tempfile

import numpy as np
import torch

from anima.controllers.planning_tasks import ReachTask
from anima.models.solar.config import SolarTrainConfig
from anima.models.solar.trainer import SolarTrainer, collect
from anima.models.checkpoint import load_torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("--state", default=None, help="state_kind (default: the source's)")
    ap.add_argument("--kl-step", type=float, default=2.0)
    ap.add_argument("--action-weight", type=float, default=10.0)
    ap.add_argument("--iterations", type=int, default=7)
    ap.add_argument("--seed", type=int, default=None, help="the episodes' seed (default: the source's)")
    ap.add_argument("--cost", choices=("squared", "vae_reward"), default="squared",
                    help="squared: refit to 100 d^2; vae_reward: the VAE's reward model refitted to -10 d")
    args = ap.parse_args()
    stored = SolarTrainConfig.from_yaml(f"{args.source}/config.yaml")
    changes = {"iterations": args.iterations, "video_every": 0, "eval_episodes": 0, "lqr.kl_step": args.kl_step,
               "lqr.action_weight": args.action_weight, "lqr.step_adjust": False}
    if args.cost == "squared":
        changes.update({"cost_model": "refit", "cost_target": "squared_reward", "reward_refit_steps": 0, "cost_on": "latent"})
    else:
        changes.update({"cost_model": "vae", "reward_refit_steps": 2000})
    if args.state:
        changes["state_kind"] = args.state
    if args.seed is not None:
        changes["seed"] = args.seed
    config = stored.replace(**changes)
    with tempfile.TemporaryDirectory() as tmp:
        tr = SolarTrainer(config, tmp, log=lambda s: None)
        tr.vae.load_state_dict(load_torch(f"{args.source}/checkpoint.pt", "SOLAR checkpoint")["vae"])
        tr.env.task = ReachTask(tuple(tr.env.config.target_xy), tr.env.config.reacher.link_lengths, velocity_weight=0.0)
        tr.pretrain_epochs_done = config.pretrain_epochs
        tr.data = collect(tr.env, tr._random_act(config.lqr.init_std), config.random_rollouts, config.horizon,
                          np.random.default_rng([config.seed, 0]))
        curve = []
        for _ in range(config.iterations):
            row = tr.step()
            curve.append([round(100 * row["eval_final_distance_mean"], 1), row["eval_success_rate"]])
    print(json.dumps({"source": args.source, **{k: v for k, v in vars(args).items() if k != "source"},
                      "state_kind": config.state_kind, "mean_policy_cm_success": curve}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
