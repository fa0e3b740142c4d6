"""Shared fixtures: an isolated ROS environment per test (own ROS_DOMAIN_ID, loopback only).

Every test that starts rclpy processes takes ``ros_env``: a ``ROS_DOMAIN_ID`` claimed for that test
alone (``anima.ros_env.claim_domain_id``: a lock per domain, so concurrent test runs and ``anima
launch`` runs on this machine never share one), discovery on localhost and the Fast DDS loopback
profile. As root, ``scripts/test.sh`` also runs the suite inside ``unshare -n``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from anima.ros_env import apply_network_rule, claim_domain_id

REPO = Path(__file__).resolve().parent.parent

apply_network_rule(os.environ)  # in-process rclpy (a few tests) follows the rule too


@pytest.fixture
def ros_env() -> Iterator[dict[str, str]]:
    """Environment for a child process that uses rclpy: own domain, loopback only."""
    with claim_domain_id() as claim:
        env = dict(os.environ)
        env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
        env.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)
        env["ROS_DOMAIN_ID"] = str(claim.domain_id)
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        env["PYTHONUNBUFFERED"] = "1"
        yield apply_network_rule(env)


@pytest.fixture
def venv_bin() -> Path:
    """Folder of this interpreter's console scripts (anima, sim_bridge, ...)."""
    return Path(sys.executable).parent
