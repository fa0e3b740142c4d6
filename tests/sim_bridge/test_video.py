"""The run video: frames at 30 fps of sim time from a fixed viewpoint, an mp4 that OpenCV reads
back, written atomically; bad paths refused before anything is rendered."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pybullet
import pytest
from pybullet_utils.bullet_client import BulletClient

from anima.sim_bridge.laikago_world import LaikagoWorld, load_laikago_world_config
from anima.sim_bridge.video import VideoConfig, VideoRecorder, default_view

pytestmark = [pytest.mark.sim]


@pytest.fixture
def world():
    client = BulletClient(connection_mode=pybullet.DIRECT)
    w = LaikagoWorld(client, load_laikago_world_config(None))
    w.reset(rng=np.random.default_rng(0))
    yield w
    client.disconnect()


def test_one_second_of_sim_gives_31_frames_at_30_fps(world, tmp_path: Path) -> None:
    path = tmp_path / "run.mp4"
    video = VideoRecorder(world.client, path, VideoConfig(width_px=160, height_px=96))
    steps = int(round(1.0 / world.physics_dt))
    for _ in range(steps):
        world.step(1)
        video.capture(world.time_s)
    assert not path.exists(), "the video must appear only when it is closed"
    assert video.close() == path
    # frames at t = 0, 1/30, ..., 30/30 s: the first step (t = 1 ms) takes frame 0
    assert video.frames == 31
    cap = cv2.VideoCapture(str(path))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(30.0)
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 31
    ok, frame = cap.read()
    assert ok and frame.shape == (96, 160, 3)
    assert frame.std() > 10, "a blank frame: the robot and floor were not rendered"
    assert [p.name for p in tmp_path.iterdir()] == ["run.mp4"]


def test_default_view_aims_at_the_robot_not_the_ground(world) -> None:
    # the Laikago is the only body besides the ground plane: the view aims inside its box
    view = default_view(world)
    lo, hi = (np.asarray(v) for v in world.client.getAABB(world.robot_id, -1))
    assert np.all(np.asarray(view.target_xyz)[:2] > lo[:2] - 0.3) and np.all(np.asarray(view.target_xyz)[:2] < hi[:2] + 0.3)
    assert 0.1 < view.target_xyz[2] < 0.6 and 0.3 < view.distance_m < 2.0


@pytest.mark.parametrize("name, problem", [("run.avi", "must end in .mp4"), ("missing/run.mp4", "does not exist")])
def test_bad_video_paths_are_refused(world, tmp_path: Path, name: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        VideoRecorder(world.client, tmp_path / name)
