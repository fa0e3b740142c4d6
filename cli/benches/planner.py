"""``anima bench planner``: one PDDM planning step at the Baoding shape, torch vs plain numpy.

Shape (FACTS.md "PDDM"): state 40, action 24, N = 700 samples, H = 7, ensemble of 3 MLPs 2x250.
``numpy_folded_step_ms_median`` is a tuned numpy version (folded normalizers, in-place matmuls) for a
harder comparison. A step = noise sampling + filtering + rollouts through every member + Baoding reward + MPPI update.
``step_ms_median`` is the step the ``pddm_planner`` node runs (rollout backend "auto": bfloat16 matmuls
where the CPU has native bfloat16, see ``DynamicsEnsemble.rollout``); ``step_fp32_ms_median`` is the
exact float32 torch step (backend "loop", what training uses); ``numpy_step_ms_median`` is
the same planner step with a straightforward batched float32 numpy model (normalize, concatenate,
three ``np.matmul``, denormalize). Both are timed interleaved in the same process with the same
thread count, in alternating blocks; the rollout alone is also timed for each backend.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable

import numpy as np

HELP = "PDDM planning step (N 700, H 7, ensemble 3 x 2x250) in torch vs plain numpy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per variant (default 20)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (numpy uses its BLAS default)")
    parser.add_argument("--pause", type=float, default=0.3, help="idle seconds before each block, so the previous variant's spinning thread pool (OpenBLAS, OpenMP) has gone to sleep (default 0.3)")
    parser.add_argument("--state-dim", type=int, default=40)
    parser.add_argument("--samples", type=int, default=700)
    parser.add_argument("--horizon", type=int, default=7)


class NumpyEnsemble:
    """The straightforward float32 numpy reference of the same ensemble (explicit normalizers)."""

    def __init__(self, model: Any) -> None:
        self.ensemble_size = model.ensemble_size
        self.params = [p.detach().numpy().astype(np.float32) for p in model.params]
        nz = model.normalizers
        self.s_mean, self.s_std = nz.state.mean, nz.state.std
        self.a_mean, self.a_std = nz.action.mean, nz.action.std
        self.d_mean, self.d_std = nz.delta.mean, nz.delta.std

    def predict(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        e, n, _ = states.shape
        a = np.broadcast_to((actions - self.a_mean) / self.a_std, (e, n, actions.shape[-1]))
        h = np.concatenate([(states - self.s_mean) / self.s_std, a], axis=-1).astype(np.float32)
        layers = len(self.params) // 2
        for i in range(layers):
            h = np.matmul(h, self.params[2 * i]) + self.params[2 * i + 1]
            if i < layers - 1:
                h = np.maximum(h, 0.0)
        return states + h * self.d_std + self.d_mean


class NumpyFoldedEnsemble:
    """A tuned numpy version for comparison: normalizers folded into the weights, preallocated
    buffers, in-place ``np.matmul(out=)``; same ``rollout`` interface as ``DynamicsEnsemble``."""

    def __init__(self, model: Any) -> None:
        pw = model.planning_weights()
        self.ensemble_size, self.state_dim = model.ensemble_size, model.state_dim
        self.w = [pw.w1.numpy(), *(w.numpy() for w, _ in pw.hidden), pw.wo.numpy()]
        self.b = [pw.b1.numpy(), *(b.numpy() for _, b in pw.hidden), pw.bo.numpy()]
        self._buf: dict[tuple, list[np.ndarray]] = {}

    def rollout(self, state: np.ndarray, actions: np.ndarray, backend: str = "") -> np.ndarray:
        n, h_len, a_dim = actions.shape
        e, sd = self.ensemble_size, self.state_dim
        key = (n, h_len)
        if key not in self._buf:
            self._buf[key] = [np.empty((e, n, sd + a_dim), np.float32), *(np.empty((e, n, w.shape[-1]), np.float32) for w in self.w[:-1]),
                              np.empty((h_len, e, n, sd), np.float32)]
        x, *hidden, out = self._buf[key]
        x[:, :, :sd] = state
        for t in range(h_len):
            x[:, :, sd:] = actions[:, t]
            h = x
            for w, b, buf in zip(self.w[:-1], self.b[:-1], hidden):
                np.matmul(h, w, out=buf)
                buf += b
                h = np.maximum(buf, 0.0, out=buf)
            np.matmul(h, self.w[-1], out=out[t])
            out[t] += self.b[-1]
            out[t] += x[:, :, :sd]
            x[:, :, :sd] = out[t]
        return out


def _time(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000.0


def run(args: argparse.Namespace) -> dict:
    import torch

    from anima.controllers.mppi import PlannerConfig, SamplingPlanner
    from anima.controllers.planning_tasks import BaodingParams, BaodingRotateTask
    from anima.models.dynamics_ensemble import DynamicsEnsemble, Normalizer, Normalizers, resolve_backend

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    s_dim, a_dim = args.state_dim, 24
    model = DynamicsEnsemble(s_dim, a_dim, generator=torch.Generator().manual_seed(0))
    model.normalizers = Normalizers(
        Normalizer(rng.normal(0, 0.1, s_dim).astype(np.float32), rng.uniform(0.5, 2, s_dim).astype(np.float32)),
        Normalizer(np.zeros(a_dim, np.float32), np.full(a_dim, 0.58, np.float32)),
        Normalizer(np.zeros(s_dim, np.float32), np.full(s_dim, 0.01, np.float32)),
    )
    task = BaodingRotateTask(BaodingParams(center_xy=(0.0, 0.0), drop_z=-1.0))
    cfg = PlannerConfig(num_samples=args.samples, horizon=args.horizon)
    state = rng.normal(0, 0.1, s_dim).astype(np.float32)
    node_backend = resolve_backend("auto")
    variants = {
        "node": SamplingPlanner(PlannerConfig(num_samples=args.samples, horizon=args.horizon, backend=node_backend), model, task, a_dim, np.random.default_rng(1)),
        "torch_loop": SamplingPlanner(cfg, model, task, a_dim, np.random.default_rng(1)),
        "torch_bmm": SamplingPlanner(PlannerConfig(num_samples=args.samples, horizon=args.horizon, backend="bmm"), model, task, a_dim, np.random.default_rng(1)),
        "numpy": SamplingPlanner(cfg, NumpyEnsemble(model), task, a_dim, np.random.default_rng(1)),
        "numpy_folded": SamplingPlanner(cfg, NumpyFoldedEnsemble(model), task, a_dim, np.random.default_rng(1)),
    }
    u = rng.uniform(-1, 1, (args.samples, args.horizon, a_dim)).astype(np.float32)
    np_model = NumpyEnsemble(model)
    rollouts: dict[str, Callable[[], Any]] = {
        "torch_loop": lambda: model.rollout(state, u, backend="loop"),
        "torch_bmm": lambda: model.rollout(state, u, backend="bmm"),
        "torch_bf16": lambda: model.rollout(state, u, backend="bf16"),
        "numpy": lambda: [np_model.predict(np.broadcast_to(state, (3, args.samples, s_dim)), u[:, t]) for t in range(args.horizon)],
    }
    steps: dict[str, list[float]] = {k: [] for k in variants}
    rolls: dict[str, list[float]] = {k: [] for k in rollouts}
    # Blocks of 5 per variant, alternating, so load on the shared machine hits every variant alike. Each
    # block starts after a pause (a thread pool left spinning by the previous variant, OpenBLAS's or
    # OpenMP's, would otherwise steal a core) and its first, warm-up step is discarded.
    block, i = 5, 0
    while min(len(v) for v in steps.values()) < args.repeats:
        for name, planner in variants.items():
            time.sleep(args.pause)
            times = [_time(lambda: planner.plan(state, i + k)) for k in range(block + 1)]
            steps[name] += times[1:]
        for name, fn in rollouts.items():
            time.sleep(args.pause)
            rolls[name] += [_time(fn) for _ in range(block + 1)][1:]
        i += block + 1
    med = {k: float(np.median(v)) for k, v in steps.items()}
    result: dict[str, Any] = {
        "step_ms_median": med["node"],
        "step_ms_p90": float(np.percentile(steps["node"], 90)),
        "node_backend": node_backend,
        "step_fp32_ms_median": med["torch_loop"],
        "numpy_step_ms_median": med["numpy"],
        "torch_bmm_step_ms_median": med["torch_bmm"],
        "numpy_folded_step_ms_median": med["numpy_folded"],
        "fastest_backend": min(med, key=med.get),
        "speedup_vs_numpy": med["numpy"] / med["node"],
        "speedup_fp32_vs_numpy": med["numpy"] / med["torch_loop"],
        "gflop_per_step": 2e-9 * 3 * args.samples * args.horizon * ((s_dim + a_dim) * 250 + 250 * 250 + 250 * s_dim),
        "torch_threads": torch.get_num_threads(),
        "numpy_threads": "BLAS default (" + str(os.cpu_count()) + " cores)",
        "repeats": args.repeats,
        "shape": {"state": s_dim, "action": a_dim, "samples": args.samples, "horizon": args.horizon, "ensemble": 3, "hidden": [250, 250]},
        "load_average_1min": os.getloadavg()[0],
    }
    for name, v in rolls.items():
        result[f"rollout_{name}_ms_median"] = float(np.median(v))
    return result
