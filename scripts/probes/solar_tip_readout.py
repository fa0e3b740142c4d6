"""Probe: how precisely a SOLAR run's encoder means place the reacher's fingertip, linearly, near the goal and wide (BENCHMARKS.md, issue 18).

    .venv/bin/python -P scripts/probes/solar_tip_readout.py RUN_DIR [RUN_DIR ...]

Renders 2 000 frames at joint angles within +-0.25 rad and +-1.0 rad of the goal pose as the run's env draws them, fits a
linear map from the encoder means to the fingertip on 1 000 and prints its rms and max error on the other 1 000. A
diagnostic, not part of the package.
"""
import sys
import numpy as np, torch
from anima.models.solar.config import SolarTrainConfig
from anima.models.solar.vae import StructuredVAE
from anima.models.checkpoint import load_torch
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, render_reacher
from anima.sim_bridge.reacher_world import fingertip_xy
torch.set_num_threads(1)
cfg = ReacherPixelsConfig()
g = np.array([np.arctan2(0.12, 0) - np.arccos(0.12 / 0.2), 2 * np.arccos(0.12 / 0.2)])
for run in sys.argv[1:]:
    c = SolarTrainConfig.from_yaml(f"{run}/config.yaml")
    vae = StructuredVAE(c.vae, c.horizon, 2); vae.load_state_dict(load_torch(f"{run}/checkpoint.pt", "ck")["vae"]); vae.eval()
    aa = bool(c.env_kwargs.get("antialias", False))
    for spread in (0.25, 1.0):
        rng = np.random.default_rng(0)
        Q = g + rng.uniform(-spread, spread, (2000, 2))
        ims = np.stack([render_reacher(q, np.array(cfg.target_xy), cfg.reacher, 64, aa) for q in Q])
        tips = np.stack([fingertip_xy(q, (0.1, 0.1)) for q in Q])
        z = vae.encode_means(ims)
        X = np.c_[z, np.ones(len(z))]
        W = np.linalg.lstsq(X[:1000], tips[:1000], rcond=None)[0]
        err = np.linalg.norm(X[1000:] @ W - tips[1000:], axis=1)
        print(run, f"spread {spread}: linear read-out rms {100*np.sqrt((err**2).mean()):.2f} cm, max {100*err.max():.2f} cm")
