"""``anima bench vice_raq --json``: one JSON object with the per-core costs of VICE-RAQ training."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_vice_raq_json_small() -> None:
    cmd = [sys.executable, "-P", "-m", "anima", "bench", "vice_raq", "--json", "--steps", "20", "--updates", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("env_steps_per_s", "sac_update_s_b256", "sac_update_s_b128", "sac_update_s_b256_reward_per_batch",
                "discor_update_s_b256", "classifier_step_s", "reward_refresh_s_per_1000", "cpu_hours_facts_run"):
        assert result[key] > 0, key
