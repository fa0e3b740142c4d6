"""PDDM's online model-based loop (Nagabandi et al., CoRL 2019, Sec. 4 and Alg. 1).

random-action rollouts -> repeat: retrain the ensemble from scratch on all data -> plan with MPPI in
the simulated world for K rollouts -> add them to the data. Seeded per iteration (numpy and torch
seeds derive from ``(seed, iteration)``), so a resumed run continues exactly as an uninterrupted one.

Run directory: ``config.yaml`` (every hyperparameter), ``progress.json`` (per-iteration history),
``data_train.npz``/``data_val.npz``, ``model.pt`` (latest ensemble), ``tb/`` (TensorBoard),
``learning_curve.png`` (success vs hours of data), ``rollout.mp4`` (latest recorded rollout).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml

from anima.controllers.mppi import SamplingPlanner
from anima.models.checkpoint import write_json_atomic, write_text_atomic
from anima.models.dynamics_ensemble import DynamicsEnsemble
from anima.models.jsonio import read_json_file
from anima.models.pddm.config import NODE_PLANNER_KEYS, BaodingNodeConfig, PDDMTrainConfig
from anima.models.pddm.data import Rollout, RolloutBuffer
from anima.models.pddm.report import model_error_per_step, plot_learning_curve, write_video
from anima.models.pddm.runtime import target_leads
from anima.sim_bridge.envs import make_env

Policy = Callable[[np.ndarray, int], np.ndarray]


def collect_rollout(env: Any, policy: Policy, length: int, seed: int, frames: list | None = None, task: str | None = None) -> Rollout:
    """Run one episode of at most ``length`` steps (on ``task`` if given); stops early when the env terminates."""
    obs, info = env.reset(seed=seed, options={"task": task} if task else None)
    states, actions, rewards, success, last_info = [obs], [], [], bool(info.get("success", False)), info
    if frames is not None:
        frames.append(env.render())
    for t in range(length):
        action = np.asarray(policy(obs, t), dtype=np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        states.append(obs)
        actions.append(action)
        rewards.append(reward)
        success = bool(info.get("success", False)) or success
        last_info = info
        if frames is not None:
            frames.append(env.render())
        if terminated or truncated:
            break
    rotation, dropped = last_info.get("rotation_rad"), last_info.get("dropped")
    return Rollout(np.asarray(states, np.float32), np.asarray(actions, np.float32), np.asarray(rewards, np.float64), success,
                   None if rotation is None else float(rotation), None if dropped is None else bool(dropped))


def random_policy(rng: np.random.Generator, action_dim: int, hold_steps: int) -> Policy:
    """Uniform actions in [-1, 1], each held for ``hold_steps`` control steps."""
    current = np.zeros(action_dim, np.float32)

    def act(_obs: np.ndarray, t: int) -> np.ndarray:
        nonlocal current
        if t % hold_steps == 0:
            current = rng.uniform(-1.0, 1.0, action_dim).astype(np.float32)
        return current

    return act


def planner_policy(planner: SamplingPlanner, env: Any) -> Policy:
    """MPPI on the env's current task; the planner is reset at t = 0 (new episode)."""

    def act(obs: np.ndarray, t: int) -> np.ndarray:
        if t == 0:
            planner.reset()
            planner.task = env.unwrapped.task
        return planner.plan(obs, t)

    return act


Job = tuple[int, int, list[int], bool, str | None]  # (rollout index, env seed, planner seed sequence, record video, task)


def _plan_rollouts(env: Any, model: DynamicsEnsemble, cfg: PDDMTrainConfig, jobs: list[Job]) -> list[tuple[int, Rollout, list]]:
    """MPPI rollouts; each has its own env and planner seeds, so any split over workers gives the same data."""
    out = []
    action_dim = int(env.action_space.shape[0])
    for k, env_seed, planner_seed, record, task in jobs:
        planner = SamplingPlanner(cfg.planner, model, env.unwrapped.task, action_dim, np.random.default_rng(planner_seed))
        frames: list | None = [] if record else None
        out.append((k, collect_rollout(env, planner_policy(planner, env), cfg.rollout_length, env_seed, frames, task), frames or []))
    return out


