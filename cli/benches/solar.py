"""``anima bench solar``: one LQR-FLM update and one frame's encoding at the SOLAR reacher shape.

Shape (FACTS.md "SOLAR"): latent 10, action 2, T 50, 64x64 RGB frames, one torch thread (one core).
``lqr_flm_update_ms``: a full update (KL-regularised backward pass + forward KL per dual-search
step) on synthetic stable time-varying dynamics; reference in the same run: ``lqr_backward_ms``,
one plain LQR backward pass, and ``dual_iterations``. ``encode_ms``: ``SolarPolicy.encode`` of one
frame (what the node does per camera frame); reference: ``encode_batched_ms_per_frame`` (50 frames
in one call) and ``render_ms`` (drawing the frame itself). ``encode_shipped_ms``: the shipped reacher model's
encoder and state per frame, float32 denormals flushed as ``solar_planner`` runs (``encode_shipped_unflushed_ms``
without: the spatial softmax's sharp peaks are denormal arithmetic). Targets: update <= 50 ms, encode <= 5 ms. The top-level numbers are
the medians of this thread's CPU time (the one-core cost, meaningful on a shared machine);
``wall_ms`` holds the wall-clock medians, which also count waiting for a core.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

import numpy as np

HELP = "SOLAR: LQR-FLM update (latent 10, T 50) and per-frame encoding (64x64) on one core"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=20, help="timed repetitions per measurement (default 20)")


def _median_ms(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median (CPU ms of this thread, wall ms). On a shared machine the CPU time is the one-core cost;
    wall time also holds the waits for a core."""
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        c0, t0 = time.thread_time(), time.perf_counter()
        fn()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return float(np.median(cpu) * 1e3), float(np.median(wall) * 1e3)


def _problem(rng: np.random.Generator, t_len: int = 50, dx: int = 10, du: int = 2) -> tuple[Any, ...]:
    from anima.controllers.lqr_flm import LinearGaussianDynamics, LinearGaussianPolicy

    A = np.eye(dx) + 0.05 * rng.normal(size=(t_len, dx, dx)) / np.sqrt(dx)
    B = 0.1 * rng.normal(size=(t_len, dx, du))
    dyn = LinearGaussianDynamics(np.concatenate([A, B], axis=2), 0.01 * rng.normal(size=(t_len, dx)),
                                 np.tile(1e-3 * np.eye(dx), (t_len, 1, 1)), rng.normal(size=dx), 0.01 * np.eye(dx))
    M = rng.normal(size=(dx, dx))
    C = np.zeros((t_len, dx + du, dx + du))
    C[:, :dx, :dx] = M @ M.T / dx
    C[:, dx:, dx:] = 1e-2 * np.eye(du)
    c = np.zeros((t_len, dx + du))
    c[:, :dx] = rng.normal(size=dx)
    return dyn, C, c, LinearGaussianPolicy.initial(t_len, dx, du, 0.5)


