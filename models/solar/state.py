"""The controller's state built from latents: what LQR-FLM's linear-Gaussian policy acts on.

SOLAR's structured inference gives each step a latent inferred from the episode's frames through
the linear dynamical system; a latent encoded from one frame (the encoder mean, as here) holds the
arm's position but not its velocity, and a linear controller on a non-Markov state cannot stop at
the target (BENCHMARKS.md, "SOLAR reacher"). Two state kinds:

* ``latent`` (the default, the paper's): x_t = z_t (also a policy file without a ``state`` entry).
* ``latent_history``: x_t = [z_t, s (z_t - z_{t-1}), u_{t-1}], the latent, its change over the last
  control period scaled by ``diff_scale`` (1 / control_dt: a latent velocity), and the action applied
  over that period. For a second-order system under a zero-order-hold action, the last two positions
  and the last action determine the velocity, so the state is Markov where the latent is. At step 0,
  z_{-1} = z_0 and u_{-1} = 0 (episodes start at rest).

Measured on the planar reacher with true quantities in place of the latent (the same LQR-FLM, BLDS
prior and cost fit, 100 random + 9 x 40 episodes; a scratch check, BENCHMARKS.md "SOLAR"):
fingertip position alone 0/50 successes; position + true joint velocities 50/50; position +
finite-difference joint velocity 0/50, and with the last action as well 50/50; position + its own
finite difference + the last action 0/50 (3-5 cm short). With the learned latent (a 5-epoch VAE,
seed 2, 380 episodes) ``latent_history`` reached 0/20 as well (BENCHMARKS.md), so it stays an option
and ``latent`` the default.

* ``filtered``: x_t is the Kalman-filtered latent mean of the frames so far under the VAE's LDS prior (the
  encoder's output as a potential, ``lds.py``): with a VAE trained by structured inference
  (``vae.inference: smooth``), the latent holds what the dynamics infer across frames, a velocity among it.
  The policy file carries the LDS (``SolarPolicy``); x_t has the latent's size.

Either of the first two kinds may act on the latent *projected onto its leading principal components*
(:class:`Projection`, ``latent_components`` in the training config; not in the paper): x_t is built from
P^T (z_t - m) instead of z_t, with m and P (dz, k) the mean and the k leading principal directions of the
pretraining episodes' latents, fixed from then on. Unsupervised, from images only. A latent whose variance
lies in a few directions (the feature points of ``vae.encoder: spatial_softmax`` are near-linear images of
the fingertip) then gives LQR-FLM a k-dimensional state: its time-varying dynamics are fitted from 40
episodes per step in 2k + du dimensions instead of 2 dz + du (BENCHMARKS.md, eleventh session).

The cost is a function of the latent part only (:func:`embed_cost`): the reward depends on where
the arm is, and a fit on the velocity and action parts would only add noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anima.models.solar.cost import QuadraticCost
from anima.models.solar.lds import LdsFilter, LdsParams

__all__ = ["STATE_KINDS", "Projection", "StateSpec", "StateTracker", "embed_cost", "episode_states", "principal_projection"]

STATE_KINDS = ("latent", "latent_history", "filtered")


@dataclass(frozen=True)
class Projection:
    """z -> P^T (z - mean): ``mean`` (dz,) and ``basis`` (k rows of dz: the columns of P, orthonormal), plain tuples so
    that a spec stays a frozen value and a policy file plain data."""

    mean: tuple[float, ...]
    basis: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        m, b = np.asarray(self.mean, np.float64), np.asarray(self.basis, np.float64)
        if m.ndim != 1 or b.ndim != 2 or b.shape[1] != m.shape[0] or not 1 <= b.shape[0] <= m.shape[0]:
            raise ValueError(f"Projection: need a mean (dz,) and 1..dz basis rows of dz values, got {m.shape} and {b.shape}")
        if not (np.isfinite(m).all() and np.isfinite(b).all()):
            raise ValueError("Projection: mean and basis must be finite")
        if not np.allclose(b @ b.T, np.eye(b.shape[0]), atol=1e-6):
            raise ValueError("Projection: the basis rows must be orthonormal")
        object.__setattr__(self, "_mean", m)  # as arrays once: the tracker projects every frame
        object.__setattr__(self, "_basis_t", np.ascontiguousarray(b.T))

    @property
    def components(self) -> int:
        return len(self.basis)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """(..., dz) -> (..., k)."""
        return (np.asarray(z, np.float64) - self._mean) @ self._basis_t

    def to_dict(self) -> dict:
        return {"mean": [float(v) for v in self.mean], "basis": [[float(v) for v in row] for row in self.basis]}

    @classmethod
    def from_dict(cls, data: dict) -> "Projection":
        if not isinstance(data, dict) or set(data) != {"mean", "basis"}:
            raise ValueError(f"a state projection must be a mapping of mean and basis, got {data!r:.80}")
        return cls(tuple(float(v) for v in data["mean"]), tuple(tuple(float(v) for v in row) for row in data["basis"]))


def principal_projection(latents: np.ndarray, components: int) -> Projection:
    """The mean and ``components`` leading principal directions of latents (..., dz) (each direction's sign fixed so that
    its largest entry is positive: the same latents give the same projection)."""
    z = np.asarray(latents, np.float64).reshape(-1, np.shape(latents)[-1])
    if not np.isfinite(z).all() or len(z) < 2:
        raise ValueError(f"principal_projection: need at least 2 finite latents, got {len(z)} (finite: {np.isfinite(z).all()})")
    if not 1 <= components <= z.shape[1]:
        raise ValueError(f"principal_projection: components must be 1..{z.shape[1]}, got {components}")
    mean = z.mean(0)
    _, _, vt = np.linalg.svd(z - mean, full_matrices=False)
    basis = vt[:components]
    basis = basis * np.sign(basis[np.arange(components), np.abs(basis).argmax(1)])[:, None]
    return Projection(tuple(mean), tuple(map(tuple, basis)))


@dataclass(frozen=True)
class StateSpec:
    """``kind`` (``STATE_KINDS``), latent size ``latent_dim`` (the encoder's), action size ``action_dim``, ``diff_scale``,
    and the optional ``projection`` of the latent (its principal components) the state is built from."""

    kind: str
    latent_dim: int
    action_dim: int
    diff_scale: float = 1.0
    projection: Projection | None = None

    def __post_init__(self) -> None:
        if self.kind not in STATE_KINDS:
            raise ValueError(f"state kind must be one of {STATE_KINDS}, got {self.kind!r}")
        if self.latent_dim < 1 or self.action_dim < 1 or not (np.isfinite(self.diff_scale) and self.diff_scale > 0):
            raise ValueError(f"StateSpec: latent_dim, action_dim >= 1 and diff_scale > 0 are required, got {self}")
        if self.projection is not None:
            if self.kind == "filtered":
                raise ValueError("StateSpec: a projection of the latent is for kinds latent and latent_history; "
                                 "'filtered' filters the whole latent under the VAE's dynamics")
            if len(self.projection.mean) != self.latent_dim:
                raise ValueError(f"StateSpec: the projection is of a {len(self.projection.mean)}-dimensional latent, "
                                 f"the latent has {self.latent_dim}")

    @property
    def z_dim(self) -> int:
        """Size of the latent part of the state: the projection's components, or the latent's size."""
        return self.projection.components if self.projection is not None else self.latent_dim

    @property
    def dim(self) -> int:
        return 2 * self.z_dim + self.action_dim if self.kind == "latent_history" else self.z_dim

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "diff_scale": float(self.diff_scale)}
        return {**out, "projection": self.projection.to_dict()} if self.projection is not None else out

    def project(self, z: np.ndarray) -> np.ndarray:
        """Latents (..., latent_dim) -> the latent part of the state (..., z_dim)."""
        z = np.asarray(z, np.float64)
        return self.projection(z) if self.projection is not None else z

    def build(self, z: np.ndarray, z_prev: np.ndarray, u_prev: np.ndarray) -> np.ndarray:
        """One state from the latent part (projected; filtered already for ``filtered``), the previous step's and the
        previous action."""
        if self.kind != "latent_history":
            return np.asarray(z, np.float64)
        return np.concatenate([z, self.diff_scale * (np.asarray(z) - z_prev), u_prev]).astype(np.float64)


def episode_states(spec: StateSpec, latents: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """States (N, T+1, dx) of whole episodes: latents (N, T+1, latent_dim) (projected here when the spec has a
    projection), actions (N, T, du) (for ``filtered``, the filtered latents: ``StructuredVAE.filtered_means``)."""
    z = np.asarray(latents, np.float64)
    if z.ndim != 3 or z.shape[2] != spec.latent_dim:
        raise ValueError(f"episode_states: need latents (N, T+1, {spec.latent_dim}), got {z.shape}")
    z = spec.project(z)
    if spec.kind != "latent_history":
        return z
    u = np.asarray(actions, np.float64)
    if u.ndim != 3 or z.shape[1] != u.shape[1] + 1 or u.shape[2] != spec.action_dim:
        raise ValueError(f"episode_states: need latents (N, T+1, {spec.latent_dim}) and actions (N, T, {spec.action_dim}), "
                         f"got {np.shape(latents)}, {u.shape}")
    z_prev = np.concatenate([z[:, :1], z[:, :-1]], axis=1)
    u_prev = np.concatenate([np.zeros_like(u[:, :1]), u], axis=1)
    return np.concatenate([z, spec.diff_scale * (z - z_prev), u_prev], axis=2)


class StateTracker:
    """The online state of one episode: ``reset()`` at its start, ``state(z, z_logvar)`` per step, ``applied(u)`` after.

    ``filtered`` needs the LDS (``lds``) and each frame's encoder log-variance (``z_logvar``)."""

    def __init__(self, spec: StateSpec, lds: LdsParams | None = None) -> None:
        if (spec.kind == "filtered") != (lds is not None):
            raise ValueError(f"StateTracker: the latent dynamics (lds) are needed for state kind 'filtered' and only for it; "
                             f"kind {spec.kind!r}, lds {'given' if lds is not None else 'missing'}")
        if lds is not None and (lds.latent_dim, lds.action_dim) != (spec.latent_dim, spec.action_dim):
            raise ValueError(f"StateTracker: the LDS is latent {lds.latent_dim} / action {lds.action_dim}, the state "
                             f"{spec.latent_dim} / {spec.action_dim}")
        self.spec = spec
        self._filter = LdsFilter(lds) if lds is not None else None
        self.reset()

    def reset(self) -> None:
        self._z_prev: np.ndarray | None = None
        self._u_prev = np.zeros(self.spec.action_dim)
        if self._filter is not None:
            self._filter.reset()

    def state(self, z: np.ndarray, z_logvar: np.ndarray | None = None, steps: int = 1) -> np.ndarray:
        """The state for this frame; ``steps``: control periods since the last frame (> 1 when frames were lost: the
        ``filtered`` state predicts through them under the last action; the other kinds take the frame as it is)."""
        z = self.spec.project(np.asarray(z, np.float64).reshape(-1))
        if self._filter is not None:
            if z_logvar is None:
                raise ValueError("StateTracker: state kind 'filtered' needs the encoder's log-variance of each frame")
            z = self._filter.update(z, z_logvar, None if self._z_prev is None else self._u_prev, steps)
        x = self.spec.build(z, z if self._z_prev is None else self._z_prev, self._u_prev)
        self._z_prev = z
        return x

    def applied(self, u: np.ndarray | None) -> None:
        """The action that acts over the coming period (None: held at zero)."""
        self._u_prev = np.zeros(self.spec.action_dim) if u is None else np.asarray(u, np.float64).reshape(-1)


def embed_cost(cost: QuadraticCost, spec: StateSpec, min_eig: float = 1e-6) -> QuadraticCost:
    """A cost fitted on the latent part (projected, with a projection), as a cost on the whole state (zero on the other parts)."""
    dz, dx = spec.z_dim, spec.dim
    if cost.cx.shape != (dz,):
        raise ValueError(f"embed_cost: the cost is over {cost.cx.shape[0]} dims, the latent has {dz}")
    C = min_eig * np.eye(dx)
    C[:dz, :dz] = cost.Cxx
    cx = np.zeros(dx)
    cx[:dz] = cost.cx
    return QuadraticCost(C, cx, cost.const, cost.action_weight)
