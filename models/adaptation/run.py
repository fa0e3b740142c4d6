"""One adaptation procedure for the simulator and the robot: evaluate, search z with AWR, evaluate again.

Peng et al., RSS 2020, Sec. VI-B: the adaptive policy π(a | s, z) is deployed on a domain it never
trained on; its z is searched with advantage-weighted regression from a budget of episodes
(:class:`~anima.models.adaptation.awr.LatentSearch`). The procedure only needs something that runs
one episode with a given z and returns its score (:class:`EpisodeRunner`): the in-process simulator
(:class:`anima.models.adaptation.sim_episodes.SimEpisodes`) or the launched ROS stack
(``anima.ros_adapt``). So the same code adapts in simulation and over ROS.

Order: ``eval_episodes`` with z = the prior mean 0 (``return_unadapted``); the search, at most
``budget`` episodes (``episodes_used``), the best z seen kept; ``eval_episodes`` with the best z
(``return_adapted``) and, if a robust policy is given, with it (``return_robust``); evaluation
episodes use the same seeds for all three. Returns are per control step (normalised: a fall counts
its missing steps as 0), so episodes of any length compare.

After every episode the state (curve, distribution, best z) is written atomically to
``out_dir/adaptation.json`` and the best z to ``out_dir/adapted_z.yaml`` (a ROS parameter file for
``imitation_policy``: ``--params-file``), so an abort (Ctrl-C, or ``q`` at an operator prompt)
leaves the best z so far on disk.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from anima.controllers.config_loader import config_from_mapping, load_yaml_config, with_overrides
from anima.models.adaptation.awr import AWRConfig, LatentSearch
from anima.models.checkpoint import write_text_atomic

__all__ = ["AdaptConfig", "AdaptationAborted", "EpisodeResult", "EpisodeRunner", "adapt", "load_adapt_config"]


@dataclass(frozen=True)
class AdaptConfig:
    """``episode_s``: policy seconds per episode; ``eval_episodes`` per evaluated policy/z."""

    awr: AWRConfig = AWRConfig()
    episode_s: float = 5.0
    eval_episodes: int = 3

    def __post_init__(self) -> None:
        if not (isinstance(self.episode_s, (int, float)) and math.isfinite(self.episode_s) and self.episode_s > 0):
            raise ValueError(f"episode_s must be > 0 s, got {self.episode_s!r}")
        if not isinstance(self.eval_episodes, int) or self.eval_episodes < 0:
            raise ValueError(f"eval_episodes must be an integer >= 0, got {self.eval_episodes!r}")

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return dataclasses.asdict(self)


def load_adapt_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> AdaptConfig:
    """``config/adaptation_search.yaml`` (or ``path``) with dotted ``--set`` overrides, type-checked."""
    if path is None:
        from anima.controllers.paths import share_dir

        path = share_dir() / "config" / "adaptation_search.yaml"
    config = load_yaml_config(AdaptConfig, path)
    if overrides:
        config = config_from_mapping(AdaptConfig, with_overrides(config.to_dict(), overrides), "--set")
    return config


@dataclass
class EpisodeResult:
    """``normalized_return``: the score used by the search. ``extra``: e.g. the ground-truth return over ROS."""

    normalized_return: float
    steps: int
    fell: bool
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class EpisodeRunner(Protocol):
    def run(self, z: np.ndarray | None, seed: int, robust: bool = False) -> EpisodeResult:
        """One episode: the adaptive policy with ``z`` (or the robust policy when ``robust``)."""
        ...


class AdaptationAborted(Exception):
    """The operator (or Ctrl-C) stopped the adaptation; the best z so far is saved."""


def _mean(results: list[EpisodeResult]) -> float | None:
    return float(np.mean([r.normalized_return for r in results])) if results else None


def _record(r: EpisodeResult, z: np.ndarray | None, seed: int, phase: str) -> dict[str, Any]:
    return {"phase": phase, "seed": seed, "z": None if z is None else [float(v) for v in z],
            "return": r.normalized_return, "steps": r.steps, "fell": r.fell, "wall_s": round(r.wall_s, 3), **r.extra}


def adapt(runner: EpisodeRunner, z_dim: int, config: AdaptConfig, budget: int, seed: int, out_dir: str | Path,
          robust: bool = False, log: Callable[[str], None] = print, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the procedure (module docstring); returns the summary also written to ``adaptation.json``."""
    if not isinstance(budget, int) or budget < 1:
        raise ValueError(f"--episodes must be an integer >= 1, got {budget!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    search = LatentSearch(z_dim, config.awr, np.random.default_rng([seed, 17]))
    eval_seeds = [seed * 1000 + 900 + k for k in range(config.eval_episodes)]
    state: dict[str, Any] = {"meta": meta or {}, "config": config.to_dict(), "budget": budget, "seed": seed,
                             "episodes": [], "status": "running"}
    t0 = time.perf_counter()

    def save() -> None:
        state["search"] = search.state()
        state["episodes_used"] = search.episodes
        state["wall_s"] = round(time.perf_counter() - t0, 3)
        write_text_atomic(out / "adaptation.json", json.dumps(state, indent=1))
        if search.best_z is not None:
            write_adapted_z(out / "adapted_z.yaml", search.best_z, search.best_return)

    def evaluate(z: np.ndarray | None, phase: str, use_robust: bool = False) -> list[EpisodeResult]:
        results = []
        for s in eval_seeds:
            r = runner.run(z, s, robust=use_robust)
            results.append(r)
            state["episodes"].append(_record(r, z, s, phase))
            log(f"{phase} episode (seed {s}): return/step {r.normalized_return:.3f}{' fell' if r.fell else ''}")
        return results

    try:
        unadapted = evaluate(np.zeros(z_dim), "unadapted")
        state["return_unadapted"] = _mean(unadapted)
        for k in range(budget):
            z = search.ask()
            r = runner.run(z, seed * 1000 + k)
            search.tell(z, r.normalized_return)
            state["episodes"].append(_record(r, z, seed * 1000 + k, "search"))
            save()
            log(f"search episode {k + 1}/{budget}: return/step {r.normalized_return:.3f} "
                f"(best {search.best_return:.3f}){' fell' if r.fell else ''}")
        adapted = evaluate(search.best_z, "adapted")
        state["return_adapted"] = _mean(adapted)
        if robust:
            state["return_robust"] = _mean(evaluate(None, "robust", use_robust=True))
        state["status"] = "done"
    except (KeyboardInterrupt, AdaptationAborted) as exc:
        state["status"] = f"aborted: {exc or 'interrupted'}"
        save()
        raise AdaptationAborted(f"aborted after {search.episodes} search episodes; best z so far in "
                                f"{out / 'adapted_z.yaml'}") from None
    save()
    return state


def write_adapted_z(path: Path, z: np.ndarray, best_return: float) -> None:
    """The best z as an ``imitation_policy`` parameter file (``--params-file`` / launch ``<param from>``)."""
    values = ", ".join(f"{float(v):.6f}" for v in z)
    write_text_atomic(path, f"# adapted latent z (best episode return/step {best_return:.4f}); anima adapt\n"
                            f"imitation_policy:\n  ros__parameters:\n    z: [{values}]\n")