def _shipped_encode_ms(rng: np.random.Generator, repeats: int) -> dict[str, Any]:
    """The shipped reacher model's per-frame cost as solar_planner pays it (its encoder, here the spatial softmax,
    and its state: encode, project, history), denormals flushed as the node runs; reference: the same unflushed."""
    import torch

    from anima.models.solar.policy import SolarPolicy, policy_env_kwargs, shipped_policy_path
    from anima.sim_bridge.envs.reacher_pixels import ReacherPixelsConfig, render_reacher

    path = shipped_policy_path("reacher")
    if not path.is_file():
        return {}
    policy = SolarPolicy.load(path, expect_task="reacher")
    config = ReacherPixelsConfig(**policy_env_kwargs(policy))
    frame = render_reacher(rng.uniform(-0.2, 0.2, 2), np.asarray(config.target_xy), config.reacher, config.image_size,
                           config.antialias)
    track = policy.tracker()
    step = lambda: track.state(*policy.encode_potential(frame))  # noqa: E731
    times = {}
    for flush in (False, True):
        torch.set_flush_denormal(flush)
        times[flush] = _median_ms(step, repeats)
    return {"encode_shipped_ms": round(times[True][0], 3), "encode_shipped_unflushed_ms": round(times[False][0], 3),
            "shipped_encoder": policy.spec.get("encoder", "conv")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from anima.controllers.lqr_flm import lqr_backward, lqr_flm_update
    from anima.models.solar.lds import LdsParams
    from anima.models.solar.networks import Encoder
    from anima.models.solar.policy import SolarPolicy, make_spec
    from anima.sim_bridge.envs.planar_reacher import ReacherConfig
    from anima.sim_bridge.envs.reacher_pixels import render_reacher

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    dyn, C, c, prev = _problem(rng)
    _, info = lqr_flm_update(dyn, C, c, prev)
    update_ms = _median_ms(lambda: lqr_flm_update(dyn, C, c, prev), args.repeats)
    backward_ms = _median_ms(lambda: lqr_backward(dyn.F, dyn.f, C, c, 2), args.repeats)

    torch.manual_seed(0)
    t_len, dz = 50, 10
    policy = SolarPolicy(make_spec("reacher", dz, t_len, 0.05, "joint_torque", [-1, -1], [1, 1], torque_limit_nm=0.1), Encoder(dz, 64),
                         np.zeros((t_len, 2, dz)), np.zeros((t_len, 2)), np.tile(0.25 * np.eye(2), (t_len, 1, 1)))
    cfg = ReacherConfig()
    frames = [render_reacher(rng.uniform(-3, 3, 2), np.array([0.0, 0.12]), cfg) for _ in range(50)]
    encode_ms = _median_ms(lambda: policy.encode(frames[0]), args.repeats * 5)
    # a filtered policy (vae.inference smooth): per frame, the encoder's potential and one Kalman filter step
    filtered = SolarPolicy(make_spec("reacher", dz, t_len, 0.05, "joint_torque", [-1, -1], [1, 1], torque_limit_nm=0.1,
                                     state={"kind": "filtered", "diff_scale": 1.0}), policy.encoder,
                           np.zeros((t_len, 2, dz)), np.zeros((t_len, 2)), np.tile(0.25 * np.eye(2), (t_len, 1, 1)),
                           lds=LdsParams(np.tile(np.eye(dz), (t_len, 1, 1)), np.zeros((t_len, dz, 2)), np.zeros((t_len, dz)),
                                         np.full((t_len, dz), -2.0)))
    track = filtered.tracker()
    track.state(*filtered.encode_potential(frames[0]))
    filtered_ms = _median_ms(lambda: track.state(*filtered.encode_potential(frames[0])), args.repeats * 5)
    batch = torch.from_numpy(np.stack(frames))
    with torch.no_grad():
        batched_ms = _median_ms(lambda: policy.encoder(batch), args.repeats)
    render_ms = _median_ms(lambda: render_reacher(np.array([0.3, 0.5]), np.array([0.0, 0.12]), cfg), args.repeats * 5)
    batched_ms = tuple(v / len(frames) for v in batched_ms)
    shipped = _shipped_encode_ms(rng, args.repeats * 5)
    return {"lqr_flm_update_ms": round(update_ms[0], 2), "lqr_backward_ms": round(backward_ms[0], 2), "dual_iterations": int(info["dual_iterations"]),
            "encode_ms": round(encode_ms[0], 3), "encode_filtered_ms": round(filtered_ms[0], 3), "encode_batched_ms_per_frame": round(batched_ms[0], 3), "render_ms": round(render_ms[0], 3),
            "wall_ms": {"lqr_flm_update": round(update_ms[1], 2), "lqr_backward": round(backward_ms[1], 2), "encode": round(encode_ms[1], 3),
                        "encode_filtered": round(filtered_ms[1], 3),
                        "encode_batched_per_frame": round(batched_ms[1], 3), "render": round(render_ms[1], 3)},
            **shipped,
            "load_average_1min": round(__import__("os").getloadavg()[0], 2),
            "target_lqr_flm_update_ms": 50.0, "target_encode_ms": 5.0, "latent_dim": dz, "horizon": t_len, "torch_threads": 1}
