"""The deployable SOLAR controller: an image encoder plus a time-varying linear-Gaussian policy.

What ``anima train solar`` ships, what ``anima eval solar`` and the ``solar_planner`` node run.
At each control step t (counted from the episode start, one step per ``control_dt_s``) the node
encodes the camera frame to the latent mean z_t and applies ``u_t = K_t z_t + k_t`` (LQR-FLM's
policy, Zhang, Vikram et al., ICML 2019, Sec. 4; ``controllers/lqr_flm.py``), clipped to the action box.

File format (``torch.save`` of plain data; read with ``torch.load(weights_only=True)``: a file is
data, never code)::

    {"format": "anima.solar.policy/1",
     "spec": {"format": "anima.solar.policy/1", "task": "reacher", "latent_dim": 10, "image_size": 64,
              "image_encoding": "rgb8", "control_dt_s": 0.05, "horizon": 50,
              "action_kind": "joint_torque" | "ee_delta", "action_dim": 2,
              "action_low": [-1, -1], "action_high": [1, 1], "torque_limit_nm": 0.1,
              "state": {"kind": "latent" | "latent_history", "diff_scale": 20.0,
                        "projection": {"mean": [dz floats], "basis": [k rows of dz floats]}},  # optional
              "encoder": "conv" | "spatial_softmax"},
     "encoder": <the encoder's state_dict>,
     "K": (T, action_dim, state_dim) float32, "k": (T, action_dim), "cov": (T, action_dim, action_dim),
     "lds": {"A": (T, dz, dz), "B": (T, dz, du), "a": (T, dz), "logvar": (T, dz)},   # state kind "filtered" only
     "provenance": {...}}

Actions: ``joint_torque`` (reacher) are normalized torques in [-1, 1], one unit = ``torque_limit_nm``
(the ``max_torque`` of the arm the policy was trained on; ``load`` gives a file written before the key,
2026-12-05, the arm its provenance's ``env_kwargs`` recorded, else the 0.02 N m arm of those runs,
:data:`LEGACY_REACHER_TORQUE_NM`); ``ee_delta`` (Sawyer) are the
Sawyer env's end-effector moves (``sim_bridge/envs/sawyer.py``).

Use::

    policy = SolarPolicy.load("reacher.pt", expect_task="reacher", expect_latent_dim=10)
    track = policy.tracker()          # per episode: track.reset() at its start
    z, lv = policy.encode_potential(image)  # (64, 64, 3) uint8 RGB -> latent mean and log-variance (10,) each
    u = policy.act(t, track.state(z, lv))   # (action_dim,) float32, t = steps since the episode start
    track.applied(u)                  # the action that acts over the coming period

The controller's state (``models/solar/state.py``): ``latent`` is z_t itself (state_dim = latent_dim;
files without a ``state`` entry); ``latent_history`` is [z_t, diff_scale (z_t - z_{t-1}), u_{t-1}]
(state_dim = 2 latent_dim + action_dim); ``filtered`` is the Kalman-filtered latent mean under the file's
``lds`` (state_dim = latent_dim), the encoder's log-variance weighing each frame. With a ``projection`` (kinds ``latent`` and
``latent_history``), the latent enters the state as its k leading principal components, and ``latent_dim`` above reads k.

The spec's ``encoder`` names the encoder's architecture (``networks.ENCODERS``; files without it, written
before 2026-12-06, are the paper's ``conv``).

``load`` refuses (``CheckpointError``, a ValueError naming the file) a file of another format,
another task or latent size (saying which differs), or with NaN/inf weights or gains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from anima.models.checkpoint import CheckpointError, load_torch, require_finite, save_torch
from anima.models.solar.lds import LdsParams
from anima.models.solar.networks import ENCODERS, make_encoder
from anima.models.solar.state import Projection, StateSpec, StateTracker

__all__ = ["ACTION_KINDS", "DATA_DIR", "FORMAT", "LEGACY_REACHER_TORQUE_NM", "SolarPolicy", "make_spec",
           "policy_env_kwargs", "shipped_policy_path", "state_spec_of", "torque_limit_of"]

FORMAT = "anima.solar.policy/1"
ACTION_KINDS = ("joint_torque", "ee_delta")
DATA_DIR = Path(__file__).resolve().parent / "data"
LEGACY_REACHER_TORQUE_NM = 0.02  # the reacher arm of every joint_torque file without torque_limit_nm (before 2026-12-05)


def shipped_policy_path(task: str) -> Path:
    """``models/solar/data/<task>.pt`` (installed as package data)."""
    return DATA_DIR / f"{task}.pt"


def make_spec(task: str, latent_dim: int, horizon: int, control_dt_s: float, action_kind: str,
              action_low: list[float] | np.ndarray, action_high: list[float] | np.ndarray, image_size: int = 64,
              state: dict[str, Any] | None = None, torque_limit_nm: float | None = None,
              encoder: str = "conv") -> dict[str, Any]:
    """A validated spec dict (see the module docstring); ``state`` defaults to the single-frame latent.

    ``torque_limit_nm`` (N m per action unit) is required for ``joint_torque`` actions and refused for others."""
    low, high = [float(v) for v in np.ravel(action_low)], [float(v) for v in np.ravel(action_high)]
    spec = {"format": FORMAT, "task": str(task), "latent_dim": int(latent_dim), "image_size": int(image_size),
            "image_encoding": "rgb8", "control_dt_s": float(control_dt_s), "horizon": int(horizon),
            "action_kind": str(action_kind), "action_dim": len(low), "action_low": low, "action_high": high,
            "state": dict(state) if state is not None else {"kind": "latent", "diff_scale": 1.0}, "encoder": str(encoder)}
    if (torque_limit_nm is None) == (action_kind == "joint_torque"):
        raise ValueError(f"spec: torque_limit_nm (N m per action unit) is required for joint_torque actions and only for "
                         f"them; action_kind {action_kind!r}, torque_limit_nm {torque_limit_nm!r}")
    if torque_limit_nm is not None:
        spec["torque_limit_nm"] = float(torque_limit_nm)
    _check_spec(spec, "spec")
    return spec


def policy_env_kwargs(policy: "SolarPolicy") -> dict[str, Any]:
    """The env_kwargs of the task env the policy was trained on (its provenance), the reacher's arm from the spec."""
    kwargs = dict(policy.provenance.get("env_kwargs") or {})
    if policy.spec["action_kind"] == "joint_torque":
        kwargs["reacher"] = {**dict(kwargs.get("reacher") or {}), "max_torque": torque_limit_of(policy.spec)}
    return kwargs


