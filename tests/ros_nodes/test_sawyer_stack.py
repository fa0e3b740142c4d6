"""ROS integration: the simulated Sawyer stack holds the arm at a commanded ee_target (real DDS).

``anima launch launch/sawyer_sim.launch.xml`` (bridge + pd_controller + cartesian_controller) runs
in this test's own ROS_DOMAIN_ID. A driver process commands an end-effector pose, waits for
``ee_pose`` to get there, watches it hold, then sends a NaN and an unreachable target (both must
be refused: the arm stays), and commands the gripper. Everything waits on messages, with generous
time limits for a loaded machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.ros, pytest.mark.sim, pytest.mark.slow]

DRIVER = r'''
import json, math, sys, time
import numpy as np
import rclpy
from rclpy.node import Node
from geometry_msgs.msg import PoseStamped, TwistStamped
from sensor_msgs.msg import CameraInfo, Image, JointState, MultiDOFJointState
from std_msgs.msg import Bool
from rosgraph_msgs.msg import Clock
from diagnostic_msgs.msg import DiagnosticArray
from anima.ros_nodes._common import COMMAND_QOS, SENSOR_QOS

out_path, target = sys.argv[1], [float(v) for v in sys.argv[2].split(",")]
rclpy.init()
node = Node("sawyer_driver")
state = {"pose": None, "pose_t": None, "img": None, "info": None, "objects": None, "success": None,
         "gripper": None, "clock": None}
def pose_cb(m):
    p = m.pose.position
    state["pose"] = [p.x, p.y, p.z]
    state["pose_t"] = m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
node.create_subscription(PoseStamped, "ee_pose", pose_cb, SENSOR_QOS)
node.create_subscription(Image, "camera/image_raw", lambda m: state.__setitem__("img", [m.width, m.height, m.encoding]), SENSOR_QOS)
node.create_subscription(CameraInfo, "camera/camera_info", lambda m: state.__setitem__("info", list(m.k)), COMMAND_QOS)
node.create_subscription(MultiDOFJointState, "sim/ground_truth/objects", lambda m: state.__setitem__("objects", list(m.joint_names)), SENSOR_QOS)
node.create_subscription(Bool, "sim/ground_truth/success", lambda m: state.__setitem__("success", m.data), SENSOR_QOS)
node.create_subscription(JointState, "gripper/joint_states", lambda m: state.__setitem__("gripper", list(m.position)), SENSOR_QOS)
node.create_subscription(Clock, "/clock", lambda m: state.__setitem__("clock", m.clock.sec + m.clock.nanosec * 1e-9), SENSOR_QOS)
diag = []
def diag_cb(m):
    for st in m.status:
        if "cartesian targets" in st.name:
            diag.append([int.from_bytes(st.level, "little") if isinstance(st.level, bytes) else int(st.level),
                         st.message, {kv.key: kv.value for kv in st.values}])
node.create_subscription(DiagnosticArray, "/diagnostics", diag_cb, 10)
target_pub = node.create_publisher(PoseStamped, "ee_target", COMMAND_QOS)
gripper_pub = node.create_publisher(JointState, "gripper_command", COMMAND_QOS)
vel_pub = node.create_publisher(TwistStamped, "ee_velocity", COMMAND_QOS)
s = math.sqrt(0.5)
def send(p):
    m = PoseStamped()
    m.header.frame_id = "base_link"
    m.pose.position.x, m.pose.position.y, m.pose.position.z = p
    m.pose.orientation.x, m.pose.orientation.y, m.pose.orientation.z, m.pose.orientation.w = s, s, 0.0, 0.0
    target_pub.publish(m)
def spin_until(cond, wall_s):
    end = time.time() + wall_s
    while time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        if cond():
            return True
    return False
def err():
    return float(np.linalg.norm(np.subtract(state["pose"], target))) if state["pose"] else math.inf
def watch(sim_s, wall_s):
    """Largest error over sim_s seconds of sim time (by ee_pose stamps)."""
    t0, worst = state["pose_t"], 0.0
    end = time.time() + wall_s
    while time.time() < end and state["pose_t"] - t0 < sim_s:
        rclpy.spin_once(node, timeout_sec=0.05)
        worst = max(worst, err())
    return worst, state["pose_t"] - t0
res = {}
res["first_pose"] = spin_until(lambda: state["pose"] is not None and state["img"] is not None
                               and state["objects"] is not None and state["info"] is not None, 60.0)
res["start"] = state["pose"]
send(target)
res["reached"] = spin_until(lambda: err() < 0.005, 60.0)
res["reach_error"] = err()
res["settle_error"], _ = watch(0.5, 60.0)  # the approach ends (0.3 m/s) and the PD settles
res["hold_error"], res["hold_sim_s"] = watch(1.0, 60.0)
res["success_at_target"] = state["success"]
send([math.nan, 0.0, 0.2])
res["after_nan_error"], res["after_nan_sim_s"] = watch(1.2, 60.0)  # > the warnings' 1 s throttle
send([1.6, 0.0, 0.3])
res["after_bad_error"], res["after_bad_sim_s"] = watch(1.0, 60.0)
bad = JointState(); bad.name = ["right_gripper_l_finger_joint"]; bad.position = [math.nan]
gripper_pub.publish(bad)
g = JointState(); g.name = ["right_gripper_l_finger_joint"]; g.position = [0.01]
gripper_pub.publish(g)
res["gripper_moved"] = spin_until(lambda: state["gripper"] is not None and abs(state["gripper"][0] - 0.01) < 0.002, 60.0)
# ee_velocity: +y at 0.1 m/s, re-sent every 0.05 s of sim time for 1 s of sim time, then nothing.
y0, t_start = state["pose"][1], state["pose_t"]
last_sent = -1.0
end = time.time() + 60.0
while time.time() < end and state["pose_t"] - t_start < 1.0:
    rclpy.spin_once(node, timeout_sec=0.01)
    if state["pose_t"] - last_sent >= 0.05:
        v = TwistStamped(); v.header.frame_id = "base_link"; v.twist.linear.y = 0.1
        vel_pub.publish(v)
        last_sent = state["pose_t"]
res["velocity_moved_y"] = state["pose"][1] - y0
watch(0.8, 60.0)  # the command goes stale after 0.2 s: the arm stops
y_stop = state["pose"][1]
watch(0.5, 60.0)
res["drift_after_stop"] = abs(state["pose"][1] - y_stop)
spin_until(lambda: diag and int(diag[-1][2]["targets_rejected"]) >= 2, 30.0)
res["diagnostics"] = diag
res.update({k: state[k] for k in ("img", "info", "objects", "success", "gripper", "clock")})
json.dump(res, open(out_path, "w"))
node.destroy_node()
rclpy.try_shutdown()
'''


def test_sim_launch_holds_the_arm_at_a_commanded_ee_target(ros_env, venv_bin, tmp_path) -> None:
    script, out = tmp_path / "driver.py", tmp_path / "result.json"
    script.write_text(DRIVER)
    target = (0.64, 0.11, 0.12)  # 1.4 cm from the reach scene goal (0.65, 0.12, 0.12): success
    launch = subprocess.Popen(
        [str(venv_bin / "anima"), "launch", str(REPO / "launch" / "sawyer_sim.launch.xml"), "scene:=reach",
         "--timeout", "200"], env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        subprocess.run([sys.executable, "-P", str(script), str(out), ",".join(map(str, target))], env=ros_env,
                       check=True, timeout=300)
    finally:
        launch.terminate()
        log, _ = launch.communicate(timeout=60)
    res = json.loads(out.read_text())
    assert res["first_pose"], f"no ee_pose / camera / ground truth from the stack:\n{log[-3000:]}"
    assert np.linalg.norm(np.subtract(res["start"], target)) > 0.1  # the target is a real move
    assert res["reached"], f"ee_pose never within 5 mm of the target (last error {res['reach_error']:.4f} m)"
    assert res["hold_sim_s"] >= 1.0 and res["hold_error"] < 0.005
    # NaN and unreachable targets: refused with a warning, the arm stays at the last safe target.
    assert res["after_nan_sim_s"] >= 1.2 and res["after_nan_error"] < 0.005
    assert res["after_bad_sim_s"] >= 1.0 and res["after_bad_error"] < 0.005
    assert "ee_target rejected: non-finite target" in log
    assert "ee_target rejected: unreachable" in log
    assert res["gripper_moved"], f"gripper did not follow gripper_command: {res['gripper']}"
    assert "gripper_command rejected: non-finite position nan" in log
    # /diagnostics: WARN with the reason while targets were refused; the counts reach the operator.
    warns = [d for d in res["diagnostics"] if d[0] == 1]
    assert warns and any(d[1].startswith(("non-finite", "unreachable")) for d in warns), res["diagnostics"]
    assert int(res["diagnostics"][-1][2]["targets_rejected"]) >= 2
    assert int(res["diagnostics"][-1][2]["targets_accepted"]) >= 1
    # ee_velocity over ROS: ~0.1 m in 1 s of sim time (plus up to 0.2 s of the last command), then it stops.
    assert 0.07 < res["velocity_moved_y"] < 0.14, res["velocity_moved_y"]
    assert res["drift_after_stop"] < 0.002
    assert res["img"] == [64, 64, "rgb8"] and len(res["info"]) == 9
    assert res["objects"] == ["goal"] and res["success_at_target"] is True  # the reach goal is this target's neighbour
    assert res["success"] is False  # after the velocity command moved the hand 10 cm away
    print(f"Sawyer over ROS: reached {res['reach_error'] * 1e3:.1f} mm, held within {res['hold_error'] * 1e3:.1f} mm, "
          f"{max(res['after_nan_error'], res['after_bad_error']) * 1e3:.1f} mm after the bad targets")


def test_unknown_scene_is_refused_with_the_valid_ones(ros_env, venv_bin) -> None:
    out = subprocess.run([str(venv_bin / "sim_bridge"), "--ros-args", "-p", "world:=sawyer", "-p", "scene:=kitchen"],
                         env=ros_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "unknown Sawyer scene 'kitchen'; valid scenes: bookshelf, drape, mug, push, reach, stack" in out.stderr
