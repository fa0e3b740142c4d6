"""Probe: SOLAR's controller (BLDS dynamics fit + refitted quadratic cost + LQR-FLM) on the reacher's TRUE state.

    .venv/bin/python -P scripts/probes/solar_true_state.py --seed 0 --kl-step 0.5 --state tip --cost squared100

The state is [fingertip x, y, qd1, qd2] (``--state tip``), [q1, q2, qd1, qd2] (``q``) or the fingertip's position and
velocity (``tipvel``), or what ``state_kind: latent_history`` builds from a position, [p_t, (p_t - p_{t-1}) / dt, u_{t-1}]
with p the fingertip (``tiphist``): Markov, no images. The
cost is a quadratic in the position part fitted to -reward (``reward``; reward = -10 |d|), to reward^2 = 100 |d|^2
(``squared``, the trainer's ``squared_reward``) or to 100 reward^2 = 10^4 |d|^2 (``squared100``), with the action
penalty 1/2 ``--action-weight`` |u|^2. The reward here is -10 |d| from the env's distance, without ``ReachTask``'s
-0.01 |qd|^2 term: with it, reward^2 is not a quadratic in the fingertip position and the fitted minimum drifted to
(0, 0.23) m (the probe tables before 2026-12-06's ninth session had that bias). 100 random
episodes (std ``--init-std``), then ``--iterations`` x ``--rollouts`` (40), as ``anima train solar``; prints the mean policy's final
distance (cm) and success on 20 fixed episodes after each iteration. ``--embed``, ``--embed-bend``, ``--embed-noise``,
``--filter``, ``--fit-clean`` and ``--cost-episodes`` turn the true fingertip into something like a learned latent (a
curved, higher-dimensional, noisy image of it) one property at a time. It separates the controller from the latent
(BENCHMARKS.md "SOLAR", issue 18). A diagnostic, not part of the package.
"""

import argparse
import json

import numpy as np

from anima.controllers.lqr_flm import LinearGaussianPolicy, LqrFlmConfig, lqr_flm_update
from anima.models.solar.blds import fit_dynamics
from anima.models.solar.cost import QuadraticCost, fit_quadratic_cost
from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, ReacherPixelsEnv
from anima.sim_bridge.reacher_world import fingertip_xy

T, DU, ACTION_WEIGHT = 50, 2, 0.3


class PointMass:
    """A linear system with the reacher's interface (``--system pointmass``): a damped 2-D point mass, state [p, v],
    acceleration 2 u m/s^2 (u in [-1, 1]^2), 0.05-s steps, start (0.2, 0) +- 2 cm, target (0, 0.12); reward -10 |p - g|."""

    goal = np.array([0.0, 0.12])

    def reset(self, seed: int) -> None:
        self.p = np.array([0.2, 0.0]) + np.random.default_rng(seed).uniform(-0.02, 0.02, 2)
        self.v = np.zeros(2)

    def step(self, u: np.ndarray) -> tuple:
        self.v = 0.95 * self.v + 0.05 * 2.0 * np.asarray(u)
        self.p = self.p + 0.05 * self.v
        d = float(np.linalg.norm(self.p - self.goal))
        return None, -10 * d, False, False, {"distance": d}


def goal_pose(target_xy=(0.0, 0.12), link_lengths=(0.1, 0.1)) -> np.ndarray:
    """Joint angles (elbow up) that put the fingertip at ``target_xy``: the two-link arm's inverse kinematics."""
    (x, y), (l1, l2) = target_xy, link_lengths
    q2 = np.arccos((x * x + y * y - l1 * l1 - l2 * l2) / (2 * l1 * l2))
    return np.array([np.arctan2(y, x) - np.arctan2(l2 * np.sin(q2), l1 + l2 * np.cos(q2)), q2])


