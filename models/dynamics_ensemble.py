"""Ensemble of MLP dynamics models predicting normalized state deltas (PDDM).

Nagabandi, Konolige, Levine, Kumar, "Deep Dynamics Models for Learning Dexterous Manipulation",
CoRL 2019, Sec. 4.1 (model: ensemble of networks predicting s_{t+1} - s_t from (s_t, a_t), inputs
and outputs normalized, bootstrap-free ensemble trained on shuffled data) and the public code's
values (FACTS.md "PDDM"): 3 members, 2 hidden layers of 250 ReLU units, Adam lr 1e-3, batch 512,
40 epochs per iteration, noise-to-signal 0.01 on inputs and outputs.

The members' weights are stored stacked, shape ``(E, in, out)``, so a forward pass of all members is
one batched matmul (``torch.baddbmm``). For planning, the normalizers are folded into the first
and last layers (``planning_weights``) so a rollout step is three fused matmuls and nothing else.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from anima.controllers.config_loader import config_from_mapping
from anima.models.checkpoint import CheckpointError, load_torch, require_finite, save_torch

CHECKPOINT_FORMAT = "anima.pddm.ensemble/1"


@dataclass(frozen=True)
class EnsembleConfig:
    """Architecture and training hyperparameters (PDDM public code values as defaults)."""

    ensemble_size: int = 3
    hidden_sizes: tuple[int, ...] = (250, 250)
    learning_rate: float = 1e-3
    batch_size: int = 512
    epochs: int = 40
    noise_to_signal: float = 0.01
    min_std: float = 1e-6

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        if self.ensemble_size < 1:
            raise ValueError(f"EnsembleConfig.ensemble_size must be >= 1, got {self.ensemble_size}")
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ValueError(f"EnsembleConfig.hidden_sizes must be positive ints, got {self.hidden_sizes}")
        if not self.learning_rate > 0:
            raise ValueError(f"EnsembleConfig.learning_rate must be > 0, got {self.learning_rate}")
        if self.batch_size < 1 or self.epochs < 0:
            raise ValueError(f"EnsembleConfig.batch_size must be >= 1 and epochs >= 0, got {self.batch_size}, {self.epochs}")
        if self.noise_to_signal < 0:
            raise ValueError(f"EnsembleConfig.noise_to_signal must be >= 0, got {self.noise_to_signal}")


@dataclass
class Normalizer:
    """Per-dimension mean and std computed from data; ``std`` is floored so constants do not blow up."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, data: np.ndarray, min_std: float = 1e-6) -> "Normalizer":
        data = np.asarray(data, dtype=np.float64)
        return cls(data.mean(axis=0).astype(np.float32), np.maximum(data.std(axis=0), min_std).astype(np.float32))

    @classmethod
    def identity(cls, dim: int) -> "Normalizer":
        return cls(np.zeros(dim, np.float32), np.ones(dim, np.float32))

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        return x * self.std + self.mean


@dataclass
class Normalizers:
    """Normalizers of the model inputs (state, action) and outputs (state delta)."""

    state: Normalizer
    action: Normalizer
    delta: Normalizer

    @classmethod
    def fit(cls, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray, min_std: float = 1e-6) -> "Normalizers":
        return cls(Normalizer.fit(states, min_std), Normalizer.fit(actions, min_std), Normalizer.fit(next_states - states, min_std))


