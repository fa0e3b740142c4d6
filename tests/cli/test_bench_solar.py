"""``anima bench solar --json``: one JSON object with the LQR-FLM update, the encoding and their references."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_solar_json() -> None:
    cmd = [sys.executable, "-P", "-m", "anima", "bench", "solar", "--json", "--repeats", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("lqr_flm_update_ms", "lqr_backward_ms", "encode_ms", "encode_filtered_ms", "encode_batched_ms_per_frame", "render_ms"):
        assert result[key] > 0, key
    assert result["dual_iterations"] >= 1 and result["latent_dim"] == 10 and result["horizon"] == 50
    assert result["wall_ms"]["lqr_flm_update"] > 0