def _rollout_worker(args: tuple[dict, str, list[Job]]) -> list[tuple[int, Rollout, list]]:
    """Process-pool entry: its own env and a copy of the model (one torch thread per worker)."""
    config_dict, model_path, jobs = args
    cfg = PDDMTrainConfig.from_dict(config_dict)
    torch.set_num_threads(1)
    env = make_env(cfg.task, **cfg.env_kwargs)
    model = DynamicsEnsemble.load(model_path)
    try:
        return _plan_rollouts(env, model, cfg, jobs)
    finally:
        getattr(env, "close", lambda: None)()


def _state_note(env_kwargs: dict[str, Any]) -> str:
    """What the model's ball state is, in words, for the run directory's config."""
    if env_kwargs.get("ball_state", "true") == "tracked":
        return ("tracked ball state: noisy position fixes through the ball_state_estimator Kalman filter, carried "
                "forward to the step (BaodingEnv ball_state='tracked'); noise and latency in env_kwargs")
    return "ground-truth simulator state (no tracker); see env_kwargs for any injected noise"


class PDDMTrainer:
    """Owns a run directory; ``run()`` performs the remaining iterations and returns the history."""

    def __init__(self, config: PDDMTrainConfig, run_dir: str | Path, log: Callable[[str], None] = print) -> None:
        self.config, self.run_dir, self.log = config, Path(run_dir), log
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.env = make_env(config.task, **config.env_kwargs)
        self.state_dim = int(self.env.observation_space.shape[0])
        self.action_dim = int(self.env.action_space.shape[0])
        self.joint_names = tuple(getattr(self.env.unwrapped, "joint_names", ()))
        self.train, self.val = RolloutBuffer(), RolloutBuffer()
        self.history: list[dict[str, Any]] = []
        self.random_baseline: dict[str, float] | None = None
        self.model: DynamicsEnsemble | None = None

    # ------------------------------------------------------------ run dir
    @classmethod
    def resume(cls, run_dir: str | Path, log: Callable[[str], None] = print, **overrides: Any) -> "PDDMTrainer":
        """Reopen a run directory: config, data, history; the next ``run()`` continues where it stopped."""
        run_dir = Path(run_dir)
        if not (run_dir / "config.yaml").is_file():
            raise FileNotFoundError(f"{run_dir}: no config.yaml, not a PDDM run directory")
        config = PDDMTrainConfig.from_yaml(run_dir / "config.yaml")
        if overrides:
            config = config.replace(**overrides)
        trainer = cls(config, run_dir, log)
        if (run_dir / "progress.json").is_file():
            progress = read_json_file(run_dir / "progress.json")
            if not isinstance(progress, dict) or not isinstance(progress.get("history"), list):
                raise ValueError(f"{run_dir / 'progress.json'}: not a PDDM progress file (no 'history' list)")
            trainer.history, trainer.random_baseline = progress["history"], progress.get("random_baseline")
            trainer.train = RolloutBuffer.load(run_dir / "data_train.npz")
            trainer.val = RolloutBuffer.load(run_dir / "data_val.npz")
        if (run_dir / "model.pt").is_file():
            trainer.model = DynamicsEnsemble.load(run_dir / "model.pt", trainer.state_dim, trainer.action_dim, trainer.joint_names)
        return trainer

    def _write_config(self) -> None:
        data = self.config.to_dict()
        data["_notes"] = {
            "state": _state_note(self.config.env_kwargs),
            "state_dim": self.state_dim,
            "action_dim": self.action_dim,
            "control_dt_s": float(self.env.unwrapped.control_dt),
        }
        write_text_atomic(self.run_dir / "config.yaml", yaml.safe_dump(data, sort_keys=False))

    def _checkpoint(self) -> None:
        self.train.save(self.run_dir / "data_train.npz")
        self.val.save(self.run_dir / "data_val.npz")
        write_json_atomic(self.run_dir / "progress.json", {"history": self.history, "random_baseline": self.random_baseline}, indent=1)

    # ------------------------------------------------------------ loop
    def run(self, iterations: int | None = None) -> list[dict[str, Any]]:
        """Run up to ``iterations`` (default: config.iterations) in total, counting resumed ones."""
        cfg = self.config
        total = cfg.iterations if iterations is None else iterations
        torch.set_num_threads(cfg.torch_threads)
        self._write_config()
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(self.run_dir / "tb"))
        try:
            if not self.history and len(self.train) == 0:
                self._collect_random()
                self._checkpoint()
            while len(self.history) < total:
                self._iteration(len(self.history), writer)
        finally:
            writer.close()
        return self.history

    def _collect_random(self) -> None:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 10**6])
        policy = random_policy(rng, self.action_dim, cfg.random_hold_steps)
        for k in range(cfg.random_rollouts_train + cfg.random_rollouts_val):
            rollout = collect_rollout(self.env, policy, cfg.random_rollout_length, seed=cfg.seed * 100_003 + k)
            (self.train if k < cfg.random_rollouts_train else self.val).add(rollout)
        random = self.train.rollouts + self.val.rollouts
        self.random_baseline = {
            "hours_of_data": self.hours_of_data(),
            "success_rate": float(np.mean([r.success for r in random])),
            "reward_mean": float(np.mean([r.rewards.sum() for r in random])),
        }
        self.log(f"random data: {len(self.train)} train / {len(self.val)} val rollouts, {self.hours_of_data():.3f} h, "
                 f"success {self.random_baseline['success_rate']:.2f}")

    def hours_of_data(self) -> float:
        steps = self.train.num_transitions + self.val.num_transitions
        return steps * float(self.env.unwrapped.control_dt) / 3600.0

    def _fit_model(self, iteration: int) -> tuple[DynamicsEnsemble, float]:
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg.seed * 7919 + iteration)
        model = DynamicsEnsemble(self.state_dim, self.action_dim, cfg.ensemble, self.joint_names, generator=gen)
        losses = model.fit(*self.train.transitions(), rng=np.random.default_rng([cfg.seed, iteration, 1]))
        return model, (losses[-1] if losses else float("nan"))

    def rollout_task(self, k: int) -> str | None:
        """The task of planned rollout ``k``: cycles through ``rollout_tasks`` (None = the env's own task)."""
        tasks = self.config.rollout_tasks
        return tasks[k % len(tasks)] if tasks else None

    def _collect_planned(self, it: int, record: bool) -> tuple[list[Rollout], list]:
        """K MPPI rollouts with the latest model, serially or on ``workers`` processes (same data)."""
        cfg = self.config
        jobs = [(k, cfg.seed * 100_003 + 50_000 + it * 1000 + k, [cfg.seed, it, 2, k], record and k == 0, self.rollout_task(k)) for k in range(cfg.rollouts_per_iter)]
        if cfg.workers > 1:
            self.model.save(self.run_dir / "model.pt")  # the workers load it
            chunks = [jobs[w :: cfg.workers] for w in range(cfg.workers)]
            args = [(cfg.to_dict(), str(self.run_dir / "model.pt"), chunk) for chunk in chunks if chunk]
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(len(args), mp_context=ctx) as pool:
                done = [item for part in pool.map(_rollout_worker, args) for item in part]
        else:
            done = _plan_rollouts(self.env, self.model, cfg, jobs)
        done.sort(key=lambda item: item[0])
        return [r for _k, r, _f in done], next((f for _k, _r, f in done if f), [])

    def _iteration(self, it: int, writer: Any) -> None:
        cfg = self.config
        t_start = time.perf_counter()
        self.model, loss = self._fit_model(it)
        t_fit = time.perf_counter() - t_start
        errors = model_error_per_step(self.model, self.val.rollouts, cfg.planner.horizon)
        record = it == cfg.iterations - 1 or (cfg.video_every > 0 and it % cfg.video_every == 0)
        rollouts, frames = self._collect_planned(it, record)
        for r in rollouts:
            self.train.add(r)
        params = getattr(self.env.unwrapped, "params", None)
        extra = {"iteration": it, "task": cfg.task, "env_kwargs": dict(cfg.env_kwargs)}
        if dataclasses.is_dataclass(params):
            extra["task_params"] = dataclasses.asdict(params)
        self.model.save(self.run_dir / "model.pt", extra=extra)
        if cfg.keep_models:
            (self.run_dir / "models").mkdir(exist_ok=True)
            self.model.save(self.run_dir / "models" / f"iter_{it:03d}.pt", extra=extra)
        entry = {
            "iteration": it,
            "hours_of_data": self.hours_of_data(),
            "reward_mean": float(np.mean([r.rewards.sum() for r in rollouts])),
            "success_rate": float(np.mean([r.success for r in rollouts])),
            "train_loss": float(loss),
            "model_error_per_step": [float(e) for e in errors],
            "fit_s": t_fit,
            "iteration_s": time.perf_counter() - t_start,
        }
        if cfg.rollout_tasks:
            entry["success_by_task"] = {
                t: float(np.mean([r.success for k, r in enumerate(rollouts) if self.rollout_task(k) == t])) for t in dict.fromkeys(cfg.rollout_tasks)
            }
        self.history.append(entry)
        self._log_iteration(entry, writer)
        self._checkpoint()
        plot_learning_curve(self.history, self.run_dir / "learning_curve.png", self.random_baseline)
        if frames:
            fps = 1.0 / float(self.env.unwrapped.control_dt)
            write_video(frames, self.run_dir / "rollout.mp4", fps)

    def _log_iteration(self, e: dict[str, Any], writer: Any) -> None:
        it = e["iteration"]
        for key in ("reward_mean", "success_rate", "hours_of_data", "train_loss"):
            writer.add_scalar(f"pddm/{key}", e[key], it)
        for h, err in enumerate(e["model_error_per_step"]):
            writer.add_scalar(f"model_error/h{h + 1}", err, it)
        for task, rate in e.get("success_by_task", {}).items():
            writer.add_scalar(f"pddm/success_rate_{task}", rate, it)
        writer.flush()
        err = e["model_error_per_step"]
        by_task = "".join(f" {t} {r:.2f}" for t, r in e.get("success_by_task", {}).items())
        self.log(
            f"iter {it + 1}/{self.config.iterations}: reward {e['reward_mean']:.2f} success {e['success_rate']:.2f}{by_task} "
            f"data {e['hours_of_data']:.3f} h model err h1 {err[0]:.3f} h{len(err)} {err[-1]:.3f} "
            f"({e['iteration_s']:.1f} s)"
        )


