"""``scripts/test.sh`` without root (issue 20, item 20): it says that the tests run without a
private network namespace, and isolates them by domain ID and the loopback profile instead."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_PROBE = '''
import os
def test_probe():
    print("PROBE", os.environ.get("FASTRTPS_DEFAULT_PROFILES_FILE"), os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE"))
'''


def test_without_root_it_says_so_and_uses_the_loopback_profile(tmp_path: Path) -> None:
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "id").write_text("#!/bin/sh\necho 1000\n")  # `id -u` answers: not root
    (shim / "id").chmod(0o755)
    probe = tmp_path / "test_probe.py"
    probe.write_text(_PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FASTRTPS_", "FASTDDS_", "ROS_AUTOMATIC"))}
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
    out = subprocess.run(["bash", str(REPO / "scripts" / "test.sh"), str(probe), "-q", "-s", "--rootdir", str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "not running as root" in out.stderr and "WITHOUT a private network namespace" in out.stderr, out.stderr
    assert f"PROBE {REPO / 'config' / 'fastdds_localhost.xml'} LOCALHOST" in out.stdout, out.stdout
