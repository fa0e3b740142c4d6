"""Probe: how precisely a SOLAR run's latent places the reacher's fingertip near the goal (BENCHMARKS.md, issue 18).

    .venv/bin/python -P scripts/probes/solar_local_readout.py RUN_DIR [RUN_DIR ...]

Renders 2 000 frames at joint angles within +-0.25 rad of the goal pose (inverse kinematics of the target (0, 0.12) m,
elbow up) as the run's env draws them (its ``antialias``), encodes them with each run's VAE (encoder means), fits a linear map from the latent to the fingertip on
1 000 and prints its error on the other 1 000. A diagnostic, not part of the package.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

from anima.models.solar.config import SolarTrainConfig
from anima.models.solar.vae import StructuredVAE
from anima.models.checkpoint import load_torch
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, render_reacher
from anima.sim_bridge.reacher_world import fingertip_xy
torch.set_num_threads(1)
spec = importlib.util.spec_from_file_location("probe", Path(__file__).with_name("solar_true_state.py"))
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)
cfg = ReacherPixelsConfig()
rng = np.random.default_rng(0)
Q = probe.goal_pose(cfg.target_xy, cfg.reacher.link_lengths) + rng.uniform(-0.25, 0.25, (2000, 2))
ims = {aa: np.stack([render_reacher(q, np.array(cfg.target_xy), cfg.reacher, 64, aa) for q in Q]) for aa in (False, True)}
tips = np.stack([fingertip_xy(q, (0.1, 0.1)) for q in Q])
for src in sys.argv[1:]:
    c = SolarTrainConfig.from_yaml(f"{src}/config.yaml")
    vae = StructuredVAE(c.vae, c.horizon, 2); vae.load_state_dict(load_torch(f"{src}/checkpoint.pt", "ck")["vae"]); vae.eval()
    z = vae.encode_means(ims[bool(c.env_kwargs.get("antialias", False))])  # the frames as the run's env drew them
    X = np.concatenate([z, np.ones((len(z), 1))], 1); n = 1000
    w = np.linalg.lstsq(X[:n], tips[:n], rcond=None)[0]; r = X[n:] @ w - tips[n:]
    d = np.linalg.norm(tips[n:] - np.array(cfg.target_xy), axis=1)
    print(src.split('/')[-1], "tip within %.1f cm of the goal on average; linear read-out error: rms %.2f cm, median %.2f cm" % (100 * d.mean(), 100 * np.sqrt((r**2).sum(1).mean()), 100 * np.median(np.linalg.norm(r, axis=1))))
