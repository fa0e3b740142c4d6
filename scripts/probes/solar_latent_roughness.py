"""Probe: how smoothly a SOLAR run's latent follows the reacher's arm over small motions (BENCHMARKS.md, issue 18).

    .venv/bin/python -P scripts/probes/solar_latent_roughness.py RUN_DIR

Sweeps the elbow in steps of 0.002 / 0.01 / 0.03 rad (0.02 / 0.1 / 0.3 cm of fingertip) with the shoulder fixed,
renders each pose as the run's env does (its ``antialias``), encodes the frames (encoder means) and prints
|second difference| / |first difference| of the latents: about 0 for a latent that changes linearly with the pose,
about 1.7 for changes that are white noise from one step to the next. A diagnostic, not part of the package.
"""

import sys

import numpy as np
import torch

from anima.models.checkpoint import load_torch
from anima.models.solar.config import SolarTrainConfig
from anima.models.solar.vae import StructuredVAE
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, render_reacher
from anima.sim_bridge.reacher_world import fingertip_xy

torch.set_num_threads(1)
cfg = ReacherPixelsConfig()
src = sys.argv[1]
c = SolarTrainConfig.from_yaml(f"{src}/config.yaml")
antialias = bool(c.env_kwargs.get("antialias", False))
vae = StructuredVAE(c.vae, c.horizon, 2)
vae.load_state_dict(load_torch(f"{src}/checkpoint.pt", "SOLAR checkpoint")["vae"])
vae.eval()
for step in (0.002, 0.01, 0.03):
    q = np.stack([np.full(200, 0.8), 0.5 + step * np.arange(200)], 1)
    z = vae.encode_means(np.stack([render_reacher(qq, np.array(cfg.target_xy), cfg.reacher, 64, antialias) for qq in q]))
    tips = np.stack([fingertip_xy(qq, cfg.reacher.link_lengths) for qq in q])
    d1, d2 = np.diff(z, axis=0), np.diff(z, 2, axis=0)
    ratio = np.sqrt((d2**2).sum(1).mean()) / np.sqrt((d1**2).sum(1).mean())
    print(f"{src}: elbow step {step} rad (fingertip {100 * np.linalg.norm(np.diff(tips, axis=0), axis=1).mean():.2f} cm): "
          f"|d2z| / |dz| = {ratio:.2f}")
