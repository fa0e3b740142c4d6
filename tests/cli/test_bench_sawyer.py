"""``anima bench sawyer_world --json``: one JSON object with the issue's keys and the bare-stepping reference."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_sawyer_world_json_small() -> None:
    cmd = [sys.executable, "-P", "-m", "anima", "bench", "sawyer_world", "--json", "--sim-seconds", "0.2", "--frames", "5"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("rtf_physics", "camera_fps_64_per_core", "rtf_drape", "rtf_bare", "rtf_drape_bare", "rtf_control"):
        assert result[key] > 0, key
    assert set(result["rtf_physics_by_scene"]) == {"push", "stack", "mug", "bookshelf"}
    assert result["rtf_physics"] == min(result["rtf_physics_by_scene"].values())
