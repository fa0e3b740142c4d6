"""Shared fixtures: an isolated ROS environment per test (own ROS_DOMAIN_ID, loopback only).

Every test that starts rclpy processes takes ``ros_env``: a ``ROS_DOMAIN_ID`` claimed for that test
alone (``anima.ros_env.claim_domain_id``: a lock per domain, so concurrent test runs and ``anima
launch`` runs on this machine never share one), discovery on localhost and the Fast DDS loopback
profile. As root, ``scripts/test.sh`` also runs the suite inside ``unshare -n``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from anima.ros_env import apply_network_rule, claim_domain_id

REPO = Path(__file__).resolve().parent.parent

apply_network_rule(os.environ)  # in-process rclpy (a few tests) follows the rule too
_FIXED_DOMAIN = os.environ.get("ROS_DOMAIN_ID", "").strip()  # the user's choice wins


def pytest_report_header() -> str:
    if _FIXED_DOMAIN:
        return f"ROS_DOMAIN_ID={_FIXED_DOMAIN} for every ROS test (from the environment)"
    return "ROS_DOMAIN_ID: one claimed per ROS test (anima.ros_env.claim_domain_id), shown in a failed test's output"


@pytest.fixture
def ros_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Environment for a child process that uses rclpy: own domain, loopback only."""
    with contextlib.ExitStack() as stack:
        domain = _FIXED_DOMAIN or str(stack.enter_context(claim_domain_id()).domain_id)
        request.node.user_properties.append(("ROS_DOMAIN_ID", domain))
        print(f"ROS_DOMAIN_ID={domain}")
        env = dict(os.environ)
        env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
        env.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)
        env["ROS_DOMAIN_ID"] = domain
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        env["PYTHONUNBUFFERED"] = "1"
        yield apply_network_rule(env)


@pytest.fixture
def venv_bin() -> Path:
    """Folder of this interpreter's console scripts (anima, sim_bridge, ...)."""
    return Path(sys.executable).parent


@pytest.fixture
def make_policy_file(tmp_path: Path):
    """Writes an imitation policy file in the trainer's format (anima.models.imitation.policy):
    a [512, 256] ReLU actor with small random weights (seeded; ``scale=0`` and ``action_bias=b``: a
    policy whose action is b on every joint whatever it sees), for node and runner mechanics."""

    def make(name: str = "policy.pt", motion: str = "dog_pace", robot: str = "laikago", obs_dim: int = 160,
             action_dim: int = 12, control_dt_s: float = 0.033, seed: int = 0, scale: float = 0.01,
             action_bias: float = 0.0) -> Path:
        import torch

        from anima.models.imitation.policy import FORMAT, save_atomic

        gen = torch.Generator().manual_seed(seed)
        sizes = [obs_dim, 512, 256]
        state = {}
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            state[f"mlp_extractor.policy_net.{2 * k}.weight"] = scale * torch.randn(n_out, n_in, generator=gen)
            state[f"mlp_extractor.policy_net.{2 * k}.bias"] = torch.zeros(n_out)
        state["action_net.weight"] = scale * torch.randn(action_dim, sizes[-1], generator=gen)
        state["action_net.bias"] = torch.full((action_dim,), float(action_bias))
        spec = {"format": FORMAT, "robot": robot, "motion": motion, "obs_dim": obs_dim, "action_dim": action_dim,
                "control_dt_s": control_dt_s, "profile": "paper", "net_arch": [512, 256], "action_std": 0.125,
                "obs_clip": 5.0}
        path = tmp_path / name
        save_atomic({"spec": spec, "policy": state, "obs_mean": torch.zeros(obs_dim), "obs_var": torch.ones(obs_dim)},
                    path)
        return path

    return make


# Tests that start real node processes over DDS (tests/ros_nodes, tests/faults) get one rerun on
# failure, as ROS 2's own CI retries its launch tests: discovery and start-up on 2 shared cores
# occasionally lose a run (e.g. a node that starts 3 s late). A rerun must pass every assertion
# again; a second failure fails the suite, and pytest's summary names every rerun.
_RERUN_DIRS = ("ros_nodes", "faults")


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ARG001 - pytest hook signature
    for item in items:
        if item.path.parent.name in _RERUN_DIRS:
            item.add_marker(pytest.mark.flaky(reruns=1))


# The first attempt's failure of every rerun test, printed at the end of the run, so that a flake
# that passed on rerun in CI can still be diagnosed from the log (pytest-rerunfailures keeps only
# the name in the summary).
_RERUN_FAILURES: list[tuple[str, str]] = []


def pytest_runtest_logreport(report) -> None:
    if report.outcome == "rerun":
        _RERUN_FAILURES.append((report.nodeid, report.longreprtext[-4000:]))


def pytest_terminal_summary(terminalreporter) -> None:
    for nodeid, text in _RERUN_FAILURES:
        terminalreporter.write_sep("-", f"first attempt of rerun test {nodeid}")
        terminalreporter.write_line(text)