def torque_limit_of(spec: dict[str, Any]) -> float:
    """N m per action unit of a ``joint_torque`` spec (:data:`LEGACY_REACHER_TORQUE_NM` for files without the key)."""
    if spec.get("action_kind") != "joint_torque":
        raise ValueError(f"spec: action_kind {spec.get('action_kind')!r} has no torque limit (joint_torque only)")
    return float(spec.get("torque_limit_nm", LEGACY_REACHER_TORQUE_NM))


def state_spec_of(spec: dict[str, Any]) -> StateSpec:
    """The controller state a spec names; a spec without ``state`` (files before it) is the single-frame latent."""
    state = spec.get("state") or {"kind": "latent", "diff_scale": 1.0}
    if not isinstance(state, dict):
        raise ValueError(f"spec 'state' must be a mapping with kind and diff_scale, got {state!r}")
    projection = Projection.from_dict(state["projection"]) if state.get("projection") is not None else None
    return StateSpec(str(state.get("kind")), int(spec["latent_dim"]), int(spec["action_dim"]), float(state.get("diff_scale", 1.0)),
                     projection)


def _with_recorded_torque(spec: dict[str, Any], provenance: Any) -> dict[str, Any]:
    """A joint_torque spec of a file written before ``torque_limit_nm``: the arm its training recorded
    (provenance ``env_kwargs.reacher.max_torque``), else :data:`LEGACY_REACHER_TORQUE_NM` (the arm of those runs)."""
    if spec.get("action_kind") != "joint_torque" or "torque_limit_nm" in spec:
        return spec
    env_kwargs = provenance.get("env_kwargs") if isinstance(provenance, dict) else None
    reacher = env_kwargs.get("reacher") if isinstance(env_kwargs, dict) else None
    recorded = reacher.get("max_torque") if isinstance(reacher, dict) else None
    return {**spec, "torque_limit_nm": LEGACY_REACHER_TORQUE_NM if recorded is None else recorded}


