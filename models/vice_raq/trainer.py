"""The VICE-RAQ training loop (Singh et al., RSS 2019, Alg. 1), one epoch at a time.

Each epoch: train the goal classifier (``classifier.train_steps_per_epoch`` steps: positives from the
goal set, negatives from the replay buffer, VICE's loss or a plain classifier's) and refresh the
replay's cached rewards; run ``epoch_steps`` environment steps with SAC updates (the classifier's
logit of s′ is the reward); after each episode take in the operator's answers; every
``raq.query_frequency`` epochs ask about the best recent state; evaluate on ground truth.

Run directory: ``config.yaml``, ``progress.json`` (per-epoch history), ``checkpoint.pt`` +
``replay.npz`` (everything a resume needs, every ``checkpoint_every`` epochs, atomically),
``policy.pt`` (the latest deployable policy, :mod:`.policy`) and ``policy_best.pt``, ``tb/``
(TensorBoard), ``progress.png``, ``rollout.mp4`` (the policy's 48×48 view, upscaled).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import yaml

from anima.models.checkpoint import load_torch, save_torch, write_json_atomic, write_text_atomic
from anima.models.vice_raq.classifier import GoalClassifier, classifier_step
from anima.models.vice_raq.config import ViceRaqConfig
from anima.models.vice_raq.evaluate import evaluate_policy, plot_progress, upscale
from anima.models.vice_raq.goals import collect_goal_images, load_goal_folder
from anima.models.vice_raq.policy import PolicySpec, save_policy
from anima.models.vice_raq.queries import QueryClient, make_operator
from anima.models.vice_raq.raq import GoalSet, QueryLedger
from anima.models.vice_raq.replay import ReplayBuffer
from anima.models.vice_raq.sac import Batch, SACAgent
from anima.sim_bridge.envs import make_env

__all__ = ["ViceRaqTrainer"]

CHECKPOINT_EVERY = 5


class ViceRaqTrainer:
    """Owns the env, the agent, the classifier, the replay buffer, the goal set and the run directory."""

    def __init__(self, config: ViceRaqConfig, run_dir: str | Path, log: Callable[[str], None] = print,
                 operator: Any = None) -> None:
        self.config, self.run_dir, self.log = config, Path(run_dir), log
        self.run_dir.mkdir(parents=True, exist_ok=True)
        c = config
        torch.set_num_threads(c.torch_threads)
        self.rng = np.random.default_rng([c.seed, 1])
        self.goals, self.validation_goals = self._goal_examples()  # first: a bad goal folder fails fast
        self.env = make_env(f"sawyer_{c.task}", **c.env_arguments())
        self.action_dim = int(self.env.action_space.shape[0])
        size = c.image_size_px
        self.agent = SACAgent(size, self.action_dim, c.sac, c.discor, seed=c.seed)
        torch.manual_seed(c.seed + 1)
        self.classifier = GoalClassifier(size, c.classifier.hidden_sizes, c.sac.conv_filters, c.sac.conv_kernel, c.sac.feature_dim)
        self.classifier_opt = torch.optim.Adam(self.classifier.parameters(), lr=c.classifier.learning_rate)
        self.replay = ReplayBuffer(c.replay_capacity, (size, size, 3), self.action_dim)
        self.ledger = QueryLedger()
        self.history: list[dict[str, Any]] = []
        self.env_steps, self.episodes, self.epoch = 0, 0, 0
        self._update_credit = 0.0
        self._operator = operator

    # ------------------------------------------------------------------ set-up and resume
    def _goal_examples(self) -> tuple[GoalSet, np.ndarray]:
        c = self.config
        if c.goal_dir:
            images, _names = load_goal_folder(c.goal_dir, c.image_size_px, limit=c.goal_examples)
            validation = collect_goal_images(c.task, c.validation_goal_examples, seed=10_000 + c.seed, image_size_px=c.image_size_px) \
                if c.validation_goal_examples else images[:0]
            return GoalSet(images), validation
        images = collect_goal_images(c.task, c.goal_examples + c.validation_goal_examples, seed=c.seed, image_size_px=c.image_size_px)
        return GoalSet(images[:c.goal_examples]), images[c.goal_examples:]

    @classmethod
    def resume(cls, run_dir: str | Path, log: Callable[[str], None] = print, operator: Any = None, **overrides: Any) -> "ViceRaqTrainer":
        """Continue the run in ``run_dir`` from its last checkpoint (``overrides``: e.g. ``n_epochs``)."""
        run_dir = Path(run_dir)
        if not (run_dir / "config.yaml").is_file():
            raise FileNotFoundError(f"{run_dir}: no config.yaml, not a VICE-RAQ run directory")
        config = ViceRaqConfig.from_yaml(run_dir / "config.yaml")
        if overrides:
            config = config.replace(**overrides)
        trainer = cls(config, run_dir, log, operator)
        if (run_dir / "checkpoint.pt").is_file():
            trainer._load_checkpoint()
        return trainer

    def _load_checkpoint(self) -> None:
        c, size = self.config, self.config.image_size_px
        data = load_torch(self.run_dir / "checkpoint.pt", "VICE-RAQ checkpoint")
        self.agent.load_state(data["agent"])
        self.classifier.load_state_dict(data["classifier"])
        self.classifier_opt.load_state_dict(data["classifier_opt"])
        self.goals = GoalSet.from_state({k: v.numpy() for k, v in data["goals"].items()})
        counts = data["ledger"]
        self.ledger = QueryLedger(**{k: int(counts[k]) for k in QueryLedger().counts()})
        if len(data["pending_image"]):  # asked again of the new operator when the run starts
            self.ledger.pending = {-1: (data["pending_image"][0].numpy(), bool(data["pending_truth"]))}
        self.rng.bit_generator.state = data["rng"]
        self.env_steps, self.episodes, self.epoch = int(data["env_steps"]), int(data["episodes"]), int(data["epoch"])
        self._update_credit = float(data["update_credit"])
        self.history = list(data["history"])
        self.replay = ReplayBuffer.load(self.run_dir / "replay.npz", c.replay_capacity, (size, size, 3), self.action_dim)
        if self.replay.total != self.env_steps:
            raise ValueError(f"{self.run_dir}: replay.npz holds {self.replay.total} steps, checkpoint.pt {self.env_steps}")
        self.log(f"resumed at epoch {self.epoch} ({self.env_steps} env steps, {self.ledger.asked} queries)")

    def _save_checkpoint(self) -> None:
        self.replay.save(self.run_dir / "replay.npz")
        save_torch({"agent": self.agent.state(), "classifier": self.classifier.state_dict(),
                    "classifier_opt": self.classifier_opt.state_dict(),
                    "goals": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.goals.state().items()},
                    "ledger": self.ledger.counts(), **self._pending_state(), "rng": self.rng.bit_generator.state, "env_steps": self.env_steps,
                    "episodes": self.episodes, "epoch": self.epoch, "update_credit": self._update_credit,
                    "history": self.history}, self.run_dir / "checkpoint.pt")

    def _pending_state(self) -> dict[str, Any]:
        size = self.config.image_size_px
        if not self.ledger.pending:
            return {"pending_image": torch.zeros(0, size, size, 3, dtype=torch.uint8), "pending_truth": False}
        (image, truth), = self.ledger.pending.values()
        return {"pending_image": torch.from_numpy(image[None].copy()), "pending_truth": truth}

    def save_policy(self, path: str | Path, evaluation: dict[str, Any] | None = None) -> None:
        c, e = self.config, self.env.unwrapped.config
        spec = PolicySpec(c.task, c.image_size_px, self.action_dim, (-1.0,) * self.action_dim, (1.0,) * self.action_dim,
                          max_step_m=e.max_step_m, control_rate_hz=e.control_rate_hz)
        network = {"hidden_sizes": c.sac.hidden_sizes, "feature_dim": c.sac.feature_dim, "conv_filters": c.sac.conv_filters,
                   "conv_kernel": c.sac.conv_kernel}
        save_policy(path, spec, network, self.agent.encoder, self.agent.actor,
                    {"run_dir": str(self.run_dir), "epoch": self.epoch, "env_steps": self.env_steps, "seed": c.seed,
                     "reward": c.reward, "discor": c.discor.enabled, "queries_used": self.ledger.asked,
                     "goal_examples_used": len(self.goals.examples), "evaluation": evaluation or {}})

    # ------------------------------------------------------------------ rewards and classifier
    def _logits(self, images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.classifier(torch.as_tensor(np.ascontiguousarray(images))).numpy()[:, 0]

    def _reward(self, next_obs: np.ndarray, success: bool) -> float:
        return float(success) if self.config.reward == "ground_truth" else float(self._logits(next_obs[None])[0])

    def _train_classifier(self) -> float | None:
        c = self.config.classifier
        if self.config.reward == "ground_truth" or len(self.replay) == 0 or c.train_steps_per_epoch == 0:
            return None
        positives, extra = self.goals.positives, self.goals.queried_negatives
        use_extra = self.config.raq.use_negative_answers and len(extra) > 0
        log_pi = self.agent.log_pi if self.config.reward == "vice" else None
        losses = []
        for _ in range(c.train_steps_per_epoch):
            pos = positives[self.rng.integers(0, len(positives), c.batch_positives)]
            n_extra = min(len(extra), c.batch_negatives // 2) if use_extra else 0
            neg = self.replay.next_obs[self.replay.sample(c.batch_negatives - n_extra, self.rng)]
            if n_extra:  # operator-labelled failures as extra negatives (half the batch at most)
                neg = np.concatenate([neg, extra[self.rng.integers(0, len(extra), n_extra)]])
            losses.append(classifier_step(self.classifier, self.classifier_opt, torch.from_numpy(pos), torch.from_numpy(neg),
                                          self.rng, c.mixup_alpha, c.label_noise, log_pi))
        self.replay.refresh_rewards(self._logits)
        return float(np.mean(losses))

    def _decision(self, images: np.ndarray) -> np.ndarray:
        """The classifier's decision logit: ``f(s) − log π(a|s)`` for VICE (its discriminator, a ~ π), ``f(s)`` otherwise."""
        f = self._logits(images)
        if self.config.reward != "vice":
            return f
        with torch.no_grad():
            return f - self.agent.log_pi(torch.as_tensor(np.ascontiguousarray(images))).numpy()[:, 0]

    def _classifier_metrics(self) -> dict[str, float | None]:
        """Against ground truth, on the last epoch's states: accuracy and false-positive rate of the
        decision (:meth:`_decision` > 0); TPR of that decision on held-out goal images; and
        ``classifier_goal_auc``, the chance that a held-out goal image gets a higher reward f than a
        recent state (threshold-free: what the reward's ranking is worth)."""
        if self.config.reward == "ground_truth":
            return {"classifier_accuracy": None, "classifier_tpr_validation": None, "classifier_fpr": None, "classifier_goal_auc": None}
        idx = self.replay.recent(self.config.epoch_steps)
        images, truth = self.replay.next_obs[idx], self.replay.success[idx]
        pred = np.concatenate([self._decision(images[k:k + 1000]) for k in range(0, len(idx), 1000)]) > 0
        tpr = auc = None
        if len(self.validation_goals):
            tpr = float(np.mean(self._decision(self.validation_goals) > 0))
            auc = float(np.mean(self._logits(self.validation_goals)[:, None] > self.replay.rewards[idx][None, :]))
        return {"classifier_accuracy": float(np.mean(pred == truth)), "classifier_tpr_validation": tpr,
                "classifier_fpr": float(np.mean(pred[~truth])) if (~truth).any() else None, "classifier_goal_auc": auc}

    # ------------------------------------------------------------------ acting and learning
    def _sac_updates(self) -> dict[str, float]:
        c = self.config.sac
        if self.env_steps < c.initial_exploration_steps or len(self.replay) < c.batch_size:
            return {}
        self._update_credit += c.updates_per_step
        stats: dict[str, float] = {}
        while self._update_credit >= 1.0:
            self._update_credit -= 1.0
            idx = self.replay.sample(c.batch_size, self.rng)
            rewards = torch.from_numpy(self.replay.rewards[idx]).view(-1, 1)
            batch = Batch(torch.from_numpy(self.replay.obs[idx]), torch.from_numpy(self.replay.actions[idx]),
                          torch.from_numpy(self.replay.next_obs[idx]), torch.zeros(len(idx), 1))
            stats = self.agent.update(batch, lambda _next, r=rewards: r)
        return stats

    def _act(self, obs: np.ndarray) -> np.ndarray:
        if self.env_steps < self.config.sac.initial_exploration_steps:
            return self.rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32)
        return self.agent.act(obs[None])[0]

    def _collect_epoch(self, queries: QueryClient) -> tuple[list[bool], dict[str, float]]:
        """``epoch_steps`` env steps with updates; the final success of each finished episode and the last SAC stats."""
        c = self.config
        finals, stats = [], {}
        obs, _ = self.env.reset(seed=c.seed * 1_000_003 + self.episodes)
        for _ in range(c.epoch_steps):
            action = self._act(obs)
            next_obs, _r, terminated, truncated, info = self.env.step(action)
            success = bool(info["is_success"])
            self.replay.add(obs, action, next_obs, success, self._reward(next_obs, success))
            self.env_steps += 1
            stats = self._sac_updates() or stats
            obs = next_obs
            if terminated or truncated:
                finals.append(success)
                self.episodes += 1
                queries.poll()
                obs, _ = self.env.reset(seed=c.seed * 1_000_003 + self.episodes)
        return finals, stats

    # ------------------------------------------------------------------ the loop
    def run(self, n_epochs: int | None = None) -> list[dict[str, Any]]:
        """Train until ``n_epochs`` epochs in total (default: the config's), counting resumed ones."""
        from torch.utils.tensorboard import SummaryWriter

        c = self.config
        total = c.n_epochs if n_epochs is None else n_epochs
        write_text_atomic(self.run_dir / "config.yaml", yaml.safe_dump(c.to_dict(), sort_keys=False))
        operator = self._operator if self._operator is not None else (
            make_operator(c.operator, c.oracle_delay_s, c.oracle_error_rate, c.seed, c.image_size_px) if c.uses_queries else None)
        queries = QueryClient(operator, self.goals, self.ledger, c.raq.max_queries if c.uses_queries else 0, self.log)
        queries.reask_pending()
        writer = SummaryWriter(str(self.run_dir / "tb"))
        started = time.monotonic()
        try:
            while self.epoch < total:
                self._epoch(queries, writer)
                if c.time_limit_s and time.monotonic() - started > c.time_limit_s and self.epoch < total:
                    self._save_checkpoint()
                    self.log(f"time limit {c.time_limit_s:.0f} s reached after epoch {self.epoch}; checkpointed (resume to continue)")
                    break
        finally:
            writer.close()
            queries.close()
        return self.history

    def _epoch(self, queries: QueryClient, writer: Any) -> None:
        c, t0 = self.config, time.perf_counter()
        queries.goals = self.goals
        classifier_loss = self._train_classifier()
        finals, stats = self._collect_epoch(queries)
        queries.poll()
        self.epoch += 1
        asked = None
        if c.uses_queries and self.epoch % c.raq.query_frequency == 0:
            asked = queries.ask_best(self.replay, c.raq.query_frequency * c.epoch_steps,
                                     lambda img: float(1.0 / (1.0 + np.exp(-self._decision(img[None])[0]))))
        evaluation, frames = None, None
        if c.eval_every and (self.epoch % c.eval_every == 0 or self.epoch == c.n_epochs):
            record = c.video_every > 0 and (self.epoch % c.video_every == 0 or self.epoch == c.n_epochs)
            frames = [] if record else None
            evaluation = evaluate_policy(self.env, lambda o: self.agent.act(o[None], deterministic=True)[0],
                                         c.eval_episodes, frames=frames)
        entry = {"epoch": self.epoch, "env_steps": self.env_steps, "episodes": self.episodes,
                 "train_success_rate": float(np.mean(finals)) if finals else 0.0,
                 "eval_success_rate": evaluation["success_rate"] if evaluation else None,
                 "eval_ever_success_rate": evaluation["ever_success_rate"] if evaluation else None,
                 "eval_final_metric": evaluation["final_metric_mean"] if evaluation else None,
                 "classifier_loss": classifier_loss, **self._classifier_metrics(),
                 "queries_asked": self.ledger.asked, "queries_answered": self.ledger.answered,
                 "queries_skipped": self.ledger.skipped, "answers_correct": self.ledger.correct,
                 "positives": len(self.goals.positives), "goal_examples": len(self.goals.examples),
                 "queried_positives": len(self.goals.queried_positives), "queried_negatives": len(self.goals.queried_negatives),
                 "asked_index_success": bool(self.replay.success[asked]) if asked is not None else None,
                 "sac": stats, "epoch_s": time.perf_counter() - t0}
        self.history.append(entry)
        self._log_epoch(entry, writer)
        self._write_outputs(entry, evaluation, frames)

    def _write_outputs(self, entry: dict[str, Any], evaluation: dict[str, Any] | None, frames: list | None) -> None:
        from anima.models.pddm.report import write_video

        write_json_atomic(self.run_dir / "progress.json", {"history": self.history}, indent=1)
        self.save_policy(self.run_dir / "policy.pt", evaluation)
        best = max((h["eval_success_rate"] for h in self.history[:-1] if h["eval_success_rate"] is not None), default=-1.0)
        if evaluation is not None and evaluation["success_rate"] > best:
            self.save_policy(self.run_dir / "policy_best.pt", evaluation)
        plot_progress(self.history, self.run_dir / "progress.png")
        if frames:
            tmp = self.run_dir / ".rollout.tmp.mp4"
            if write_video(upscale(frames), tmp, float(self.env.unwrapped.config.control_rate_hz)):
                tmp.replace(self.run_dir / "rollout.mp4")
        if self.epoch % CHECKPOINT_EVERY == 0 or self.epoch == self.config.n_epochs:
            self._save_checkpoint()

    def _log_epoch(self, e: dict[str, Any], writer: Any) -> None:
        step = e["env_steps"]
        for key in ("train_success_rate", "eval_success_rate", "eval_ever_success_rate", "eval_final_metric", "classifier_loss",
                    "classifier_accuracy", "classifier_tpr_validation", "classifier_fpr", "classifier_goal_auc", "queries_asked", "queries_answered",
                    "queries_skipped", "answers_correct", "positives", "goal_examples", "epoch_s"):
            if e.get(key) is not None:
                group = "queries" if key.startswith(("queries", "answers")) or key in ("positives", "goal_examples") else \
                    "classifier" if key.startswith("classifier") else "vice_raq"
                writer.add_scalar(f"{group}/{key}", float(e[key]), step)
        for key, value in e["sac"].items():
            writer.add_scalar(f"sac/{key}", value, step)
        writer.flush()
        ev = "" if e["eval_success_rate"] is None else f" eval success {e['eval_success_rate']:.2f}"
        acc = "" if e["classifier_accuracy"] is None else \
            f" clf acc {e['classifier_accuracy']:.2f} tpr {e['classifier_tpr_validation'] or 0:.2f} goal auc {e['classifier_goal_auc'] or 0:.2f}"
        self.log(f"epoch {e['epoch']}/{self.config.n_epochs}: {e['env_steps']} steps, train success {e['train_success_rate']:.2f}{ev}{acc} "
                 f"queries {e['queries_asked']} asked / {e['queries_answered']} answered, positives {e['positives']} "
                 f"({e['epoch_s']:.0f} s)")
