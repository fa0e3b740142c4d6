"""ROS integration: seeing the simulated robot. ``video:=PATH`` makes the bridge write an mp4 of
the run; ``gui:=true`` without a display fails at start with a message that says why."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]


def _launch(ros_env: dict, venv_bin: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    report = tmp_path / "report.json"
    cmd = [str(venv_bin / "anima"), "launch", str(REPO / "launch" / "laikago_sim.launch.xml"), "monitor:=true",
           f"report_path:={report}", "check_commands:=false", *args, "--timeout", "150"]
    return subprocess.run(cmd, env=ros_env, capture_output=True, text=True, timeout=200), report


def test_video_of_the_run_at_30_fps(ros_env, venv_bin, tmp_path) -> None:
    video = tmp_path / "run.mp4"
    out, report = _launch(ros_env, venv_bin, tmp_path, "duration_s:=3.0", f"video:={video}")
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    cap = cv2.VideoCapture(str(video))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(30.0)
    # 3 s of sim time monitored (the robot must stand by then); the bridge may run a little longer
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) >= 3 * 30
    ok, frame = cap.read()
    assert ok and frame.std() > 10


def test_gui_without_a_display_fails_at_start(ros_env, venv_bin, tmp_path) -> None:
    env = {k: v for k, v in ros_env.items() if k != "DISPLAY"}
    out, report = _launch(env, venv_bin, tmp_path, "duration_s:=2.0", "gui:=true")
    log = out.stdout + out.stderr
    assert out.returncode != 0, log[-3000:]
    assert "gui:=true needs a display, and $DISPLAY is not set" in log, log[-3000:]
    assert not report.exists(), "the run went on: the missing display was not refused at start"
