"""``anima bench vice_raq``: what VICE-RAQ training costs per core (push, 48×48 pixels).

Times are this process's CPU time (``time.process_time``) on one torch thread, i.e. per core; on
a shared machine wall time mostly measures the other processes (``cpu_share``).

* ``env_steps_per_s``: ``sawyer_push`` steps with image observations and random actions;
* ``sac_update_s_b256`` (FACTS batch) / ``sac_update_s_b128``: one SAC gradient step reading the
  cached classifier rewards, as the trainer does; ``sac_update_s_b256_reward_per_batch``: the
  reference, recomputing the classifier's logit of s′ for every batch instead;
  ``discor_update_s_b256``: with DisCor's error network;
* ``classifier_step_s``: one VICE classifier step (128 + 128 images, mixup);
* ``reward_refresh_s_per_1000``: the classifier logits of 1,000 replay states (after each classifier phase);
* ``cpu_hours_facts_run``: 300 epochs × (1,000 env steps + 1,000 updates at batch 256 + 10 classifier
  steps + refreshing a replay that grows to 300,000 states), the run FACTS.md describes, on one core.
"""

from __future__ import annotations

import argparse
import time

HELP = "VICE-RAQ: env steps/s, SAC/DisCor update and classifier step cost per core, CPU hours of a FACTS-sized run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=300, help="env steps to time (default 300)")
    parser.add_argument("--updates", type=int, default=10, help="gradient steps per timing (default 10)")


def _cpu(fn, n: int) -> float:
    fn()  # warm-up
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t0) / n


def run(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    from anima.models.vice_raq.classifier import GoalClassifier, classifier_step
    from anima.models.vice_raq.config import DisCorConfig, SACConfig
    from anima.models.vice_raq.sac import Batch, SACAgent
    from anima.sim_bridge.envs import make_env

    torch.set_num_threads(1)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    env = make_env("sawyer_push", observation="image", image_size_px=48)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    t0 = time.process_time()
    for k in range(args.steps):
        if env.step(rng.uniform(-1, 1, 4))[3] or (k + 1) % 100 == 0:
            env.reset(seed=k)
    env_sps = args.steps / (time.process_time() - t0)
    env.close()

    def batch(n: int) -> Batch:
        img = lambda: torch.randint(0, 256, (n, 48, 48, 3), dtype=torch.uint8)  # noqa: E731
        return Batch(img(), torch.rand(n, 4) * 2 - 1, img(), torch.zeros(n, 1))

    clf = GoalClassifier(48)
    sac = SACAgent(48, 4, SACConfig(), seed=0)
    discor = SACAgent(48, 4, SACConfig(), DisCorConfig(enabled=True), seed=0)
    b256, b128, r256 = batch(256), batch(128), torch.zeros(256, 1)
    cached = lambda _x: r256  # noqa: E731
    upd256 = _cpu(lambda: sac.update(b256, cached), args.updates)
    upd128 = _cpu(lambda: sac.update(b128, lambda _x: torch.zeros(128, 1)), args.updates)
    upd_ref = _cpu(lambda: sac.update(b256, clf.reward), args.updates)
    upd_discor = _cpu(lambda: discor.update(b256, cached), args.updates)
    opt = torch.optim.Adam(clf.parameters(), lr=1e-4)
    pos, neg = batch(128).obs, batch(128).obs
    clf_step = _cpu(lambda: classifier_step(clf, opt, pos, neg, rng, 1.0, log_pi=sac.log_pi), args.updates)
    images = torch.randint(0, 256, (1000, 48, 48, 3), dtype=torch.uint8)
    refresh = _cpu(lambda: clf.reward(images), 2)
    epochs = 300
    replay_refresh_s = sum(refresh * min(e, epochs) for e in range(1, epochs + 1))  # replay of e thousand states
    facts_s = epochs * (1000 / env_sps + 1000 * upd256 + 10 * clf_step) + replay_refresh_s
    return {
        "env_steps_per_s": round(env_sps, 1),
        "sac_update_s_b256": round(upd256, 4),
        "sac_update_s_b128": round(upd128, 4),
        "sac_update_s_b256_reward_per_batch": round(upd_ref, 4),
        "discor_update_s_b256": round(upd_discor, 4),
        "classifier_step_s": round(clf_step, 4),
        "reward_refresh_s_per_1000": round(refresh, 3),
        "cpu_hours_facts_run": round(facts_s / 3600, 1),
        "cpu_share": round((time.process_time() - cpu0) / (time.perf_counter() - wall0), 2),
    }
