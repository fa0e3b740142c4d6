"""Probe: how much of the reacher's joint state a SOLAR run's latent holds (BENCHMARKS.md "SOLAR", issue 18).

    .venv/bin/python -P scripts/probes/solar_velocity_readout.py RUN_DIR [CHECKPOINT]

Runs 40 fresh random-action episodes (std 0.5, seeds 1000..1039) on the run's reacher, encodes them with the
run's VAE, fits a linear read-out of the joint angles q and velocities qd from the encoder means and from the
Kalman-filtered means (what a ``filtered`` controller sees) by least squares on 20 episodes, and prints R^2 on
the other 20. A diagnostic, not part of the package.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from anima.models.solar.config import SolarTrainConfig
from anima.models.solar.trainer import make_task_env
from anima.models.solar.vae import StructuredVAE


def r2(z: np.ndarray, y: np.ndarray, split: int = 20) -> np.ndarray:
    """R^2 per column of y (N, T+1, k) from an affine read-out of z (N, T+1, dz) fitted on the first ``split`` episodes."""
    z = np.concatenate([z, np.ones(z.shape[:-1] + (1,))], -1)
    ztr, zte = z[:split].reshape(-1, z.shape[-1]), z[split:].reshape(-1, z.shape[-1])
    ytr, yte = y[:split].reshape(-1, y.shape[-1]), y[split:].reshape(-1, y.shape[-1])
    w = np.linalg.lstsq(ztr, ytr, rcond=None)[0]
    return np.round(1 - ((zte @ w - yte) ** 2).sum(0) / ((yte - yte.mean(0)) ** 2).sum(0), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("checkpoint", type=Path, nargs="?")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = SolarTrainConfig.from_yaml(args.run_dir / "config.yaml")
    if cfg.task != "reacher":
        raise SystemExit(f"{args.run_dir}: task {cfg.task!r}; this probe reads the reacher's joints")
    env, _ = make_task_env(cfg)
    du = env.action_space.shape[0]
    vae = StructuredVAE(cfg.vae, cfg.horizon, du)
    ckpt = torch.load(args.checkpoint or args.run_dir / "checkpoint.pt", weights_only=True)
    vae.load_state_dict(ckpt["vae"])
    vae.eval()
    rng = np.random.default_rng(7)
    ims, acts, qs, qds = [], [], [], []
    for e in range(40):
        obs, _ = env.reset(seed=1000 + e)
        im, act, q, qd = [obs], [], [env.world.q.copy()], [env.world.qd.copy()]
        for _ in range(cfg.horizon):
            u = np.clip(0.5 * rng.standard_normal(du), -1, 1)
            obs, *_ = env.step(u)
            im.append(obs), act.append(u), q.append(env.world.q.copy()), qd.append(env.world.qd.copy())
        ims.append(im), acts.append(act), qs.append(q), qds.append(qd)
    ims, acts, qs, qds = map(np.asarray, (ims, acts, qs, qds))
    enc, filt = vae.encode_means(ims), vae.filtered_means(ims, acts)
    print(f"{args.run_dir.name} at {ckpt.get('pretrain_epochs_done')} VAE epochs, R^2 (joint 1, joint 2): "
          f"encoder q {r2(enc, qs)} qd {r2(enc, qds)} | filtered q {r2(filt, qs)} qd {r2(filt, qds)}")


if __name__ == "__main__":
    main()
