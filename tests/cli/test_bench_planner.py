"""``anima bench planner --json``: one JSON object with the node's step, the float32 step and the numpy reference."""

from __future__ import annotations

import json
import subprocess
import sys

from anima.models.dynamics_ensemble import resolve_backend


def test_bench_planner_json_small_shape() -> None:
    cmd = [sys.executable, "-P", "-m", "anima", "bench", "planner", "--json", "--repeats", "2", "--samples", "40",
           "--horizon", "3", "--pause", "0"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["node_backend"] == resolve_backend("auto")
    for key in ("step_ms_median", "step_fp32_ms_median", "numpy_step_ms_median", "rollout_torch_bf16_ms_median"):
        assert result[key] > 0, key
    assert result["speedup_vs_numpy"] == result["numpy_step_ms_median"] / result["step_ms_median"]
    assert result["shape"] == {"state": 40, "action": 24, "samples": 40, "horizon": 3, "ensemble": 3, "hidden": [250, 250]}
