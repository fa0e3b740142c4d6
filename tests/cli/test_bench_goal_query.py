"""``anima bench goal_query --json``: one JSON object with both latencies and the service round-trip reference."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.ros
def test_bench_goal_query_json_small(ros_env: dict[str, str]) -> None:
    cmd = [sys.executable, "-P", "-m", "anima", "bench", "goal_query", "--json", "--queries", "3"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ros_env)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["queries"] == 3 and result["target_ms"] == 100.0
    for key in ("query_to_panel_ms", "click_to_learner_ms", "service_roundtrip_ms"):
        assert 0 < result[f"{key}_p50"] <= result[f"{key}_max"], key