def _check_spec(spec: dict[str, Any], where: str) -> None:
    if spec.get("action_kind") not in ACTION_KINDS:
        raise ValueError(f"{where}: action_kind must be one of {ACTION_KINDS}, got {spec.get('action_kind')!r}")
    if spec["latent_dim"] < 1 or spec["horizon"] < 1 or spec["control_dt_s"] <= 0 or spec["image_size"] % 8:
        raise ValueError(f"{where}: latent_dim and horizon must be >= 1, control_dt_s > 0, image_size a multiple of 8; got {spec}")
    if len(spec["action_low"]) != len(spec["action_high"]) or not all(lo < hi for lo, hi in zip(spec["action_low"], spec["action_high"])):
        raise ValueError(f"{where}: action_low must be below action_high elementwise, got {spec['action_low']}, {spec['action_high']}")
    if spec.get("encoder", "conv") not in ENCODERS:
        raise ValueError(f"{where}: encoder must be one of {tuple(ENCODERS)}, got {spec.get('encoder')!r}")
    if "torque_limit_nm" in spec:
        tau = spec["torque_limit_nm"]
        if (spec["action_kind"] != "joint_torque" or isinstance(tau, bool) or not isinstance(tau, (int, float))
                or not np.isfinite(tau) or tau <= 0):
            raise ValueError(f"{where}: torque_limit_nm must be a finite value > 0 (N m) of a joint_torque spec, got {tau!r} "
                             f"for action_kind {spec['action_kind']!r}")
    try:
        state_spec_of(spec)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None


