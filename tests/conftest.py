"""Shared fixtures: an isolated ROS environment per test (own ROS_DOMAIN_ID, loopback only)."""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_DOMAIN_IDS = itertools.count(start=10 + (os.getpid() % 40) * 2)


def next_domain_id() -> int:
    """A ROS_DOMAIN_ID not used by any other test of this run (valid range 0..101 on Linux)."""
    return 10 + (next(_DOMAIN_IDS) - 10) % 90


@pytest.fixture
def ros_env() -> dict[str, str]:
    """Environment for a child process that uses rclpy: own domain, discovery on localhost only."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(next_domain_id())
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def venv_bin() -> Path:
    """Folder of this interpreter's console scripts (anima, sim_bridge, ...)."""
    return Path(sys.executable).parent