def evaluate_planner(model: DynamicsEnsemble, env: Any, planner_config: Any, episodes: int, length: int, seed: int) -> dict[str, Any]:
    """Success rate, mean episode reward, median final rotation and drop rate (episodes that ended with a
    ball dropped; a failed episode without a drop stalled) of MPPI with ``model`` on ``env``'s own task."""
    planner = SamplingPlanner(planner_config, model, env.unwrapped.task, model.action_dim, np.random.default_rng(seed))
    rollouts = [collect_rollout(env, planner_policy(planner, env), length, seed=seed + k) for k in range(episodes)]
    rotations = [r.rotation_rad for r in rollouts if r.rotation_rad is not None]
    drops = [r.dropped for r in rollouts if r.dropped is not None]
    return {"success_rate": float(np.mean([r.success for r in rollouts])), "reward_mean": float(np.mean([r.rewards.sum() for r in rollouts])),
            "final_rotation_deg_median": float(np.degrees(np.median(rotations))) if rotations else None,
            "drop_rate": float(np.mean(drops)) if drops else None, "episodes": episodes}


# What ``as_node`` evaluation reproduces of the ROS loop (Baoding only): the node's rollout backend;
# each action applied 30 ms into its 0.1 s step (the node publishes a plan as soon as it is done,
# and planning takes about 15-30 ms on the 2-core machine, see ``anima bench planner``); the ball
# state from noisy fixes at the camera rate through the ball_state_estimator's Kalman filter (the
# stereo tracker's error is 0.4-0.9 mm, BENCHMARKS.md). The PD loop needs no delay: the sim bridge's
# lockstep applies the torque computed from each joint_states sample from that sample's time on, as
# the in-process loop does (an earlier version added 0.01 s here, which halved ccw success).
AS_NODE = {"backend": "auto", "action_latency_s": 0.03, "ball_state": "tracked", "ball_noise_std_m": 0.0005}
NODE_LEAD_KEY = "target_lead_rad"  # BaodingNodeConfig [ccw, cw] -> BaodingEnv's target_lead_rad for that direction