@dataclass
class PlanningWeights:
    """Stacked float32 weights with the normalizers folded in, for fast rollouts.

    ``w1``: (E, S+A, H1) (layer 1 on raw [s, a]), ``ws``: (E, S, H1), ``wa``: (A, E*H1) (action part of layer 1 for all members at once),
    ``b1``: (E, 1, H1), ``hidden``: [(w (E, Hi, Hj), b (E, 1, Hj)), ...], ``wo``: (E, H, S), ``bo``: (E, 1, S).
    Layer 1 pre-activation for member e: s @ ws[e] + a @ wa[:, e] + b1[e] equals the network applied to
    normalized inputs; s + h @ wo[e] + bo[e] equals s + denormalized delta. ``in_mean``/``in_std``
    (S+A,): the input normalizer, which the bfloat16 path (``low_precision``) applies itself.
    """

    w1: torch.Tensor
    ws: torch.Tensor
    wa: torch.Tensor
    b1: torch.Tensor
    hidden: list[tuple[torch.Tensor, torch.Tensor]]
    wo: torch.Tensor
    bo: torch.Tensor
    in_mean: torch.Tensor  # (S+A,) input normalizer, for the bfloat16 path
    in_std: torch.Tensor
    _low: "LowPrecisionWeights | None" = None

    def low_precision(self) -> "LowPrecisionWeights":
        """bfloat16 weights (made once). Layer 1 is unfolded again: it takes *normalized* inputs,
        which bfloat16 holds to about 0.4 % of a standard deviation (raw positions would lose mm)."""
        if self._low is None:
            bf = torch.bfloat16
            w1 = self.w1 * self.in_std[None, :, None]  # the network's own layer 1
            b1 = self.b1 + (self.in_mean[None, None, :] @ self.w1)
            self._low = LowPrecisionWeights(w1.to(bf), b1.to(bf), [(w.to(bf), b.to(bf)) for w, b in self.hidden], self.wo.to(bf), self.bo.to(bf))
        return self._low


@dataclass
class LowPrecisionWeights:
    w1: torch.Tensor
    b1: torch.Tensor
    hidden: list[tuple[torch.Tensor, torch.Tensor]]
    wo: torch.Tensor
    bo: torch.Tensor


BACKENDS = ("loop", "bmm", "bf16", "auto")


@functools.lru_cache(maxsize=4)
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True where the CPU flags list bfloat16 dot products (AVX512_BF16 or AMX_BF16); read once."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_backend(backend: str) -> str:
    """Check a rollout backend name; "auto" becomes "bf16" on CPUs with native bfloat16, else "loop"."""
    if backend not in BACKENDS:
        raise ValueError(f"rollout backend must be one of {list(BACKENDS)}, got {backend!r}")
    if backend == "auto":
        return "bf16" if cpu_has_native_bf16() else "loop"
    return backend


