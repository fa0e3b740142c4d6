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

The cost is a function of the latent part only (:func:`embed_cost`): the reward depends on where
the arm is, and a fit on the velocity and action parts would only add noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anima.models.solar.cost import QuadraticCost
from anima.models.solar.lds import LdsFilter, LdsParams

__all__ = ["STATE_KINDS", "StateSpec", "StateTracker", "embed_cost", "episode_states"]

STATE_KINDS = ("latent", "latent_history", "filtered")


@dataclass(frozen=True)
class StateSpec:
    """``kind`` (``STATE_KINDS``), latent size ``latent_dim``, action size ``action_dim``, ``diff_scale``."""

    kind: str
    latent_dim: int
    action_dim: int
    diff_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in STATE_KINDS:
            raise ValueError(f"state kind must be one of {STATE_KINDS}, got {self.kind!r}")
        if self.latent_dim < 1 or self.action_dim < 1 or not (np.isfinite(self.diff_scale) and self.diff_scale > 0):
            raise ValueError(f"StateSpec: latent_dim, action_dim >= 1 and diff_scale > 0 are required, got {self}")

    @property
    def dim(self) -> int:
        return 2 * self.latent_dim + self.action_dim if self.kind == "latent_history" else self.latent_dim

    def to_dict(self) -> dict:
        return {"kind": self.kind, "diff_scale": float(self.diff_scale)}

    def build(self, z: np.ndarray, z_prev: np.ndarray, u_prev: np.ndarray) -> np.ndarray:
        """One state from the latent (filtered already for ``filtered``), the previous step's latent and the previous action."""
        if self.kind != "latent_history":
            return np.asarray(z, np.float64)
        return np.concatenate([z, self.diff_scale * (np.asarray(z) - z_prev), u_prev]).astype(np.float64)


def episode_states(spec: StateSpec, latents: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """States (N, T+1, dx) of whole episodes: latents (N, T+1, dz), actions (N, T, du) (for ``filtered``, the
    filtered latents: ``StructuredVAE.filtered_means``)."""
    z = np.asarray(latents, np.float64)
    if spec.kind != "latent_history":
        return z
    u = np.asarray(actions, np.float64)
    if z.ndim != 3 or u.ndim != 3 or z.shape[1] != u.shape[1] + 1 or z.shape[2] != spec.latent_dim \
            or u.shape[2] != spec.action_dim:
        raise ValueError(f"episode_states: need latents (N, T+1, {spec.latent_dim}) and actions (N, T, {spec.action_dim}), "
                         f"got {z.shape}, {u.shape}")
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
        z = np.asarray(z, np.float64).reshape(-1)
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
    """A cost fitted on the latent part, as a cost on the whole state (zero on the other parts)."""
    dz, dx = spec.latent_dim, spec.dim
    if cost.cx.shape != (dz,):
        raise ValueError(f"embed_cost: the cost is over {cost.cx.shape[0]} dims, the latent has {dz}")
    C = min_eig * np.eye(dx)
    C[:dz, :dz] = cost.Cxx
    cx = np.zeros(dx)
    cx[:dz] = cost.cx
    return QuadraticCost(C, cx, cost.const, cost.action_weight)
