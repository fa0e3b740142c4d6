"""Target domains for adaptation: fixed dynamics a policy never trained on (``config/adaptation/*.yaml``).

A domain file holds one :class:`TargetDomain`: the same parameter groups as domain randomization
(FACTS.md "Domain randomization"), each one fixed value for every link or joint, plus a trunk
payload (kg added to the base link). Files are read with the project's one typed loader
(:mod:`anima.controllers.config_loader`): unknown keys and wrong types are refused naming the key,
and values without physical sense (a negative mass or friction, a latency over 1 s) are refused by
the dataclass, naming the key. :meth:`TargetDomain.params` turns a domain into the
:class:`~anima.sim_bridge.randomization.RandomizationParams` the simulator applies, so the env and
the ROS bridge apply a domain with the same code as a randomized draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anima.controllers.config_loader import load_yaml_config
from anima.sim_bridge.randomization import RandomizationParams, RandomizationRanges

__all__ = ["TargetDomain", "domain_path", "load_domain"]

_SCALES = ("mass_scale", "inertia_scale", "motor_strength_scale")
_NON_NEGATIVE = ("joint_friction_nm", "latency_s", "trunk_payload_kg")


@dataclass(frozen=True)
class TargetDomain:
    """One held-out domain. Scales are relative to the URDF (1 = nominal); ``foot_friction`` None
    keeps the URDF's; ``latency_s`` is the sensor latency; ``trunk_payload_kg`` is added to the base."""

    name: str = "nominal"
    description: str = ""
    mass_scale: float = 1.0
    inertia_scale: float = 1.0
    motor_strength_scale: float = 1.0
    joint_friction_nm: float = 0.0
    foot_friction: float | None = None
    latency_s: float = 0.0
    joint_damping_nms: float | None = None
    trunk_payload_kg: float = 0.0

    def __post_init__(self) -> None:
        for key in _SCALES:
            value = getattr(self, key)
            if not (math.isfinite(value) and 0.0 < value <= 10.0):
                raise ValueError(f"{key} must be a scale in (0, 10] (1 = nominal), got {value!r}")
        for key in _NON_NEGATIVE:
            value = getattr(self, key)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{key} must be >= 0, got {value!r}")
        if self.joint_damping_nms is not None and not (math.isfinite(self.joint_damping_nms) and self.joint_damping_nms >= 0):
            raise ValueError(f"joint_damping_nms must be >= 0, got {self.joint_damping_nms!r}")
        if self.foot_friction is not None and not (math.isfinite(self.foot_friction) and 0.0 < self.foot_friction <= 10.0):
            raise ValueError(f"foot_friction must be a coefficient in (0, 10], got {self.foot_friction!r}")
        if self.latency_s > 1.0:
            raise ValueError(f"latency_s must be <= 1 s, got {self.latency_s!r}")

    def params(self, nominal_link_masses: np.ndarray, n_joints: int) -> RandomizationParams:
        """The world parameters: mass scale per link (the payload raises the base's), the rest uniform."""
        masses = np.asarray(nominal_link_masses, dtype=float)
        mass_scale = np.full(masses.shape, self.mass_scale)
        mass_scale[0] += self.trunk_payload_kg / masses[0]
        damping = None if self.joint_damping_nms is None else np.full(n_joints, self.joint_damping_nms)
        return RandomizationParams(
            mass_scale=mass_scale, inertia_scale=np.full(masses.shape, self.inertia_scale),
            motor_strength_scale=np.full(n_joints, self.motor_strength_scale),
            joint_friction_nm=np.full(n_joints, self.joint_friction_nm), foot_friction=self.foot_friction,
            latency_s=self.latency_s, joint_damping_nms=damping)

    def outside(self, ranges: RandomizationRanges) -> list[str]:
        """The parameters outside the training ranges (a payload counts as outside: training never adds one)."""
        out = []
        for key in ("mass_scale", "inertia_scale", "motor_strength_scale", "joint_friction_nm", "foot_friction",
                    "latency_s", "joint_damping_nms"):
            value, bounds = getattr(self, key), getattr(ranges, key)
            if value is not None and bounds is not None and not bounds[0] <= value <= bounds[1]:
                out.append(key)
        if self.trunk_payload_kg > 0:
            out.append("trunk_payload_kg")
        return out


def domain_path(name: str) -> Path:
    """A domain file path, or the name of a shipped one (``config/adaptation/<name>.yaml``)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or "/" in name:
        return path
    from anima.controllers.paths import share_dir

    shipped = share_dir() / "config" / "adaptation" / f"{name}.yaml"
    if not shipped.is_file():
        names = sorted(p.stem for p in shipped.parent.glob("*.yaml"))
        raise ValueError(f"no domain {name!r}: not a file and not a shipped domain {names}")
    return shipped


def load_domain(name: str | Path) -> TargetDomain:
    """Read a domain file (or a shipped domain's name); ValueError naming the file and the key."""
    return load_yaml_config(TargetDomain, domain_path(str(name)))
