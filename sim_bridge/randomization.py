"""Domain randomization: pure sampling of dynamics parameters, then application to a ``World``.

Peng et al., "Learning Agile Robotic Locomotion Skills by Imitating Animals", RSS 2020,
Sec. VI-A: the dynamics parameters (mass, inertia, motor strength, joint friction, foot friction,
latency, joint damping) are resampled at the start of every episode so the policy (and its latent dynamics
encoding) covers the real robot. Ranges come from :class:`RandomizationRanges` (FACTS.md).

Sampling is separate from application so that the parameters of a run can be logged, compared and
replayed: the same generator state gives the same :class:`RandomizationParams`, and the same params
applied to the same world give identical trajectories. Scales are always relative to the nominal
values the world stored at load, so repeated randomization never compounds.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from anima.sim_bridge.world import World

__all__ = ["RandomizationParams", "RandomizationRanges", "apply", "sample"]

Range = tuple[float, float] | None


def check_range(owner: str, name: str, value: Any, lower: float, strict: bool = False) -> Range:
    """Validate a ``(lo, hi)`` pair (or None); returns it as a tuple of floats."""
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be None or a pair (low, high), got {value!r}") from None
    bad_low = lo <= lower if strict else lo < lower
    if not (math.isfinite(lo) and math.isfinite(hi)) or bad_low or hi < lo:
        bound = f"> {lower}" if strict else f">= {lower}"
        raise ValueError(f"{owner}.{name} must satisfy {bound} <= low <= high, finite; got {value!r}")
    return (lo, hi)


@dataclass(frozen=True)
class RandomizationRanges:
    """Domain-randomization ranges, sampled uniformly; ``None`` disables (keeps nominal) a parameter.

    Defaults: Peng et al., RSS 2020, Table "dynamics parameters" / public code
    ``minitaur_env_randomizer_config.all_params`` (FACTS.md "Domain randomization").
    Mass and inertia scales are drawn per link; strength, friction and damping per joint; foot
    friction is one absolute friction coefficient for all feet; latency in seconds;
    ``joint_damping_nms`` is the viscous "motor friction" (N·m·s/rad, absolute).
    """

    mass_scale: Range = (0.8, 1.2)
    inertia_scale: Range = (0.5, 1.5)
    motor_strength_scale: Range = (0.8, 1.2)
    joint_friction_nm: Range = (0.0, 0.05)
    foot_friction: Range = (0.5, 1.25)
    latency_s: Range = (0.0, 0.04)
    joint_damping_nms: Range = (0.0, 0.05)

    def __post_init__(self) -> None:
        strict = {"mass_scale", "inertia_scale", "motor_strength_scale"}
        for f in dataclasses.fields(self):
            value = check_range("RandomizationRanges", f.name, getattr(self, f.name), 0.0, f.name in strict)
            object.__setattr__(self, f.name, value)



@dataclass(frozen=True)
class RandomizationParams:
    """One draw of the dynamics parameters; ``None`` means nominal.

    ``mass_scale``, ``inertia_scale``: (n_links,), base first. ``motor_strength_scale``,
    ``joint_friction_nm``: (n_joints,). ``foot_friction``: coefficient for all feet.
    ``latency_s``: sensor latency (s). ``joint_damping_nms``: viscous damping, (n_joints,).
    """

    mass_scale: np.ndarray | None = None
    inertia_scale: np.ndarray | None = None
    motor_strength_scale: np.ndarray | None = None
    joint_friction_nm: np.ndarray | None = None
    foot_friction: float | None = None
    latency_s: float | None = None
    joint_damping_nms: np.ndarray | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain-Python view (lists and floats, None for nominal), e.g. for logging as JSON."""
        out: dict[str, Any] = {}
        for name in ("mass_scale", "inertia_scale", "motor_strength_scale", "joint_friction_nm",
                     "foot_friction", "latency_s", "joint_damping_nms"):
            value = getattr(self, name)
            out[name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


def _uniform(rng: np.random.Generator, bounds: tuple[float, float] | None, size: int | None) -> Any:
    """U(lo, hi) of the given size (None: a float); None when the parameter is disabled."""
    if bounds is None:
        return None
    lo, hi = bounds
    if size is None:
        return float(rng.uniform(lo, hi))
    return rng.uniform(lo, hi, size)


def sample(ranges: RandomizationRanges | None, rng: np.random.Generator, n_links: int,
           n_joints: int) -> RandomizationParams:
    """Draw one :class:`RandomizationParams` from ``ranges`` (None: all nominal) with ``rng``.

    The draw order is fixed (mass, inertia, strength, joint friction, foot friction, latency, joint
    damping), so a seed fixes every parameter.
    """
    if n_links < 1 or n_joints < 1:
        raise ValueError(f"n_links and n_joints must be >= 1, got n_links={n_links}, n_joints={n_joints}")
    if ranges is None:
        return RandomizationParams()
    if not isinstance(ranges, RandomizationRanges):
        raise ValueError(f"ranges must be RandomizationRanges or None, got {type(ranges).__name__}")
    return RandomizationParams(
        mass_scale=_uniform(rng, ranges.mass_scale, n_links),
        inertia_scale=_uniform(rng, ranges.inertia_scale, n_links),
        motor_strength_scale=_uniform(rng, ranges.motor_strength_scale, n_joints),
        joint_friction_nm=_uniform(rng, ranges.joint_friction_nm, n_joints),
        foot_friction=_uniform(rng, ranges.foot_friction, None),
        latency_s=_uniform(rng, ranges.latency_s, None),
        joint_damping_nms=_uniform(rng, ranges.joint_damping_nms, n_joints),
    )


def apply(world: World, params: RandomizationParams) -> None:
    """Set ``world``'s dynamics to ``params`` (each None restores that parameter's nominal value).

    The nominal latency is ``world.config.latency_s``; nominal joint friction is zero; nominal
    damping is the URDF's.
    """
    world.set_mass_scale(1.0 if params.mass_scale is None else params.mass_scale)
    world.set_inertia_scale(1.0 if params.inertia_scale is None else params.inertia_scale)
    world.set_motor_strength(1.0 if params.motor_strength_scale is None else params.motor_strength_scale)
    world.set_joint_friction(0.0 if params.joint_friction_nm is None else params.joint_friction_nm)
    world.set_foot_friction(params.foot_friction)
    world.set_joint_damping(params.joint_damping_nms)
    world.set_latency(world.config.latency_s if params.latency_s is None else params.latency_s)
