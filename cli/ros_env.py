"""The ROS network rule for every process the project starts: loopback only, one domain per run.

ARCHITECTURE.md, "ROS 2 runtime": every rclpy process runs with
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` **and** a Fast DDS transport bound to 127.0.0.1, and each
run and test uses its own ``ROS_DOMAIN_ID``. The discovery range alone is not enough: Fast DDS's
builtin UDP transport binds 0.0.0.0 and answers a remote peer that names this host
(``ROS_STATIC_PEERS``); ``tests/faults/test_loopback_only.py`` shows it and shows the profile
``config/fastdds_localhost.xml`` stopping it.

* :func:`apply_network_rule` fills in the discovery range and, when it is LOCALHOST, points
  ``FASTRTPS_DEFAULT_PROFILES_FILE`` / ``FASTDDS_DEFAULT_PROFILES_FILE`` at the loopback profile.
  Anything the user set is kept (a robot sets its own values).
* :func:`claim_domain_id` takes a ``ROS_DOMAIN_ID`` no other Anima run on this machine holds (a lock
  file per domain, released when the holder exits), so two stacks on one machine cannot cross.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PROFILE_VARS = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")
PROFILE_NAME = "fastdds_localhost.xml"
# Domain IDs 0..101 are valid on Linux for the default port mapping (ROS 2 "The ROS_DOMAIN_ID");
# 0 is every ROS install's default, so runs claim from 1 up.
DOMAIN_FIRST, DOMAIN_LAST = 1, 101


def loopback_profile() -> Path:
    """``$(find-pkg-share anima)/config/fastdds_localhost.xml``."""
    from anima import share_dir

    return share_dir() / "config" / PROFILE_NAME


def apply_network_rule(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Set the network rule's defaults in ``env`` (in place) and return it.

    ``ROS_AUTOMATIC_DISCOVERY_RANGE`` defaults to LOCALHOST; with LOCALHOST and no Fast DDS profile
    variable set, both profile variables point at the loopback profile.
    """
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if env["ROS_AUTOMATIC_DISCOVERY_RANGE"].upper() == "LOCALHOST" and not any(env.get(v) for v in PROFILE_VARS):
        profile = str(loopback_profile())
        for var in PROFILE_VARS:
            env[var] = profile
    return env


def _lock_dir() -> Path:
    path = Path(os.environ.get("ANIMA_LOCK_DIR") or tempfile.gettempdir()) / "anima-ros-domains"
    if not path.is_dir():
        path.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(path, 0o1777)  # shared by every user's runs (mkdir's mode is cut by the umask)
    return path


@dataclass
class DomainClaim:
    """A claimed ``ROS_DOMAIN_ID``; held until :meth:`release` or until the process exits."""

    domain_id: int
    _file: IO[str] | None

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()  # closing drops the flock
            self._file = None

    def __enter__(self) -> "DomainClaim":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def claim_domain_id(first: int = DOMAIN_FIRST, last: int = DOMAIN_LAST) -> DomainClaim:
    """A ``ROS_DOMAIN_ID`` in ``[first, last]`` that no other live claimer on this machine holds.

    Each domain has a lock file; ``flock`` is released by the kernel when the holder exits, so a
    killed run never leaks its domain. The search starts at a pid-dependent offset so concurrent
    claimers rarely try the same file first. Raises RuntimeError when every domain is taken.
    """
    span = last - first + 1
    start = os.getpid() % span
    folder = _lock_dir()
    for k in range(span):
        domain = first + (start + k) % span
        path = folder / f"{domain}.lock"
        try:
            f = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open on purpose
        except OSError:
            continue
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        with contextlib.suppress(OSError):
            os.chmod(path, 0o666)
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        return DomainClaim(domain, f)
    raise RuntimeError(f"no free ROS_DOMAIN_ID in {first}..{last}: every lock in {folder} is held")


def domain_is_claimed(domain_id: int) -> bool:
    """Whether a live process holds ``domain_id`` (for tests and diagnostics)."""
    path = _lock_dir() / f"{domain_id}.lock"
    if not path.exists():
        return False
    with open(path, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        return False


def ensure_domain_id(env: MutableMapping[str, str]) -> DomainClaim | None:
    """Claim a domain and set ``env["ROS_DOMAIN_ID"]`` unless ``env`` already sets one."""
    if env.get("ROS_DOMAIN_ID", "").strip():
        return None
    claim = claim_domain_id()
    env["ROS_DOMAIN_ID"] = str(claim.domain_id)
    return claim


__all__ = ["PROFILE_VARS", "DomainClaim", "apply_network_rule", "claim_domain_id", "domain_is_claimed",
           "ensure_domain_id", "loopback_profile"]
