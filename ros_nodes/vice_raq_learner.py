"""vice_raq_learner: VICE-RAQ training (``anima.models.vice_raq.trainer``) with its goal queries over ROS.

The node the VICE-RAQ launch starts. It trains in process, on the same simulated Sawyer scene as
``anima train vice_raq`` (the gymnasium env; training runs far faster than real time), and serves
the ``goal_query`` interface on this node (:class:`RosOperator`, documented in
``_goal_query_server``): ``goal_query/image``, ``goal_query/status``, ``goal_query/answer``,
``goal_query/skip``, ``goal_examples/capture`` (the latest ``camera/image_raw`` frame becomes a goal
example), and in simulation ``sim/ground_truth/goal_query`` for the goal_oracle node. The node's
executor runs on its own thread, so answers arrive while the trainer computes; the process ends when
training ends (the launch's ``on_exit="shutdown"``). Ctrl-C stops training at once (the run resumes
from its last checkpoint).

Parameters (a string "none" is the same as ""): ``task`` (str, "push"), ``run_dir`` (str, "": ``runs/vice_raq_<task>_<UTC time>``; an
existing run with a checkpoint is resumed), ``operator`` (str, "ros": answers over ROS from the rqt
panel or goal_oracle; "oracle": in-process ground truth; "none": no queries), ``config`` (str, "": a
training YAML, else the FACTS defaults), ``n_epochs`` (int, 0 = the config's), ``seed`` (int, -1 =
the config's), ``goal_dir`` (str, "": goal examples generated from ground truth), ``settings`` (str,
"": config overrides ``key=value`` separated by ``;``, e.g. ``raq.query_frequency=10;epoch_steps=500``).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import rclpy
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from anima.ros_nodes._common import declare_params
from anima.ros_nodes._goal_query_server import RosOperator, spin_in_thread


def parse_settings(text: str) -> dict[str, Any]:
    """``"a=1;b.c=x"`` -> typed overrides (as ``anima train vice_raq --set``); ValueError naming a bad item."""
    from anima.controllers.config_loader import parse_override

    return dict(parse_override(item.strip()) for item in text.split(";") if item.strip())


class ViceRaqLearnerNode(Node):
    def __init__(self) -> None:
        super().__init__("vice_raq_learner")
        p = declare_params(self, {"task": "push", "run_dir": "", "operator": "ros", "config": "", "n_epochs": 0,
                                  "seed": -1, "goal_dir": "", "settings": ""})
        for key in ("run_dir", "config", "goal_dir", "settings"):  # launch files write "none" for unset
            p[key] = "" if str(p[key]).strip().lower() == "none" else str(p[key]).strip()
        try:
            from anima.models.vice_raq.config import ViceRaqConfig
            from anima.models.vice_raq.trainer import ViceRaqTrainer
        except ImportError as err:
            raise ValueError(f"the VICE-RAQ trainer is not available: {err}") from None
        overrides = parse_settings(str(p["settings"]))
        overrides.update({"task": str(p["task"]), "operator": str(p["operator"])})
        if p["n_epochs"]:
            overrides["n_epochs"] = int(p["n_epochs"])
        if p["seed"] >= 0:
            overrides["seed"] = int(p["seed"])
        if p["goal_dir"]:
            overrides["goal_dir"] = str(p["goal_dir"])
        run_dir = Path(str(p["run_dir"]) or f"runs/vice_raq_{p['task']}_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}")
        resume = (run_dir / "checkpoint.pt").is_file()
        config = ViceRaqConfig.from_yaml(str(p["config"])) if p["config"] else ViceRaqConfig()
        config = config.replace(**overrides)  # validates everything, even when resuming
        self.operator = RosOperator(node=self, image_size_px=config.image_size_px) if config.operator == "ros" else None
        log = self.get_logger().info
        if resume:
            self.trainer = ViceRaqTrainer.resume(run_dir, log=log, operator=self.operator,
                                                 **{k: v for k, v in overrides.items() if k not in ("task", "operator")})
        else:
            self.trainer = ViceRaqTrainer(config, run_dir, log=log, operator=self.operator)
        self.get_logger().info(f"{'resuming' if resume else 'training'} VICE-RAQ on {config.task} in {run_dir} "
                               f"({config.n_epochs} epochs, operator {config.operator})")

    def train(self) -> None:
        t = self.trainer
        t.run()
        self.get_logger().info(f"done: {t.epoch} epochs, {t.env_steps} env steps, {t.ledger.asked} queries asked, "
                               f"{t.ledger.answered} answered, {len(t.goals.examples)} goal examples; "
                               f"policy {t.run_dir / 'policy.pt'}")

    def close(self) -> None:
        if self.operator is not None:
            self.operator.close()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(args: list[str] | None = None) -> int:
    """Train on the main thread; the node spins on another. SIGINT/SIGTERM interrupt training."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    node, thread, stop, code = None, None, threading.Event(), 0
    try:
        node = ViceRaqLearnerNode()
        thread = spin_in_thread(node, stop)
        node.train()
    except KeyboardInterrupt:
        pass
    except (ValueError, FileNotFoundError) as err:
        print(f"[fatal] {err}", file=sys.stderr)
        code = 2
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        stop.set()
        if thread is not None:
            thread.join(timeout=5.0)
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
