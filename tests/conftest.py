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