class SolarPolicy:
    """Encoder + gains K (T, du, dz), k (T, du), covariance cov (T, du, du); CPU, float32."""

    def __init__(self, spec: dict[str, Any], encoder: torch.nn.Module, K: np.ndarray, k: np.ndarray, cov: np.ndarray,
                 provenance: dict[str, Any] | None = None, lds: LdsParams | None = None) -> None:
        _check_spec(spec, "SolarPolicy")
        self.state_spec = state_spec_of(spec)
        if (self.state_spec.kind == "filtered") != (lds is not None):
            raise ValueError(f"SolarPolicy: latent dynamics (lds) are part of a policy of state kind 'filtered' and only of it; "
                             f"kind {self.state_spec.kind!r}, lds {'given' if lds is not None else 'missing'}")
        if lds is not None and (lds.horizon, lds.latent_dim, lds.action_dim) != (spec["horizon"], spec["latent_dim"], spec["action_dim"]):
            raise ValueError(f"SolarPolicy: lds is horizon {lds.horizon} / latent {lds.latent_dim} / action {lds.action_dim}, spec says "
                             f"{spec['horizon']} / {spec['latent_dim']} / {spec['action_dim']}")
        self.lds = lds
        t, du, dz, dx = spec["horizon"], spec["action_dim"], spec["latent_dim"], self.state_spec.dim
        K, k, cov = (np.asarray(a, dtype=np.float64) for a in (K, k, cov))
        if K.shape != (t, du, dx) or k.shape != (t, du) or cov.shape != (t, du, du):
            raise ValueError(f"SolarPolicy: gains must be K {(t, du, dx)}, k {(t, du)}, cov {(t, du, du)} "
                             f"(state {self.state_spec.kind}); got {K.shape}, {k.shape}, {cov.shape}")
        if encoder.latent_dim != dz or encoder.image_size != spec["image_size"]:
            raise ValueError(f"SolarPolicy: encoder is latent {encoder.latent_dim} / image {encoder.image_size}, spec says {dz} / {spec['image_size']}")
        kind = spec.get("encoder", "conv")
        if type(encoder) is not ENCODERS[kind]:
            raise ValueError(f"SolarPolicy: encoder is a {type(encoder).__name__}, spec says {kind!r} ({ENCODERS[kind].__name__})")
        self.spec = dict(spec)
        self.encoder = encoder.eval()
        self.K, self.k, self.cov = K, k, cov
        self._chol = np.linalg.cholesky(cov + 1e-12 * np.eye(du))
        self.low, self.high = np.asarray(spec["action_low"]), np.asarray(spec["action_high"])
        self.provenance = dict(provenance or {})

    @property
    def horizon(self) -> int:
        return int(self.spec["horizon"])

    def check_image(self, image: np.ndarray) -> np.ndarray:
        """The image if it is (S, S, 3) uint8 RGB; else ValueError naming what it got."""
        s = self.spec["image_size"]
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.shape != (s, s, 3):
            raise ValueError(f"SOLAR policy for {self.spec['task']!r} takes a ({s}, {s}, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        return image

    @torch.no_grad()
    def encode(self, image: np.ndarray) -> np.ndarray:
        """(S, S, 3) uint8 -> latent mean (latent_dim,) float32."""
        return self.encode_potential(image)[0]

    @torch.no_grad()
    def encode_potential(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(S, S, 3) uint8 -> latent mean and log-variance (latent_dim,) float32 each (what ``tracker().state`` takes)."""
        x = torch.from_numpy(np.ascontiguousarray(self.check_image(image)))[None]
        mean, logvar = self.encoder(x)
        return mean[0].numpy().astype(np.float32), logvar[0].numpy().astype(np.float32)

    def tracker(self) -> StateTracker:
        """A fresh per-episode state builder (``models/solar/state.py``): ``reset()``, ``state(z, logvar)``, ``applied(u)``."""
        return StateTracker(self.state_spec, self.lds)

    def actor(self, *, explore: bool = False, rng: np.random.Generator | None = None):
        """``act(t, image) -> u`` for whole episodes in order (t = 0 starts one): encode, state, act, as the node does."""
        track = self.tracker()

        def act(t: int, image: np.ndarray) -> np.ndarray:
            if int(t) == 0:
                track.reset()
            u = self.act(t, track.state(*self.encode_potential(image)), explore=explore, rng=rng)
            track.applied(u)
            return u

        return act

    def act(self, t: int, x: np.ndarray, *, explore: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        """u_t = K_t x + k_t (+ N(0, cov_t) if ``explore``), clipped to the action box; t >= T holds step T-1.

        ``x`` is the controller state of ``tracker().state(z)`` (for state kind ``latent``, z itself)."""
        if int(t) < 0:
            raise ValueError(f"SolarPolicy.act: t must be >= 0 (steps since the episode start), got {t}")
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.state_spec.dim,) or not np.isfinite(x).all():
            raise ValueError(f"SolarPolicy.act: the state must be {self.state_spec.dim} finite values "
                             f"(kind {self.state_spec.kind}), got shape {x.shape}")
        i = min(int(t), self.horizon - 1)
        u = self.K[i] @ x + self.k[i]
        if explore:
            rng = rng if rng is not None else np.random.default_rng()
            u = u + self._chol[i] @ rng.standard_normal(u.shape[0])
        return np.clip(u, self.low, self.high).astype(np.float32)

    def save(self, path: str | Path) -> None:
        """Write the policy file atomically (``models/checkpoint.py``)."""
        save_torch({"format": FORMAT, "spec": self.spec, "encoder": self.encoder.state_dict(),
                    "K": torch.as_tensor(self.K, dtype=torch.float32), "k": torch.as_tensor(self.k, dtype=torch.float32),
                    "cov": torch.as_tensor(self.cov, dtype=torch.float32), "provenance": self.provenance,
                    **({"lds": self.lds.to_tensors()} if self.lds is not None else {})}, path)

    @classmethod
    def load(cls, path: str | Path, *, expect_task: str | None = None, expect_latent_dim: int | None = None) -> "SolarPolicy":
        """Read a policy file (weights only); CheckpointError naming ``path`` and what differs when unusable."""
        data = load_torch(path, "SOLAR policy")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise CheckpointError(f"{path}: not a SOLAR policy file (format {got!r}, expected {FORMAT!r})")
        spec = data.get("spec")
        if not isinstance(spec, dict):
            raise CheckpointError(f"{path}: SOLAR policy file has no spec")
        differs = []
        if expect_task is not None and spec.get("task") != expect_task:
            differs.append(f"task is {spec.get('task')!r}, expected {expect_task!r}")
        if expect_latent_dim is not None and spec.get("latent_dim") != expect_latent_dim:
            differs.append(f"latent_dim is {spec.get('latent_dim')!r}, expected {expect_latent_dim!r}")
        if differs:
            raise CheckpointError(f"{path}: refused: SOLAR policy for another setup: {'; '.join(differs)}")
        try:
            lds_data = data.get("lds")
            if lds_data is not None and not isinstance(lds_data, dict):
                raise CheckpointError(f"{path}: SOLAR policy 'lds' must be a mapping of A, B, a, logvar, got {type(lds_data).__name__}")
            require_finite(path, {"K": data["K"], "k": data["k"], "cov": data["cov"],
                                  **{f"encoder.{n}": v for n, v in data["encoder"].items()},
                                  **{f"lds.{n}": v for n, v in (lds_data or {}).items()}})
            lds = None if lds_data is None else LdsParams(*(lds_data[k].double().numpy() for k in ("A", "B", "a", "logvar")))
            encoder = make_encoder(spec.get("encoder", "conv"), int(spec["latent_dim"]), int(spec["image_size"]))
            encoder.load_state_dict(data["encoder"])
            provenance = data.get("provenance")
            return cls(_with_recorded_torque(spec, provenance), encoder, data["K"].numpy(), data["k"].numpy(),
                       data["cov"].numpy(), provenance, lds=lds)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, np.linalg.LinAlgError) as exc:
            raise CheckpointError(f"{path}: SOLAR policy file is incomplete or inconsistent: {type(exc).__name__}: "
                                  f"{' '.join(str(exc).split())[:200]}") from None
