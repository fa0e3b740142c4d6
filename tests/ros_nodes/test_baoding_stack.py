"""ROS integration: the simulated Baoding stack, real processes over real DDS (loopback only).

``anima launch launch/shadowhand_baoding_sim.launch.xml`` (bridge + PD + pose_hold or the PDDM
planner + tracker + estimator) runs in this test's own ROS_DOMAIN_ID while a recorder process subscribes
``balls/state``, ``/diagnostics`` and ``sim/ground_truth/balls``; estimates are matched to the
ground truth by stamp (the bridge stamps both with the render time).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]

RECORDER = r'''
import json, sys, time
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import MultiDOFJointState
from diagnostic_msgs.msg import DiagnosticArray
from anima.ros_nodes._common import SENSOR_QOS, stamp_key
from anima.ros_nodes._diagnostics import DIAGNOSTICS_TOPIC, find_status, status_values
from anima.ros_nodes._conversions import ball_state_arrays

out_path, sim_s, wall_cap_s = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rclpy.init()
node = Node("baoding_recorder")
est, truth, status = {}, {}, []
def keep(store):
    def cb(msg):
        p, v = ball_state_arrays(msg)
        store[stamp_key(msg.header.stamp)] = {"p": p.tolist(), "v": v.tolist(), "frame": msg.header.frame_id}
    return cb
node.create_subscription(MultiDOFJointState, "balls/state", keep(est), SENSOR_QOS)
node.create_subscription(MultiDOFJointState, "sim/ground_truth/balls", keep(truth), SENSOR_QOS)
planner = []
def on_diagnostics(msg):
    balls = [find_status(msg, f"ball_state_estimator: ball_{i}") for i in range(2)]
    if all(b is not None for b in balls):
        status.append([status_values(b)["status"] for b in balls])
    plan = find_status(msg, "pddm_planner: planner")
    if plan is not None:
        planner.append(status_values(plan))
node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, on_diagnostics, SENSOR_QOS)
end = time.time() + wall_cap_s
while time.time() < end:  # until sim_s of sim time has been seen, however slow this machine runs it
    rclpy.spin_once(node, timeout_sec=0.1)
    if truth and (max(truth) - min(truth)) * 1e-9 >= sim_s:
        break
keys = sorted(set(est) & set(truth))
json.dump({"t": [k * 1e-9 for k in keys], "est": [est[k] for k in keys], "truth": [truth[k] for k in keys],
           "status": status, "planner": planner, "n_est": len(est), "n_truth": len(truth),
           "sim_span": (max(truth) - min(truth)) * 1e-9 if truth else 0.0}, open(out_path, "w"))
node.destroy_node()
rclpy.try_shutdown()
'''


def _run(ros_env, venv_bin, tmp_path: Path, sim_s: float, *args: str, wall_cap_s: float = 150.0) -> dict:
    """Launch the stack, record ``sim_s`` seconds of its sim time (at most ``wall_cap_s`` of wall time:
    a loaded machine runs the paced simulation slower than real time), then stop it with SIGINT."""
    script, out, log_path = tmp_path / "recorder.py", tmp_path / "record.json", tmp_path / "launch.log"
    script.write_text(RECORDER)
    with open(log_path, "w") as log_file:
        launch = subprocess.Popen(
            [str(venv_bin / "anima"), "launch", str(REPO / "launch" / "shadowhand_baoding_sim.launch.xml"), *args,
             "--timeout", str(wall_cap_s + 60)], env=ros_env, stdout=log_file, stderr=subprocess.STDOUT, text=True)
        try:
            subprocess.run([sys.executable, "-P", str(script), str(out), str(sim_s), str(wall_cap_s)], env=ros_env,
                           check=True, timeout=wall_cap_s + 60)
            launch.send_signal(signal.SIGINT)
            launch.wait(timeout=60)
        finally:
            if launch.poll() is None:
                launch.kill()
                launch.wait()
    log = log_path.read_text()
    assert launch.returncode == 0, f"anima launch exited {launch.returncode}:\n{log[-4000:]}"
    rec = json.loads(out.read_text())
    assert rec["sim_span"] >= sim_s, f"only {rec['sim_span']:.1f} s of sim time in {wall_cap_s} s:\n{log[-4000:]}"
    return rec


def _errors(rec: dict, after_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = np.array(rec["t"])
    keep = t > after_s
    est_p = np.array([e["p"] for e in rec["est"]])[keep]
    est_v = np.array([e["v"] for e in rec["est"]])[keep]
    tru_p = np.array([e["p"] for e in rec["truth"]])[keep]
    tru_v = np.array([e["v"] for e in rec["truth"]])[keep]
    return est_p, est_v, tru_p, tru_v


def test_resting_balls_state_matches_ground_truth(ros_env, venv_bin, tmp_path) -> None:
    rec = _run(ros_env, venv_bin, tmp_path, 16.0, "planner:=false")
    assert rec["est"] and rec["est"][0]["frame"] == "world"
    est_p, est_v, tru_p, tru_v = _errors(rec, after_s=2.0)  # the grip closes and the balls settle first
    assert len(est_p) > 60, f"too few matched samples: {len(est_p)} of {rec['n_est']} estimates"
    err = np.linalg.norm(est_p - tru_p, axis=2)
    vel_rmse = np.sqrt(np.mean(np.sum((est_v - tru_v) ** 2, axis=2)))
    print(f"resting: {len(est_p)} samples, position RMS {np.sqrt(np.mean(err ** 2)) * 1e3:.2f} mm, "
          f"velocity RMSE {vel_rmse:.4f} m/s")
    assert np.sqrt(np.mean(err ** 2)) < 0.003, f"position RMS {np.sqrt(np.mean(err ** 2)) * 1e3:.2f} mm"
    assert vel_rmse < 0.03
    assert rec["status"][-1] == ["tracking", "tracking"]  # both balls at the end (ball_state_estimator /diagnostics)


def test_tilting_hand_moves_balls_and_state_follows(ros_env, venv_bin, tmp_path) -> None:
    rec = _run(ros_env, venv_bin, tmp_path, 18.0, "planner:=false", "tilt_cycle:=true", "cycle_period_s:=4.0")
    est_p, est_v, tru_p, tru_v = _errors(rec, after_s=1.0)
    # A ball that rolls off the tilted palm is the drop detector's business (test_baoding_nodes);
    # compare the estimates while both balls are still in the hand (within 2 cm of their start height).
    in_hand = np.all(tru_p[:, :, 2] > tru_p[0, :, 2] - 0.02, axis=1)
    in_hand = np.cumprod(in_hand).astype(bool)  # up to the first drop
    est_p, est_v, tru_p, tru_v = est_p[in_hand], est_v[in_hand], tru_p[in_hand], tru_v[in_hand]
    assert len(est_p) > 60, f"too few matched samples in the hand: {len(est_p)} of {rec['n_est']} estimates"
    travel = np.ptp(tru_p, axis=0).max()
    assert travel > 0.005, f"balls did not move ({travel * 1e3:.1f} mm): the tilt script is not running"
    err = np.linalg.norm(est_p - tru_p, axis=2)
    assert np.sqrt(np.mean(err ** 2)) < 0.005, f"position RMS {np.sqrt(np.mean(err ** 2)) * 1e3:.2f} mm"
    vel_rmse = np.sqrt(np.mean(np.sum((est_v - tru_v) ** 2, axis=2)))
    print(f"tilting: {len(est_p)} samples, travel {travel * 1e3:.1f} mm, position RMS "
          f"{np.sqrt(np.mean(err ** 2)) * 1e3:.2f} mm, velocity RMSE {vel_rmse:.4f} m/s "
          f"(true speed RMS {np.sqrt(np.mean(np.sum(tru_v ** 2, axis=2))):.4f} m/s)")
    assert vel_rmse < 0.05, f"velocity RMSE {vel_rmse:.3f} m/s"


def _pair_angle(p: np.ndarray) -> np.ndarray:
    """Angle (rad) of the ball_0 -> ball_1 vector in the horizontal plane, unwrapped over time."""
    d = p[:, 1, :2] - p[:, 0, :2]
    return np.unwrap(np.arctan2(d[:, 1], d[:, 0]))


# The ROS loop's progress: the balls must turn ccw by at least this much while both are in the hand.
# Measured over ROS (BENCHMARKS.md, the planner's action filter): 7 of 12 runs turned >= 180 deg within
# 10 s of the task's start and two more reached 174 deg; the failures are mostly early drops (about 1
# episode in 8 as the node plans). 90 deg is well under what a working loop does, far above what a
# broken one does (a planner that does nothing turns them ~0 deg, a wrong direction is negative), and
# the test takes up to ATTEMPTS launches so an early drop in one run does not fail it: with a per-run
# miss rate of about 1 in 4 (runs that dropped a ball before 90 deg), three misses in a row are ~1.5 %.
MIN_TURN_DEG = 90.0
ATTEMPTS = 3


def _planned_ms(status: list[dict]) -> np.ndarray:
    """Plan times (ms) of the planner's diagnostics while it planned on fresh state with its task started.

    ``last_plan_ms`` is NaN until the first plan (models/pddm/runtime.py): a status sent between the task's start
    and its first plan says so (seen in a fresh-clone CI run, 2026-12-06); after the first plan it must be a time."""
    ms = np.array([float(s["last_plan_ms"]) for s in status if s["stale"] == "false" and s["settling"] == "false"])
    first = int(np.argmax(np.isfinite(ms))) if np.isfinite(ms).any() else len(ms)
    assert np.isfinite(ms[first:]).all(), f"last_plan_ms NaN after the first plan: {ms.tolist()}"
    return ms[first:]


def _check_planner_status(status: list[dict]) -> None:
    assert len(status) > 100, f"planner diagnostics: {len(status)} messages in 22 s of sim time at 10 Hz"
    # The task starts once the balls are at rest in the rest grip (about 1-3 s after launch).
    assert any(s["settling"] == "false" for s in status), "the planner never started its task (balls never at rest?)"
    planned = _planned_ms(status)
    assert len(planned) > 50 and planned.max() > 0.0, "the planner never planned on fresh state"
    assert {s["task"] for s in status} == {"ccw"}  # task ccw throughout


def _turned_in_hand(rec: dict) -> tuple[float, str]:
    """Largest ccw rotation (deg) of the ball pair while both balls were in the hand, and a summary line."""
    status = rec["planner"]  # the planner's /diagnostics values, one per targets message
    planned = _planned_ms(status)
    t = np.array(rec["t"])
    est_p, est_v, tru_p, tru_v = _errors(rec, after_s=-1.0)
    turned = np.degrees(_pair_angle(tru_p) - _pair_angle(tru_p)[0])
    in_hand = np.cumprod(np.all(tru_p[:, :, 2] > 0.15, axis=1)).astype(bool)  # drop_z_m of config/shadowhand_baoding.yaml
    held = float(turned[in_hand].max()) if in_hand.any() else 0.0  # after a drop the angle is that of a ball on the floor
    pos_rms = np.sqrt(np.mean(np.sum((est_p - tru_p)[in_hand] ** 2, axis=2))) * 1e3
    vel_rmse = np.sqrt(np.mean(np.sum((est_v - tru_v)[in_hand] ** 2, axis=2)))
    line = (f"relative ball rotation {held:.0f} deg while both balls were in the hand "
            f"({in_hand.sum() / len(t) * (t[-1] - t[0]):.1f} s of {t[-1] - t[0]:.0f} s); median plan "
            f"{np.median(planned):.1f} ms, overruns {status[-1]['overruns']}; tracking {pos_rms:.2f} mm, {vel_rmse:.3f} m/s")
    return held, line


def test_default_launch_closes_the_pddm_loop_and_turns_the_balls(ros_env, venv_bin, tmp_path) -> None:
    # The default launch: stereo tracking -> ball estimator -> PDDM planner (shipped ccw model) -> PD.
    # Asserted in every run: the planner loads the shipped model, gets fresh state and plans at 10 Hz.
    # Asserted over the runs: the balls turn ccw by MIN_TURN_DEG while both are in the hand.
    lines = []
    for attempt in range(ATTEMPTS):
        run_dir = tmp_path / f"run{attempt}"
        run_dir.mkdir()
        rec = _run(ros_env, venv_bin, run_dir, 22.0)
        _check_planner_status(rec["planner"])
        held, line = _turned_in_hand(rec)
        lines.append(line)
        print(f"PDDM loop over ROS, run {attempt + 1}: {line}")
        if held >= MIN_TURN_DEG:
            return
    pytest.fail(f"the balls never turned {MIN_TURN_DEG:.0f} deg ccw in the hand in {ATTEMPTS} runs:\n" + "\n".join(lines))