def readout_cost(x: np.ndarray, y: np.ndarray, init: QuadraticCost, k: int = 2, sqrt: bool = False) -> QuadraticCost:
    """y ~ |W x + b|^2 (a PSD quadratic of rank k), by nonlinear least squares on standardized x; ``sqrt``: the
    residual is |W x + b| - sqrt(y) (every distance counts alike, the ones near the goal included)."""
    from scipy.optimize import least_squares

    mu, sd = x.mean(0), np.where(x.std(0) > 0, x.std(0), 1.0)
    s = (x - mu) / sd
    C0 = init.Cxx * sd[:, None] * sd[None, :]  # the unclipped fit in standardized coordinates
    c0 = sd * (init.cx + init.Cxx @ mu)
    lam, vec = np.linalg.eigh(C0)
    W0 = (np.sqrt(np.maximum(lam[-k:], 1e-9) / 2)[:, None] * vec[:, -k:].T)
    b0 = np.linalg.lstsq(W0.T, c0 / 2, rcond=None)[0]
    dx = x.shape[1]

    def res(th):
        W, b = th[: k * dx].reshape(k, dx), th[k * dx:]
        if sqrt:
            return np.sqrt(((s @ W.T + b) ** 2).sum(1) + 1e-12) - np.sqrt(np.maximum(y, 0))
        return ((s @ W.T + b) ** 2).sum(1) - y

    th = least_squares(res, np.concatenate([W0.ravel(), b0]), method="lm", max_nfev=2000).x
    W, b = th[: k * dx].reshape(k, dx) / sd[None, :], th[k * dx:]
    b = b - W @ mu  # |W (x - mu)/sd + b| = |W' x + b'|
    return QuadraticCost(2 * W.T @ W, 2 * W.T @ b, float(b @ b), init.action_weight)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kl-step", type=float, default=0.5)
    ap.add_argument("--state", choices=("tip", "q", "tipvel", "tiphist"), default="tip")
    ap.add_argument("--cost", choices=("reward", "squared", "squared100"), default="squared100")
    ap.add_argument("--init-std", type=float, default=0.5)
    ap.add_argument("--max-torque", type=float, default=0.1)
    ap.add_argument("--action-weight", type=float, default=ACTION_WEIGHT, help="the cost's 1/2 w |u|^2 weight")
    ap.add_argument("--armature", type=float, default=0.0, help="the reacher's joint armature (kg m^2)")
    ap.add_argument("--damping", type=float, default=0.01, help="the reacher's joint damping (N m s/rad)")
    ap.add_argument("--iterations", type=int, default=7)
    ap.add_argument("--system", choices=("reacher", "pointmass"), default="reacher")
    ap.add_argument("--final-weight", type=float, default=1.0, help="the last step's state-cost weight (final_cost_multiplier)")
    ap.add_argument("--rollouts", type=int, default=40, help="episodes per iteration (the dynamics fit's batch)")
    ap.add_argument("--strength", type=float, default=50.0, help="the BLDS prior's data strength")
    ap.add_argument("--embed", type=int, default=0, help="tiphist only: the fingertip p replaced by a fixed random embedding "
                    "of this many dimensions, p -> 10 (A p / 0.1 m + bend sin(B p / 0.1 m)), as a latent; the cost fitted on it")
    ap.add_argument("--filter", type=float, nargs=2, default=None, metavar=("ALPHA", "BETA"),
                    help="tiphist: an alpha-beta filter on p (predict p + v dt, correct by alpha and beta / dt): [p^, v^, u_prev]")
    ap.add_argument("--cost-episodes", type=int, default=0, help="fit the cost on the last N episodes only (0: all)")
    ap.add_argument("--embed-bend", type=float, default=0.3, help="the embedding's sine amplitude (0: linear)")
    ap.add_argument("--embed-noise", type=float, default=0.0, help="std of noise added to each embedding dimension per frame")
    ap.add_argument("--vae", default="", help="tiphist: p replaced by the latent means of the run VAE's encoder on the "
                    "rendered 64x64 frame (the image pipeline's state, built here step by step; the cost fitted on it)")
    ap.add_argument("--vae-readout", action="store_true", help="with --vae: the latent replaced by its linear read-out "
                    "of the fingertip (2-D), fitted on 2000 frames at random joint angles around the episodes' range")
    ap.add_argument("--readout-spread", type=float, default=0.0, help="with --vae-readout: fit it on frames within "
                    "+-this many rad of the goal pose (a local read-out; 0: the episodes' whole range)")
    ap.add_argument("--vae-plus-tip", action="store_true", help="with --vae: the true fingertip (cm) appended to the latent")
    ap.add_argument("--cost-on-latent", action="store_true", help="with --vae-plus-tip: the cost fitted on the latent part only "
                    "(the tip is in the state for the dynamics, not in the cost)")
    ap.add_argument("--cost-on-tip", action="store_true", help="with --vae-plus-tip: the cost fitted on the tip part only")
    ap.add_argument("--cost-form", choices=("clip", "indefinite", "readout", "readout_sqrt"), default="clip",
                    help="clip: the least-squares quadratic with its eigenvalues clipped at 1e-6 (the package's); indefinite: unclipped; "
                    "readout: |W x + b|^2 with W 2 x dx, fitted by nonlinear least squares from the unclipped fit's top two eigenvectors")
    ap.add_argument("--diagnose", action="store_true", help="print the one-step R^2 of the dynamics fitted on 60 random "
                    "episodes, on 40 held-out ones (position part, velocity part), and exit")
    ap.add_argument("--fit-clean", action="store_true", help="tiphist: fit the dynamics and the cost on the noise-free states "
                    "(a perfect smoother), act on the noisy ones")
    args = ap.parse_args()
    if args.fit_clean and (args.state != "tiphist" or not args.embed):
        ap.error("--fit-clean needs --state tiphist with --embed")
    if (args.embed or args.vae) and args.state != "tiphist":
        ap.error("--embed and --vae need --state tiphist")
    vae = None
    if args.vae:
        import torch

        from anima.models.checkpoint import load_torch
        from anima.models.solar.config import SolarTrainConfig
        from anima.models.solar.vae import StructuredVAE
        from anima.sim_bridge.envs.reacher_pixels import render_reacher

        torch.set_num_threads(1)
        vcfg = SolarTrainConfig.from_yaml(f"{args.vae}/config.yaml")
        vae = StructuredVAE(vcfg.vae, vcfg.horizon, 2)
        vae.load_state_dict(load_torch(f"{args.vae}/checkpoint.pt", "SOLAR checkpoint")["vae"])
        vae.eval()
        antialias = bool(vcfg.env_kwargs.get("antialias", False))
        readout = None
        if args.vae_readout:
            q_fit = np.random.default_rng(7).uniform([-1.2, -2.6], [2.6, 2.6], (2000, 2))
            cfg0 = ReacherPixelsConfig()
            if args.readout_spread:
                q_fit = goal_pose(cfg0.target_xy, cfg0.reacher.link_lengths) + np.random.default_rng(7).uniform(
                    -args.readout_spread, args.readout_spread, (2000, 2))
            frames = np.stack([render_reacher(qq, np.asarray(cfg0.target_xy), cfg0.reacher, 64, antialias) for qq in q_fit])
            zf = np.concatenate([vae.encode_means(frames), np.ones((len(frames), 1))], 1)
            tips_fit = np.stack([fingertip_xy(qq, cfg0.reacher.link_lengths) for qq in q_fit])
            readout = np.linalg.lstsq(zf, tips_fit, rcond=None)[0]
            res = zf @ readout - tips_fit
            print(f"read-out residual rms {100 * np.sqrt((res ** 2).sum(1).mean()):.2f} cm", flush=True)
    emb_rng = np.random.default_rng(99)
    A, B = emb_rng.standard_normal((max(args.embed, 1), 2)), emb_rng.standard_normal((max(args.embed, 1), 2))
    noise_rng = np.random.default_rng(args.seed + 1000)
    dp = args.embed or (vae.config.latent_dim + 2 * args.vae_plus_tip if vae is not None and not args.vae_readout else 2)

    def embed(tip: np.ndarray, noise: bool = True) -> np.ndarray:
        if not args.embed:
            return tip
        z = 10 * (A @ tip / 0.1 + args.embed_bend * np.sin(B @ tip / 0.1))
        return z + args.embed_noise * noise_rng.standard_normal(args.embed) if noise else z
    env = ReacherPixelsEnv(ReacherPixelsConfig(reacher={"max_torque": args.max_torque, "armature": args.armature, "damping": args.damping})) if args.system == "reacher" else PointMass()

    hist = {"tip": None, "u": np.zeros(DU), "clean": None, "clean_state": None}

    def state() -> np.ndarray:
        if args.system == "pointmass":
            return np.concatenate([env.p, env.v])
        q, qd, lengths = env.world.q, env.world.qd, env.config.reacher.link_lengths
        if args.state == "tipvel":  # fingertip position and velocity J(q) qd (finite difference over 1 ms)
            return np.concatenate([fingertip_xy(q, lengths), (fingertip_xy(q + 1e-3 * qd, lengths) - fingertip_xy(q, lengths)) / 1e-3])
        if args.state == "tiphist":  # what state_kind latent_history builds: [p_t, (p_t - p_{t-1}) / dt, u_{t-1}]
            if vae is not None:
                frame = render_reacher(q, np.asarray(env.config.target_xy), env.config.reacher, 64, antialias)
                tip = clean = vae.encode_means(frame[None])[0]
                if readout is not None:
                    tip = clean = np.append(tip, 1.0) @ readout
                if args.vae_plus_tip:
                    tip = clean = np.concatenate([tip, 100 * fingertip_xy(q, lengths)])
            else:
                tip = embed(fingertip_xy(q, lengths))
                clean = embed(fingertip_xy(q, lengths), noise=False)
            prev_clean = clean if hist["clean"] is None else hist["clean"]
            hist["clean"], hist["clean_state"] = clean, np.concatenate([clean, (clean - prev_clean) / env.control_dt, hist["u"]])
            if args.filter:
                dt = env.control_dt
                if hist["tip"] is None:
                    hist["tip"], hist["v"] = tip, np.zeros_like(tip)
                else:
                    pred = hist["tip"] + hist["v"] * dt
                    hist["tip"] = pred + args.filter[0] * (tip - pred)
                    hist["v"] = hist["v"] + args.filter[1] / dt * (tip - pred)
                return np.concatenate([hist["tip"], hist["v"], hist["u"]])
            prev = tip if hist["tip"] is None else hist["tip"]
            hist["tip"] = tip
            return np.concatenate([tip, (tip - prev) / env.control_dt, hist["u"]])
        return np.concatenate([fingertip_xy(q, lengths) if args.state == "tip" else q, qd])

    def run(pol: LinearGaussianPolicy, n: int, rng: np.random.Generator, explore: bool) -> tuple[np.ndarray, ...]:
        xs_all, us_all, rs_all, dist, clean_all = [], [], [], [], []
        for _ in range(n):
            env.reset(seed=int(rng.integers(2**31)))
            hist["tip"], hist["u"], hist["clean"] = None, np.zeros(DU), None
            xs, us, rs = [state()], [], []
            clean = [hist["clean_state"]]
            for t in range(T):
                u = pol.K[t] @ xs[-1] + pol.k[t]
                if explore:
                    u = u + np.linalg.cholesky(pol.cov[t]) @ rng.standard_normal(DU)
                u = np.clip(u, -1, 1)
                hist["u"] = u
                _, _, _, _, info = env.step(u)
                xs.append(state()), us.append(u), rs.append(-10 * info["distance"])
                clean.append(hist["clean_state"])
            xs_all.append(xs), us_all.append(us), rs_all.append(rs), dist.append(info["distance"]), clean_all.append(clean)
        if args.fit_clean:  # what the fits see
            return np.array(clean_all), np.array(us_all), np.array(rs_all), np.array(dist)
        return np.array(xs_all), np.array(us_all), np.array(rs_all), np.array(dist)

    rng = np.random.default_rng(args.seed)
    pol = LinearGaussianPolicy.initial(T, 2 * dp + DU if args.state == "tiphist" else 4, DU, args.init_std)
    X, U, R, _ = run(pol, 100, rng, True)
    if args.diagnose:
        dyn = fit_dynamics(X[:60], U[:60], X[:60], U[:60], args.strength, 2)
        xu = np.concatenate([X[60:, :-1], U[60:]], -1)
        pred = np.einsum("tij,ntj->nti", dyn.F, xu) + dyn.f
        res, nxt = pred - X[60:, 1:], X[60:, 1:]
        r2 = lambda sl: 1 - (res[..., sl] ** 2).sum() / ((nxt[..., sl] - nxt[..., sl].mean((0, 1))) ** 2).sum()  # noqa: E731
        dd = X.shape[-1]
        print(json.dumps({"one_step_r2_position": round(float(r2(slice(0, dp))), 4),
                          "one_step_r2_velocity": round(float(r2(slice(dp, 2 * dp))), 4) if dd > dp + DU else None,
                          "state": args.state, "vae": args.vae, "embed": args.embed}))
        return
    curve = []
    weights = np.ones(T)
    weights[-1] = args.final_weight
    for _ in range(args.iterations):
        Xc, Rc = (X[-args.cost_episodes:], R[-args.cost_episodes:]) if args.cost_episodes else (X, R)
        r = Rc.reshape(-1)
        r = {"reward": r, "squared": -np.square(r), "squared100": -100 * np.square(r)}[args.cost]
        c0, dc = (dp - 2, dp) if args.cost_on_tip else (0, dp - 2 if args.cost_on_latent else dp)
        pos_cost = fit_quadratic_cost(Xc[:, 1:, c0:dc].reshape(-1, dc - c0), r, args.action_weight,
                                      min_eig=1e-6 if args.cost_form == "clip" else -np.inf)
        if args.cost_form.startswith("readout"):
            pos_cost = readout_cost(Xc[:, 1:, c0:dc].reshape(-1, dc - c0), -r, pos_cost, sqrt=args.cost_form == "readout_sqrt")
        dx = X.shape[-1]
        Cxx, cx = np.zeros((dx, dx)), np.zeros(dx)
        Cxx[c0:dc, c0:dc], cx[c0:dc] = pos_cost.Cxx, pos_cost.cx
        dyn = fit_dynamics(X[-args.rollouts:], U[-args.rollouts:], X, U, args.strength, 2)
        C, c = QuadraticCost(Cxx, cx, pos_cost.const, args.action_weight).next_state_lqr_terms(dyn.F, dyn.f, weights)
        pol, _ = lqr_flm_update(dyn, C, c, pol, LqrFlmConfig(kl_step=args.kl_step))
        x, u, rr, _ = run(pol, args.rollouts, rng, True)
        X, U, R = np.concatenate([X, x]), np.concatenate([U, u]), np.concatenate([R, rr])
        d = run(pol, 20, np.random.default_rng(12345), False)[3]
        curve.append([round(float(d.mean()) * 100, 1), float((d < 0.02).mean())])
    print(json.dumps({**vars(args), "mean_policy_cm_success": curve}), flush=True)


if __name__ == "__main__":
    main()
