"""Probe: how well a quadratic in a SOLAR run's latent represents 10^4 |tip - target|^2 (BENCHMARKS.md, issue 18).

    .venv/bin/python -P scripts/probes/solar_latent_cost_fit.py RUN_DIR SPREAD_RAD

Renders 3 000 frames at joint angles within +-SPREAD of the goal pose (as the run's env renders), encodes them and
fits the cost on 2 000 by: the package's least squares with its PSD projection (``fit_quadratic_cost``, eigenvalues
clipped at 1e-6), the same unclipped (indefinite), and the rank-2 PSD forms |W z + b|^2 of
``scripts/probes/solar_true_state.py --cost-form readout / readout_sqrt``. Prints, on the other 1 000: R^2, the
eigenvalues, the true distance at the 20 lowest fitted costs, and the error of sqrt(cost) within 3 cm of the target.
A diagnostic, not part of the package.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

from anima.models.checkpoint import load_torch
from anima.models.solar.config import SolarTrainConfig
from anima.models.solar.cost import fit_quadratic_cost
from anima.models.solar.vae import StructuredVAE
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, render_reacher
from anima.sim_bridge.reacher_world import fingertip_xy

torch.set_num_threads(1)
spec = importlib.util.spec_from_file_location("probe", Path(__file__).with_name("solar_true_state.py"))
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)
src, spread = sys.argv[1], float(sys.argv[2])
c = SolarTrainConfig.from_yaml(f"{src}/config.yaml")
antialias = bool(c.env_kwargs.get("antialias", False))
vae = StructuredVAE(c.vae, c.horizon, 2)
vae.load_state_dict(load_torch(f"{src}/checkpoint.pt", "SOLAR checkpoint")["vae"])
vae.eval()
cfg = ReacherPixelsConfig()
g = np.array(cfg.target_xy)
Q = probe.goal_pose(cfg.target_xy, cfg.reacher.link_lengths) + np.random.default_rng(0).uniform(-spread, spread, (3000, 2))
z = vae.encode_means(np.stack([render_reacher(q, g, cfg.reacher, 64, antialias) for q in Q]))
d2 = 1e4 * ((np.stack([fingertip_xy(q, cfg.reacher.link_lengths) for q in Q]) - g) ** 2).sum(1)
n, near = 2000, d2[2000:] < 9
unclipped = fit_quadratic_cost(z[:n], -d2[:n], min_eig=-np.inf)
fits = {"least squares, PSD-clipped (the package's)": fit_quadratic_cost(z[:n], -d2[:n]),
        "least squares, unclipped": unclipped,
        "|W z + b|^2, squared residual": probe.readout_cost(z[:n], d2[:n], unclipped, 2),
        "|W z + b|^2, residual on sqrt": probe.readout_cost(z[:n], d2[:n], unclipped, 2, sqrt=True)}
print(f"{src}, +-{spread} rad: held-out median distance {np.sqrt(np.median(d2[n:])):.1f} cm")
for name, cost in fits.items():
    pred = cost(z[n:])
    ev = np.linalg.eigvalsh(cost.Cxx)
    r2 = 1 - ((pred - d2[n:]) ** 2).sum() / ((d2[n:] - d2[n:].mean()) ** 2).sum()
    best = np.argsort(pred)[:20]
    err = np.sqrt(np.mean((np.sqrt(np.maximum(pred[near], 0)) - np.sqrt(d2[n:][near])) ** 2))
    print(f"  {name}: R^2 {r2:.3f}, eigenvalues {ev.min():.3g} .. {ev.max():.3g} ({(ev < -1e-9 * ev.max()).sum()} negative), distance at "
          f"the 20 lowest fitted costs {np.sqrt(np.median(d2[n:][best])):.2f} cm, sqrt(cost) error within 3 cm {err:.2f} cm")