def node_planner_params(path: str | Path | None = None) -> dict[str, Any]:
    """The planner settings ``pddm_planner`` runs with, from its core config
    (``BaodingNodeConfig``, default ``config/pddm/planner/baoding.yaml``), so an ``as_node`` evaluation
    plans as the launched node does: ``NODE_PLANNER_KEYS`` (PlannerConfig fields) and
    ``target_lead_rad`` (the rotation targets' lead for ccw and cw, ``BaodingRotateTask.lead_rad``)."""
    node = BaodingNodeConfig.from_yaml(path)
    return {**{k: getattr(node.planner, k) for k in NODE_PLANNER_KEYS}, NODE_LEAD_KEY: list(node.target_lead_rad)}


EVAL_TASKS: dict[str, list[dict[str, Any]]] = {
    # Model reuse (PDDM Sec. 6): one Baoding model, evaluated on ccw, cw and go-to unchanged.
    "baoding": [{"task": "ccw"}, {"task": "cw"}, {"task": "goto", "goto_target_xy": (0.0, 0.03), "goto_ball": 0}],
    "reacher": [{}],
}


def evaluate_run(run_dir: str | Path, episodes: int, seed: int = 12345, log: Callable[[str], None] = print,
                 model_path: str | Path | None = None, as_node: bool = False, config: PDDMTrainConfig | None = None,
                 planner_overrides: dict[str, Any] | None = None, env_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate a run's model (latest, or ``model_path``) on every task of its environment.

    ``as_node``: plan as the ``pddm_planner`` node does over ROS (``AS_NODE``: its rollout backend,
    actions applied after its planning latency, the ball state as the tracker and filter give it; and
    the node's planner settings and target lead per direction, ``node_planner_params``). ``config``:
    the run's configuration with any overrides; default: the run directory's ``config.yaml``.
    ``planner_overrides`` (PlannerConfig fields, e.g. ``{"beta": 0.4}``) and ``env_overrides`` (env
    kwargs, e.g. ``{"target_lead_rad": 0.0}``) apply last, over the node's settings too. Writes
    ``evaluation.json`` (``evaluation_as_node.json`` with ``as_node``) into the run directory, with the
    planner settings and the rotation tasks' target leads used.
    """
    run_dir = Path(run_dir)
    config = config or PDDMTrainConfig.from_yaml(run_dir / "config.yaml")
    model_path = Path(model_path) if model_path else run_dir / "model.pt"
    planner_config, env_kwargs = config.planner, dict(config.env_kwargs)
    node_leads: dict[str, float] = {}
    if as_node:
        if config.task != "baoding":
            raise ValueError(f"--as-node evaluates the Baoding planner node; this run's task is {config.task!r}")
        node = node_planner_params()
        planner_config = dataclasses.replace(planner_config, **{**{k: node[k] for k in NODE_PLANNER_KEYS}, "backend": AS_NODE["backend"]})
        env_kwargs.update({k: v for k, v in AS_NODE.items() if k != "backend"})
        node_leads = target_leads(node[NODE_LEAD_KEY])
    planner_config = dataclasses.replace(planner_config, **(planner_overrides or {}))
    torch.set_num_threads(config.torch_threads)
    results: dict[str, Any] = {"model": str(model_path), "as_node": AS_NODE if as_node else None, "seed": seed,
                               "planner": dataclasses.asdict(planner_config)}
    for overrides in EVAL_TASKS.get(config.task, [{}]):
        name = overrides.get("task", config.task)
        task_kwargs = {**env_kwargs, **overrides}
        if name in node_leads:  # as the node plans: its lead for this direction
            task_kwargs[NODE_LEAD_KEY] = node_leads[name]
        task_kwargs.update(env_overrides or {})
        env = make_env(config.task, **task_kwargs)
        model = DynamicsEnsemble.load(model_path, env.observation_space.shape[0], env.action_space.shape[0], tuple(getattr(env.unwrapped, "joint_names", ())))
        results[name] = evaluate_planner(model, env, planner_config, episodes, config.rollout_length, seed)
        if name in ("ccw", "cw"):
            results[name][NODE_LEAD_KEY] = float(task_kwargs.get(NODE_LEAD_KEY, 0.0))
        drops = results[name]["drop_rate"]
        log(f"eval {name}{' (as the node plans)' if as_node else ''}: success {results[name]['success_rate']:.2f} "
            f"reward {results[name]['reward_mean']:.2f}{'' if drops is None else f' drops {drops:.2f}'} ({episodes} episodes)")
        getattr(env, "close", lambda: None)()
    write_json_atomic(run_dir / ("evaluation_as_node.json" if as_node else "evaluation.json"), results, indent=1)
    return results
