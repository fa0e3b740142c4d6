"""Run metrics for a standing/locomotion run: estimator error, stance check, e-stop check, rates.

ROS-free accumulator fed by the ``stack_monitor`` node (and usable offline on recorded arrays).
All times are sim seconds taken from message stamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


SETTLE_FROM = ("start", "first_target")


@dataclass(frozen=True)
class RunCheckConfig:
    settle_s: float = 2.5  # after this, the robot must be up and the estimator converged
    height_band_m: tuple[float, float] = (0.30, 0.60)
    estop_at_s: float = -1.0  # < 0: no e-stop in this run
    damping_kd: tuple[float, ...] = ()
    # "start": settle_s counts from the run's start (sim time 0); "first_target": from the first
    # joint_targets (the moment a pose or policy node first commands the robot). A policy node that
    # loads for seconds on a busy machine starts its stand-up late while pd_controller holds the
    # crouch; counted from the start, the standing window caught it half way up (a CI flake).
    settle_from: str = "start"

    def __post_init__(self) -> None:
        lo, hi = self.height_band_m
        if not 0 <= lo < hi:
            raise ValueError(f"height_band_m must be 0 <= low < high, got {self.height_band_m}")
        if self.settle_s < 0:
            raise ValueError(f"settle_s must be >= 0, got {self.settle_s}")
        if self.settle_from not in SETTLE_FROM:
            raise ValueError(f"settle_from must be one of {SETTLE_FROM}, got {self.settle_from!r}")


@dataclass
class RunMetrics:
    """Accumulates samples; ``report()`` gives one JSON-ready dict."""

    config: RunCheckConfig
    vel_err: list[tuple[float, float]] = field(default_factory=list)  # (t, |v_est - v_true|^2)
    heights: list[tuple[float, float]] = field(default_factory=list)  # (t, true base z)
    positions: list[tuple[float, float, float]] = field(default_factory=list)  # (t, true base x, y)
    contact_times: list[tuple[float, str]] = field(default_factory=list)
    damping_residuals: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    t_first: float | None = None
    t_last: float = 0.0
    estop_accepted: bool = False
    t_commanded: float | None = None  # sim time of the first joint_targets

    def add_target(self, t: float) -> None:
        """A joint_targets message heard at sim time ``t`` (the first one anchors ``settle_from: first_target``)."""
        self._seen("joint_targets", t)
        if self.t_commanded is None:
            self.t_commanded = float(t)

    def settle_time(self) -> float | None:
        """Sim time from which the robot must stand; None while nothing has commanded it (first_target)."""
        if self.config.settle_from == "start":
            return self.config.settle_s
        return None if self.t_commanded is None else self.t_commanded + self.config.settle_s

    def _seen(self, topic: str, t: float) -> None:
        self.counts[topic] = self.counts.get(topic, 0) + 1
        self.t_first = t if self.t_first is None else min(self.t_first, t)
        self.t_last = max(self.t_last, t)

    def add_velocity_pair(self, t: float, v_est: np.ndarray, v_true: np.ndarray) -> None:
        self.vel_err.append((t, float(np.sum((np.asarray(v_est) - np.asarray(v_true)) ** 2))))

    def add_ground_truth(self, t: float, z: float, xy: tuple[float, float] | None = None) -> None:
        self._seen("sim/ground_truth/odom", t)
        self.heights.append((t, z))
        if xy is not None:
            self.positions.append((t, float(xy[0]), float(xy[1])))

    def add_contacts(self, t: float, links: str) -> None:
        if links:
            self.contact_times.append((t, links))

    def add_count(self, topic: str, t: float) -> None:
        self._seen(topic, t)

    def add_command(self, t: float, effort: np.ndarray, qd: np.ndarray | None) -> None:
        """After an accepted e-stop, the command must be pure damping: tau = -kd * qd."""
        self._seen("joint_commands", t)
        if self.estop_accepted and qd is not None and t > self.config.estop_at_s + 0.01:
            kd = np.asarray(self.config.damping_kd)
            self.damping_residuals.append(float(np.max(np.abs(effort + kd * qd))))

    def _window(self, samples: list[tuple[float, float]], t0: float, t1: float) -> np.ndarray:
        """Values with t0 <= t <= t1, or t0 <= t < t1 when t1 is the e-stop time."""
        if t1 == self.config.estop_at_s:
            return np.array([v for t, v in samples if t0 <= t < t1])
        return np.array([v for t, v in samples if t0 <= t <= t1])

    def report(self) -> dict:
        c = self.config
        t_end = c.estop_at_s if c.estop_at_s >= 0 else self.t_last
        settle = self.settle_time()
        t_settle = float("inf") if settle is None else settle  # never commanded: an empty standing window
        stand_z = self._window(self.heights, t_settle, t_end)
        err = self._window(self.vel_err, t_settle, t_end)  # standing / cycling, before any e-stop
        err_all = self._window(self.vel_err, 0.5, t_end)  # including the rise from the crouch
        span = max(self.t_last - (self.t_first or 0.0), 1e-9)
        lo, hi = c.height_band_m
        contacts_after = [(t, s) for t, s in self.contact_times if t_settle <= t <= t_end]
        out = {
            "sim_time_s": round(self.t_last, 4),
            "settle_from": c.settle_from,
            "standing_from_s": _round(settle) if settle is not None else None,
            "first_target_s": _round(self.t_commanded) if self.t_commanded is not None else None,
            "stood": bool(stand_z.size > 0 and stand_z.min() >= lo and stand_z.max() <= hi and not contacts_after),
            "base_height_m_min": _round(stand_z.min()) if stand_z.size else None,
            "base_height_m_max": _round(stand_z.max()) if stand_z.size else None,
            # over the whole run, start-up included (a slump or a throw before settle_s shows here)
            "base_height_m_min_all": _round(min(z for _, z in self.heights)) if self.heights else None,
            "base_height_m_max_all": _round(max(z for _, z in self.heights)) if self.heights else None,
            "non_foot_contacts_after_settle": sorted({s for _, s in contacts_after}),
            **self._travel(t_settle, t_end),
            "estimator_velocity_rmse_mps": _round(np.sqrt(err.mean())) if err.size else None,
            "estimator_velocity_rmse_mps_from_0_5s": _round(np.sqrt(err_all.mean())) if err_all.size else None,
            "estimator_velocity_samples": int(err.size),
            "rates_hz": {k: round(v / span, 1) for k, v in sorted(self.counts.items())},
        }
        if c.estop_at_s >= 0:
            after = self._window(self.heights, c.estop_at_s + 1.0, self.t_last)
            out["estop_accepted"] = self.estop_accepted
            out["estop_damping_residual_nm_max"] = _round(max(self.damping_residuals)) if self.damping_residuals else None
            out["estop_damping_samples"] = len(self.damping_residuals)
            out["base_height_m_after_estop_min"] = _round(after.min()) if after.size else None
            fall = self._window(self.vel_err, c.estop_at_s, self.t_last)
            out["estimator_velocity_rmse_mps_after_estop"] = _round(np.sqrt(fall.mean())) if fall.size else None
        return out

    def _travel(self, t0: float, t1: float) -> dict:
        """Base x, y displacement (m) from the first ground-truth sample at or after ``t0`` to the last
        before ``t1``, and its duration (s): how far a walking policy took the robot."""
        xy = [(t, x, y) for t, x, y in self.positions if t0 <= t <= t1]
        if len(xy) < 2:
            return {}
        (ta, xa, ya), (tb, xb, yb) = xy[0], xy[-1]
        return {"base_displacement_xy_m": [_round(xb - xa), _round(yb - ya)],
                "base_displacement_duration_s": _round(tb - ta)}


def standing_judged(report: dict, config: RunCheckConfig) -> bool:
    """Whether the run reached its standing window [settle time, end or e-stop]: a run that ended (or
    pressed the e-stop) before the settle time cannot be judged on standing. The settle time is
    ``settle_s`` from the start, or (``settle_from: first_target``) from the first joint_targets; a
    run that nothing commanded is judged (and fails: see :func:`failed_checks`)."""
    end = config.estop_at_s if config.estop_at_s >= 0 else float(report.get("sim_time_s") or 0.0)
    settle = report.get("standing_from_s") if config.settle_from == "first_target" else config.settle_s
    return settle is None or end > settle


def failed_checks(report: dict, config: RunCheckConfig | None = None) -> list[str]:
    """What a monitored run failed, in words (empty: it passed): no failure that ended the run early
    (``report["failure"]``, e.g. a silent node), the robot must have stood (height band, no non-foot
    contact after settling; judged only when the run reached its standing window, see
    :func:`standing_judged`, when ``config`` is given), and an e-stop that was asked for must have
    been accepted."""
    failures = [str(report["failure"])] if report.get("failure") else []
    never_commanded = config is not None and config.settle_from == "first_target" and report.get("first_target_s") is None
    if never_commanded:
        failures.append(f"no joint_targets heard in {report.get('sim_time_s')} s of sim time: nothing commanded the robot")
    elif not report.get("stood") and (config is None or standing_judged(report, config)):
        failures.append(f"robot did not stand (base height {report.get('base_height_m_min')}..{report.get('base_height_m_max')} m, "
                        f"non-foot contacts {report.get('non_foot_contacts_after_settle') or 'none'})")
    if "estop_accepted" in report and report["estop_accepted"] is not True:
        failures.append(f"emergency_stop was not accepted ({report['estop_accepted']})")
    return failures


def _round(x: float) -> float:
    return round(float(x), 5)
