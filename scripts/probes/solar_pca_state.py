"""Probe: SOLAR's LQR-FLM on the top-k principal components of a pretrained VAE's latent (no VAE retraining).

    .venv/bin/python -P scripts/probes/solar_pca_state.py /work/runs/RUN --k 4 --state latent_history --kl-step 2.0 --action-weight 0.1

Takes the VAE and the random episodes of run RUN (as ``--pretrained`` does), projects every encoder mean onto the k
leading principal components of the random episodes' latents, and runs ``--iterations`` LQR-FLM iterations of
``anima train solar`` on the projected latent (or its history), with the cost refitted by least squares to -reward on
the projection (``cost_model: refit``). Prints the mean policy's final distance and success after each iteration.
A diagnostic (BENCHMARKS.md "SOLAR", issue 18): a curved 2-D manifold in 10 latent dimensions is hard for the global
quadratic cost; ``k`` = 10 is the plain latent. Not part of the package; the run directory is a temporary one.
"""

import argparse
import json
import tempfile

import numpy as np
import torch

from anima.controllers.lqr_flm import LinearGaussianPolicy
from anima.models.solar.config import SolarTrainConfig
from anima.models.solar.state import StateSpec


def main() -> None:
    from anima.models.solar.trainer import SolarTrainer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--state", default="latent_history", choices=("latent", "latent_history"))
    ap.add_argument("--kl-step", type=float, default=2.0)
    ap.add_argument("--action-weight", type=float, default=0.1)
    ap.add_argument("--iterations", type=int, default=7)
    args = ap.parse_args()
    stored = SolarTrainConfig.from_yaml(f"{args.source}/config.yaml")
    config = stored.replace(iterations=args.iterations, video_every=0, eval_episodes=0, reward_refit_steps=0, cost_model="refit",
                            cost_target="reward", cost_on="latent", state_kind=args.state, **{"lqr.kl_step": args.kl_step,
                            "lqr.action_weight": args.action_weight, "lqr.step_adjust": False})
    with tempfile.TemporaryDirectory() as tmp:
        tr = SolarTrainer(config, tmp, log=lambda s: None)
        tr.start_from_pretrained(args.source)
        z = tr.vae.encode_means(tr.data["images"]).reshape(-1, config.vae.latent_dim)
        mu = z.mean(0)
        _, sv, vt = np.linalg.svd(z - mu, full_matrices=False)
        P = vt[: args.k].T  # (dz, k)
        explained = float((sv[: args.k] ** 2).sum() / (sv**2).sum())
        potentials = tr.vae.encode_potentials  # the VAE's own (encode_means calls encode_potentials)

        def projected(images: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
            m = (potentials(images, batch)[0] - mu) @ P
            return m, np.zeros(m.shape)

        tr.vae.encode_potentials = projected
        tr._keep_if_best = lambda row: None  # a policy file cannot carry the projection: nothing is saved
        tr.save = lambda data=True: None
        tr.state_spec = StateSpec(args.state, args.k, tr.du, tr.state_spec.diff_scale)
        tr.policy = LinearGaussianPolicy.initial(config.horizon, tr.state_spec.dim, tr.du, config.lqr.init_std)
        curve = []
        for _ in range(config.iterations):
            row = tr.step()
            curve.append([round(100 * row["eval_final_distance_mean"], 1), row["eval_success_rate"]])
    print(json.dumps({"source": args.source, **{k: v for k, v in vars(args).items() if k != "source"},
                      "explained_variance": round(explained, 3), "mean_policy_cm_success": curve}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