class DynamicsEnsemble:
    """E MLPs f_e(norm(s), norm(a)) -> norm(s' - s); ``predict`` returns s' for every member."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        config: EnsembleConfig = EnsembleConfig(),
        joint_names: Sequence[str] = (),
        generator: torch.Generator | None = None,
    ) -> None:
        if state_dim < 1 or action_dim < 1:
            raise ValueError(f"state_dim and action_dim must be >= 1, got {state_dim}, {action_dim}")
        self.state_dim, self.action_dim, self.config = int(state_dim), int(action_dim), config
        self.joint_names = tuple(joint_names)
        self.normalizers = Normalizers(Normalizer.identity(state_dim), Normalizer.identity(action_dim), Normalizer.identity(state_dim))
        self.params = self._init_params(generator)
        self._planning: PlanningWeights | None = None

    def _init_params(self, generator: torch.Generator | None) -> list[torch.Tensor]:
        """He-uniform weights, zero biases; weights (E, in, out), biases (E, 1, out)."""
        sizes = [self.state_dim + self.action_dim, *self.config.hidden_sizes, self.state_dim]
        params: list[torch.Tensor] = []
        e = self.config.ensemble_size
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            w = (torch.rand(e, fan_in, fan_out, generator=generator) * 2 - 1) * bound
            params += [w.requires_grad_(), torch.zeros(e, 1, fan_out, requires_grad=True)]
        return params

    @property
    def ensemble_size(self) -> int:
        return self.config.ensemble_size

    # ----------------------------------------------------------------- network
    def forward_normalized(self, x: torch.Tensor) -> torch.Tensor:
        """x: (E, B, S+A) normalized inputs -> (E, B, S) normalized deltas."""
        n_layers = len(self.params) // 2
        h = x
        for i in range(n_layers):
            h = torch.baddbmm(self.params[2 * i + 1], h, self.params[2 * i])
            if i < n_layers - 1:
                h = torch.relu(h)
        return h

    # ---------------------------------------------------------------- training
    def fit(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        next_states: np.ndarray,
        rng: np.random.Generator,
        epochs: int | None = None,
        on_epoch: Callable[[int, float], None] | None = None,
        num_threads: int = 1,
    ) -> list[float]:
        """Refit the normalizers, then train all members (Adam, minibatches of ``batch_size``).

        Each member sees its own shuffle of the data; Gaussian noise of ``noise_to_signal`` times the
        per-dimension std (i.e. 0.01 in normalized units) is added to inputs and targets. Returns the
        mean training loss per epoch. Training runs on ``num_threads`` torch threads (restored after):
        with batch 512 and 250-unit layers one thread was faster than two on the shared 2-core machine.
        """
        previous = torch.get_num_threads()
        torch.set_num_threads(num_threads)
        try:
            return self._fit(states, actions, next_states, rng, epochs, on_epoch)
        finally:
            torch.set_num_threads(previous)

    def _fit(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        next_states: np.ndarray,
        rng: np.random.Generator,
        epochs: int | None,
        on_epoch: Callable[[int, float], None] | None,
    ) -> list[float]:
        states, actions, next_states = _check_transitions(states, actions, next_states, self.state_dim, self.action_dim)
        cfg = self.config
        self.normalizers = Normalizers.fit(states, actions, next_states, cfg.min_std)
        x = np.concatenate([self.normalizers.state.normalize(states), self.normalizers.action.normalize(actions)], axis=1)
        y = self.normalizers.delta.normalize(next_states - states)
        xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        opt = torch.optim.Adam(self.params, lr=cfg.learning_rate)
        n, e = len(xt), cfg.ensemble_size
        losses = []
        for epoch in range(cfg.epochs if epochs is None else epochs):
            perms = torch.as_tensor(np.stack([rng.permutation(n) for _ in range(e)]))
            total, count = 0.0, 0
            for start in range(0, n, cfg.batch_size):
                idx = perms[:, start : start + cfg.batch_size]
                xb, yb = xt[idx], yt[idx]
                if cfg.noise_to_signal > 0:
                    xb = xb + cfg.noise_to_signal * torch.as_tensor(rng.standard_normal(xb.shape, dtype=np.float32))
                    yb = yb + cfg.noise_to_signal * torch.as_tensor(rng.standard_normal(yb.shape, dtype=np.float32))
                loss = ((self.forward_normalized(xb) - yb) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, count = total + float(loss.detach()) * idx.shape[1], count + idx.shape[1]
            losses.append(total / max(count, 1))
            if on_epoch is not None:
                on_epoch(epoch, losses[-1])
        self._planning = None
        return losses

    # --------------------------------------------------------------- inference
    def planning_weights(self) -> PlanningWeights:
        """Weights with normalizers folded in (cached until the next ``fit``/``load``)."""
        if self._planning is None:
            self._planning = _fold(self)
        return self._planning

    @torch.inference_mode()
    def predict(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Next states for every member.

        states: (N, S) (same start for all members) or (E, N, S); actions: (N, A) -> (E, N, S) float32.
        """
        pw = self.planning_weights()
        s = torch.as_tensor(np.ascontiguousarray(states, dtype=np.float32))
        a = torch.as_tensor(np.ascontiguousarray(actions, dtype=np.float32))
        if s.ndim == 2:
            s = s.unsqueeze(0).expand(self.ensemble_size, -1, -1)
        if s.shape[-1] != self.state_dim or a.shape[-1] != self.action_dim or s.shape[1] != a.shape[0]:
            raise ValueError(f"predict: states {tuple(s.shape)} and actions {tuple(a.shape)} do not match S={self.state_dim}, A={self.action_dim}")
        return rollout_step(pw, s.contiguous(), a @ pw.wa).numpy()

    @torch.inference_mode()
    def rollout(self, state: np.ndarray, actions: np.ndarray, backend: str = "loop") -> np.ndarray:
        """Open-loop rollouts of every member from one start state.

        state: (S,); actions: (N, H, A) -> predicted states (H, E, N, S) float32 (step h holds s_{h+1}).
        Normalizers are folded into the weights, and each step is three matmuls per member into
        preallocated buffers (no per-step allocation).
        ``backend``: "loop" (float32, one ``addmm`` per member; the fastest float32 one on the 2-core
        CPU, see ``anima bench planner``), "bmm" (float32, one ``baddbmm`` for all members), "bf16"
        (normalization and the state update in float32, the three layers as bfloat16 ``bmm`` with
        float32 accumulation; about 1.9x faster where the CPU has bfloat16 dot products) or "auto"
        ("bf16" where the CPU has native bfloat16 dot products, else "loop").
        """
        backend = resolve_backend(backend)
        pw = self.planning_weights()
        a = torch.as_tensor(np.ascontiguousarray(actions, dtype=np.float32))
        if a.ndim != 3 or a.shape[-1] != self.action_dim:
            raise ValueError(f"rollout: actions must be (N, H, {self.action_dim}), got {tuple(a.shape)}")
        n, h_len, _ = a.shape
        sd = self.state_dim
        buf = self._buffers(n, h_len)
        x, out = buf["x"], buf["states"]  # x: (E, N, S+A) model input in raw units
        x[:, :, :sd] = torch.as_tensor(np.asarray(state, dtype=np.float32))
        step = {"loop": _step_loop, "bmm": _step_bmm, "bf16": _step_bf16}[backend]
        for t in range(h_len):
            x[:, :, sd:] = a[:, t]
            step(pw, buf, x, out[t])
            x[:, :, :sd] = out[t]
        return out.numpy()

    def _buffers(self, n: int, h_len: int) -> dict[str, torch.Tensor]:
        key = (n, h_len)
        if getattr(self, "_buf_key", None) != key:
            e, sizes = self.ensemble_size, self.config.hidden_sizes
            self._buf = {
                "x": torch.empty(e, n, self.state_dim + self.action_dim),
                "xn": torch.empty(e, n, self.state_dim + self.action_dim),
                "states": torch.empty(h_len, e, n, self.state_dim),
                **{f"h{i + 1}": torch.empty(e, n, size) for i, size in enumerate(sizes)},
            }
            self._buf_key = key
        return self._buf

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        """Save weights, normalizers, config, dimensions and joint names in one file, atomically.

        Everything is plain data (tensors, numbers, strings, lists, dicts), so :meth:`load` reads it
        with ``torch.load(weights_only=True)``; ``extra`` must be plain data too.
        """
        norms = {k: {"mean": torch.as_tensor(v.mean), "std": torch.as_tensor(v.std)} for k, v in vars(self.normalizers).items()}
        save_torch(
            {
                "format": CHECKPOINT_FORMAT,
                "state_dim": self.state_dim,
                "action_dim": self.action_dim,
                "joint_names": list(self.joint_names),
                "config": asdict(self.config),
                "normalizers": norms,
                "params": [p.detach().clone() for p in self.params],
                "extra": extra or {},
            },
            Path(path),
        )

    @classmethod
    def load(
        cls,
        path: str | Path,
        state_dim: int | None = None,
        action_dim: int | None = None,
        joint_names: Sequence[str] | None = None,
    ) -> "DynamicsEnsemble":
        """Load a checkpoint as data (``weights_only``); refuse it (a one-line ``CheckpointError``, a
        ValueError, naming the file) if it is unreadable, holds code, has non-finite weights or does
        not match the robot."""
        data = load_torch(path, "PDDM ensemble checkpoint", allow_numpy=True)  # numpy: checkpoints before tensors
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path}: not a PDDM ensemble checkpoint (format {data.get('format') if isinstance(data, dict) else type(data).__name__!r})")
        try:
            problems = _mismatches(data, state_dim, action_dim, joint_names)
            config = config_from_mapping(EnsembleConfig, data["config"], f"{path}: config")
            norms = {k: Normalizer(np.asarray(v["mean"], np.float32), np.asarray(v["std"], np.float32)) for k, v in data["normalizers"].items()}
            params = list(data["params"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"{path}: PDDM ensemble checkpoint is missing or mangles {exc}") from None
        if problems:
            raise CheckpointError(f"{path}: checkpoint does not match the robot: " + "; ".join(problems))
        require_finite(path, {**{f"params[{i}]": p for i, p in enumerate(params)},
                              **{f"normalizers.{k}.{f}": getattr(n, f) for k, n in norms.items() for f in ("mean", "std")}})
        model = cls(data["state_dim"], data["action_dim"], config, data["joint_names"])
        try:
            model.normalizers = Normalizers(**norms)
            with torch.no_grad():
                if len(params) != len(model.params):
                    raise ValueError(f"{len(params)} weight tensors, {len(model.params)} expected")
                for p, q in zip(model.params, params):
                    if tuple(p.shape) != tuple(q.shape):
                        raise ValueError(f"weight shape {tuple(q.shape)}, {tuple(p.shape)} expected")
                    p.copy_(q)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: PDDM ensemble checkpoint does not fit its own config: {exc}") from None
        model.extra = data.get("extra", {})
        return model


def _mismatches(data: dict, state_dim: int | None, action_dim: int | None, joint_names: Sequence[str] | None) -> list[str]:
    problems = []
    if state_dim is not None and data["state_dim"] != state_dim:
        problems.append(f"state_dim is {data['state_dim']} in the checkpoint, {state_dim} expected")
    if action_dim is not None and data["action_dim"] != action_dim:
        problems.append(f"action_dim is {data['action_dim']} in the checkpoint, {action_dim} expected")
    if joint_names is not None and list(data["joint_names"]) != list(joint_names):
        saved, want = list(data["joint_names"]), list(joint_names)
        missing = [j for j in want if j not in saved]
        unexpected = [j for j in saved if j not in want]
        detail = f"missing {missing}, unexpected {unexpected}" if missing or unexpected else "same names in a different order"
        problems.append(f"joint_names differ ({detail})")
    return problems


def _check_transitions(s: np.ndarray, a: np.ndarray, s2: np.ndarray, sd: int, ad: int) -> tuple[np.ndarray, ...]:
    s, a, s2 = (np.asarray(v, dtype=np.float32) for v in (s, a, s2))
    if s.ndim != 2 or s.shape[1] != sd or s2.shape != s.shape:
        raise ValueError(f"states/next_states must be (N, {sd}), got {s.shape} and {s2.shape}")
    if a.shape != (len(s), ad):
        raise ValueError(f"actions must be ({len(s)}, {ad}), got {a.shape}")
    for name, v in (("states", s), ("actions", a), ("next_states", s2)):
        bad = np.flatnonzero(~np.isfinite(v).all(axis=1))
        if bad.size:
            raise ValueError(f"{name} has non-finite values in row {int(bad[0])} ({bad.size} rows)")
    if len(s) == 0:
        raise ValueError("no transitions to fit")
    return s, a, s2


@torch.no_grad()
def _fold(model: DynamicsEnsemble) -> PlanningWeights:
    """Fold input normalization into layer 1 and output denormalization into the last layer."""
    nz = model.normalizers
    p = [t.detach().float() for t in model.params]
    sd, e = model.state_dim, model.ensemble_size
    in_mean = torch.as_tensor(np.concatenate([nz.state.mean, nz.action.mean]))
    in_std = torch.as_tensor(np.concatenate([nz.state.std, nz.action.std]))
    w1 = p[0] / in_std[None, :, None]  # (E, S+A, H1)
    b1 = p[1] - (in_mean / in_std)[None, None, :] @ p[0]  # (E, 1, H1)
    d_mean, d_std = torch.as_tensor(nz.delta.mean), torch.as_tensor(nz.delta.std)
    wo = p[-2] * d_std[None, None, :]
    bo = p[-1] * d_std + d_mean
    wa = w1[:, sd:, :].permute(1, 0, 2).reshape(model.action_dim, -1).contiguous()  # (A, E*H1)
    hidden = [(p[i].contiguous(), p[i + 1].contiguous()) for i in range(2, len(p) - 2, 2)]
    return PlanningWeights(w1.contiguous(), w1[:, :sd, :].contiguous(), wa, b1.contiguous(), hidden, wo.contiguous(), bo.contiguous(), in_mean.float(), in_std.float())


def _step_bf16(pw: PlanningWeights, buf: dict[str, torch.Tensor], x: torch.Tensor, out: torch.Tensor) -> None:
    """One step in bfloat16 matmuls (float32 accumulation) on normalized inputs.

    Normalization and the state update s' = s + delta stay float32; only the delta carries bfloat16
    rounding (about 0.4 % of its size), far below the models' own one-step error.
    """
    low = pw.low_precision()
    xn = torch.sub(x, pw.in_mean, out=buf["xn"]).div_(pw.in_std).to(torch.bfloat16)
    h = torch.relu_(torch.baddbmm(low.b1, xn, low.w1))
    for w, b in low.hidden:
        h = torch.relu_(torch.baddbmm(b, h, w))
    torch.add(x[:, :, : out.shape[-1]], torch.baddbmm(low.bo, h, low.wo), out=out)


def _step_bmm(pw: PlanningWeights, buf: dict[str, torch.Tensor], x: torch.Tensor, out: torch.Tensor) -> None:
    """One step, all members in one ``baddbmm`` per layer: x = [s, a] (E, N, S+A) -> s' in out (E, N, S)."""
    h = torch.relu_(torch.baddbmm(pw.b1, x, pw.w1, out=buf["h1"]))
    for i, (w, b) in enumerate(pw.hidden):
        h = torch.relu_(torch.baddbmm(b, h, w, out=buf[f"h{i + 2}"]))
    torch.baddbmm(pw.bo, h, pw.wo, out=out).add_(x[:, :, : out.shape[-1]])


def _step_loop(pw: PlanningWeights, buf: dict[str, torch.Tensor], x: torch.Tensor, out: torch.Tensor) -> None:
    """One step, one ``addmm`` per member and layer (contiguous (N, H) slices of the buffers)."""
    sd = out.shape[-1]
    for e in range(x.shape[0]):
        h = torch.relu_(torch.addmm(pw.b1[e], x[e], pw.w1[e], out=buf["h1"][e]))
        for i, (w, b) in enumerate(pw.hidden):
            h = torch.relu_(torch.addmm(b[e], h, w[e], out=buf[f"h{i + 2}"][e]))
        torch.addmm(pw.bo[e], h, pw.wo[e], out=out[e]).add_(x[e, :, :sd])


def rollout_step(pw: PlanningWeights, s: torch.Tensor, a_pre: torch.Tensor) -> torch.Tensor:
    """One model step for all members: s (E, N, S), a_pre = a @ pw.wa (N, E*H1) -> s' (E, N, S)."""
    e, n, _ = s.shape
    h = a_pre.view(n, e, -1).transpose(0, 1) + pw.b1
    h = torch.relu_(torch.baddbmm(h, s, pw.ws))
    for w, b in pw.hidden:
        h = torch.relu_(torch.baddbmm(b, h, w))
    return torch.baddbmm(pw.bo, h, pw.wo).add_(s)


__all__ = ["BACKENDS", "cpu_has_native_bf16", "resolve_backend", "EnsembleConfig", "Normalizer", "Normalizers", "PlanningWeights", "DynamicsEnsemble", "rollout_step", "CHECKPOINT_FORMAT"]
