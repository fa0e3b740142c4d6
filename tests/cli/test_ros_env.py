"""The network rule's helpers: loopback profile defaults and per-run ROS_DOMAIN_ID claims."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from anima.ros_env import claim_domain_id, domain_is_claimed, ensure_domain_id


@pytest.fixture(autouse=True)
def _own_lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIMA_LOCK_DIR", str(tmp_path))


def test_two_claims_differ_and_a_release_frees_the_domain() -> None:
    with claim_domain_id(5, 6) as a, claim_domain_id(5, 6) as b:
        assert {a.domain_id, b.domain_id} == {5, 6}
        assert domain_is_claimed(a.domain_id)
        with pytest.raises(RuntimeError, match="no free ROS_DOMAIN_ID in 5..6"):
            claim_domain_id(5, 6)
    assert not domain_is_claimed(5) and not domain_is_claimed(6)


def test_a_claim_held_by_another_process_is_skipped_and_freed_when_it_dies(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import sys\nfrom anima.ros_env import claim_domain_id\n"
                               "c = claim_domain_id(7, 7)\nprint(c.domain_id, flush=True)\nsys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "7"
        assert domain_is_claimed(7)
        with pytest.raises(RuntimeError):
            claim_domain_id(7, 7)
    finally:
        holder.kill()  # killed, not released: the kernel drops its lock
        holder.wait()
    with claim_domain_id(7, 7) as claim:
        assert claim.domain_id == 7


def test_ensure_keeps_the_users_domain() -> None:
    env = {"ROS_DOMAIN_ID": "42"}
    assert ensure_domain_id(env) is None and env["ROS_DOMAIN_ID"] == "42"
    env = {}
    claim = ensure_domain_id(env)
    try:
        assert env["ROS_DOMAIN_ID"] == str(claim.domain_id)
    finally:
        claim.release()
